import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { emulateEngineTransforms } from "../helpers/engineTransforms";
import { ACCOUNT_ID, json, registered, resource, settle, valueOf, loadComponents, LoadedComponents, resetComponentState } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];

const POOL_HANDLER = "tests/fixtures/handlers/orders.handle";
const ORDERED = "tests/fixtures/handlers/ordered.handle";
const TAGS = { team: "payments", costCenter: "4711" };

/**
 * Whether `@pulumi/aws` declares `tags` on the args of a type token, read from its `.d.ts` (no hand-kept
 * list); the provider (`pulumi:providers:aws`) is read from `provider.d.ts`.
 */
function acceptsTags(type: string): boolean {
    const [, module, className] = type === "pulumi:providers:aws" ? [, "provider", "Provider"] : type.split(":");
    const file = path.join(__dirname, "..", "..", "node_modules", "@pulumi", "aws", `${module}.d.ts`);
    const source = fs.readFileSync(file, "utf8");
    const start = source.indexOf(`export interface ${className}Args {`);
    assert.ok(start >= 0, `no ${className}Args in ${file}`);
    const body = source.slice(start, source.indexOf("\n}", start));
    return /\n {4}tags\?:/.test(body);
}

const MACHINE_DEFINITION = { StartAt: "CallErp", States: { CallErp: { Type: "Pass", End: true } } };
const TARGET_BUS = "arn:aws:events:us-east-1:222222222222:event-bus/orders";

/** `{ a: { b: patch } }` for the key `a.b`: a `transform` entry of a nested component. */
function patchAt(key: string, patch: Record<string, unknown>): Record<string, unknown> {
    return key.split(".").reduceRight<Record<string, unknown>>((inner, part) => ({ [part]: inner }), patch);
}

/** The workers and the controller, with the options that add nested children (controller, breaker). */
function functionComponents(c: Components, extra: Record<string, unknown>): Array<() => unknown> {
    const fn = (handler: string) => ({ handler, timeoutSeconds: 30 });
    return [
        () => new c.EventBridgeWorkerPool("orders", { function: fn(POOL_HANDLER), eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 }, ...extra }),
        () => new c.KinesisOrderedWorker("payments", { function: fn(ORDERED), circuitBreaker: {}, ...extra }),
        () => new c.FifoTopicWorker("ledger", { function: fn(ORDERED), maxConcurrency: 5, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 10 }, circuitBreaker: {}, ...extra }),
        () => new c.ConcurrencyController("direct", { target: "ReservedConcurrency", functionName: "some-fn", minConcurrency: 1, maxConcurrency: 5, ...extra }),
        () => new c.ConcurrencyControllerGroup("group", { targets: [{ name: "some", target: "ReservedConcurrency", functionName: "some-fn", minConcurrency: 1, maxConcurrency: 5 }], ...extra }),
    ];
}

/** Every component: the workers and the controller, the semaphore (alone and inside a state machine), the account (with its bus) and the forwarder. */
function everyComponent(c: Components, extra: Record<string, unknown>): Array<() => unknown> {
    return [
        ...functionComponents(c, extra),
        () => new c.ControlPlaneBudget("budget", { ...extra }),
        () => new c.StepFunctionsSemaphore("erp", { limit: 2, ...extra }),
        () => new c.SemaphoreStateMachine("flow", { limit: 2, definition: MACHINE_DEFINITION, ...extra }),
        () => new c.IsolatedWorkloadAccount("workload", { accountName: "workers", email: "aws+workers@example.com", region: "us-east-1", eventBusSourceAccountIds: ["111111111111"], ...extra }),
        () => new c.CrossAccountEventForwarder("forward", { eventPattern: { source: ["shop"] }, targetEventBusArn: TARGET_BUS, ...extra }),
    ];
}

describe("escape hatches: tags, transform, role and log group, function options", function () {
    this.timeout(120_000);
    let c: Components;
    let budget: LoadedComponents["budget"];

    let TAGGABLE_TYPES: ReadonlySet<string>;

    before(async () => ({ c, budget } = await loadComponents()));
    before(async () => ({ TAGGABLE_TYPES } = await import("../../components/internal/escapeHatches")));
    beforeEach(() => resetComponentState({ c, budget }));

    describe("tags", () => {
        for (const [title, tags] of [
            ["plain tags", TAGS],
            ["tags given as an Output", pulumi.output(TAGS)],
        ] as const) {
            it(`reach every taggable child of every component, nested ones included, and no other (${title})`, async () => {
                for (const create of everyComponent(c, { tags })) create();
                await settle();
                const children = registered.filter((r) => r.custom !== false);
                assert.ok(children.length > 150, `${children.length} children`);
                for (const child of children) {
                    const expected = acceptsTags(child.type) ? TAGS : undefined;
                    assert.deepEqual(child.inputs.tags, expected, `${child.type}::${child.name}`);
                }
                const types = new Set(children.map((r) => r.type));
                for (const type of TAGGABLE_TYPES) assert.ok(types.has(type) && acceptsTags(type), `${type} is created and taggable`);
                const provider = resource("pulumi:providers:aws", "workload-provider").inputs;
                assert.deepEqual(json(provider.defaultTags), { tags: { "serverless-concurrency:workload": "workload", ...TAGS } }, "the account's provider tags what it deploys");
            });
        }

        it("leave every child untouched when no component is given tags or transform", async () => {
            for (const create of everyComponent(c, {})) create();
            await settle();
            for (const child of registered) assert.equal(child.inputs.tags, undefined, `${child.type}::${child.name}`);
        });
    });

    describe("transform", () => {
        type Case = [component: string, create: (transform: Record<string, unknown>) => unknown, key: string, type: string, child: string, untouched?: string];
        const pool = (transform: Record<string, unknown>) => new c.EventBridgeWorkerPool("orders", { function: { handler: POOL_HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, transform });
        const kinesis = (transform: Record<string, unknown>) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, transform });
        const fifo = (transform: Record<string, unknown>) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, transform });
        const adaptive = (minConcurrency: number) => ({ mode: "Controller" as const, minConcurrency, maxConcurrency: 10 });
        const poolAdaptive = (transform: Record<string, unknown>) =>
            new c.EventBridgeWorkerPool("orders", { function: { handler: POOL_HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: adaptive(2), transform });
        const kinesisBreaker = (transform: Record<string, unknown>) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, circuitBreaker: {}, transform });
        const kinesisAdaptive = (transform: Record<string, unknown>) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, adaptiveConcurrency: adaptive(1), transform });
        const fifoControlled = (transform: Record<string, unknown>) =>
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: adaptive(2), circuitBreaker: {}, transform });
        const controller = (transform: Record<string, unknown>) => new c.ConcurrencyController("direct", { target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5, transform });
        const group = (transform: Record<string, unknown>) =>
            new c.ConcurrencyControllerGroup("group", { targets: [{ name: "f", target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5 }], transform });
        const controlPlane = (transform: Record<string, unknown>) => new c.ControlPlaneBudget("budget", { transform });
        const semaphore = (transform: Record<string, unknown>) => new c.StepFunctionsSemaphore("erp", { limit: 2, transform });
        const machine = (transform: Record<string, unknown>) => new c.SemaphoreStateMachine("flow", { limit: 2, definition: MACHINE_DEFINITION, transform });
        const account = (transform: Record<string, unknown>) =>
            new c.IsolatedWorkloadAccount("workload", { accountName: "workers", email: "aws+workers@example.com", region: "us-east-1", eventBusSourceAccountIds: ["111111111111"], transform });
        const forwarder = (transform: Record<string, unknown>) => new c.CrossAccountEventForwarder("forward", { eventPattern: { source: ["shop"] }, targetEventBusArn: TARGET_BUS, transform });
        const cases: Case[] = [
            ["EventBridgeWorkerPool", pool, "function", "aws:lambda/function:Function", "orders-fn"],
            ["EventBridgeWorkerPool", pool, "role", "aws:iam/role:Role", "orders-role"],
            ["EventBridgeWorkerPool", pool, "logGroup", "aws:cloudwatch/logGroup:LogGroup", "orders-logs"],
            ["EventBridgeWorkerPool", pool, "table", "aws:dynamodb/table:Table", "orders-idempotency"],
            ["EventBridgeWorkerPool", pool, "rule", "aws:cloudwatch/eventRule:EventRule", "orders-rule"],
            ["EventBridgeWorkerPool", pool, "target", "aws:cloudwatch/eventTarget:EventTarget", "orders-target"],
            ["EventBridgeWorkerPool", pool, "deadLetterQueue", "aws:sqs/queue:Queue", "orders-dlq"],
            ["EventBridgeWorkerPool", poolAdaptive, "role", "aws:iam/role:Role", "orders-role", "orders-adaptive-controller-role"],
            ["EventBridgeWorkerPool", poolAdaptive, "adaptiveController.function", "aws:lambda/function:Function", "orders-adaptive-controller-fn", "orders-fn"],
            ["EventBridgeWorkerPool", poolAdaptive, "adaptiveController.role", "aws:iam/role:Role", "orders-adaptive-controller-role", "orders-role"],
            ["EventBridgeWorkerPool", poolAdaptive, "adaptiveController.logGroup", "aws:cloudwatch/logGroup:LogGroup", "orders-adaptive-controller-logs", "orders-logs"],
            ["EventBridgeWorkerPool", poolAdaptive, "adaptiveController.rule", "aws:cloudwatch/eventRule:EventRule", "orders-adaptive-schedule", "orders-rule"],
            ["EventBridgeWorkerPool", poolAdaptive, "controlTable", "aws:dynamodb/table:Table", "orders-control", "orders-idempotency"],
            ["KinesisOrderedWorker", kinesis, "function", "aws:lambda/function:Function", "payments-fn"],
            ["KinesisOrderedWorker", kinesis, "role", "aws:iam/role:Role", "payments-role"],
            ["KinesisOrderedWorker", kinesis, "logGroup", "aws:cloudwatch/logGroup:LogGroup", "payments-logs"],
            ["KinesisOrderedWorker", kinesis, "table", "aws:dynamodb/table:Table", "payments-idempotency"],
            ["KinesisOrderedWorker", kinesis, "stream", "aws:kinesis/stream:Stream", "payments-stream"],
            ["KinesisOrderedWorker", kinesis, "eventSourceMapping", "aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm"],
            ["KinesisOrderedWorker", kinesis, "failureQueue", "aws:sqs/queue:Queue", "payments-failures"],
            ["KinesisOrderedWorker", kinesisBreaker, "role", "aws:iam/role:Role", "payments-role", "payments-prober-role"],
            ["KinesisOrderedWorker", kinesisBreaker, "prober", "aws:lambda/function:Function", "payments-prober-fn", "payments-fn"],
            ["KinesisOrderedWorker", kinesisBreaker, "proberRole", "aws:iam/role:Role", "payments-prober-role", "payments-role"],
            ["KinesisOrderedWorker", kinesisBreaker, "breakerTable", "aws:dynamodb/table:Table", "payments-breaker", "payments-idempotency"],
            ["KinesisOrderedWorker", kinesisAdaptive, "controlTable", "aws:dynamodb/table:Table", "payments-control", "payments-idempotency"],
            ["KinesisOrderedWorker", kinesisAdaptive, "adaptiveController.function", "aws:lambda/function:Function", "payments-adaptive-controller-fn", "payments-fn"],
            ["KinesisOrderedWorker", kinesisAdaptive, "adaptiveController.role", "aws:iam/role:Role", "payments-adaptive-controller-role", "payments-role"],
            ["FifoTopicWorker", fifo, "function", "aws:lambda/function:Function", "ledger-fn"],
            ["FifoTopicWorker", fifo, "role", "aws:iam/role:Role", "ledger-role"],
            ["FifoTopicWorker", fifo, "logGroup", "aws:cloudwatch/logGroup:LogGroup", "ledger-logs"],
            ["FifoTopicWorker", fifo, "table", "aws:dynamodb/table:Table", "ledger-idempotency"],
            ["FifoTopicWorker", fifo, "topic", "aws:sns/topic:Topic", "ledger-topic"],
            ["FifoTopicWorker", fifo, "queue", "aws:sqs/queue:Queue", "ledger-queue", "ledger-dlq"],
            ["FifoTopicWorker", fifo, "deadLetterQueue", "aws:sqs/queue:Queue", "ledger-dlq", "ledger-queue"],
            ["FifoTopicWorker", fifo, "deliveryDeadLetterQueue", "aws:sqs/queue:Queue", "ledger-delivery-dlq", "ledger-dlq"],
            ["FifoTopicWorker", fifo, "eventSourceMapping", "aws:lambda/eventSourceMapping:EventSourceMapping", "ledger-esm"],
            ["FifoTopicWorker", fifoControlled, "role", "aws:iam/role:Role", "ledger-role", "ledger-prober-role"],
            ["FifoTopicWorker", fifoControlled, "prober", "aws:lambda/function:Function", "ledger-prober-fn", "ledger-adaptive-controller-fn"],
            ["FifoTopicWorker", fifoControlled, "proberRole", "aws:iam/role:Role", "ledger-prober-role", "ledger-adaptive-controller-role"],
            ["FifoTopicWorker", fifoControlled, "adaptiveController.function", "aws:lambda/function:Function", "ledger-adaptive-controller-fn", "ledger-prober-fn"],
            ["FifoTopicWorker", fifoControlled, "adaptiveController.role", "aws:iam/role:Role", "ledger-adaptive-controller-role", "ledger-prober-role"],
            ["FifoTopicWorker", fifoControlled, "adaptiveController.logGroup", "aws:cloudwatch/logGroup:LogGroup", "ledger-adaptive-controller-logs", "ledger-prober-logs"],
            ["FifoTopicWorker", fifoControlled, "adaptiveController.rule", "aws:cloudwatch/eventRule:EventRule", "ledger-adaptive-schedule", "ledger-prober-schedule"],
            ["FifoTopicWorker", fifoControlled, "controlTable", "aws:dynamodb/table:Table", "ledger-control", "ledger-breaker"],
            ["FifoTopicWorker", fifoControlled, "breakerTable", "aws:dynamodb/table:Table", "ledger-breaker", "ledger-control"],
            ["ConcurrencyController", controller, "function", "aws:lambda/function:Function", "direct-controller-fn"],
            ["ConcurrencyController", controller, "role", "aws:iam/role:Role", "direct-controller-role"],
            ["ConcurrencyController", controller, "logGroup", "aws:cloudwatch/logGroup:LogGroup", "direct-controller-logs"],
            ["ConcurrencyController", controller, "table", "aws:dynamodb/table:Table", "direct-table"],
            ["ConcurrencyController", controller, "rule", "aws:cloudwatch/eventRule:EventRule", "direct-schedule"],
            ["ConcurrencyControllerGroup", group, "function", "aws:lambda/function:Function", "group-controller-fn"],
            ["ConcurrencyControllerGroup", group, "role", "aws:iam/role:Role", "group-controller-role"],
            ["ConcurrencyControllerGroup", group, "logGroup", "aws:cloudwatch/logGroup:LogGroup", "group-controller-logs"],
            ["ConcurrencyControllerGroup", group, "table", "aws:dynamodb/table:Table", "group-table"],
            ["ConcurrencyControllerGroup", group, "rule", "aws:cloudwatch/eventRule:EventRule", "group-schedule"],
            ["ControlPlaneBudget", controlPlane, "table", "aws:dynamodb/table:Table", "budget-table"],
            ["StepFunctionsSemaphore", semaphore, "table", "aws:dynamodb/table:Table", "erp-table"],
            ["StepFunctionsSemaphore", semaphore, "deadLetterQueue", "aws:sqs/queue:Queue", "erp-dlq"],
            ["StepFunctionsSemaphore", semaphore, "acquire", "aws:lambda/function:Function", "erp-acquire-fn"],
            ["StepFunctionsSemaphore", semaphore, "release", "aws:lambda/function:Function", "erp-release-fn"],
            ["StepFunctionsSemaphore", semaphore, "cleanup", "aws:lambda/function:Function", "erp-cleanup-fn"],
            ["StepFunctionsSemaphore", semaphore, "sweeper", "aws:lambda/function:Function", "erp-sweeper-fn"],
            ["StepFunctionsSemaphore", semaphore, "acquireRole", "aws:iam/role:Role", "erp-acquire-role"],
            ["StepFunctionsSemaphore", semaphore, "releaseRole", "aws:iam/role:Role", "erp-release-role"],
            ["StepFunctionsSemaphore", semaphore, "cleanupRole", "aws:iam/role:Role", "erp-cleanup-role"],
            ["StepFunctionsSemaphore", semaphore, "sweeperRole", "aws:iam/role:Role", "erp-sweeper-role"],
            ["SemaphoreStateMachine", machine, "stateMachine", "aws:sfn/stateMachine:StateMachine", "flow-state-machine"],
            ["SemaphoreStateMachine", machine, "role", "aws:iam/role:Role", "flow-role", "flow-semaphore-acquire-role"],
            ["SemaphoreStateMachine", machine, "logGroup", "aws:cloudwatch/logGroup:LogGroup", "flow-logs", "flow-semaphore-acquire-logs"],
            ["SemaphoreStateMachine", machine, "semaphore.table", "aws:dynamodb/table:Table", "flow-semaphore-table"],
            ["SemaphoreStateMachine", machine, "semaphore.acquire", "aws:lambda/function:Function", "flow-semaphore-acquire-fn"],
            ["SemaphoreStateMachine", machine, "semaphore.acquireRole", "aws:iam/role:Role", "flow-semaphore-acquire-role", "flow-role"],
            ["SemaphoreStateMachine", machine, "semaphore.releaseRole", "aws:iam/role:Role", "flow-semaphore-release-role", "flow-role"],
            ["SemaphoreStateMachine", machine, "semaphore.cleanupRole", "aws:iam/role:Role", "flow-semaphore-cleanup-role", "flow-role"],
            ["SemaphoreStateMachine", machine, "semaphore.sweeperRole", "aws:iam/role:Role", "flow-semaphore-sweeper-role", "flow-role"],
            ["IsolatedWorkloadAccount", account, "account", "aws:organizations/account:Account", "workload-account"],
            ["IsolatedWorkloadAccount", account, "eventBus", "aws:cloudwatch/eventBus:EventBus", "workload-bus"],
            ["CrossAccountEventForwarder", forwarder, "rule", "aws:cloudwatch/eventRule:EventRule", "forward-rule"],
            ["CrossAccountEventForwarder", forwarder, "target", "aws:cloudwatch/eventTarget:EventTarget", "forward-target"],
            ["CrossAccountEventForwarder", forwarder, "role", "aws:iam/role:Role", "forward-role"],
            ["CrossAccountEventForwarder", forwarder, "deadLetterQueue", "aws:sqs/queue:Queue", "forward-dlq"],
        ];
        for (const [component, create, key, type, child, untouched] of cases) {
            it(`${component} transform.${key} is merged into ${child} only${untouched ? ` (not ${untouched})` : ""}`, async () => {
                create({});
                await settle();
                const before = resource(type, child).inputs;
                const others = registered.filter((r) => r.type === type && r.name !== child).map((r) => [r.name, r.inputs]);
                resetComponentState({ c, budget });
                create(patchAt(key, { description: `patched ${key}` }));
                await settle();
                assert.deepEqual(resource(type, child).inputs, { ...before, description: `patched ${key}` });
                for (const [name, inputs] of others) assert.deepEqual(resource(type, name as string).inputs, inputs, `${name} unchanged`);
                if (untouched) assert.equal(resource(type, untouched).inputs.description, undefined);
            });
        }

        const boundary = { permissionsBoundary: "arn:aws:iam::123456789012:policy/platform-boundary" };
        // The patch as a program writes it, the boundary policy's ARN an Output (a value of a patch may be one: it used
        // to be refused as "must be known when the program runs")
        const boundaryPatch = { permissionsBoundary: pulumi.output(boundary.permissionsBoundary) };
        type BoundaryCase = [component: string, create: (transform: Record<string, unknown>) => unknown, transform: Record<string, unknown>, roles: string[]];
        const boundaryCases: BoundaryCase[] = [
            ["EventBridgeWorkerPool (adaptive controller)", poolAdaptive, { role: boundaryPatch, adaptiveController: { role: boundaryPatch } }, ["orders-role", "orders-adaptive-controller-role"]],
            ["KinesisOrderedWorker (circuit breaker)", kinesisBreaker, { role: boundaryPatch, proberRole: boundaryPatch }, ["payments-role", "payments-prober-role"]],
            ["KinesisOrderedWorker (adaptive controller)", kinesisAdaptive, { role: boundaryPatch, adaptiveController: { role: boundaryPatch } }, ["payments-role", "payments-adaptive-controller-role"]],
            [
                "FifoTopicWorker (adaptive controller and circuit breaker)",
                fifoControlled,
                { role: boundaryPatch, proberRole: boundaryPatch, adaptiveController: { role: boundaryPatch } },
                ["ledger-role", "ledger-prober-role", "ledger-adaptive-controller-role"],
            ],
            ["ConcurrencyController", controller, { role: boundaryPatch }, ["direct-controller-role"]],
            ["ConcurrencyControllerGroup", group, { role: boundaryPatch }, ["group-controller-role"]],
            ["StepFunctionsSemaphore", semaphore, { acquireRole: boundaryPatch, releaseRole: boundaryPatch, cleanupRole: boundaryPatch, sweeperRole: boundaryPatch }, ["acquire", "release", "cleanup", "sweeper"].map((fn) => `erp-${fn}-role`)],
            [
                "SemaphoreStateMachine (its own role and its semaphore's four)",
                machine,
                { role: boundaryPatch, semaphore: { acquireRole: boundaryPatch, releaseRole: boundaryPatch, cleanupRole: boundaryPatch, sweeperRole: boundaryPatch } },
                ["flow-role", ...["acquire", "release", "cleanup", "sweeper"].map((fn) => `flow-semaphore-${fn}-role`)],
            ],
            ["CrossAccountEventForwarder", forwarder, { role: boundaryPatch }, ["forward-role"]],
            ["ControlPlaneBudget (no role)", controlPlane, {}, []],
            ["IsolatedWorkloadAccount (no role)", account, {}, []],
        ];
        for (const [component, create, transform, roles] of boundaryCases) {
            it(`${component}: a permissions boundary reaches every role it creates and changes nothing else`, async () => {
                create({});
                await settle();
                const before = new Map(registered.map((r) => [`${r.type}::${r.name}`, r.inputs]));
                resetComponentState({ c, budget });
                create(transform);
                await settle();
                const ids = roles.map((name) => `aws:iam/role:Role::${name}`);
                assert.deepEqual(registered.filter((r) => r.type === "aws:iam/role:Role").map((r) => `${r.type}::${r.name}`).sort(), [...ids].sort(), "every role it creates");
                assert.deepEqual(registered.map((r) => `${r.type}::${r.name}`).sort(), [...before.keys()].sort(), "the same children");
                for (const r of registered) {
                    const id = `${r.type}::${r.name}`;
                    assert.deepEqual(r.inputs, ids.includes(id) ? { ...before.get(id), ...boundary } : before.get(id), id);
                }
            });
        }

        describe("tracing turned on by a transform is granted to that role only", () => {
            const lambdaTracing = { Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: ["*"] };
            const machineTracing = { Effect: "Allow", Action: [...lambdaTracing.Action, "xray:GetSamplingRules", "xray:GetSamplingTargets"], Resource: ["*"] };
            const active = { tracingConfig: { mode: "Active" } };
            const statementsByPolicy = () =>
                new Map(registered.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy").map((r) => [r.name, json(r.inputs.policy).Statement as unknown[]]));
            const sorted = (statements: unknown[]) => statements.map((statement) => JSON.stringify(statement)).sort();
            type TracingCase = [title: string, create: (transform: Record<string, unknown>) => unknown, transform: Record<string, unknown>, policy: string | undefined, statement?: unknown];
            const tracingCases: TracingCase[] = [
                ["EventBridgeWorkerPool transform.function", poolAdaptive, { function: active }, "orders-policy"],
                ["EventBridgeWorkerPool transform.adaptiveController.function", poolAdaptive, { adaptiveController: { function: active } }, "orders-adaptive-controller-policy"],
                ["KinesisOrderedWorker transform.function", kinesisBreaker, { function: active }, "payments-policy"],
                ["KinesisOrderedWorker transform.prober", kinesisBreaker, { prober: active }, "payments-prober-policy"],
                ["FifoTopicWorker transform.prober", fifoControlled, { prober: active }, "ledger-prober-policy"],
                ["FifoTopicWorker transform.adaptiveController.function", fifoControlled, { adaptiveController: { function: active } }, "ledger-adaptive-controller-policy"],
                ["ConcurrencyController transform.function", controller, { function: active }, "direct-controller-policy"],
                ["ConcurrencyControllerGroup transform.function", group, { function: active }, "group-controller-policy"],
                ["StepFunctionsSemaphore transform.acquire", semaphore, { acquire: active }, "erp-acquire-policy"],
                ["StepFunctionsSemaphore transform.sweeper", semaphore, { sweeper: active }, "erp-sweeper-policy"],
                ["SemaphoreStateMachine transform.semaphore.cleanup", machine, { semaphore: { cleanup: active } }, "flow-semaphore-cleanup-policy"],
                ["SemaphoreStateMachine transform.stateMachine", machine, { stateMachine: { tracingConfiguration: { enabled: true } } }, "flow-policy", machineTracing],
                ["a mode given as an Output (counted as Active)", kinesisBreaker, { function: { tracingConfig: { mode: pulumi.output("Active") } } }, "payments-policy"],
                ["a tracing block given as an Output (counted as Active)", kinesisBreaker, { function: { tracingConfig: pulumi.output({ mode: "PassThrough" }) } }, "payments-policy"],
                ["PassThrough (no grant)", kinesisBreaker, { function: { tracingConfig: { mode: "PassThrough" } } }, undefined],
                ["a state machine's tracing disabled (no grant)", machine, { stateMachine: { tracingConfiguration: { enabled: false } } }, undefined],
            ];
            for (const [title, create, transform, policy, statement] of tracingCases) {
                it(`${title}${policy ? ` adds the X-Ray statement to ${policy}` : ""}, and no other policy changes`, async () => {
                    create({});
                    await settle();
                    const before = statementsByPolicy();
                    if (policy) assert.ok(before.has(policy), `${policy} exists`);
                    resetComponentState({ c, budget });
                    create(transform);
                    await settle();
                    const after = statementsByPolicy();
                    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
                    for (const [name, statements] of before) {
                        const expected = name === policy ? [...statements, statement ?? lambdaTracing] : statements;
                        assert.deepEqual(sorted(after.get(name)!), sorted(expected), name);
                    }
                });
            }
        });

        it("merges nested objects key by key, Outputs included: extra variables keep the pattern's environment", async () => {
            kinesis({ function: { environment: { variables: { EXTRA: pulumi.output("1") } } }, eventSourceMapping: { destinationConfig: { onFailure: { destinationArn: "arn:aws:sqs:us-east-1:123456789012:other" } } } });
            await settle();
            const env = resource("aws:lambda/function:Function", "payments-fn").inputs.environment.variables;
            assert.equal(env.EXTRA, "1");
            assert.equal(env.IDEMPOTENCY_TABLE_NAME, "payments-idempotency-table");
            assert.equal(env.WORKER_NAME, "payments");
            const mapping = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs;
            assert.deepEqual(mapping.destinationConfig, { onFailure: { destinationArn: "arn:aws:sqs:us-east-1:123456789012:other" } });
            assert.equal(mapping.batchSize, 100, "the rest of the mapping stays");
        });

        it("lets a child's transform override the component's tags", async () => {
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, tags: TAGS, transform: { queue: { tags: { team: "queue-owners" } } } });
            await settle();
            assert.deepEqual(resource("aws:sqs/queue:Queue", "ledger-queue").inputs.tags, { ...TAGS, team: "queue-owners" });
            assert.deepEqual(resource("aws:sqs/queue:Queue", "ledger-dlq").inputs.tags, TAGS);
        });

        describe("a key for a child the arguments do not create", () => {
            type Create = (transform: Record<string, unknown>) => unknown;
            /** Refused `without` the argument that creates the child, merged into `child` with it. */
            type Absent = [component: string, key: string, without: Create, withIt: Create, type: string, child: string, message: string];
            const selfTuning = { mode: "SelfTuning" as const, minConcurrency: 2, maxConcurrency: 10 };
            const poolSelfTuning: Create = (transform) =>
                new c.EventBridgeWorkerPool("orders", { function: { handler: POOL_HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: selfTuning, transform });
            const kinesisSelfTuning: Create = (transform) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, adaptiveConcurrency: { ...selfTuning, minConcurrency: 1 }, transform });
            const fifoSelfTuning: Create = (transform) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: selfTuning, transform });
            const existingStream: Create = (transform) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, streamArn: "arn:aws:kinesis:us-east-1:123456789012:stream/payments", transform });
            const existingTopic: Create = (transform) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, topicArn: "arn:aws:sns:us-east-1:123456789012:ledger.fifo", transform });
            const sharedTable = { tableName: "stats", tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/stats" };
            const controllerShared: Create = (transform) => new c.ConcurrencyController("direct", { target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5, ...sharedTable, transform });
            const groupShared: Create = (transform) =>
                new c.ConcurrencyControllerGroup("group", { targets: [{ name: "f", target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5 }], ...sharedTable, transform });
            const adopted: Create = (transform) => new c.IsolatedWorkloadAccount("workload", { accountId: "222222222222", region: "us-east-1", eventBusSourceAccountIds: ["111111111111"], transform });
            const noBus: Create = (transform) => new c.IsolatedWorkloadAccount("workload", { accountName: "workers", email: "aws+workers@example.com", region: "us-east-1", transform });

            const controlTable = "transform.controlTable is set but no control table is created: it exists only with adaptiveConcurrency.";
            const adaptiveController = "transform.adaptiveController is set but no adaptive controller is created: it exists only with adaptiveConcurrency mode Controller.";
            const prober = "transform.prober is set but no breaker prober is created: it exists only with circuitBreaker.";
            const proberRole = "transform.proberRole is set but no prober role is created: it exists only with circuitBreaker.";
            const breakerTable = "transform.breakerTable is set but no breaker table is created: it exists only with circuitBreaker.";
            const statisticsTable = "transform.table is set but no statistics table is created: it exists only without tableName.";
            const FN = "aws:lambda/function:Function";
            const ROLE = "aws:iam/role:Role";
            const TABLE = "aws:dynamodb/table:Table";
            /** A worker's rows: its control table and adaptive controller and, with `breaker`, the breaker's prober, its role and its table. */
            const workerRows = (component: string, name: string, plain: Create, selfTuned: Create, adaptive: Create, breaker?: Create): Absent[] => [
                [component, "controlTable", plain, adaptive, TABLE, `${name}-control`, controlTable],
                [component, "adaptiveController.role", plain, adaptive, ROLE, `${name}-adaptive-controller-role`, adaptiveController],
                [component, "adaptiveController.function", selfTuned, adaptive, FN, `${name}-adaptive-controller-fn`, adaptiveController],
                ...(breaker
                    ? ([
                          [component, "prober", plain, breaker, FN, `${name}-prober-fn`, prober],
                          [component, "proberRole", plain, breaker, ROLE, `${name}-prober-role`, proberRole],
                          [component, "breakerTable", plain, breaker, TABLE, `${name}-breaker`, breakerTable],
                      ] as Absent[])
                    : []),
            ];
            const absent: Absent[] = [
                ...workerRows("EventBridgeWorkerPool", "orders", pool, poolSelfTuning, poolAdaptive),
                ["KinesisOrderedWorker", "stream", existingStream, kinesis, "aws:kinesis/stream:Stream", "payments-stream", "transform.stream is set but no stream is created: it exists only without streamArn."],
                ...workerRows("KinesisOrderedWorker", "payments", kinesis, kinesisSelfTuning, kinesisAdaptive, kinesisBreaker),
                ["FifoTopicWorker", "topic", existingTopic, fifo, "aws:sns/topic:Topic", "ledger-topic", "transform.topic is set but no topic is created: it exists only without topicArn."],
                ...workerRows("FifoTopicWorker", "ledger", fifo, fifoSelfTuning, fifoControlled, fifoControlled),
                ["ConcurrencyController", "table", controllerShared, controller, TABLE, "direct-table", statisticsTable],
                ["ConcurrencyControllerGroup", "table", groupShared, group, TABLE, "group-table", statisticsTable],
                ["IsolatedWorkloadAccount", "account", adopted, account, "aws:organizations/account:Account", "workload-account", "transform.account is set but no account is created: it exists only without accountId."],
                [
                    "IsolatedWorkloadAccount",
                    "eventBus",
                    noBus,
                    account,
                    "aws:cloudwatch/eventBus:EventBus",
                    "workload-bus",
                    "transform.eventBus is set but no event bus is created: it exists only with eventBusSourceAccountIds or eventBusOrganizationId.",
                ],
            ];
            for (const [component, key, without, withIt, type, child, message] of absent) {
                const name = child.split("-")[0];
                it(`${component}: transform.${key} without the argument that creates ${child} is a construction error naming the key and that argument`, async () => {
                    const { ComponentArgumentError } = await import("../../components/internal/argumentErrors");
                    assert.throws(
                        () => without(patchAt(key, { description: `patched ${key}` })),
                        (error: unknown) => error instanceof ComponentArgumentError && error.message === `${component} "${name}": ${message}`,
                    );
                });
                it(`${component}: transform.${key} with that argument is accepted and merged into ${child}`, async () => {
                    withIt(patchAt(key, { description: `patched ${key}` }));
                    await settle();
                    assert.equal(resource(type, child).inputs.description, `patched ${key}`);
                });
            }

            it("lists an absent child with the other argument problems, and a key left undefined is no patch", async () => {
                assert.throws(
                    () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, batchSize: 0, transform: { prober: {}, breakerTable: {} } }),
                    (error: Error) =>
                        error.message ===
                        [
                            `KinesisOrderedWorker "payments": ${prober}`,
                            `KinesisOrderedWorker "payments": ${breakerTable}`,
                            'KinesisOrderedWorker "payments": batchSize must be an integer from 1 to 10000; received 0.',
                        ].join("\n"),
                );
                kinesis({ controlTable: undefined, prober: undefined });
                await settle();
            });

            it("names only keys of each component's transform argument", async () => {
                const { OPTIONAL_CHILDREN } = await import("../../components/internal/optionalChildren");
                const { ARGUMENT_SPECS } = await import("../../components/internal/argumentSpecs");
                for (const spec of ARGUMENT_SPECS) {
                    const keys = Object.keys(spec.fields.transform?.fields ?? {});
                    for (const key of Object.keys(OPTIONAL_CHILDREN[spec.component])) assert.ok(keys.includes(key), `${spec.component} transform.${key}`);
                }
            });
        });
    });

    describe("Pulumi's own transformations option from a TypeScript program", () => {
        it("reaches every child of a component, nested components included", async () => {
            const seen: string[] = [];
            new c.FifoTopicWorker(
                "ledger",
                { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 } },
                {
                    transformations: [
                        ({ type, name, props, opts }) => {
                            seen.push(`${type}::${name}`);
                            return type === "aws:lambda/function:Function" ? { props: { ...props, description: `fn ${name}` }, opts } : undefined;
                        },
                    ],
                },
            );
            await settle();
            assert.ok(seen.includes("aws:lambda/function:Function::ledger-adaptive-controller-fn"), "the nested controller's function");
            assert.equal(resource("aws:lambda/function:Function", "ledger-fn").inputs.description, "fn ledger-fn");
            assert.equal(resource("aws:lambda/function:Function", "ledger-adaptive-controller-fn").inputs.description, "fn ledger-adaptive-controller-fn");
        });
    });

    describe("Pulumi's transforms resource option (engine-side; the engine's part played by a test helper)", () => {
        let stop: () => void;
        before(() => (stop = emulateEngineTransforms()));
        after(() => stop());

        it("the README's example reaches every role of a worker, the nested controller's included", async () => {
            // README "Escape hatches": code-level changes from TypeScript.
            const boundaryArn = "arn:aws:iam::123456789012:policy/platform-boundary";
            const boundaryOnEveryRole: pulumi.ResourceTransform = ({ type, props, opts }) =>
                type === "aws:iam/role:Role" ? { props: { ...props, permissionsBoundary: boundaryArn }, opts } : undefined;
            new c.EventBridgeWorkerPool(
                "orders",
                { function: { handler: POOL_HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 } },
                { transforms: [boundaryOnEveryRole] },
            );
            await settle();
            const roles = registered.filter((r) => r.type === "aws:iam/role:Role");
            assert.deepEqual(roles.map((r) => r.name).sort(), ["orders-adaptive-controller-role", "orders-role"]);
            for (const role of roles) assert.equal(role.inputs.permissionsBoundary, boundaryArn, role.name);
            assert.ok(resource("aws:iam/role:Role", "orders-role").inputs.assumeRolePolicy, "the rest of the args stay");
            assert.equal(resource("aws:lambda/function:Function", "orders-fn").inputs.permissionsBoundary, undefined);
        });

        it("runs after the component's own tags and transform", async () => {
            const seen: Array<Record<string, unknown>> = [];
            new c.KinesisOrderedWorker(
                "payments",
                { function: { handler: ORDERED }, tags: TAGS, transform: { stream: { retentionPeriod: 48 } } },
                { transforms: [({ type, props }) => void (type === "aws:kinesis/stream:Stream" && seen.push(props))] },
            );
            await settle();
            assert.equal(seen.length, 1);
            assert.deepEqual([seen[0].tags, seen[0].retentionPeriod], [TAGS, 48]);
        });
    });

    describe("typed construction errors", () => {
        it("bad arguments of every worker and the controller are a ConfigurationError that Pulumi reports as its own ResourceError", async () => {
            const { ConfigurationError } = await import("../../contracts/errors");
            const { ComponentArgumentError } = await import("../../components/internal/argumentErrors");
            const attempts: Array<[() => unknown, string]> = [
                [() => new c.EventBridgeWorkerPool("orders", { function: { handler: POOL_HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, maxRetryAttempts: 3 }), 'EventBridgeWorkerPool "orders": maxRetryAttempts'],
                [() => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, batchSize: 0 }), 'KinesisOrderedWorker "payments": batchSize'],
                [() => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 1 }), 'FifoTopicWorker "ledger": maxConcurrency'],
                [() => new c.ConcurrencyController("ctl", { target: "ReservedConcurrency", functionName: "f", minConcurrency: 5, maxConcurrency: 2 }), 'ConcurrencyController "ctl": minConcurrency'],
            ];
            for (const [attempt, start] of attempts) {
                assert.throws(attempt, (error: unknown) => {
                    assert.ok(error instanceof ConfigurationError && error instanceof ComponentArgumentError, String(error));
                    assert.ok(pulumi.ResourceError.isInstance(error), "Pulumi reports it against the component");
                    assert.ok(error.message.startsWith(start), error.message);
                    return true;
                });
            }
        });

        it("a handler that cannot be bundled is a ConfigurationError naming the path", async () => {
            const { ConfigurationError } = await import("../../contracts/errors");
            assert.throws(
                () => new c.KinesisOrderedWorker("payments", { function: { handler: "tests/fixtures/handlers/missing.handle" } }),
                (error: unknown) => error instanceof ConfigurationError && /function\.handler module "tests\/fixtures\/handlers\/missing" not found/.test(error.message),
            );
        });
    });

    describe("role and log group", () => {
        it("every worker, the controller and the controller group expose their function's role and log group", async () => {
            const components = functionComponents(c, {}).map((create) => create() as { role: { arn: pulumi.Output<string> }; logGroup: { name: pulumi.Output<string> } });
            await settle();
            const names = ["orders", "payments", "ledger", "direct-controller", "group-controller"];
            for (const [i, component] of components.entries()) {
                assert.equal(await valueOf(component.role.arn), `arn:aws:iam:us-east-1:${ACCOUNT_ID}:${names[i]}-role-role`);
                assert.equal(await valueOf(component.logGroup.name), `${names[i]}-logs-loggroup`);
            }
        });
    });

    describe("function options", () => {
        const create = (fn: Record<string, unknown>) =>
            new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED, ...fn } as import("../../components").WorkerFunctionArgs });

        it("sets layers, active tracing (with the X-Ray writes), ephemeral storage and the runtime", async () => {
            create({ layers: ["arn:aws:lambda:us-east-1:123456789012:layer:otel:3"], tracingMode: "Active", ephemeralStorageMb: 2048, runtime: "nodejs24.x" });
            await settle();
            const fn = resource("aws:lambda/function:Function", "payments-fn").inputs;
            assert.deepEqual(fn.layers, ["arn:aws:lambda:us-east-1:123456789012:layer:otel:3"]);
            assert.deepEqual(fn.tracingConfig, { mode: "Active" });
            assert.deepEqual(fn.ephemeralStorage, { size: 2048 });
            assert.equal(fn.runtime, "nodejs24.x");
            const policy = json(resource("aws:iam/rolePolicy:RolePolicy", "payments-policy").inputs.policy);
            assert.deepEqual(policy.Statement[1], { Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: ["*"] });
        });

        it("leaves them unset by default: nodejs22.x, no layers, no tracing config, no X-Ray permissions", async () => {
            create({});
            await settle();
            const fn = resource("aws:lambda/function:Function", "payments-fn").inputs;
            assert.deepEqual([fn.runtime, fn.layers, fn.tracingConfig, fn.ephemeralStorage], ["nodejs22.x", undefined, undefined, undefined]);
            const policy = json(resource("aws:iam/rolePolicy:RolePolicy", "payments-policy").inputs.policy);
            assert.ok(policy.Statement.every((s: { Action: string[] }) => !s.Action.some((a) => a.startsWith("xray:"))));
        });

        it("targets the runtime's Node version when bundling", async () => {
            const { nodeTarget } = await import("../../components/internal/bundle");
            assert.deepEqual(["nodejs20.x", "nodejs22.x", "nodejs24.x"].map(nodeTarget), ["node20", "node22", "node24"]);
            assert.equal(nodeTarget(), "node22");
        });

        const invalid: Array<[string, Record<string, unknown>, string]> = [
            ["ephemeral storage below 512 MB", { ephemeralStorageMb: 511 }, "function.ephemeralStorageMb must be an integer from 512 to 10240; received 511."],
            ["ephemeral storage above 10240 MB", { ephemeralStorageMb: 10241 }, "function.ephemeralStorageMb must be an integer from 512 to 10240; received 10241."],
            ["an unsupported runtime", { runtime: "nodejs18.x" }, 'function.runtime must be one of nodejs20.x, nodejs22.x, nodejs24.x; received "nodejs18.x".'],
            ["an unknown tracing mode", { tracingMode: "On" }, 'function.tracingMode must be one of PassThrough, Active; received "On".'],
            ["six layers", { layers: ["a", "b", "c", "d", "e", "f"] }, "function.layers may name at most 5 layers (the Lambda limit); received 6."],
        ];
        for (const [title, fn, message] of invalid) {
            it(`rejects ${title}`, () => assert.throws(() => create(fn), (e: Error) => e.message.includes(`KinesisOrderedWorker "payments": ${message}`)));
        }
    });
});
