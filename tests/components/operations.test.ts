import * as assert from "node:assert/strict";
import type * as pulumiType from "@pulumi/pulumi";
import { ACCOUNT_ID, installMocks, invoked, json, loadComponents, LoadedComponents, ofType, REGION, registered, resetComponentState, resetRegistrations, resource, settle, valueOf } from "../helpers/pulumiMocks";
import { findManifests, isOperationsManifest, manifestProblems, OPERATIONS_MARKER, TABLE_TTL_ATTRIBUTE } from "../../contracts/operations";

describe("operationsManifest (components/internal/operations.ts)", function () {
    this.timeout(60_000);
    let pulumi: typeof pulumiType;
    let aws: typeof import("@pulumi/aws");
    let operations: typeof import("../../components/internal/operations");

    before(async () => {
        await installMocks();
        pulumi = await import("@pulumi/pulumi");
        aws = await import("@pulumi/aws");
        operations = await import("../../components/internal/operations");
    });
    beforeEach(() => resetRegistrations());

    /** A component with a queue pair and a table, like a FIFO worker's. */
    function fixture(name: string, opts?: pulumiType.ComponentResourceOptions) {
        const component = new pulumi.ComponentResource("test:index:Fixture", name, {}, opts);
        const dlq = new aws.sqs.Queue(`${name}-dlq`, { fifoQueue: true }, { parent: component });
        const queue = new aws.sqs.Queue(`${name}-queue`, { fifoQueue: true }, { parent: component });
        const table = new aws.dynamodb.Table(`${name}-idempotency`, { hashKey: "id", attributes: [{ name: "id", type: "S" }] }, { parent: component });
        return { component, dlq, queue, table };
    }

    it("resolves every Output into a plain manifest with the marker, region and account, dropping options that are off", async () => {
        const { component, dlq, queue, table } = fixture("ledger");
        const manifest = await valueOf(
            operations.operationsManifest(component, {
                componentType: "FifoTopicWorker",
                name: "ledger",
                functionName: pulumi.output("ledger-fn"),
                topicArn: "arn:aws:sns:us-east-1:123456789012:ledger.fifo",
                queue: { url: queue.url, arn: queue.arn },
                deadLetterQueue: { url: dlq.url, arn: dlq.arn },
                mappingUuid: pulumi.output("uuid-1"),
                idempotencyTableName: table.name,
                dashboardName: "project-test-ledger",
                controller: undefined,
                breaker: { tableName: pulumi.output("ledger-breaker"), id: "ledger" },
            }),
        );
        assert.deepEqual(manifest, {
            [OPERATIONS_MARKER]: 1,
            componentType: "FifoTopicWorker",
            name: "ledger",
            region: REGION,
            account: ACCOUNT_ID,
            functionName: "ledger-fn",
            topicArn: "arn:aws:sns:us-east-1:123456789012:ledger.fifo",
            queue: { url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/ledger-queue-queue`, arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:ledger-queue-queue` },
            deadLetterQueue: { url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/ledger-dlq-queue`, arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:ledger-dlq-queue` },
            mappingUuid: "uuid-1",
            idempotencyTableName: "ledger-idempotency-table",
            dashboardName: "project-test-ledger",
            breaker: { tableName: "ledger-breaker", id: "ledger" },
        });
        assert.ok(!("controller" in manifest), "an option that is off leaves no key (plain JSON)");
        assert.ok(isOperationsManifest(manifest));
        assert.deepEqual(findManifests({ ledger: { operations: manifest } }).manifests, [manifest], "what the helper writes, the CLI finds");
    });

    it("asks the component's own provider for the region and account", async () => {
        const provider = new aws.Provider("workload", { region: "eu-west-1" });
        const { component } = fixture("pool", { providers: { aws: provider } });
        const manifest = operations.operationsManifest(component, {
            componentType: "StepFunctionsSemaphore",
            name: "erp",
            semaphore: { tableName: "erp-table", name: "erp", limit: 2 },
            deadLetterQueue: { url: "https://sqs/erp-dlq", arn: "arn:aws:sqs:eu-west-1:1:erp-dlq" },
        });
        await valueOf(manifest);
        await settle();
        const lookups = invoked.filter((call) => call.token === "aws:index/getRegion:getRegion" || call.token === "aws:index/getCallerIdentity:getCallerIdentity");
        assert.equal(lookups.length, 2);
        for (const call of lookups) assert.match(call.provider ?? "", /::workload::/, `${call.token} went through the component's provider`);
    });
});

describe("the operations output of every component", function () {
    this.timeout(60_000);
    const HANDLER = "tests/fixtures/handlers/orders.handle";
    const WORK = { StartAt: "Work", States: { Work: { Type: "Pass", End: true } } };
    let loaded: LoadedComponents;
    let c: LoadedComponents["c"];

    before(async () => {
        loaded = await loadComponents();
        c = loaded.c;
    });
    beforeEach(() => resetComponentState(loaded));

    /** The mocks name a resource without an explicit name `<logical name>-<type>`. */
    const queue = (physical: string) => ({ url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/${physical}`, arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${physical}` });
    const base = (componentType: string, name: string) => ({ [OPERATIONS_MARKER]: 1, componentType, name, region: REGION, account: ACCOUNT_ID, dashboardName: `project-test-${name}` });

    /** Resolves the manifest and checks that the CLI's reader accepts it as it is. */
    async function manifestOf(component: { operations: pulumiType.Output<unknown> }): Promise<unknown> {
        const manifest = await valueOf(component.operations);
        await settle();
        assert.deepEqual(JSON.parse(JSON.stringify(manifest)), manifest, "plain JSON");
        assert.deepEqual(manifestProblems(manifest), []);
        return manifest;
    }

    it("EventBridgeWorkerPool: function, idempotency table, DLQ and its controller on the reserved concurrency", async () => {
        const pool = new c.EventBridgeWorkerPool("orders", {
            function: { handler: HANDLER },
            eventPattern: { source: ["shop"] },
            reservedConcurrency: 5,
            adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 },
        });
        assert.deepEqual(await manifestOf(pool), {
            ...base("EventBridgeWorkerPool", "orders"),
            functionName: "orders-fn-function",
            idempotencyTableName: "orders-idempotency-table",
            deadLetterQueue: queue("orders-dlq-queue"),
            controller: { mode: "Controller", tableName: "orders-control-table", target: { kind: "ReservedConcurrency", functionName: "orders-fn-function" } },
        });
    });

    it("EventBridgeWorkerPool without adaptive concurrency: no controller key", async () => {
        const pool = new c.EventBridgeWorkerPool("plain", { function: { handler: HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5 });
        assert.ok(!("controller" in ((await manifestOf(pool)) as object)));
    });

    it("KinesisOrderedWorker: stream, mapping UUID, failure queue and the breaker", async () => {
        const worker = new c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, shardCount: 2, circuitBreaker: {} });
        assert.deepEqual(await manifestOf(worker), {
            ...base("KinesisOrderedWorker", "payments"),
            functionName: "payments-fn-function",
            streamArn: `arn:aws:kinesis:${REGION}:${ACCOUNT_ID}:payments-stream-stream`,
            mappingUuid: "payments-esm-uuid",
            idempotencyTableName: "payments-idempotency-table",
            failureQueue: queue("payments-failures-queue"),
            breaker: { tableName: "payments-breaker-table", id: "payments" },
        });
    });

    it("KinesisOrderedWorker with adaptive concurrency: the controller drives the mapping's parallelization factor", async () => {
        const worker = new c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, shardCount: 2, adaptiveConcurrency: { mode: "Controller", minConcurrency: 1, maxConcurrency: 10 } });
        const manifest = (await manifestOf(worker)) as { controller: unknown; breaker?: unknown };
        assert.deepEqual(manifest.controller, {
            mode: "Controller",
            tableName: "payments-control-table",
            target: { kind: "KinesisParallelizationFactor", uuid: "payments-esm-uuid", eventSourceArn: `arn:aws:kinesis:${REGION}:${ACCOUNT_ID}:payments-stream-stream` },
        });
        assert.ok(!("breaker" in manifest));
    });

    it("FifoTopicWorker: topic, queue, DLQ, delivery DLQ, mapping UUID and the self-tuning controller on the maximum concurrency", async () => {
        const worker = new c.FifoTopicWorker("ledger", {
            function: { handler: HANDLER, timeoutSeconds: 30 },
            maxConcurrency: 5,
            adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20 },
        });
        const queueArn = queue("ledger-queue-queue").arn;
        assert.deepEqual(await manifestOf(worker), {
            ...base("FifoTopicWorker", "ledger"),
            functionName: "ledger-fn-function",
            topicArn: `arn:aws:sns:${REGION}:${ACCOUNT_ID}:ledger-topic-topic`,
            queue: queue("ledger-queue-queue"),
            deadLetterQueue: queue("ledger-dlq-queue"),
            deliveryDeadLetterQueue: queue("ledger-delivery-dlq-queue"),
            mappingUuid: "ledger-esm-uuid",
            idempotencyTableName: "ledger-idempotency-table",
            controller: { mode: "SelfTuning", tableName: "ledger-control-table", target: { kind: "SqsMaximumConcurrency", uuid: "ledger-esm-uuid", eventSourceArn: queueArn } },
        });
    });

    it("ConcurrencyController: its table, function, dashboard and the mapping it drives (UUID from the mapping ARN)", async () => {
        const controller = new c.ConcurrencyController("ctl", {
            target: "SqsMaximumConcurrency",
            functionName: "ledger-fn",
            eventSourceMappingArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:event-source-mapping:14e0db71-5d35-4eb5-b481-8945cf9d10c2`,
            eventSourceArn: "arn:aws:sqs:us-east-1:123456789012:ledger.fifo",
            queueName: "ledger.fifo",
            minConcurrency: 2,
            maxConcurrency: 20,
        });
        assert.deepEqual(await manifestOf(controller), {
            ...base("ConcurrencyController", "ctl"),
            dashboardName: "project-test-ctl-controller",
            controller: {
                mode: "Controller",
                tableName: "ctl-table-table",
                functionName: "ctl-controller-fn-function",
                target: { kind: "SqsMaximumConcurrency", uuid: "14e0db71-5d35-4eb5-b481-8945cf9d10c2", eventSourceArn: "arn:aws:sqs:us-east-1:123456789012:ledger.fifo" },
            },
        });
    });

    it("ConcurrencyController on reserved concurrency, with a given table: the function it drives and that table", async () => {
        const controller = new c.ConcurrencyController("ctl", {
            target: "ReservedConcurrency",
            functionName: "orders-fn",
            minConcurrency: 1,
            maxConcurrency: 5,
            tableName: "given-table",
            tableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/given-table`,
        });
        const manifest = (await manifestOf(controller)) as { controller: unknown };
        assert.deepEqual(manifest.controller, { mode: "Controller", tableName: "given-table", functionName: "ctl-controller-fn-function", target: { kind: "ReservedConcurrency", functionName: "orders-fn" } });
    });

    it("StepFunctionsSemaphore: its table, name, limit and DLQ", async () => {
        const semaphore = new c.StepFunctionsSemaphore("erp", { limit: 3 });
        assert.deepEqual(await manifestOf(semaphore), {
            ...base("StepFunctionsSemaphore", "erp"),
            semaphore: { tableName: "erp-table-table", name: "erp", limit: 3 },
            deadLetterQueue: queue("erp-dlq-queue"),
        });
    });

    it("SemaphoreStateMachine: the protected machine's ARN and its own semaphore (named <name>-semaphore)", async () => {
        const machine = new c.SemaphoreStateMachine("stock", { limit: 2, definition: WORK });
        assert.deepEqual(await manifestOf(machine), {
            ...base("SemaphoreStateMachine", "stock"),
            dashboardName: "project-test-stock-semaphore",
            stateMachineArn: `arn:aws:sfn:${REGION}:${ACCOUNT_ID}:stock-state-machine-statemachine`,
            semaphore: { tableName: "stock-semaphore-table-table", name: "stock-semaphore", limit: 2 },
        });
    });

    it("CrossAccountEventForwarder: its rule, the bus it forwards to and its DLQ (no dashboard)", async () => {
        const bus = "arn:aws:events:eu-west-1:222222222222:event-bus/workload";
        const forwarder = new c.CrossAccountEventForwarder("fwd", { eventPattern: { source: ["shop.orders"] }, targetEventBusArn: bus });
        const { dashboardName: _none, ...withoutDashboard } = base("CrossAccountEventForwarder", "fwd");
        assert.deepEqual(await manifestOf(forwarder), { ...withoutDashboard, ruleName: "fwd-rule-eventrule", targetEventBusArn: bus, deadLetterQueue: queue("fwd-dlq-queue") });
    });

    it("IsolatedWorkloadAccount: the workload account, the role assumed in it and its bus; no bus key without one", async () => {
        const { dashboardName: _none, ...withoutDashboard } = base("IsolatedWorkloadAccount", "orders");
        const withBus = new c.IsolatedWorkloadAccount("orders", { accountId: "222222222222", region: "eu-west-1", eventBusSourceAccountIds: [ACCOUNT_ID] });
        const busArn = await valueOf(withBus.eventBusArn);
        assert.ok(busArn?.startsWith("arn:aws:events:"));
        assert.deepEqual(await manifestOf(withBus), { ...withoutDashboard, workloadAccountId: "222222222222", roleArn: "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole", eventBusArn: busArn });
        const withoutBus = new c.IsolatedWorkloadAccount("plain", { accountId: "333333333333", region: "eu-west-1" });
        assert.equal("eventBusArn" in ((await manifestOf(withoutBus)) as object), false);
    });

    it("every table a manifest names (where the CLI writes its audit entries) has TTL on expiresAt, the attribute the entries carry", async () => {
        const components = [
            new c.EventBridgeWorkerPool("orders", { function: { handler: HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 } }),
            new c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, circuitBreaker: {} }),
            new c.FifoTopicWorker("ledger", { function: { handler: HANDLER }, maxConcurrency: 5, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20 }, circuitBreaker: {} }),
            new c.ConcurrencyController("ctl", { target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 1, maxConcurrency: 5 }),
            new c.StepFunctionsSemaphore("erp", { limit: 3 }),
            new c.SemaphoreStateMachine("stock", { limit: 2, definition: WORK }),
        ];
        const manifests = (await Promise.all(components.map(manifestOf))) as Array<Record<string, any>>;
        const named = manifests.flatMap((m) => [m.idempotencyTableName, m.controller?.tableName, m.breaker?.tableName, m.semaphore?.tableName]).filter((n) => n !== undefined);
        assert.deepEqual(named.sort(), [
            "ctl-table-table",
            "erp-table-table",
            "ledger-breaker-table",
            "ledger-control-table",
            "ledger-idempotency-table",
            "orders-control-table",
            "orders-idempotency-table",
            "payments-breaker-table",
            "payments-idempotency-table",
            "stock-semaphore-table-table",
        ]);
        const tables = registered.filter((r) => r.type === "aws:dynamodb/table:Table");
        for (const name of named) {
            // The mocks name a table `<logical name>-table`.
            const table = tables.find((t) => `${t.name}-table` === name);
            assert.deepEqual(table?.inputs.ttl, { attributeName: TABLE_TTL_ATTRIBUTE, enabled: true }, name);
        }
        assert.equal(TABLE_TTL_ATTRIBUTE, "expiresAt");
    });
});

describe("ConcurrencyController dashboard", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    it("does not take the dashboard of the worker it drives when named like it (dashboard names are global in an account)", async () => {
        const pool = new loaded.c.EventBridgeWorkerPool("orders", { function: { handler: "tests/fixtures/handlers/orders.handle" }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5 });
        new loaded.c.ConcurrencyController("orders", { target: "ReservedConcurrency", functionName: pool.function.name, minConcurrency: 1, maxConcurrency: 5 });
        await settle();
        const names = ofType("aws:cloudwatch/dashboard:Dashboard").map((d) => d.inputs.dashboardName).sort();
        assert.deepEqual(names, ["project-test-orders", "project-test-orders-controller"]);
    });

    it("is <name>-dashboard, named like the workers' dashboards, with decisions, limit against in-use per shard, paused intervals and the controller's errors", async () => {
        const controller = new loaded.c.ConcurrencyController("ctl", {
            target: "KinesisParallelizationFactor",
            functionName: "payments-fn",
            eventSourceMappingArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:event-source-mapping:11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa`,
            eventSourceArn: `arn:aws:kinesis:${REGION}:${ACCOUNT_ID}:stream/payments`,
            shardCount: 4,
            workerName: "payments",
            minConcurrency: 1,
            maxConcurrency: 10,
        });
        assert.equal(await valueOf(controller.dashboardName), "project-test-ctl-controller");
        await settle();
        const dashboard = resource("aws:cloudwatch/dashboard:Dashboard", "ctl-dashboard");
        assert.equal(dashboard.inputs.dashboardName, "project-test-ctl-controller");
        const widgets = json(dashboard.inputs.dashboardBody).widgets as Array<{ x: number; y: number; properties: { title: string; metrics: unknown[]; region: string } }>;
        assert.deepEqual(
            widgets.map((w) => [w.x, w.y, w.properties.title, w.properties.region]),
            [
                [0, 0, "Controller decisions by reason (KinesisParallelizationFactor)", REGION],
                [12, 0, "KinesisParallelizationFactor: limit against concurrency in use", REGION],
                [0, 6, "Paused by an operator (intervals held)", REGION],
                [12, 6, "Controller function: errors and duration", REGION],
            ],
        );
        assert.deepEqual(widgets[0].properties.metrics, [
            [{ expression: `SEARCH('{ServerlessConcurrency,Reason,Worker} MetricName="ControllerDecisions" Worker="payments"', 'Sum', 60)`, id: "decisions", label: "" }],
        ]);
        assert.deepEqual(widgets[1].properties.metrics, [
            ["ServerlessConcurrency", "ConcurrencyLimit", "Worker", "payments", { stat: "Maximum", label: "limit", id: "limit" }],
            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", "payments-fn", { stat: "Maximum", id: "executions", visible: false }],
            [{ expression: "executions / 4", id: "inUse", label: "in use per shard (executions ÷ 4)" }],
        ]);
        assert.deepEqual(widgets[2].properties.metrics, [["ServerlessConcurrency", "ControllerPaused", "Worker", "payments", { stat: "Sum", label: "held intervals" }]]);
        assert.deepEqual(widgets[3].properties.metrics, [
            ["AWS/Lambda", "Errors", "FunctionName", "ctl-controller-fn-function", { stat: "Sum" }],
            ["AWS/Lambda", "Duration", "FunctionName", "ctl-controller-fn-function", { stat: "Maximum", yAxis: "right" }],
        ]);
    });

    it("draws in-use concurrency as executions for reserved concurrency, with the controller's own name as the Worker by default", async () => {
        new loaded.c.ConcurrencyController("orders-ctl", { target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 1, maxConcurrency: 5 });
        await settle();
        const widgets = json(resource("aws:cloudwatch/dashboard:Dashboard", "orders-ctl-dashboard").inputs.dashboardBody).widgets;
        assert.deepEqual(widgets[1].properties.metrics, [
            ["ServerlessConcurrency", "ConcurrencyLimit", "Worker", "orders-ctl", { stat: "Maximum", label: "limit", id: "limit" }],
            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", "orders-fn", { stat: "Maximum", label: "in use", id: "inUse" }],
        ]);
    });
});
