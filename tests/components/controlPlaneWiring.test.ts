/**
 * Issue 13 "Scale" at the component level: the shared control-plane budget (`ControlPlaneBudget` and the
 * `controlPlaneBudget` argument of the controller, the group and the workers' adaptive option) and the
 * multi-target controller (`ConcurrencyControllerGroup`). Exact inputs, exact IAM documents, exact
 * messages, and the runtime's parsers accepting what the components write.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { controlGroupSettingsFromEnv, controlLoopSettingsProblems, controlSettingsFromEnv, MAX_CONTROL_GROUP_TARGETS } from "../../contracts/controller";
import { ConfigurationError } from "../../contracts/errors";
import { findManifests, manifestProblems, OPERATIONS_MARKER } from "../../contracts/operations";
import { ACCOUNT_ID, json, loadComponents, LoadedComponents, ofType, REGION, registered, resetComponentState, resource, settle, valueOf } from "../helpers/pulumiMocks";
import { rejectionsDuring } from "../helpers/rejections";

type Components = LoadedComponents["c"];
type GroupArgs = import("../../components").ConcurrencyControllerGroupArgs;
type GroupTarget = import("../../components").ControlGroupTargetArgs;

const HANDLER = "tests/fixtures/handlers/orders.handle";
const ORDERED = "tests/fixtures/handlers/ordered.handle";
const arn = (service: string, name: string) => `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${name}`;
const BUDGET = { tableName: "control-plane", tableArn: arn("dynamodb", "table/control-plane") };
const BUDGET_STATEMENT = { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem"], Resource: [BUDGET.tableArn] };
/** The deciding side's rights on the controller table: lease, decision, pause and window; no PutItem (the workers write the statistics). */
const LEASE_STATEMENT = (table: string) => ({ Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], Resource: [arn("dynamodb", table)] });
const RATE_LIMIT_TEXT =
    "must be a number greater than 0 and at most 14: the Lambda control plane allows 15 requests/s per account for PutFunctionConcurrency, UpdateEventSourceMapping and its other write APIs together, and the bucket adds at least 1 of burst";

const policyOf = (name: string) => json(resource("aws:iam/rolePolicy:RolePolicy", name).inputs.policy).Statement;
const envOf = (name: string) => resource("aws:lambda/function:Function", name).inputs.environment.variables as Record<string, string>;

describe("control-plane budget and controller groups (issue 13)", function () {
    this.timeout(120_000);
    let loaded: LoadedComponents;
    let c: Components;

    before(async () => {
        loaded = await loadComponents();
        c = loaded.c;
    });
    beforeEach(() => resetComponentState(loaded));

    describe("ControlPlaneBudget", () => {
        it("creates one on-demand, encrypted table keyed by the string pk the runtime's budget reads, without point-in-time recovery by default", async () => {
            const budget = new c.ControlPlaneBudget("control-plane");
            await settle();
            assert.deepEqual(
                registered.filter((r) => r.custom !== false).map((r) => `${r.type}::${r.name}`),
                ["aws:dynamodb/table:Table::control-plane-table"],
            );
            const { tags: _none, ...inputs } = resource("aws:dynamodb/table:Table", "control-plane-table").inputs;
            assert.deepEqual(inputs, {
                billingMode: "PAY_PER_REQUEST",
                hashKey: "pk",
                attributes: [{ name: "pk", type: "S" }],
                pointInTimeRecovery: { enabled: false },
                serverSideEncryption: { enabled: true },
            });
            assert.equal(await valueOf(budget.tableName), "control-plane-table-table");
            assert.equal(await valueOf(budget.tableArn), arn("dynamodb", "control-plane-table-table"));
        });

        it("turns point-in-time recovery on when asked, and takes tags and a table transform", async () => {
            new c.ControlPlaneBudget("control-plane", { pointInTimeRecovery: true, tags: { team: "platform" }, transform: { table: { deletionProtectionEnabled: true } } });
            await settle();
            const table = resource("aws:dynamodb/table:Table", "control-plane-table").inputs;
            assert.deepEqual([table.pointInTimeRecovery, table.tags, table.deletionProtectionEnabled], [{ enabled: true }, { team: "platform" }, true]);
        });

        it("refuses an argument it does not take, with the nearest name", () => {
            assert.throws(() => new c.ControlPlaneBudget("control-plane", { pointInTimeRecovry: true } as never), {
                message: 'ControlPlaneBudget "control-plane": `pointInTimeRecovry` is not an argument of ControlPlaneBudget; did you mean `pointInTimeRecovery`?',
            });
        });
    });

    describe("ConcurrencyController with controlPlaneBudget", () => {
        const base = { target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 2, maxConcurrency: 50 } as const;

        it("writes the budget into the controller's config, grants GetItem and PutItem on that table only, and leaves the worker's config without it", async () => {
            const controller = new c.ConcurrencyController("ctl", { ...base, controlPlaneBudget: { ...BUDGET, requestsPerSecond: 12 } });
            await settle();
            const config = JSON.parse(envOf("ctl-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.equal(config.controlPlaneBudgetTable, "control-plane");
            assert.equal(config.controlPlaneRequestsPerSecond, 12);
            assert.deepEqual(controlSettingsFromEnv(envOf("ctl-controller-fn")), config, "the runtime's cold-start parser accepts it");
            assert.deepEqual(policyOf("ctl-controller-policy").slice(1), [
                { Effect: "Allow", Action: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"], Resource: [arn("lambda", "function:orders-fn")] },
                { Effect: "Allow", Action: ["cloudwatch:GetMetricData", "lambda:GetAccountSettings"], Resource: ["*"] },
                LEASE_STATEMENT("ctl-table-table"),
                BUDGET_STATEMENT,
            ]);
            const workerConfig = JSON.parse((await valueOf(controller.workerEnvironment)).CONCURRENCY_CONTROL_CONFIG);
            assert.ok(!("controlPlaneBudgetTable" in workerConfig) && !("controlPlaneRequestsPerSecond" in workerConfig), "the worker only records statistics");
        });

        it("leaves the rate to the runtime's default when it is not given, and takes the table from another stack", async () => {
            new c.ConcurrencyController("ctl", { ...base, controlPlaneBudget: { tableName: pulumi.output("shared-budget"), tableArn: pulumi.output(arn("dynamodb", "table/shared-budget")) } });
            await settle();
            const config = JSON.parse(envOf("ctl-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.equal(config.controlPlaneBudgetTable, "shared-budget");
            assert.ok(!("controlPlaneRequestsPerSecond" in config));
            assert.deepEqual(policyOf("ctl-controller-policy").at(-1), { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem"], Resource: [arn("dynamodb", "table/shared-budget")] });
        });

        it("without a budget: no budget fields and no budget statement (today's behaviour)", async () => {
            new c.ConcurrencyController("ctl", base);
            await settle();
            const config = JSON.parse(envOf("ctl-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.ok(!("controlPlaneBudgetTable" in config));
            assert.equal(policyOf("ctl-controller-policy").length, 4, "logs, the target, the account-wide reads, the table");
        });

        it("accepts 14 requests/s, the contract's highest rate", async () => {
            new c.ConcurrencyController("ctl", { ...base, controlPlaneBudget: { ...BUDGET, requestsPerSecond: 14 } });
            await settle();
            assert.deepEqual(controlLoopSettingsProblems(JSON.parse(envOf("ctl-controller-fn").CONCURRENCY_CONTROL_CONFIG)), []);
        });

        for (const rate of [0, -1, 15, 20]) {
            it(`refuses requestsPerSecond ${rate}, naming the argument and the limit`, () => {
                assert.throws(() => new c.ConcurrencyController("ctl", { ...base, controlPlaneBudget: { ...BUDGET, requestsPerSecond: rate } }), {
                    message: `ConcurrencyController "ctl": controlPlaneBudget.requestsPerSecond ${RATE_LIMIT_TEXT}; received ${rate}.`,
                });
            });
        }

        it("refuses a budget without its ARN", () => {
            assert.throws(() => new c.ConcurrencyController("ctl", { ...base, controlPlaneBudget: { tableName: "control-plane" } as never }), {
                message: 'ConcurrencyController "ctl": controlPlaneBudget.tableArn is required.',
            });
        });
    });

    describe("adaptiveConcurrency with controlPlaneBudget", () => {
        it("SelfTuning: the worker's own config names the budget and its self-tuning policy adds GetItem and PutItem on it", async () => {
            new c.EventBridgeWorkerPool("orders", {
                function: { handler: HANDLER },
                eventPattern: { source: ["shop"] },
                reservedConcurrency: 5,
                adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20, controlPlaneBudget: { ...BUDGET, requestsPerSecond: 8 } },
            });
            await settle();
            const config = JSON.parse(envOf("orders-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual([config.controlPlaneBudgetTable, config.controlPlaneRequestsPerSecond], ["control-plane", 8]);
            assert.deepEqual(controlLoopSettingsProblems(config), []);
            assert.deepEqual(policyOf("orders-self-tuning"), [
                { Effect: "Allow", Action: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"], Resource: [arn("lambda", "orders-fn-function")] },
                { Effect: "Allow", Action: ["lambda:GetAccountSettings", "cloudwatch:GetMetricData"], Resource: ["*"] },
                LEASE_STATEMENT("orders-control-table"),
                BUDGET_STATEMENT,
            ]);
        });

        it("SelfTuning on a mapping: the same budget statement after the mapping's", async () => {
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED, timeoutSeconds: 30 }, maxConcurrency: 5, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20, controlPlaneBudget: BUDGET } });
            await settle();
            assert.deepEqual(policyOf("ledger-self-tuning").at(-1), BUDGET_STATEMENT);
            assert.equal(JSON.parse(envOf("ledger-fn").CONCURRENCY_CONTROL_CONFIG).controlPlaneBudgetTable, "control-plane");
        });

        it("Controller: the controller child takes the budget; the worker, which changes nothing, does not", async () => {
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 20, controlPlaneBudget: BUDGET } });
            await settle();
            const controllerConfig = JSON.parse(envOf("ledger-adaptive-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.equal(controllerConfig.controlPlaneBudgetTable, "control-plane");
            assert.deepEqual(policyOf("ledger-adaptive-controller-policy").at(-1), BUDGET_STATEMENT);
            const workerConfig = JSON.parse(envOf("ledger-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.ok(!("controlPlaneBudgetTable" in workerConfig));
            assert.ok(json(resource("aws:iam/rolePolicy:RolePolicy", "ledger-policy").inputs.policy).Statement.every((s: { Resource: string[] }) => !s.Resource.includes(BUDGET.tableArn)));
        });

        it("refuses a rate over the limit, naming the option's path", () => {
            assert.throws(
                () =>
                    new c.EventBridgeWorkerPool("orders", {
                        function: { handler: HANDLER },
                        eventPattern: { source: ["shop"] },
                        reservedConcurrency: 5,
                        adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20, controlPlaneBudget: { ...BUDGET, requestsPerSecond: 15 } },
                    }),
                (e: Error) => e.message.includes(`EventBridgeWorkerPool "orders": adaptiveConcurrency.controlPlaneBudget.requestsPerSecond ${RATE_LIMIT_TEXT}; received 15.`),
            );
        });
    });

    describe("ConcurrencyControllerGroup", () => {
        const mappingArn = (id: string) => arn("lambda", `event-source-mapping:${id}`);
        const orders: GroupTarget = { name: "orders", target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 2, maxConcurrency: 50, latencyTargetMs: 200 };
        const billing: GroupTarget = { name: "billing", target: "ReservedConcurrency", functionName: "billing-fn", minConcurrency: 1, maxConcurrency: 10, dryRun: true };
        const ledger: GroupTarget = {
            name: "ledger",
            target: "SqsMaximumConcurrency",
            functionName: "ledger-fn",
            eventSourceMappingArn: mappingArn("11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
            eventSourceArn: arn("sqs", "ledger.fifo"),
            queueName: "ledger.fifo",
            minConcurrency: 2,
            maxConcurrency: 20,
        };
        const payments: GroupTarget = {
            name: "payments",
            target: "KinesisParallelizationFactor",
            functionName: "payments-fn",
            eventSourceMappingArn: mappingArn("22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb"),
            eventSourceArn: arn("kinesis", "stream/payments"),
            shardCount: 4,
            minConcurrency: 1,
            maxConcurrency: 8,
            downstream: "psp",
        };
        const group = (overrides: Partial<GroupArgs> = {}) => new c.ConcurrencyControllerGroup("shop", { targets: [orders, billing, ledger, payments], ...overrides });

        it("creates one table, one scheduled function, its schedule and its error alarm for all targets", async () => {
            group({ schedule: "rate(2 minutes)" });
            await settle();
            assert.deepEqual(
                registered.filter((r) => r.custom !== false).map((r) => r.name).sort(),
                ["shop-async", "shop-controller-fn", "shop-controller-logs", "shop-controller-policy", "shop-controller-role", "shop-errors", "shop-invoke", "shop-schedule", "shop-table", "shop-target"],
            );
            assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "shop-schedule").inputs.scheduleExpression, "rate(2 minutes)");
            assert.deepEqual(resource("aws:dynamodb/table:Table", "shop-table").inputs.attributes, [{ name: "pk", type: "S" }, { name: "sk", type: "S" }]);
            assert.match(resource("aws:cloudwatch/metricAlarm:MetricAlarm", "shop-errors").inputs.alarmDescription, /^The controller function returned errors: a control interval failed for at least one target/);
            const fn = resource("aws:lambda/function:Function", "shop-controller-fn").inputs;
            assert.equal(fn.handler, "index.handler");
            assert.deepEqual(Object.keys(fn.environment.variables).sort(), ["CONCURRENCY_CONTROL_CONFIG", "NODE_OPTIONS"], "no WORKER_NAME: each target's metrics carry its function name");
        });

        it("writes what the targets share once and each target's own fields; the runtime reads one complete configuration per target", async () => {
            group({ schedule: "rate(2 minutes)", controlPlaneBudget: { ...BUDGET, requestsPerSecond: 12 } });
            await settle();
            const env = envOf("shop-controller-fn");
            assert.deepEqual(JSON.parse(env.CONCURRENCY_CONTROL_CONFIG), {
                shared: { tableName: "shop-table-table", intervalSeconds: 120, controlPlaneBudgetTable: "control-plane", controlPlaneRequestsPerSecond: 12 },
                targets: [
                    { target: { kind: "ReservedConcurrency", functionName: "orders-fn" }, params: { min: 2, max: 50, latencyTargetMs: 200 }, metrics: { functionName: "orders-fn", backlog: "AsyncEventAge" }, dryRun: false },
                    { target: { kind: "ReservedConcurrency", functionName: "billing-fn" }, params: { min: 1, max: 10 }, metrics: { functionName: "billing-fn", backlog: "AsyncEventAge" }, dryRun: true },
                    {
                        target: { kind: "SqsMaximumConcurrency", uuid: "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", eventSourceArn: arn("sqs", "ledger.fifo") },
                        params: { min: 2, max: 20 },
                        metrics: { functionName: "ledger-fn", backlog: "SqsAgeOfOldestMessage", queueName: "ledger.fifo" },
                        dryRun: false,
                    },
                    {
                        target: { kind: "KinesisParallelizationFactor", uuid: "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb", eventSourceArn: arn("kinesis", "stream/payments") },
                        params: { min: 1, max: 8 },
                        metrics: { functionName: "payments-fn", backlog: "IteratorAge" },
                        executionsPerUnit: 4,
                        downstream: "psp",
                        dryRun: false,
                    },
                ],
            });
            const configs = controlGroupSettingsFromEnv(env);
            assert.equal(configs.length, 4);
            assert.deepEqual(configs[2], {
                tableName: "shop-table-table",
                intervalSeconds: 120,
                controlPlaneBudgetTable: "control-plane",
                controlPlaneRequestsPerSecond: 12,
                target: { kind: "SqsMaximumConcurrency", uuid: "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", eventSourceArn: arn("sqs", "ledger.fifo") },
                params: { min: 2, max: 20 },
                metrics: { functionName: "ledger-fn", backlog: "SqsAgeOfOldestMessage", queueName: "ledger.fifo" },
                dryRun: false,
            });
        });

        it("gives each target the configuration its own ConcurrencyController would have (but the table)", async () => {
            const { name: _name, ...ledgerArgs } = ledger;
            new c.ConcurrencyController("single", { ...ledgerArgs, tableName: "shop-table-table", tableArn: arn("dynamodb", "shop-table-table") });
            group();
            await settle();
            const single = controlSettingsFromEnv(envOf("single-controller-fn"));
            assert.deepEqual(controlGroupSettingsFromEnv(envOf("shop-controller-fn"))[2], single);
        });

        it("may change only the listed functions' reserved concurrency and the listed mappings, and use the budget", async () => {
            group({ controlPlaneBudget: BUDGET });
            await settle();
            assert.deepEqual(policyOf("shop-controller-policy").slice(1), [
                { Effect: "Allow", Action: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"], Resource: [arn("lambda", "function:orders-fn"), arn("lambda", "function:billing-fn")] },
                { Effect: "Allow", Action: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], Resource: [mappingArn("11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa"), mappingArn("22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb")] },
                { Effect: "Allow", Action: ["cloudwatch:GetMetricData", "lambda:GetAccountSettings"], Resource: ["*"] },
                LEASE_STATEMENT("shop-table-table"),
                BUDGET_STATEMENT,
            ]);
        });

        it("with mapping targets only: no reserved-concurrency statement and no GetAccountSettings; a given table instead of its own", async () => {
            new c.ConcurrencyControllerGroup("shop", { targets: [ledger, payments], tableName: "stats", tableArn: arn("dynamodb", "stats") });
            await settle();
            assert.equal(ofType("aws:dynamodb/table:Table").length, 0);
            assert.deepEqual(policyOf("shop-controller-policy").slice(1), [
                { Effect: "Allow", Action: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], Resource: [mappingArn("11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa"), mappingArn("22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb")] },
                { Effect: "Allow", Action: ["cloudwatch:GetMetricData"], Resource: ["*"] },
                LEASE_STATEMENT("stats"),
            ]);
            assert.equal(JSON.parse(envOf("shop-controller-fn").CONCURRENCY_CONTROL_CONFIG).shared.tableName, "stats");
        });

        it("gives each target's function its environment, keyed by target name, without what it cannot know", async () => {
            const controllers = group();
            const environments = await valueOf(controllers.workerEnvironment);
            assert.deepEqual(Object.keys(environments), ["orders", "billing", "ledger", "payments"]);
            for (const environment of Object.values(environments)) {
                assert.equal(environment.CONCURRENCY_CONTROL_MODE, "Controller");
                assert.deepEqual(controlLoopSettingsProblems(JSON.parse(environment.CONCURRENCY_CONTROL_CONFIG)), []);
            }
            assert.deepEqual(JSON.parse(environments.ledger.CONCURRENCY_CONTROL_CONFIG).target, { kind: "SqsMaximumConcurrency", eventSourceArn: arn("sqs", "ledger.fifo") }, "keyed by the same source ARN as the group's");
            assert.deepEqual(JSON.parse(environments.orders.CONCURRENCY_CONTROL_CONFIG).tableName, "shop-table-table");
        });

        it("exports one ConcurrencyController manifest per target, named <group>/<target>, that the CLI finds", async () => {
            const controllers = group();
            const manifests = (await valueOf(controllers.operations)) as unknown[];
            await settle();
            assert.equal(manifests.length, 4);
            for (const manifest of manifests) assert.deepEqual(manifestProblems(manifest), []);
            assert.deepEqual(manifests[2], {
                [OPERATIONS_MARKER]: 1,
                componentType: "ConcurrencyController",
                name: "shop/ledger",
                region: REGION,
                account: ACCOUNT_ID,
                controller: { mode: "Controller", tableName: "shop-table-table", functionName: "shop-controller-fn-function", target: { kind: "SqsMaximumConcurrency", uuid: "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", eventSourceArn: arn("sqs", "ledger.fifo") } },
            });
            assert.deepEqual(
                findManifests({ shop: { operations: manifests } }).manifests.map((m) => m.name),
                ["shop/orders", "shop/billing", "shop/ledger", "shop/payments"],
            );
        });

        it(`takes ${MAX_CONTROL_GROUP_TARGETS} targets and refuses ${MAX_CONTROL_GROUP_TARGETS + 1}: one GetMetricData call must read them all`, async () => {
            const many = (count: number) => Array.from({ length: count }, (_, i) => ({ ...orders, name: `t${i}`, functionName: `f${i}` }));
            assert.throws(() => new c.ConcurrencyControllerGroup("shop", { targets: many(MAX_CONTROL_GROUP_TARGETS + 1) }), {
                message: 'ConcurrencyControllerGroup "shop": targets must list 1 to 166 targets (3 GetMetricData queries each, 500 per call, so one call reads them all); received 167. Split them into several groups.',
            });
            assert.throws(() => new c.ConcurrencyControllerGroup("shop", { targets: [] }), (e: Error) => e.message.includes("targets must list 1 to 166 targets") && e.message.endsWith("received 0. Split them into several groups."));
            resetComponentState(loaded);
            const rejections = await rejectionsDuring(async () => {
                assert.doesNotThrow(() => new c.ConcurrencyControllerGroup("wide", { targets: many(MAX_CONTROL_GROUP_TARGETS) }), "the construction-time cap itself");
                await settle();
            });
            assert.deepEqual(
                rejections.map((e) => e.message.replace(/\d+ bytes as/, "N bytes as")),
                [
                    `ConcurrencyControllerGroup "wide": the environment variables of wide-controller-fn would be N bytes as Lambda measures them (their JSON), over the 4096 it allows; the configuration of its 166 targets is in it: split them into several groups.`,
                ],
                "then the environment is the tighter limit",
            );
        });

        it("fails the deployment when the resolved configuration would overrun Lambda's 4 KB of environment", async () => {
            // Long, but names Lambda takes (at most 64 characters).
            const long = (i: number) => `${"orders-worker-function-with-a-long-name".padEnd(60, "-x")}-${i}`;
            const targets = Array.from({ length: 20 }, (_, i) => ({ ...orders, name: `t${i}`, functionName: pulumi.output(long(i)) }));
            const rejections = await rejectionsDuring(async () => {
                new c.ConcurrencyControllerGroup("shop", { targets });
                await settle();
            });
            const bytes = Buffer.byteLength(JSON.stringify(envOf("shop-controller-fn")));
            assert.ok(bytes > 4096, `${bytes} bytes`);
            assert.deepEqual(
                rejections.map((e) => [e instanceof ConfigurationError, e.message]),
                [
                    [
                        true,
                        `ConcurrencyControllerGroup "shop": the environment variables of shop-controller-fn would be ${bytes} bytes as Lambda measures them (their JSON), over the 4096 it allows; the configuration of its 20 targets is in it: split them into several groups.`,
                    ],
                ],
            );
        });

        it("measures an environment as Lambda does, its JSON: a configuration whose keys and values alone fit is refused when its JSON does not", async () => {
            const rejections = (environment: Record<string, string>) =>
                rejectionsDuring(async () => {
                    resetComponentState(loaded);
                    new c.EventBridgeWorkerPool("pool", { function: { handler: HANDLER, environment }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5 });
                    await settle();
                });
            const measured = async (environment: Record<string, string>) => {
                await rejections(environment);
                const variables = envOf("pool-fn");
                return { json: Buffer.byteLength(JSON.stringify(variables)), keysAndValues: Object.entries(variables).reduce((sum, [k, v]) => sum + k.length + v.length, 0) };
            };
            const base = await measured({ PAD: "" });
            const quoted = (n: number) => ({ PAD: '"'.repeat(n) });
            // Each '"' is one byte of value and two of JSON: pad to exactly 4096 bytes of JSON, then one more.
            const fits = (4096 - base.json) / 2;
            assert.ok(Number.isInteger(fits), `base JSON ${base.json} bytes`);
            assert.deepEqual(await rejections(quoted(fits)), [], "4096 bytes of JSON fit");
            assert.equal((await measured(quoted(fits))).json, 4096);
            const over = await rejections({ PAD: '"'.repeat(fits) + "x" });
            assert.ok(base.keysAndValues + fits + 1 < 4096, "keys and values alone would fit");
            assert.deepEqual(
                over.map((e) => e.message),
                [`EventBridgeWorkerPool "pool": the environment variables of pool-fn would be 4097 bytes as Lambda measures them (their JSON), over the 4096 it allows; shorten or drop variables of function.environment.`],
            );
        });

        it("deploys a group whose configuration fits", async () => {
            const rejections = await rejectionsDuring(async () => {
                group();
                await settle();
            });
            assert.deepEqual(rejections, []);
        });

        const FUNCTION_ARN = arn("lambda", "function:orders-fn");
        const UUID = "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
        const formatMessages = [
            `ConcurrencyControllerGroup "shop": targets[0].functionName must be a function name (1–64 letters, digits, hyphens or underscores), not an ARN: it goes into the controller's IAM resource arn:…:function:<functionName>; received "${FUNCTION_ARN}".`,
            `ConcurrencyControllerGroup "shop": targets[1].eventSourceMappingArn must be an event source mapping ARN (arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>), not its UUID: it is the resource of the controller's IAM statement; received "${UUID}".`,
        ];

        it("refuses a function ARN as a target's function name and a mapping UUID as its mapping ARN, before they reach IAM", () => {
            assert.throws(() => new c.ConcurrencyControllerGroup("shop", { targets: [{ ...orders, functionName: FUNCTION_ARN }, { ...ledger, eventSourceMappingArn: UUID }] }), {
                message: formatMessages.join("\n"),
            });
        });

        it("checks a function name and a mapping ARN known only at deploy time when they resolve, with the same messages", async () => {
            const rejections = await rejectionsDuring(async () => {
                new c.ConcurrencyControllerGroup("shop", { targets: [{ ...orders, functionName: pulumi.output(FUNCTION_ARN) }, { ...ledger, eventSourceMappingArn: pulumi.output(UUID) }] });
                await settle();
            });
            assert.deepEqual(rejections.map((e) => [e instanceof ConfigurationError, e.message]), [[true, formatMessages.join("\n")]]);
        });

        it("refuses every problem at once: names, per-target bounds and fields (with their index), the budget rate, the schedule, the table", () => {
            assert.throws(
                () =>
                    new c.ConcurrencyControllerGroup("shop", {
                        targets: [
                            orders,
                            { ...billing, name: "orders" },
                            { ...ledger, name: "ledger queue", minConcurrency: 1, queueName: undefined },
                            { ...payments, eventSourceMappingArn: undefined, shardCount: undefined, maxConcurrency: 11 },
                            { ...orders, name: "memory", target: "Memory" as never },
                        ],
                        controlPlaneBudget: { ...BUDGET, requestsPerSecond: 15 },
                        schedule: "every minute",
                        tableName: "stats",
                    }),
                {
                    message: [
                        'ConcurrencyControllerGroup "shop": targets[1].name "orders" is already the name of targets[0]; each target needs its own name.',
                        'ConcurrencyControllerGroup "shop": targets[2].name must be 1–64 letters, digits, - or _; received "ledger queue".',
                        'ConcurrencyControllerGroup "shop": targets[2].minConcurrency must be an integer from 2 to 1000; received 1.',
                        'ConcurrencyControllerGroup "shop": targets[2].queueName is required for target SqsMaximumConcurrency: the age of its oldest message is the backlog signal.',
                        'ConcurrencyControllerGroup "shop": targets[3].maxConcurrency must be an integer from 1 to 10; received 11.',
                        'ConcurrencyControllerGroup "shop": targets[3].eventSourceMappingArn and targets[3].eventSourceArn are required for target KinesisParallelizationFactor.',
                        'ConcurrencyControllerGroup "shop": targets[3].shardCount is required for target KinesisParallelizationFactor: concurrency in use is counted per shard.',
                        'ConcurrencyControllerGroup "shop": targets[4].target must be one of ReservedConcurrency, SqsMaximumConcurrency, KinesisParallelizationFactor; received "Memory".',
                        `ConcurrencyControllerGroup "shop": controlPlaneBudget.requestsPerSecond ${RATE_LIMIT_TEXT}; received 15.`,
                        'ConcurrencyControllerGroup "shop": schedule must be "rate(N minute|minutes|hour|hours)", at most 24 hours (the longest control interval); received "every minute".',
                        'ConcurrencyControllerGroup "shop": tableName and tableArn go together.',
                    ].join("\n"),
                },
            );
        });

        it("refuses a target without its required keys, naming the path", () => {
            assert.throws(() => new c.ConcurrencyControllerGroup("shop", { targets: [{ name: "orders", target: "ReservedConcurrency", minConcurrency: 1, maxConcurrency: 5 } as never] }), {
                message: 'ConcurrencyControllerGroup "shop": targets[0].functionName is required.',
            });
        });
    });
});
