/**
 * The controller's stores and actuators under injected faults (tests/helpers/faults.ts): the outcome of
 * each fault, as documented in runtime/controller/store.ts, actuator.ts, cloudwatch.ts, budget.ts and the
 * README's "What happens when…" section.
 */
import { strict as assert } from "node:assert";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { LambdaClient, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { AwsClientStub } from "aws-sdk-client-mock";
import { createInvocationScope } from "../../runtime/context";
import { CONTROL_PLANE_BUDGET_KEY } from "../../runtime/controller/budget";
import { ConcurrencyActuator, ConcurrencyActuatorPort, ControlLoopConfig, ControlLoopDependencies, ControllerStore, DynamoDbControlPlaneBudget, registerControlStatistics, runControlInterval, targetKey } from "../../runtime/controller";
import { ControllerTestbed, demandMetrics, failureMetric, failureReports, faultInjections, healthyCalls, isClaim, mockLambdaSettings, startControllerTestbed, writeCalls } from "../helpers/controller";
import { LocalDynamo } from "../helpers/dynalite";
import { THROTTLE_ERRORS } from "../helpers/faults";
import { fakeLambdaContext } from "../helpers/lambdaContext";

const TABLE = "controller-faults";
const BUDGET = "control-plane-budget";
const MINUTE = 60_000;
const NOW = 100 * MINUTE + 20_000;

describe("controller under injected faults (dynalite, mocked Lambda and CloudWatch)", () => {
    let db: LocalDynamo;
    let lambda: AwsClientStub<LambdaClient>;
    let cloudwatch: AwsClientStub<CloudWatchClient>;
    let lambdaClient: LambdaClient;
    let cloudwatchClient: CloudWatchClient;
    const faults = faultInjections();
    const inject = faults.inject;
    let clock: number;
    let settings: Map<string, number>;
    let functionName: string;
    let lines: string[];
    let n = 0;

    const config = (overrides: Partial<ControlLoopConfig> = {}): ControlLoopConfig => ({
        target: { kind: "ReservedConcurrency", functionName },
        params: { min: 2, max: 200, latencyTargetMs: 200 },
        tableName: TABLE,
        metrics: { functionName, backlog: "AsyncEventAge" },
        ...overrides,
    });
    const deps = (owner: string): ControlLoopDependencies => ({
        dynamodb: db.client,
        cloudwatch: cloudwatchClient,
        actuator: new ConcurrencyActuator({ client: lambdaClient, sleep: async () => undefined }),
        clock: () => clock,
        owner,
        write: (line) => lines.push(line),
    });
    const store = () => new ControllerStore(db.client, TABLE, targetKey(config().target));
    const seed = (interval = 99) => writeCalls(store(), interval, healthyCalls(), clock);
    /** The function's reserved concurrency as the mocked Lambda holds it. */
    const reserved = () => settings.get(functionName) ?? 40;

    let testbed: ControllerTestbed;
    before(async () => ({ db, lambda, cloudwatch } = testbed = await startControllerTestbed([[TABLE, "pk", "sk"], [BUDGET, "pk"]])));
    after(() => testbed.stop());
    beforeEach(() => {
        clock = NOW;
        lines = [];
        functionName = `faulty-${++n}`;
        lambda.reset();
        cloudwatch.reset();
        // fresh clients: a restored injection leaves `send` as an own property bound to the mock's previous stub
        lambdaClient = new LambdaClient({});
        cloudwatchClient = new CloudWatchClient({});
        settings = mockLambdaSettings(lambda, 40);
        cloudwatch.on(GetMetricDataCommand).resolves(demandMetrics());
    });
    afterEach(() => faults.restore());

    describe("the lease (conditional UpdateItem)", () => {
        it("after (applied, response lost, retried): the claimer recognises its own claim and decides", async () => {
            await seed();
            inject(db.client, [{ command: isClaim, fault: "after", times: 1 }]);
            const outcome = await runControlInterval(config(), deps("a"));
            assert.ok(outcome.status === "decided" && outcome.decision.limit === 60);
            assert.equal(reserved(), 60);
            assert.equal((await runControlInterval(config(), deps("b"))).status, "not-leader", "still one decision per interval");
        });

        it("after, retries exhausted (throw): the interval is claimed but rejects; nobody changes the target this interval", async () => {
            await seed();
            inject(db.client, [{ command: isClaim, fault: "after", then: "throw", times: 1 }]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "InternalServerError" });
            assert.equal((await runControlInterval(config(), deps("b"))).status, "not-leader");
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
        });

        it("before / throttle: rejects with nothing claimed; another caller can decide the interval", async () => {
            await seed();
            inject(db.client, [
                { command: isClaim, fault: "before", times: 1 },
                { command: isClaim, fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 },
            ]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "ECONNRESET" });
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "ProvisionedThroughputExceededException" });
            assert.equal((await runControlInterval(config(), deps("b"))).status, "decided");
        });

        it("delay on every DynamoDB call: the interval is decided, just later", async () => {
            await seed();
            inject(db.client, [{ command: /Item|Query/, fault: "delay", delayMs: 20 }]);
            assert.equal((await runControlInterval(config(), deps("a"))).status, "decided");
        });
    });

    describe("the decision (fenced UpdateItem)", () => {
        const isDecision = (command: { input: unknown }) => /SET decision/.test(String((command.input as { UpdateExpression?: string }).UpdateExpression));

        it("after (applied, response lost, retried): the retry meets the same condition; the change is applied once", async () => {
            await seed();
            inject(db.client, [{ command: isDecision, fault: "after", times: 1 }]);
            assert.equal((await runControlInterval(config(), deps("a"))).status, "decided");
            assert.deepEqual([reserved(), lambda.commandCalls(PutFunctionConcurrencyCommand).length], [60, 1]);
        });

        it("throttle: rejects before anything is applied (the interval stays claimed)", async () => {
            await seed();
            inject(db.client, [{ command: isDecision, fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "ProvisionedThroughputExceededException" });
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
            assertThrottledIntervalReportedOnce();
        });
    });

    /** The throttled interval 100 was reported once: one ERROR line naming the throttle, one ControllerFailures. */
    function assertThrottledIntervalReportedOnce(): void {
        const { errors, metrics } = failureReports(lines);
        assert.deepEqual(
            errors.map((e) => [e.message, e.functionName, e.interval, e.change, (e.error as { name: string }).name]),
            [["control interval failed; the next interval reads the setting again", functionName, 100, undefined, "ProvisionedThroughputExceededException"]],
            "one ERROR line for the failed interval (no change was attempted)",
        );
        assert.deepEqual(metrics, [failureMetric(functionName)]);
    }

    describe("statistics (per-environment PutItem, Query per shard)", () => {
        const invoke = async () => {
            const scope = createInvocationScope(fakeLambdaContext(), { write: () => undefined });
            await scope.ctx.downstream("api", async () => "ok");
            await scope.finish();
        };

        it("after (applied, response lost, retried): the environment's totals are counted once (the write replaces)", async () => {
            inject(db.client, [{ command: "PutItemCommand", fault: "after" }]);
            const stop = registerControlStatistics(config({ statisticsFlushSeconds: 1 }), { ...deps("w"), environmentId: "env-1" });
            try {
                for (let i = 0; i < 3; i++) {
                    await invoke();
                    clock += 1000;
                }
            } finally {
                stop();
            }
            assert.equal((await store().readWindow(100)).calls, 3);
        });

        it("before / throttle: the observer's write fails (logged, the invocation unaffected) and the next flush carries the totals", async () => {
            inject(db.client, [
                { command: "PutItemCommand", fault: "before", times: 1 },
                { command: "PutItemCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 },
            ]);
            const stop = registerControlStatistics(config({ statisticsFlushSeconds: 1 }), { ...deps("w"), environmentId: "env-1" });
            try {
                for (let i = 0; i < 3; i++) {
                    await invoke();
                    clock += 1000;
                }
            } finally {
                stop();
            }
            assert.equal((await store().readWindow(100)).calls, 3, "the third flush wrote all three calls");
        });

        it("Query after (retried) reads the same sums; throttle rejects the interval before any change", async () => {
            await seed();
            inject(db.client, [{ command: "QueryCommand", fault: "after", times: 1 }]);
            assert.equal((await store().readWindow(99)).calls, 200);
            inject(db.client, [{ command: "QueryCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "ProvisionedThroughputExceededException" });
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
            assertThrottledIntervalReportedOnce();
        });
    });

    describe("the Lambda actuator", () => {
        it("PutFunctionConcurrency after (retried): the same absolute value is set twice; one decision", async () => {
            await seed();
            inject(lambdaClient, [{ command: "PutFunctionConcurrencyCommand", fault: "after", times: 1 }]);
            assert.equal((await runControlInterval(config(), deps("a"))).status, "decided");
            assert.deepEqual(lambda.commandCalls(PutFunctionConcurrencyCommand).map((c) => c.args[0].input.ReservedConcurrentExecutions), [60, 60]);
        });

        it("PutFunctionConcurrency after, retries exhausted (throw): the change landed, the interval rejects, the stored decision agrees with the setting", async () => {
            await seed();
            inject(lambdaClient, [{ command: "PutFunctionConcurrencyCommand", fault: "after", then: "throw", times: 1 }]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "InternalServerError" });
            assert.equal(reserved(), 60);
            assert.equal((await store().readControl(true)).decision?.limit, 60);
            const { errors, metrics } = failureReports(lines);
            // the line names the change that failed: from the setting in force to the decided limit, and why
            assert.deepEqual(
                errors.map((e) => [e.message, e.controller, e.target, e.functionName, e.interval, e.change, e.error]),
                [["control interval failed; the next interval reads the setting again", targetKey(config().target), config().target, functionName, 100, { from: 40, to: 60, reason: "demand" }, { name: "InternalServerError", message: "injected: PutFunctionConcurrencyCommand was applied but its response was lost" }]],
            );
            assert.deepEqual(metrics, [failureMetric(functionName)]);
        });

        it("PutFunctionConcurrency of the restore fails (before): a later leader took over during the change; the ERROR line names the restore as the change", async () => {
            await seed();
            // While interval 100's raise to 60 is applied, interval 101's leader claims and stores a cut to 30.
            const actuator = deps("a").actuator!;
            const takenOver: ConcurrencyActuatorPort = {
                read: (target) => actuator.read(target),
                apply: async (target, limit, alreadyRead) => {
                    const applied = await actuator.apply(target, limit, alreadyRead);
                    if (limit === 60) {
                        await store().claimInterval(101, "leader-101", clock);
                        await store().saveDecision(101, "leader-101", { limit: 30, reason: "errors" });
                    }
                    return applied;
                },
            };
            const isRestore = (command: { input: unknown }) => (command.input as { ReservedConcurrentExecutions?: number }).ReservedConcurrentExecutions === 30;
            inject(lambdaClient, [{ command: isRestore, fault: "before", times: 1 }]);
            await assert.rejects(runControlInterval(config(), { ...deps("a"), actuator: takenOver }), { name: "ECONNRESET" });
            assert.equal(reserved(), 60, "the restore did not land: the superseded change is in force until the next interval");
            const { errors, metrics } = failureReports(lines);
            // from the limit in force (this leader's change) to the later leader's stored limit: a superseded leader's restore
            assert.deepEqual(
                errors.map((e) => [e.message, e.interval, e.change, (e.error as { name: string }).name]),
                [["control interval failed; the next interval reads the setting again", 100, { from: 60, to: 30, reason: "superseded" }, "ECONNRESET"]],
            );
            assert.deepEqual(metrics, [failureMetric(functionName)]);
        });

        it("throttle on every API (TooManyRequestsException): retried with backoff, the change is applied", async () => {
            await seed();
            inject(lambdaClient, [
                { command: "GetFunctionConcurrencyCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 1 },
                { command: "GetAccountSettingsCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 2 },
                { command: "PutFunctionConcurrencyCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 2 },
            ]);
            assert.equal((await runControlInterval(config(), deps("a"))).status, "decided");
            assert.equal(reserved(), 60);
        });

        it("GetAccountSettings before: the raise is not attempted and the interval rejects", async () => {
            await seed();
            inject(lambdaClient, [{ command: "GetAccountSettingsCommand", fault: "before", times: 1 }]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "ECONNRESET" });
            assert.deepEqual([reserved(), lambda.commandCalls(PutFunctionConcurrencyCommand).length], [40, 0]);
        });

        it("UpdateEventSourceMapping after (retried) / throttle / delay: the mapping ends at the decided value", async () => {
            const target = { kind: "SqsMaximumConcurrency" as const, uuid: `esm-${n}` };
            const sqs = config({ target, params: { min: 2, max: 200, latencyTargetMs: 200 } });
            await writeCalls(new ControllerStore(db.client, TABLE, targetKey(target)), 99, healthyCalls(), clock);
            inject(lambdaClient, [
                { command: "UpdateEventSourceMappingCommand", fault: "after", times: 1 },
                { command: "UpdateEventSourceMappingCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 1 },
                { command: "UpdateEventSourceMappingCommand", fault: "delay", delayMs: 20 },
            ]);
            assert.equal((await runControlInterval(sqs, deps("a"))).status, "decided");
            assert.equal(settings.get(target.uuid), 60);
        });
    });

    describe("GetMetricData", () => {
        it("throttle: the interval rejects and the setting holds; after (retried) and delay read normally", async () => {
            await seed();
            inject(cloudwatchClient, [{ command: "GetMetricDataCommand", fault: "throttle", times: 1 }]);
            await assert.rejects(runControlInterval(config(), deps("a")), { name: "ThrottlingException" });
            assert.deepEqual([reserved(), lambda.commandCalls(PutFunctionConcurrencyCommand).length], [40, 0]);
            clock += MINUTE;
            await seed(100);
            inject(cloudwatchClient, [
                { command: "GetMetricDataCommand", fault: "after", times: 1 },
                { command: "GetMetricDataCommand", fault: "delay", delayMs: 20 },
            ]);
            assert.equal((await runControlInterval(config(), deps("a"))).status, "decided");
            assert.equal(reserved(), 60);
        });
    });

    describe("the shared control-plane budget (GetItem + conditional PutItem)", () => {
        it("all takers together never exceed 15 calls in any second; lost responses only over-count", async () => {
            let now = 0;
            const budget = () => new DynamoDbControlPlaneBudget({ client: db.client, tableName: BUDGET, requestsPerSecond: 10, clock: () => now, sleep: async (ms) => void (now += ms) });
            const takers = [budget(), budget()];
            inject(db.client, [{ command: "PutItemCommand", fault: "after", probability: 0.2 }]);
            const taken: number[] = [];
            for (let i = 0; i < 40; i++) {
                await takers[i % 2].take();
                taken.push(now);
            }
            const busiestSecond = Math.max(...taken.map((t) => taken.filter((u) => u >= t && u < t + 1000).length));
            assert.ok(busiestSecond <= 15, `${busiestSecond} calls in one second`);
            // 5 at once (the bucket), then 10 per second: 40 takes need at least 3.5 s
            assert.ok(now >= 3500, `40 tokens at 10/s took only ${now} ms`);
        });

        it("two takers in the millisecond of the last write, with one token left, get it once (refilledAt alone is unchanged by such a take)", async () => {
            await db.client.send(new DeleteItemCommand({ TableName: BUDGET, Key: { pk: { S: CONTROL_PLANE_BUDGET_KEY } } }));
            const now = 1_000_000;
            const budget = () => new DynamoDbControlPlaneBudget({ client: db.client, tableName: BUDGET, requestsPerSecond: 10, maxWaitMs: 0, clock: () => now, sleep: async () => undefined });
            for (let i = 0; i < 4; i++) await budget().take(); // the bucket of 5 holds one token, refilled at `now`
            // A slow write keeps both takes in flight together: both read before either writes.
            inject(db.client, [{ command: "PutItemCommand", fault: "delay", delayMs: 20, times: 1 }]);
            const outcomes = await Promise.allSettled([budget().take(), budget().take()]);
            assert.deepEqual(outcomes.map((o) => (o.status === "fulfilled" ? "granted" : (o.reason as Error).name)).sort(), ["ControlPlaneBudgetExhaustedError", "granted"]);
        });

        it("an item without tokens (written by hand) is taken from, not retried forever; a conflict past the deadline gives up", async () => {
            await db.client.send(new PutItemCommand({ TableName: BUDGET, Item: { pk: { S: CONTROL_PLANE_BUDGET_KEY }, refilledAt: { N: "0" } } }));
            let now = 10_000;
            const budget = new DynamoDbControlPlaneBudget({ client: db.client, tableName: BUDGET, requestsPerSecond: 10, maxWaitMs: 0, clock: () => now, sleep: async () => undefined });
            await budget.take();
            const after = await db.client.send(new GetItemCommand({ TableName: BUDGET, Key: { pk: { S: CONTROL_PLANE_BUDGET_KEY } }, ConsistentRead: true }));
            assert.deepEqual([after.Item?.tokens?.N, after.Item?.refilledAt?.N], ["4", "10000"], "a full bucket of 5, one taken");
            // Every write now loses to another taker; past the deadline the take gives up instead of spinning.
            inject(db.client, [{ command: "PutItemCommand", fault: "throttle", errorName: "ConditionalCheckFailedException" }]);
            now += 1;
            await assert.rejects(budget.take(), { name: "ControlPlaneBudgetExhaustedError" });
        });

        it("no token within maxWaitMs: ControlPlaneBudgetExhaustedError, the actuator sends nothing", async () => {
            await db.client.send(new DeleteItemCommand({ TableName: BUDGET, Key: { pk: { S: CONTROL_PLANE_BUDGET_KEY } } }));
            let now = 0;
            const budget = new DynamoDbControlPlaneBudget({ client: db.client, tableName: BUDGET, requestsPerSecond: 1, maxWaitMs: 100, clock: () => now, sleep: async (ms) => void (now += ms) });
            while (await budget.take().then(() => true, () => false)); // drain the bucket
            const actuator = new ConcurrencyActuator({ client: lambdaClient, budget, sleep: async () => undefined });
            await assert.rejects(actuator.read({ kind: "ReservedConcurrency", functionName }), { name: "ControlPlaneBudgetExhaustedError" });
            assert.equal(lambda.calls().length, 0);
        });
    });
});
