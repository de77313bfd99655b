import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { controlLoopSettingsProblems } from "../../contracts/controller";
import { ACCOUNT_ID, dependencies, mappingArnOf, ignoredChanges, json, ofType, registered, resource, settle, valueOf, loadComponents, LoadedComponents, resetComponentState } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];
type Budget = LoadedComponents["budget"];

const HANDLER = "tests/fixtures/handlers/orders.handle";
const ORDERED = "tests/fixtures/handlers/ordered.handle";
const arn = (service: string, name: string) => `arn:aws:${service}:us-east-1:${ACCOUNT_ID}:${name}`;

async function bundledCode(functionName: string): Promise<string> {
    const archive = resource("aws:lambda/function:Function", functionName).inputs.code as pulumi.asset.AssetArchive;
    const assets = (await archive.assets) as Record<string, { text: Promise<string> }>;
    return assets["index.js"].text;
}

const policyOf = (name: string) => json(resource("aws:iam/rolePolicy:RolePolicy", name).inputs.policy).Statement;
const envOf = (name: string) => resource("aws:lambda/function:Function", name).inputs.environment.variables;

describe("dynamic concurrency control", function () {
    this.timeout(60_000);
    let c: Components;
    let budget: Budget;

    before(async () => ({ c, budget } = await loadComponents()));
    beforeEach(() => resetComponentState({ c, budget }));

    describe("ConcurrencyController", () => {
        type Args = import("../../components").ConcurrencyControllerArgs;
        const base: Args = { target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 2, maxConcurrency: 50, latencyTargetMs: 200 };
        const MAPPING_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:event-source-mapping:1f0c2a5e-6b7d-4c8e-9a1b-2c3d4e5f6a7b`;

        it("schedules a controller function with its own table and a config for the target", async () => {
            const controller = new c.ConcurrencyController("ctl", { ...base, schedule: "rate(2 minutes)", dryRun: true });
            await settle();
            assert.deepEqual(
                registered.filter((r) => r.custom !== false).map((r) => r.name).sort(),
                ["ctl-async", "ctl-controller-fn", "ctl-controller-logs", "ctl-controller-policy", "ctl-controller-role", "ctl-dashboard", "ctl-errors", "ctl-invoke", "ctl-schedule", "ctl-table", "ctl-target"],
            );
            assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "ctl-schedule").inputs.scheduleExpression, "rate(2 minutes)");
            assert.deepEqual(resource("aws:cloudwatch/eventTarget:EventTarget", "ctl-target").inputs.retryPolicy, { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 120 }, "a run older than one interval is not worth starting");
            assert.deepEqual(resource("aws:dynamodb/table:Table", "ctl-table").inputs.attributes, [{ name: "pk", type: "S" }, { name: "sk", type: "S" }]);
            // (the controller's own error alarm says whose errors they are: it used to say "The worker function")
            const errors = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "ctl-errors").inputs;
            assert.deepEqual([errors.metricName, errors.alarmDescription], ["Errors", "The controller function returned errors: a control interval failed; the setting stays as it was."]);
            const env = envOf("ctl-controller-fn");
            assert.equal(env.WORKER_NAME, "ctl");
            assert.deepEqual(JSON.parse(env.CONCURRENCY_CONTROL_CONFIG), {
                target: { kind: "ReservedConcurrency", functionName: "orders-fn" },
                params: { min: 2, max: 50, latencyTargetMs: 200 },
                tableName: "ctl-table-table",
                metrics: { functionName: "orders-fn", backlog: "AsyncEventAge" },
                intervalSeconds: 120,
                dryRun: true,
            });
            const workerEnv = await valueOf(controller.workerEnvironment);
            assert.equal(workerEnv.CONCURRENCY_CONTROL_MODE, "Controller");
            assert.deepEqual(JSON.parse(workerEnv.CONCURRENCY_CONTROL_CONFIG).target, { kind: "ReservedConcurrency" }, "the worker resolves its own name");
            for (const config of [env.CONCURRENCY_CONTROL_CONFIG, workerEnv.CONCURRENCY_CONTROL_CONFIG]) {
                assert.deepEqual(controlLoopSettingsProblems(JSON.parse(config)), [], "the runtime's cold-start validation accepts what the component sets");
            }
        });

        it("wires a function you build yourself: its environment does not depend on the function or its mapping", async () => {
            const aws = await import("@pulumi/aws");
            const queueArn = arn("sqs", "own.fifo");
            const [functionName, setFunctionName] = pulumi.deferredOutput<string>();
            const [mappingArn, setMappingArn] = pulumi.deferredOutput<string>();
            const controller = new c.ConcurrencyController("ctl", {
                target: "SqsMaximumConcurrency",
                functionName,
                eventSourceMappingArn: mappingArn,
                eventSourceArn: queueArn,
                queueName: "own.fifo",
                minConcurrency: 2,
                maxConcurrency: 20,
            });
            const fn = new aws.lambda.Function("own", { role: "arn:aws:iam::123456789012:role/own", environment: { variables: controller.workerEnvironment } });
            setFunctionName(fn.name);
            const mapping = new aws.lambda.EventSourceMapping("own-esm", { functionName: fn.arn, eventSourceArn: queueArn });
            setMappingArn(mapping.arn);
            await settle();
            const workerConfig = JSON.parse(resource("aws:lambda/function:Function", "own").inputs.environment.variables.CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(workerConfig.target, { kind: "SqsMaximumConcurrency", eventSourceArn: queueArn });
            const controllerConfig = JSON.parse(envOf("ctl-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(controllerConfig.target, { kind: "SqsMaximumConcurrency", uuid: mappingArnOf("own-esm").split(":").pop(), eventSourceArn: queueArn }, "keyed by the same source ARN");
        });

        it("may change only the target function's reserved concurrency", async () => {
            new c.ConcurrencyController("ctl", base);
            await settle();
            assert.deepEqual(policyOf("ctl-controller-policy").slice(1), [
                { Effect: "Allow", Action: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"], Resource: [`arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:orders-fn`] },
                { Effect: "Allow", Action: ["cloudwatch:GetMetricData", "lambda:GetAccountSettings"], Resource: ["*"] },
                { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], Resource: [arn("dynamodb", "ctl-table-table")] },
            ]);
        });

        it("may change only the target mapping for the mapping targets", async () => {
            const mappingArn = `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:event-source-mapping:1f0c2a5e-6b7d-4c8e-9a1b-2c3d4e5f6a7b`;
            new c.ConcurrencyController("ctl", { ...base, target: "SqsMaximumConcurrency", eventSourceMappingArn: mappingArn, eventSourceArn: arn("sqs", "ledger.fifo"), queueName: "ledger.fifo", minConcurrency: 2, maxConcurrency: 20 });
            await settle();
            assert.deepEqual(policyOf("ctl-controller-policy")[1], { Effect: "Allow", Action: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], Resource: [mappingArn] });
            assert.deepEqual(policyOf("ctl-controller-policy")[2], { Effect: "Allow", Action: ["cloudwatch:GetMetricData"], Resource: ["*"] });
            const config = JSON.parse(envOf("ctl-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(config.target, { kind: "SqsMaximumConcurrency", uuid: "1f0c2a5e-6b7d-4c8e-9a1b-2c3d4e5f6a7b", eventSourceArn: arn("sqs", "ledger.fifo") }, "keyed by the source, as the workers key their statistics");
            assert.deepEqual(config.metrics, { functionName: "orders-fn", backlog: "SqsAgeOfOldestMessage", queueName: "ledger.fifo" });
        });

        const invalid: Array<[string, Partial<Args>, string]> = [
            ["min above max", { minConcurrency: 10, maxConcurrency: 5 }, "minConcurrency (10) must not exceed maxConcurrency (5)."],
            ["SQS bounds", { target: "SqsMaximumConcurrency", eventSourceMappingArn: MAPPING_ARN, eventSourceArn: "arn:q", queueName: "q.fifo", minConcurrency: 1 }, "minConcurrency must be an integer from 2 to 1000; received 1."],
            ["factor bounds", { target: "KinesisParallelizationFactor", eventSourceMappingArn: MAPPING_ARN, eventSourceArn: "arn:s", shardCount: 2, minConcurrency: 1, maxConcurrency: 11 }, "maxConcurrency must be an integer from 1 to 10; received 11."],
            ["a mapping target without the mapping", { target: "SqsMaximumConcurrency", maxConcurrency: 20 }, "eventSourceMappingArn and eventSourceArn are required for target SqsMaximumConcurrency."],
            ["Kinesis without shards", { target: "KinesisParallelizationFactor", eventSourceMappingArn: MAPPING_ARN, eventSourceArn: "arn:s", minConcurrency: 1, maxConcurrency: 10 }, "shardCount is required for target KinesisParallelizationFactor"],
            ["a schedule that does not parse", { schedule: "every minute" }, 'schedule must be "rate(N minute|minutes|hour|hours)", at most 24 hours (the longest control interval); received "every minute".'],
            ["rate(1 minutes)", { schedule: "rate(1 minutes)" }, 'schedule must be "rate(N minute|minutes|hour|hours)", at most 24 hours (the longest control interval); received "rate(1 minutes)".'],
            // the runtime refuses an interval over 86 400 s: the controller would deploy and fail every run
            ["rate(25 hours)", { schedule: "rate(25 hours)" }, 'schedule must be "rate(N minute|minutes|hour|hours)", at most 24 hours (the longest control interval); received "rate(25 hours)".'],
            ["an empty downstream name", { downstream: " " }, 'downstream must name a `ctx.downstream` call (a non-empty string); received " ".'],
            ["an error threshold of 0", { errorRateThreshold: 0 }, "errorRateThreshold must be a number greater than 0 and less than 1; received 0."],
            ["an error threshold of 1", { errorRateThreshold: 1 }, "errorRateThreshold must be a number greater than 0 and less than 1; received 1."],
            ["an SQS target without its queue", { target: "SqsMaximumConcurrency", eventSourceMappingArn: MAPPING_ARN, eventSourceArn: "arn:q", maxConcurrency: 20 }, "queueName is required for target SqsMaximumConcurrency"],
            ["a table name without its ARN", { tableName: "stats" }, "tableName and tableArn go together."],
            [
                "a function ARN as the function name",
                { functionName: `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:orders-fn` },
                `functionName must be a function name (1–64 letters, digits, hyphens or underscores), not an ARN: it goes into the controller's IAM resource arn:…:function:<functionName>; received "arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:orders-fn".`,
            ],
            ["a function name over 64 characters", { functionName: "f".repeat(65) }, `functionName must be a function name (1–64 letters, digits, hyphens or underscores), not an ARN: it goes into the controller's IAM resource arn:…:function:<functionName>; received "${"f".repeat(65)}".`],
            [
                "a mapping UUID as the mapping ARN",
                { target: "SqsMaximumConcurrency", eventSourceMappingArn: "1f0c2a5e-6b7d-4c8e-9a1b-2c3d4e5f6a7b", eventSourceArn: "arn:q", queueName: "q.fifo", minConcurrency: 2 },
                'eventSourceMappingArn must be an event source mapping ARN (arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>), not its UUID: it is the resource of the controller\'s IAM statement; received "1f0c2a5e-6b7d-4c8e-9a1b-2c3d4e5f6a7b".',
            ],
            ["an unknown target", { target: "Memory" as never }, 'target must be one of ReservedConcurrency, SqsMaximumConcurrency, KinesisParallelizationFactor; received "Memory".'],
        ];
        for (const [title, overrides, message] of invalid) {
            it(`rejects ${title}`, () => {
                assert.throws(() => new c.ConcurrencyController("ctl", { ...base, ...overrides }), (e: Error) => e.message.includes(`ConcurrencyController "ctl": ${message}`));
            });
        }
    });

    describe("adaptiveConcurrency option", () => {
        it("Controller mode on a pool: statistics table, activation, a controller child, the size left to it", async () => {
            const pool = new c.EventBridgeWorkerPool("orders", {
                function: { handler: HANDLER },
                eventPattern: { source: ["shop"] },
                reservedConcurrency: 5,
                adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 40, latencyTargetMs: 250, intervalMinutes: 2 },
            });
            await settle();
            assert.deepEqual(ignoredChanges.get("aws:lambda/function:Function::orders-fn"), ["reservedConcurrentExecutions"]);
            const env = envOf("orders-fn");
            assert.equal(env.CONCURRENCY_CONTROL_MODE, "Controller");
            const workerConfig = JSON.parse(env.CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(workerConfig.target, { kind: "ReservedConcurrency" });
            assert.equal(workerConfig.tableName, "orders-control-table");
            assert.equal(workerConfig.intervalSeconds, 120);
            assert.match(await bundledCode("orders-fn"), /runtime\/activation\/adaptiveConcurrency\.ts/);
            const controller = resource("serverless-concurrency:index:ConcurrencyController", "orders-adaptive");
            assert.ok(controller);
            assert.equal(ofType("aws:dynamodb/table:Table").filter((t) => t.name.includes("control") || t.name.includes("adaptive")).length, 1, "the controller uses the worker's table");
            assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "orders-adaptive-schedule").inputs.scheduleExpression, "rate(2 minutes)");
            const controllerConfig = JSON.parse(envOf("orders-adaptive-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(controllerConfig.target, { kind: "ReservedConcurrency", functionName: "orders-fn-function" });
            assert.equal(controllerConfig.tableName, "orders-control-table");
            assert.equal(envOf("orders-adaptive-controller-fn").WORKER_NAME, "orders");
            assert.deepEqual(policyOf("orders-policy").at(-1), { Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [arn("dynamodb", "orders-control-table")] }, "the worker only writes its statistics");
            assert.deepEqual(policyOf("orders-adaptive-controller-policy").at(-1), { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], Resource: [arn("dynamodb", "orders-control-table")] }, "the controller only reads and leases");
            assert.deepEqual(budget.concurrencyBudgets()[0].reservations, [{ component: 'EventBridgeWorkerPool "orders"', concurrency: 40 }], "budgeted at the adaptive maximum");
            assert.equal(await valueOf(pool.maxDownstreamConcurrency), 40);
            const dashboard = json(resource("aws:cloudwatch/dashboard:Dashboard", "orders-dashboard").inputs.dashboardBody);
            assert.equal(dashboard.widgets.at(-1).properties.title, "Adaptive concurrency: limit, decisions by reason and failed intervals");
        });

        it("SelfTuning mode on a pool: the function may change only its own reserved concurrency", async () => {
            new c.EventBridgeWorkerPool("orders", {
                function: { handler: HANDLER },
                eventPattern: { source: ["shop"] },
                reservedConcurrency: 5,
                adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20 },
            });
            await settle();
            assert.equal(ofType("serverless-concurrency:index:ConcurrencyController").length, 0);
            assert.equal(envOf("orders-fn").CONCURRENCY_CONTROL_MODE, "SelfTuning");
            assert.deepEqual(policyOf("orders-self-tuning"), [
                { Effect: "Allow", Action: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"], Resource: [arn("lambda", "orders-fn-function")] },
                { Effect: "Allow", Action: ["lambda:GetAccountSettings", "cloudwatch:GetMetricData"], Resource: ["*"] },
                { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], Resource: [arn("dynamodb", "orders-control-table")] },
            ]);
            assert.deepEqual(policyOf("orders-policy").at(-1), { Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [arn("dynamodb", "orders-control-table")] }, "the statistics, granted once, before the function");
        });

        it("on a Kinesis worker it moves the parallelization factor, counted per shard", async () => {
            const worker = new c.KinesisOrderedWorker("payments", {
                function: { handler: ORDERED },
                shardCount: 4,
                parallelizationFactor: 2,
                adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 1, maxConcurrency: 8 },
            });
            await settle();
            assert.deepEqual(ignoredChanges.get("aws:lambda/eventSourceMapping:EventSourceMapping::payments-esm"), ["parallelizationFactor"]);
            const config = JSON.parse(envOf("payments-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(config.target, { kind: "KinesisParallelizationFactor", eventSourceArn: arn("kinesis", "payments-stream-stream") });
            assert.equal(config.executionsPerUnit, 4);
            assert.deepEqual(policyOf("payments-self-tuning")[0], { Effect: "Allow", Action: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], Resource: [mappingArnOf("payments-esm")] });
            assert.equal(await valueOf(worker.maxConcurrency), 32, "4 shards × the adaptive maximum of 8");
        });

        it("on a FIFO worker it moves the mapping's maximum concurrency", async () => {
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 30 } });
            await settle();
            assert.deepEqual(ignoredChanges.get("aws:lambda/eventSourceMapping:EventSourceMapping::ledger-esm"), ["scalingConfig"]);
            const controllerConfig = JSON.parse(envOf("ledger-adaptive-controller-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(controllerConfig.target, { kind: "SqsMaximumConcurrency", uuid: mappingArnOf("ledger-esm").split(":").pop(), eventSourceArn: arn("sqs", "ledger-queue-queue") });
            const workerConfig = JSON.parse(envOf("ledger-fn").CONCURRENCY_CONTROL_CONFIG);
            assert.deepEqual(workerConfig.target, { kind: "SqsMaximumConcurrency", eventSourceArn: arn("sqs", "ledger-queue-queue") }, "the same source ARN keys both sides");
            assert.deepEqual(controllerConfig.metrics, { functionName: "ledger-fn-function", backlog: "SqsAgeOfOldestMessage", queueName: "ledger-queue-queue" });
            const tableStatements = policyOf("ledger-policy").filter((statement: { Resource: string[] }) => statement.Resource.includes(arn("dynamodb", "ledger-control-table")));
            assert.deepEqual(tableStatements, [{ Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [arn("dynamodb", "ledger-control-table")] }], "the worker may not touch the controller's lease");
        });

        const ONCALL = arn("sns", "oncall");
        /** Each worker named as in these tests, notifying ONCALL, with `adaptiveConcurrency` in `mode` or without it. */
        const WORKERS: Array<[string, string, (mode?: "Controller" | "SelfTuning") => unknown]> = [
            [
                "pool",
                "orders",
                (mode) =>
                    new c.EventBridgeWorkerPool("orders", {
                        function: { handler: HANDLER },
                        eventPattern: { source: ["shop"] },
                        reservedConcurrency: 5,
                        alarmActions: [ONCALL],
                        adaptiveConcurrency: mode && { mode, minConcurrency: 2, maxConcurrency: 20 },
                    }),
            ],
            [
                "Kinesis worker",
                "payments",
                (mode) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, shardCount: 2, alarmActions: [ONCALL], adaptiveConcurrency: mode && { mode, minConcurrency: 1, maxConcurrency: 8 } }),
            ],
            [
                "FIFO worker",
                "ledger",
                (mode) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, alarmActions: [ONCALL], adaptiveConcurrency: mode && { mode, minConcurrency: 2, maxConcurrency: 20 } }),
            ],
        ];
        const failureAlarms = () => ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.inputs.metricName === "ControllerFailures");

        for (const [title, worker, create] of WORKERS) {
            for (const mode of ["SelfTuning", "Controller"] as const) {
                it(`${mode} mode on a ${title}: an alarm on the worker's ControllerFailures (Sum > 0 in a minute) notifies alarmActions`, async () => {
                    create(mode);
                    await settle();
                    assert.deepEqual(failureAlarms().map((a) => a.name), [`${worker}-controller-failures`], "one alarm, the worker's");
                    const { alarmDescription, ...inputs } = resource("aws:cloudwatch/metricAlarm:MetricAlarm", `${worker}-controller-failures`).inputs;
                    assert.deepEqual(inputs, {
                        namespace: "ServerlessConcurrency",
                        metricName: "ControllerFailures",
                        dimensions: { Worker: worker },
                        statistic: "Sum",
                        period: 60,
                        evaluationPeriods: 1,
                        threshold: 0,
                        comparisonOperator: "GreaterThanThreshold",
                        treatMissingData: "notBreaching",
                        alarmActions: [ONCALL],
                        okActions: [ONCALL],
                    });
                    assert.match(alarmDescription, /^The adaptive controller's interval failed for this worker: the concurrency setting stays as it was\. See the ERROR line 'control interval failed; the next interval reads the setting again'/);
                    const controllerErrors = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name === `${worker}-adaptive-errors`);
                    assert.equal(controllerErrors.length, mode === "Controller" ? 1 : 0, "the controller's own error alarm stays as it was, in mode Controller only");
                });
            }

            it(`a ${title} without adaptiveConcurrency has no ControllerFailures alarm`, async () => {
                create();
                await settle();
                assert.deepEqual(failureAlarms(), []);
                assert.ok(!registered.some((r) => r.name.endsWith("-controller-failures")));
            });

            it(`on a ${title} the adaptive widget, last on the dashboard, shows the limit, the decisions by reason and ControllerFailures (Sum)`, async () => {
                create("SelfTuning");
                await settle();
                const dashboard = json(resource("aws:cloudwatch/dashboard:Dashboard", `${worker}-dashboard`).inputs.dashboardBody);
                assert.deepEqual(dashboard.widgets.at(-1).properties, {
                    title: "Adaptive concurrency: limit, decisions by reason and failed intervals",
                    metrics: [
                        ["ServerlessConcurrency", "ConcurrencyLimit", "Worker", worker, { stat: "Maximum" }],
                        [
                            {
                                expression: `SEARCH('{ServerlessConcurrency,Reason,Worker} MetricName="ControllerDecisions" Worker="${worker}"', 'Sum', 60)`,
                                id: "decisions",
                                label: "decisions",
                                yAxis: "right",
                            },
                        ],
                        ["ServerlessConcurrency", "ControllerFailures", "Worker", worker, { stat: "Sum", label: "failed intervals", yAxis: "right" }],
                    ],
                    view: "timeSeries",
                    stat: "Sum",
                    period: 60,
                    region: "us-east-1",
                });
            });
        }

        const invalid: Array<[string, () => unknown, string]> = [
            [
                "a starting size outside the bounds",
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: HANDLER }, eventPattern: { source: ["a"] }, reservedConcurrency: 50, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 20 } }),
                'EventBridgeWorkerPool "orders": the starting value 50 must lie within adaptiveConcurrency.minConcurrency–maxConcurrency (2–20).',
            ],
            [
                "a factor above 10",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, adaptiveConcurrency: { mode: "Controller", minConcurrency: 1, maxConcurrency: 12 } }),
                'KinesisOrderedWorker "payments": adaptiveConcurrency.maxConcurrency must be an integer from 1 to 10; received 12.',
            ],
            [
                "an on-demand stream",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, onDemand: true, adaptiveConcurrency: { mode: "Controller", minConcurrency: 1, maxConcurrency: 4 } }),
                'KinesisOrderedWorker "payments": adaptiveConcurrency needs a provisioned stream',
            ],
            [
                "an SQS minimum of 1",
                () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 1, maxConcurrency: 10 } }),
                'FifoTopicWorker "ledger": adaptiveConcurrency.minConcurrency must be an integer from 2 to 1000; received 1.',
            ],
            [
                "an unknown mode",
                () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: { mode: "Auto" as never, minConcurrency: 2, maxConcurrency: 10 } }),
                'FifoTopicWorker "ledger": adaptiveConcurrency.mode must be one of Controller, SelfTuning; received "Auto".',
            ],
            [
                "a reservation below the adaptive maximum",
                () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, reservedConcurrency: 10, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20 } }),
                'FifoTopicWorker "ledger": reservedConcurrency must be at least maxConcurrency (its adaptive maximum) (20)',
            ],
            [
                "SelfTuning on a short function",
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: HANDLER, timeoutSeconds: 10 }, eventPattern: { source: ["a"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20 } }),
                'EventBridgeWorkerPool "orders": adaptiveConcurrency mode SelfTuning needs function.timeoutSeconds of at least 30 (a decision runs inside an invocation with 15 s to spare); received 10. Use mode Controller for short functions.',
            ],
            [
                "wrap: false",
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: "tests/fixtures/handlers/orders.rawHandler", wrap: false }, eventPattern: { source: ["a"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 20 } }),
                'EventBridgeWorkerPool "orders": adaptiveConcurrency needs function.wrap',
            ],
        ];
        for (const [title, create, message] of invalid) {
            it(`rejects ${title}`, () => assert.throws(create, (e: Error) => e.message.includes(message)));
        }
    });

    describe("circuitBreaker option", () => {
        it("on a Kinesis worker: state table, prober on a schedule, mapping settings left to the breaker, earlier iterator-age alarm", async () => {
            new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, retentionHours: 24, circuitBreaker: { errorThreshold: 0.4, minRequests: 30, maxOpenSeconds: 600 } });
            await settle();
            assert.deepEqual(ignoredChanges.get("aws:lambda/eventSourceMapping:EventSourceMapping::payments-esm"), ["enabled", "batchSize", "parallelizationFactor"]);
            assert.deepEqual(resource("aws:dynamodb/table:Table", "payments-breaker").inputs.hashKey, "id");
            assert.deepEqual(envOf("payments-fn"), {
                ...envOf("payments-fn"),
                BREAKER_TABLE_NAME: "payments-breaker-table",
                BREAKER_ID: "payments",
                BREAKER_EVENT_SOURCE_ARN: arn("kinesis", "payments-stream-stream"),
                BREAKER_ERROR_THRESHOLD: "0.4",
                BREAKER_MIN_REQUESTS: "30",
                BREAKER_MAX_OPEN_SECONDS: "600",
            });
            assert.equal(envOf("payments-fn").BREAKER_MAPPING_UUID, undefined, "the function cannot know it before the mapping exists");
            assert.deepEqual(envOf("payments-prober-fn"), {
                NODE_OPTIONS: "--enable-source-maps",
                WORKER_NAME: "payments",
                BREAKER_TABLE_NAME: "payments-breaker-table",
                BREAKER_ID: "payments",
                BREAKER_MAPPING_UUID: "payments-esm-uuid",
                BREAKER_ERROR_THRESHOLD: "0.4",
                BREAKER_MIN_REQUESTS: "30",
                BREAKER_MAX_OPEN_SECONDS: "600",
            });
            const mappingAccess = { Effect: "Allow", Action: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], Resource: [mappingArnOf("payments-esm")] };
            assert.deepEqual(policyOf("payments-prober-policy").slice(1), [
                { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem"], Resource: [arn("dynamodb", "payments-breaker-table")] },
                mappingAccess,
            ]);
            assert.deepEqual(policyOf("payments-breaker-policy"), [mappingAccess], "after the mapping: only what needs its ARN");
            assert.deepEqual(policyOf("payments-policy").slice(-2), [
                { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], Resource: [arn("dynamodb", "payments-breaker-table")] },
                { Effect: "Allow", Action: ["lambda:ListEventSourceMappings"], Resource: ["*"] },
            ], "before the function: the table the first batches count in");
            assert.ok(dependencies.get("aws:lambda/function:Function::payments-fn")!.includes("aws:iam/rolePolicy:RolePolicy::payments-policy"), "the function waits for its policy");
            assert.ok(dependencies.get("aws:lambda/eventSourceMapping:EventSourceMapping::payments-esm")!.includes("aws:lambda/function:Function::payments-fn"), "the mapping waits for the function");
            for (const statement of [...policyOf("payments-prober-policy"), ...policyOf("payments-breaker-policy")]) {
                assert.doesNotMatch(statement.Action.join(" "), /DeleteEventSourceMapping|PutFunctionConcurrency/, "the breaker never deletes the mapping nor zeroes concurrency");
            }
            assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "payments-prober-schedule").inputs.scheduleExpression, "rate(1 minute)");
            assert.match(await bundledCode("payments-fn"), /runtime\/activation\/circuitBreaker\.ts/);
            assert.match(await bundledCode("payments-prober-fn"), /\/\/ handlers\/breakerProber\.ts\n/);
            const alarm = (id: string) => resource("aws:cloudwatch/metricAlarm:MetricAlarm", `payments-${id}`).inputs;
            assert.equal(alarm("iterator-age").threshold, 21_600_000, "a quarter of 24 h: it fires before half the retention");
            assert.deepEqual(
                [alarm("breaker-open").metricName, alarm("breaker-open").threshold, alarm("breaker-open").dimensions, alarm("breaker-open").period, alarm("breaker-open").treatMissingData, alarm("breaker-open").evaluationPeriods],
                ["CircuitBreakerState", 0, { Worker: "payments", Breaker: "payments" }, 60, "breaching", 2],
                "the prober reports the state once a period (its schedule's), so two periods without it mean a broken prober, not a late report",
            );
            assert.deepEqual(
                [alarm("prober-errors").namespace, alarm("prober-errors").metricName, alarm("prober-errors").dimensions, alarm("prober-errors").statistic, alarm("prober-errors").threshold, alarm("prober-errors").treatMissingData],
                ["AWS/Lambda", "Errors", { FunctionName: "payments-prober-fn-function" }, "Sum", 0, "notBreaching"],
            );
            assert.match(alarm("prober-errors").alarmDescription, /^The circuit breaker's prober returned errors: while it fails, an open breaker neither half-opens nor closes/);
        });

        it("on a FIFO worker: the breaker's two alarms, with the prober's period, notify the worker's alarmActions", async () => {
            const oncall = arn("sns", "oncall");
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, alarmActions: [oncall], circuitBreaker: { probeIntervalMinutes: 2 } });
            await settle();
            const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => /breaker|prober/.test(a.name));
            assert.deepEqual(
                alarms.map((a) => [a.name, a.inputs.period, a.inputs.treatMissingData, a.inputs.alarmActions, a.inputs.okActions]),
                [
                    ["ledger-breaker-open", 120, "breaching", [oncall], [oncall]],
                    ["ledger-prober-errors", 60, "notBreaching", [oncall], [oncall]],
                ],
            );
            assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "ledger-prober-schedule").inputs.scheduleExpression, "rate(2 minutes)", "one run, so one state report, per alarm period");
        });

        for (const [title, create, worker] of [
            ["Kinesis", () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, circuitBreaker: {} }), "payments"],
            ["FIFO", () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: {} }), "ledger"],
        ] as const) {
            it(`on a ${title} worker the dashboard's fifth and last widget shows the breaker's state, its transitions and the forced ones`, async () => {
                create();
                await settle();
                const dashboard = json(resource("aws:cloudwatch/dashboard:Dashboard", `${worker}-dashboard`).inputs.dashboardBody);
                const transitions = ["ServerlessConcurrency", "CircuitBreakerTransitions", "Worker", worker, "Breaker", worker];
                assert.equal(dashboard.widgets.length, 5);
                assert.deepEqual(dashboard.widgets[4], {
                    type: "metric",
                    x: 0,
                    y: 12,
                    width: 12,
                    height: 6,
                    properties: {
                        title: "Circuit breaker: state (0 closed, 1 half-open, 2 open), transitions and forced transitions",
                        metrics: [
                            ["ServerlessConcurrency", "CircuitBreakerState", "Worker", worker, "Breaker", worker, { stat: "Maximum", label: "state" }],
                            [...transitions, { stat: "Sum", yAxis: "right", label: "transitions (forced included)" }],
                            [...transitions, "Forced", "true", { stat: "Sum", yAxis: "right", label: "forced transitions (CLI breaker open/close)" }],
                        ],
                        view: "timeSeries",
                        stat: "Sum",
                        period: 60,
                        region: "us-east-1",
                    },
                });
            });
        }

        it("on a FIFO worker leaves enabled and batch size to the breaker", async () => {
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: {} });
            await settle();
            assert.deepEqual(ignoredChanges.get("aws:lambda/eventSourceMapping:EventSourceMapping::ledger-esm"), ["enabled", "batchSize"]);
            assert.equal(envOf("ledger-fn").BREAKER_EVENT_SOURCE_ARN, arn("sqs", "ledger-queue-queue"));
        });

        it("on a Kinesis worker retries without a count limit, bounded by the record age (a trip or a failed probe must not use up retries)", async () => {
            new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, retentionHours: 48, maxRecordAgeSeconds: 43_200, circuitBreaker: { maxOpenSeconds: 600 } });
            await settle();
            const mapping = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs;
            assert.deepEqual([mapping.maximumRetryAttempts, mapping.maximumRecordAgeInSeconds, mapping.bisectBatchOnFunctionError], [-1, 43_200, true]);
        });

        it("on a Kinesis worker accepts an explicit -1 retry count; without a breaker the count stays finite", async () => {
            new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, maxRetryAttempts: -1, circuitBreaker: {} });
            new c.KinesisOrderedWorker("plain", { function: { handler: ORDERED } });
            await settle();
            assert.equal(resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs.maximumRetryAttempts, -1);
            assert.equal(resource("aws:lambda/eventSourceMapping:EventSourceMapping", "plain-esm").inputs.maximumRetryAttempts, 10);
        });

        it("on a FIFO worker raises the main queue's maxReceiveCount to 10 (the DLQ is for poison messages, not for failed probes)", async () => {
            new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: {} });
            new c.FifoTopicWorker("plain", { function: { handler: ORDERED }, maxConcurrency: 5 });
            new c.FifoTopicWorker("patient", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: {}, maxReceiveCount: 25 });
            await settle();
            const redrive = (queue: string) => JSON.parse(resource("aws:sqs/queue:Queue", queue).inputs.redrivePolicy);
            assert.deepEqual(redrive("ledger-queue"), { deadLetterTargetArn: arn("sqs", "ledger-dlq-queue"), maxReceiveCount: 10 });
            assert.equal(redrive("plain-queue").maxReceiveCount, 5);
            assert.equal(redrive("patient-queue").maxReceiveCount, 25);
        });

        const invalid: Array<[string, () => unknown, string]> = [
            ["a threshold above 1", () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: { errorThreshold: 1.5 } }), "circuitBreaker.errorThreshold must be a number greater than 0 and at most 1; received 1.5."],
            ["a zero window", () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: { windowSeconds: 0 } }), "circuitBreaker.windowSeconds must be an integer from 1 to 3600; received 0."],
            ["a zero volume floor", () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: { minRequests: 0 } }), "circuitBreaker.minRequests must be an integer from 1 to 1000000; received 0."],
            [
                "a breaker together with adaptive concurrency on Kinesis",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, circuitBreaker: {}, adaptiveConcurrency: { mode: "Controller", minConcurrency: 1, maxConcurrency: 4 } }),
                "circuitBreaker and adaptiveConcurrency both drive the parallelization factor of a Kinesis mapping",
            ],
            [
                "an open time past a quarter of the retention",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, circuitBreaker: { maxOpenSeconds: 30_000 } }),
                "circuitBreaker.maxOpenSeconds must be at most a quarter of the time records may wait (21600 s: the stream retention or maxRecordAgeSeconds), so records cannot age out while the breaker is open; received 30000.",
            ],
            [
                "a finite Kinesis retry count with a breaker",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, maxRetryAttempts: 10, circuitBreaker: {} }),
                'KinesisOrderedWorker "payments": maxRetryAttempts must be unset (or -1) with circuitBreaker: every trip and every failed probe fails the batch and counts as a retry, so a finite count would send the records to the failure queue, which keeps only their shard and sequence numbers, while the downstream is down; the mapping retries until maxRecordAgeSeconds (86400 s) instead; received 10.',
            ],
            [
                "a zero Kinesis retry count with a breaker",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, maxRetryAttempts: 0, circuitBreaker: {} }),
                "maxRetryAttempts must be unset (or -1) with circuitBreaker",
            ],
            [
                "a FIFO receive count below 10 with a breaker",
                () => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, maxReceiveCount: 5, circuitBreaker: {} }),
                'FifoTopicWorker "ledger": maxReceiveCount must be at least 10 with circuitBreaker: every failed half-open probe uses up one receive of a waiting message, and at maxReceiveCount the message moves to the DLQ while its group goes on without it; received 5.',
            ],
            [
                "an open time past a quarter of a shorter record age",
                () => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, maxRecordAgeSeconds: 3600, circuitBreaker: { maxOpenSeconds: 1200 } }),
                "circuitBreaker.maxOpenSeconds must be at most a quarter of the time records may wait (900 s: the stream retention or maxRecordAgeSeconds)",
            ],
        ];
        for (const [title, create, message] of invalid) {
            it(`rejects ${title}`, () => assert.throws(create, (e: Error) => e.message.includes(message)));
        }
    });
});
