import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ConfigurationError } from "../../contracts/errors";
import { ArgumentRule, argumentProblems, editDistance, nearestName } from "../../components/internal/argumentSpec";
import { ARGUMENT_SPECS, ArgumentSpec, CONCURRENCY_CONTROLLER_ARGUMENTS } from "../../components/internal/argumentSpecs";
import { componentSchema } from "../helpers/componentSchema";
import { loadComponents, LoadedComponents, registered, resetComponentState, settle, valueOf } from "../helpers/pulumiMocks";
import { rejectionsDuring } from "../helpers/rejections";

type Components = LoadedComponents["c"];

/** One argument's shape as both the spec and the schema can say it. */
interface Shape {
    kind: string;
    required: boolean;
    input?: boolean;
    fields?: Record<string, Shape>;
    items?: Shape;
}

function shapeOfRule(rule: ArgumentRule): Shape {
    return {
        kind: rule.kind,
        required: rule.required === true,
        input: rule.kind === "any" ? undefined : rule.input === true,
        fields: rule.fields ? shapeOfFields(rule.fields) : undefined,
        items: rule.items ? { ...shapeOfRule(rule.items), required: false } : undefined,
    };
}

function shapeOfFields(fields: Record<string, ArgumentRule>): Record<string, Shape> {
    return Object.fromEntries(Object.entries(fields).map(([key, rule]) => [key, shapeOfRule(rule)]));
}

/** The same shape read from the inferred multi-language schema. */
function shapeOfSchema(schema: any, property: any, required: boolean): Shape {
    const input = property.plain !== true;
    if (property.$ref === "pulumi.json#/Any") return { kind: "any", required, input: undefined, fields: undefined, items: undefined };
    if (typeof property.$ref === "string") {
        const type = schema.types[property.$ref.replace("#/types/", "")];
        if (type.type === "object") return { kind: "object", required, input, fields: schemaFields(schema, type.properties, type.required ?? []), items: undefined };
        return { kind: type.type, required, input, fields: undefined, items: undefined };
    }
    if (property.type === "array") return { kind: "list", required, input, fields: undefined, items: shapeOfSchema(schema, property.items, false) };
    if (property.type === "object") return { kind: "map", required, input, fields: undefined, items: shapeOfSchema(schema, property.additionalProperties, false) };
    return { kind: property.type === "integer" ? "number" : property.type, required, input, fields: undefined, items: undefined };
}

function schemaFields(schema: any, properties: Record<string, any>, required: string[]): Record<string, Shape> {
    return Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, shapeOfSchema(schema, property, required.includes(key))]));
}

/** A value of every kind that passes the spec: every optional key present, one item per list. */
function sample(rule: ArgumentRule): unknown {
    switch (rule.kind) {
        case "number":
            return 1;
        case "string":
        case "any":
            return "x";
        case "boolean":
            return true;
        case "list":
            return [sample(rule.items!)];
        case "map":
            return { key: sample(rule.items!) };
        case "object":
            return Object.fromEntries(Object.entries(rule.fields!).map(([key, field]) => [key, sample(field)]));
    }
}

/** Components every argument of which is optional (they construct from `{}`). */
const NO_REQUIRED_ARGUMENTS = new Set(["ControlPlaneBudget"]);

function sampleArgs(spec: ArgumentSpec): Record<string, unknown> {
    return sample({ kind: "object", fields: spec.fields }) as Record<string, unknown>;
}

/** Where a key sits: the path to the object holding it (keys and list indices), and its rule. */
interface KeySite {
    parents: Array<string | number>;
    key: string;
    rule: ArgumentRule;
}

function keySites(fields: Record<string, ArgumentRule>, parents: Array<string | number> = []): KeySite[] {
    return Object.entries(fields).flatMap(([key, rule]) => {
        const here: KeySite = { parents, key, rule };
        const nestedObject = rule.kind === "object" ? keySites(rule.fields!, [...parents, key]) : [];
        const listItems = rule.kind === "list" && rule.items?.kind === "object" ? keySites(rule.items.fields!, [...parents, key, 0]) : [];
        return [here, ...nestedObject, ...listItems];
    });
}

/** `function.policyStatements[0].` for the parents `function`, `policyStatements`, 0. */
function pathPrefix(parents: Array<string | number>): string {
    return parents.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${p}`)).join("") + (parents.length > 0 ? "." : "");
}

/** A copy of `args` with `change` applied to the object holding `site.key`. */
function edited(args: Record<string, unknown>, site: KeySite, change: (holder: Record<string, unknown>) => void): Record<string, unknown> {
    const copy = structuredClone(args);
    const holder = site.parents.reduce<any>((node, step) => node[step], copy);
    change(holder);
    return copy;
}

/** One letter dropped: `mode` → `mod`. */
function misspelt(key: string): string {
    return key.slice(0, -1);
}

describe("argument contracts", function () {
    this.timeout(120_000);
    let c: Components;
    let loaded: LoadedComponents;

    before(async () => {
        loaded = await loadComponents();
        c = loaded.c;
    });
    beforeEach(() => resetComponentState(loaded));

    function construct(spec: ArgumentSpec, args: unknown): void {
        const Component = c[spec.component] as unknown as new (name: string, args: unknown) => pulumi.ComponentResource;
        new Component("w", args);
    }

    /** The construction error of `args`, which must be a ConfigurationError. */
    function constructionError(spec: ArgumentSpec, args: unknown): string {
        try {
            construct(spec, args);
        } catch (error) {
            assert.ok(error instanceof ConfigurationError, `a ConfigurationError, not ${(error as Error).name}: ${(error as Error).message}`);
            return error.message;
        }
        assert.fail(`${spec.component} accepted ${JSON.stringify(args)}`);
    }

    describe("the specs match the Args interfaces (the inferred multi-language schema)", () => {
        let schema: any;
        before(async () => ({ schema } = await componentSchema()));

        it("cover every exported component", () => {
            const components = Object.keys(schema.resources).map((token) => token.split(":").pop()).sort();
            assert.deepEqual(ARGUMENT_SPECS.map((spec) => spec.component).sort(), components);
        });

        for (const spec of ARGUMENT_SPECS) {
            it(`${spec.component}: the same keys at every level, required, kind and Input-ness`, () => {
                const resource = schema.resources[`serverless-concurrency:index:${spec.component}`];
                assert.deepEqual(shapeOfFields(spec.fields), schemaFields(schema, resource.inputProperties, resource.requiredInputs ?? []));
            });
        }
    });

    describe("the nearest known name", () => {
        it("counts a swap of neighbours as one edit, case-insensitively", () => {
            assert.equal(editDistance("recieve", "receive"), 1);
            assert.equal(editDistance("abc", "abc"), 0);
            assert.equal(editDistance("", "abc"), 3);
            assert.equal(nearestName("MaxRecieveCount", ["maxReceiveCount", "batchSize"]), "maxReceiveCount");
        });

        it("suggests nothing for a name that is no typo of a known one", () => {
            assert.equal(nearestName("color", ["maxReceiveCount", "batchSize"]), undefined);
        });
    });

    for (const spec of ARGUMENT_SPECS) {
        describe(spec.component, () => {
            const sites = keySites(spec.fields);
            const label = `${spec.component} "w"`;

            it("accepts a sample with every key at every level", () => {
                assert.deepEqual(argumentProblems(spec, sampleArgs(spec)), []);
            });

            it("rejects every known key, at every level, misspelt by one letter, with the suggestion", () => {
                for (const site of sites) {
                    const typo = misspelt(site.key);
                    const args = edited(sampleArgs(spec), site, (holder) => {
                        holder[typo] = holder[site.key];
                        delete holder[site.key];
                    });
                    const prefix = pathPrefix(site.parents);
                    const where = prefix === "" ? spec.component : `\`${prefix.slice(0, -1)}\` of ${spec.component}`;
                    const message = constructionError(spec, args);
                    assert.ok(
                        message.includes(`${label}: \`${prefix}${typo}\` is not an argument of ${where}; did you mean \`${prefix}${site.key}\`?`),
                        `${prefix}${site.key}: ${message}`,
                    );
                }
            });

            it("rejects each required key missing, at every level", () => {
                const requiredSites = sites.filter((site) => site.rule.required);
                if (NO_REQUIRED_ARGUMENTS.has(spec.component)) {
                    assert.deepEqual(requiredSites, [], "documented as taking no required argument");
                    construct(spec, {});
                    return;
                }
                assert.ok(requiredSites.length > 0);
                for (const site of requiredSites) {
                    const path = `${pathPrefix(site.parents)}${site.key}`;
                    const message = constructionError(spec, edited(sampleArgs(spec), site, (holder) => delete holder[site.key]));
                    assert.match(message, new RegExp(`${label}: ${path.replace(/[.[\]]/g, "\\$&")} (is required|must be .*; received undefined\\.)`), path);
                }
            });

            it("rejects a value of the wrong type, naming the argument", () => {
                const wrong: Record<string, [unknown, string]> = {
                    number: ["5", 'must be a number; received "5".'],
                    string: [5, "must be a string; received 5."],
                    boolean: ["true", 'must be true or false; received "true".'],
                    list: ["x", 'must be an array; received "x".'],
                    object: ["x", 'must be an object; received "x".'],
                    map: [["x"], 'must be an object; received ["x"].'],
                };
                for (const site of sites.filter((s) => s.rule.kind in wrong)) {
                    const [value, expected] = wrong[site.rule.kind];
                    const path = `${pathPrefix(site.parents)}${site.key}`;
                    const message = constructionError(spec, edited(sampleArgs(spec), site, (holder) => (holder[site.key] = value)));
                    const shown = site.rule.expected ? `must be ${site.rule.expected}; received ${JSON.stringify(value)}.` : expected;
                    assert.ok(message.includes(`${label}: ${path} ${shown}`), `${path}: ${message}`);
                }
            });

            it("accepts an Output where the argument is a pulumi.Input, and rejects one where it is not", () => {
                for (const site of sites.filter((s) => s.rule.kind !== "any")) {
                    const path = `${pathPrefix(site.parents)}${site.key}`;
                    const args = edited(sampleArgs(spec), site, (holder) => (holder[site.key] = pulumi.output(holder[site.key])));
                    const problems = argumentProblems(spec, args);
                    if (site.rule.input) {
                        assert.deepEqual(problems, [], path);
                    } else {
                        assert.equal(problems.length, 1, path);
                        assert.match(problems[0], new RegExp(`^${path.replace(/[.[\]]/g, "\\$&")} must be known when the program runs \\(.+\\), not an Output or a Promise: this argument takes no value from another resource or stack\\.$`));
                    }
                }
            });
        });
    }

    describe("the cases from the issue", () => {
        const HANDLER = "tests/fixtures/handlers/orders.handle";
        const pool = { function: { handler: HANDLER }, eventPattern: { source: ["shop.orders"] }, reservedConcurrency: 10 };

        const cases: Array<[string, () => unknown, string]> = [
            ["a misspelt pool size", () => new c.EventBridgeWorkerPool("orders", { ...pool, reservedConcurrency: undefined as never, reservedConcurency: 10 } as never), 'EventBridgeWorkerPool "orders": `reservedConcurency` is not an argument of EventBridgeWorkerPool; did you mean `reservedConcurrency`?'],
            ["a misspelt retry count", () => new c.EventBridgeWorkerPool("orders", { ...pool, maxRetryAtempts: 0 } as never), "`maxRetryAtempts` is not an argument of EventBridgeWorkerPool; did you mean `maxRetryAttempts`?"],
            [
                "a misspelt breaker threshold",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, circuitBreaker: { errorTreshold: 0.5 } } as never),
                'KinesisOrderedWorker "payments": `circuitBreaker.errorTreshold` is not an argument of `circuitBreaker` of KinesisOrderedWorker; did you mean `circuitBreaker.errorThreshold`?',
            ],
            ["a misspelt receive count", () => new c.FifoTopicWorker("ledger", { function: { handler: HANDLER }, maxConcurrency: 5, maxRecieveCount: 10 } as never), "did you mean `maxReceiveCount`?"],
            [
                "a misspelt quota",
                () => new c.IsolatedWorkloadAccount("iso", { accountId: "222222222222", region: "us-east-1", lambdaConcurencyQuota: 3000 } as never),
                "`lambdaConcurencyQuota` is not an argument of IsolatedWorkloadAccount; did you mean `lambdaConcurrencyQuota`?",
            ],
            [
                "a controller without maxConcurrency",
                () => new c.ConcurrencyController("ctl", { target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurency: 5 } as never),
                'ConcurrencyController "ctl": `maxConcurency` is not an argument of ConcurrencyController; did you mean `maxConcurrency`?\nConcurrencyController "ctl": maxConcurrency is required.',
            ],
            [
                "adaptive concurrency with `mod`",
                () => new c.EventBridgeWorkerPool("orders", { ...pool, adaptiveConcurrency: { mod: "Controller", minConcurrency: 2, maxConcurrency: 20 } } as never),
                'EventBridgeWorkerPool "orders": `adaptiveConcurrency.mod` is not an argument of `adaptiveConcurrency` of EventBridgeWorkerPool; did you mean `adaptiveConcurrency.mode`?\nEventBridgeWorkerPool "orders": adaptiveConcurrency.mode is required.',
            ],
            [
                "an error-rate threshold given as a string",
                () => new c.EventBridgeWorkerPool("orders", { ...pool, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 20, errorRateThreshold: "5" } } as never),
                'EventBridgeWorkerPool "orders": adaptiveConcurrency.errorRateThreshold must be a number; received "5".',
            ],
        ];
        for (const [title, build, message] of cases) {
            it(`rejects ${title}`, () => {
                assert.throws(build, (e: Error) => e instanceof ConfigurationError && e.message.includes(message));
            });
        }

        it("throws a ConfigurationError that pulumi up prints without a stack trace (a RunError to the SDK)", () => {
            assert.throws(
                () => new c.EventBridgeWorkerPool("orders", { ...pool, maxRetryAtempts: 0 } as never),
                (e: Error) => e instanceof ConfigurationError && pulumi.RunError.isInstance(e) && e.name === "ConfigurationError",
            );
        });

        it("names the known keys when a key is no typo of any", () => {
            assert.deepEqual(argumentProblems(CONCURRENCY_CONTROLLER_ARGUMENTS, { target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 2, colour: "red" }), [
                "`colour` is not an argument of ConcurrencyController; known: `minConcurrency`, `maxConcurrency`, `latencyTargetMs`, `errorRateThreshold`, `downstream`, `dryRun`, `target`, `functionName`, `eventSourceMappingArn`, `eventSourceArn`, `queueName`, `shardCount`, `schedule`, `tableName`, `tableArn`, `workerName`, `alarmActions`, `controlPlaneBudget`, `tags`, `transform`.",
            ]);
        });

        it("builds a worker with adaptive Controller mode: the option's own keys do not reach the controller", async () => {
            new c.EventBridgeWorkerPool("orders", { ...pool, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 20, intervalMinutes: 5 } });
            await settle();
        });
    });
});

describe("numbers from another stack (Outputs)", function () {
    this.timeout(120_000);
    const HANDLER = "tests/fixtures/handlers/orders.handle";
    const pool = { function: { handler: HANDLER }, eventPattern: { source: ["shop.orders"] } };
    let loaded: LoadedComponents;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    /** Every registered input as JSON: nothing may read NaN or Pulumi's Output-in-a-string warning. */
    function registeredText(): string {
        return JSON.stringify(registered.map((r) => r.inputs));
    }

    /** A number that resolves when the test says so, like a StackReference output during an update. */
    function later(): { value: pulumi.Output<number>; resolve: (n: number) => void } {
        let resolve!: (n: number) => void;
        const promise = new Promise<number>((r) => (resolve = r));
        return { value: pulumi.output(promise), resolve };
    }

    it("EventBridgeWorkerPool takes reservedConcurrency as an Output: the budget says unknown until deploy, then counts it", async () => {
        const size = later();
        const rejections = await rejectionsDuring(async () => {
            const created = new loaded.c.EventBridgeWorkerPool("orders", { ...pool, reservedConcurrency: size.value });
            assert.deepEqual(loaded.budget.concurrencyBudgets()[0].reservations, [{ component: 'EventBridgeWorkerPool "orders"', concurrency: "unknown until deploy" }]);
            size.resolve(5);
            await settle();
            assert.equal(await valueOf(created.reservedConcurrency), 5);
            assert.equal(await valueOf(created.maxDownstreamConcurrency), 5);
        });
        assert.deepEqual(rejections, []);
        assert.deepEqual(loaded.budget.concurrencyBudgets()[0].reservations, [{ component: 'EventBridgeWorkerPool "orders"', concurrency: 5 }]);
        const fn = registered.find((r) => r.type === "aws:lambda/function:Function")!;
        assert.equal(fn.inputs.reservedConcurrentExecutions, 5);
        const dashboard = JSON.parse(registered.find((r) => r.type === "aws:cloudwatch/dashboard:Dashboard")!.inputs.dashboardBody);
        assert.equal(dashboard.widgets[0].properties.title, "Concurrency in use (pool size 5)");
        assert.doesNotMatch(registeredText(), /NaN|toString/);
    });

    it("fails the deployment with the construction message when the Output resolves out of range", async () => {
        const rejections = await rejectionsDuring(async () => {
            new loaded.c.EventBridgeWorkerPool("orders", { ...pool, reservedConcurrency: pulumi.output(0) });
            await settle();
        });
        assert.deepEqual(
            rejections.map((e) => [e.name, e.message]),
            [["ConfigurationError", 'EventBridgeWorkerPool "orders": reservedConcurrency must be an integer from 1 to 1000000; received 0.']],
        );
    });

    it("fails the deployment with the budget message when a resolved pool size overruns the account", async () => {
        const size = later();
        const rejections = await rejectionsDuring(async () => {
            new loaded.c.EventBridgeWorkerPool("orders", { ...pool, reservedConcurrency: size.value });
            new loaded.c.EventBridgeWorkerPool("billing", { ...pool, reservedConcurrency: 500 });
            size.resolve(450);
            await settle();
        });
        assert.deepEqual(rejections.map((e) => e.name), ["ConfigurationError"]);
        assert.match(rejections[0].message, /^Concurrency budget exceeded for the default AWS provider: reservations total 950, .*\n {2}- EventBridgeWorkerPool "orders": 450 \(this component\)\n {2}- EventBridgeWorkerPool "billing": 500\n/);
    });

    it("KinesisOrderedWorker takes shardCount as an Output: the figures, the dashboard and the controller follow it", async () => {
        const rejections = await rejectionsDuring(async () => {
            const worker = new loaded.c.KinesisOrderedWorker("payments", {
                function: { handler: HANDLER },
                shardCount: pulumi.output(2),
                parallelizationFactor: 2,
                adaptiveConcurrency: { mode: "Controller", minConcurrency: 1, maxConcurrency: 3 },
            });
            await settle();
            assert.equal(await valueOf(worker.maxConcurrency), 6);
            assert.equal(await valueOf(worker.maxDownstreamConcurrency), 60);
        });
        assert.deepEqual(rejections, []);
        const stream = registered.find((r) => r.type === "aws:kinesis/stream:Stream")!;
        assert.equal(stream.inputs.shardCount, 2);
        const dashboard = JSON.parse(registered.find((r) => r.type === "aws:cloudwatch/dashboard:Dashboard")!.inputs.dashboardBody);
        assert.equal(dashboard.widgets[0].properties.title, "Concurrency in use (shards × factor = 6)");
        const controller = registered.find((r) => r.type === "aws:lambda/function:Function" && r.name === "payments-adaptive-controller-fn")!;
        assert.equal(JSON.parse(controller.inputs.environment.variables.CONCURRENCY_CONTROL_CONFIG).executionsPerUnit, 2);
        const worker = registered.find((r) => r.type === "aws:lambda/function:Function" && r.name === "payments-fn")!;
        assert.equal(JSON.parse(worker.inputs.environment.variables.CONCURRENCY_CONTROL_CONFIG).executionsPerUnit, 2);
        assert.doesNotMatch(registeredText(), /NaN|toString/);
    });

    it("fails the deployment with the construction message when shardCount resolves out of range", async () => {
        const rejections = await rejectionsDuring(async () => {
            new loaded.c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, shardCount: pulumi.output(0) });
            await settle();
        });
        assert.deepEqual(rejections.map((e) => e.message), ['KinesisOrderedWorker "payments": shardCount must be an integer from 1 to 20000; received 0.']);
    });

    it("checks the rules that involve an Output when it resolves: a reservation below shards × factor, a pool size outside its adaptive bounds", async () => {
        const rejections = await rejectionsDuring(async () => {
            new loaded.c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, shardCount: pulumi.output(4), reservedConcurrency: 3 });
            new loaded.c.EventBridgeWorkerPool("orders", { ...pool, reservedConcurrency: pulumi.output(60), adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 50 } });
            await settle();
        });
        assert.deepEqual(rejections.map((e) => e.message).sort(), [
            'EventBridgeWorkerPool "orders": the starting value 60 must lie within adaptiveConcurrency.minConcurrency–maxConcurrency (2–50).',
            'KinesisOrderedWorker "payments": reservedConcurrency must be at least shardCount × parallelizationFactor = 4, or shards are throttled; received 3.',
        ]);
    });

    it("StepFunctionsSemaphore takes limit as an Output: the functions read the resolved number", async () => {
        const rejections = await rejectionsDuring(async () => {
            const semaphore = new loaded.c.StepFunctionsSemaphore("erp", { limit: pulumi.output(2) });
            await settle();
            assert.equal(await valueOf(semaphore.limit), 2);
        });
        assert.deepEqual(rejections, []);
        const functions = registered.filter((r) => r.type === "aws:lambda/function:Function");
        assert.equal(functions.length, 4);
        for (const fn of functions) assert.equal(fn.inputs.environment.variables.SEMAPHORE_LIMIT, "2");
        assert.doesNotMatch(registeredText(), /NaN|toString/);
    });

    it("fails the deployment with the construction message when the semaphore limit resolves out of range", async () => {
        const rejections = await rejectionsDuring(async () => {
            new loaded.c.SemaphoreStateMachine("orders", { limit: pulumi.output(10001), definition: { StartAt: "W", States: { W: { Type: "Pass", End: true } } } });
            await settle();
        });
        assert.deepEqual(
            rejections.map((e) => e.message).sort(),
            [
                'SemaphoreStateMachine "orders": limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 10001.',
                'StepFunctionsSemaphore "orders-semaphore": limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 10001.',
            ],
        );
    });
});
