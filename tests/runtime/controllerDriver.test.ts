import { strict as assert } from "node:assert";
import { CloudWatchClient, GetMetricDataCommand, GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import {
    GetAccountSettingsCommand,
    GetEventSourceMappingCommand,
    GetFunctionConcurrencyCommand,
    InvalidParameterValueException,
    LambdaClient,
    ListEventSourceMappingsCommand,
    PutFunctionConcurrencyCommand,
    UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { createInvocationScope } from "../../runtime/context";
import { ControllerPauseStore } from "../../runtime/controller/pause";
import {
    activateAdaptiveConcurrency,
    ConcurrencyActuator,
    ControlledTarget,
    ControlLoopConfig,
    ControlLoopDependencies,
    controlConfigFromEnv,
    ControllerStore,
    createControllerHandler,
    histogramPercentile,
    metricQueries,
    readMetricSignals,
    readMetricSignalsBatch,
    registerControlStatistics,
    runControlIntervals,
    registerSelfTuning,
    SELF_TUNING_MIN_REMAINING_MS,
    runControlInterval,
    targetKey,
} from "../../runtime/controller";
import { ControllerTestbed, demandMetrics, failureMetric, failureReports, healthyCalls, startControllerTestbed, writeCalls } from "../helpers/controller";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { fakeLambdaContext } from "../helpers/lambdaContext";

const TABLE = "controller";

const MINUTE = 60_000;
/** 10:05:20 on some day: interval 100 of 60 s intervals is running, 99 just ended. */
const NOW = 100 * MINUTE + 20_000;

describe("control loop on dynalite with mocked Lambda and CloudWatch", () => {
    let lambda: AwsClientStub<LambdaClient>;
    let cloudwatch: AwsClientStub<CloudWatchClient>;
    let db: LocalDynamo;
    let lines: string[];
    let clock: number;
    let functionName: string;

    const config = (overrides: Partial<ControlLoopConfig> = {}): ControlLoopConfig => ({
        target: { kind: "ReservedConcurrency", functionName },
        params: { min: 2, max: 200, latencyTargetMs: 200 },
        tableName: TABLE,
        metrics: { functionName, backlog: "AsyncEventAge" },
        ...overrides,
    });
    const deps = (owner: string): ControlLoopDependencies => ({
        dynamodb: db.client,
        cloudwatch: new CloudWatchClient({}),
        actuator: new ConcurrencyActuator({ client: new LambdaClient({}), sleep: async () => undefined }),
        clock: () => clock,
        owner,
        write: (line) => lines.push(line),
    });
    const store = () => new ControllerStore(db.client, TABLE, targetKey(config().target));
    /** 200 calls of 100 ms (one failed) in the interval that ended. */
    const seedStatistics = (interval = 99) =>
        writeCalls(store(), interval, Array.from({ length: 200 }, (_, i) => ({ latencyMs: 100, ok: i > 0 })), clock);
    const decisions = () => lines.map((l) => JSON.parse(l)).filter((l) => l.message === "concurrency decision");

    let testbed: ControllerTestbed;
    before(async () => ({ db, lambda, cloudwatch } = testbed = await startControllerTestbed([[TABLE, "pk", "sk"]])));
    after(() => testbed.stop());
    let fn = 0;
    beforeEach(() => {
        lambda.reset();
        cloudwatch.reset();
        lines = [];
        clock = NOW;
        functionName = `worker-${++fn}`;
        lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 40 });
        lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 800 } });
        lambda.on(PutFunctionConcurrencyCommand).resolves({});
        // demand: throttles, all 40 in use, the async backlog growing
        cloudwatch.on(GetMetricDataCommand).resolves(demandMetrics());
    });

    it("applies one decision when two deciders run the same interval at once", async () => {
        await seedStatistics();
        const outcomes = await Promise.all([runControlInterval(config(), deps("a")), runControlInterval(config(), deps("b"))]);
        assert.deepEqual(outcomes.map((o) => o.status).sort(), ["decided", "not-leader"]);
        assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 1);
        assert.equal(decisions().length, 1);
    });

    it("makes exactly these API calls for a reserved-concurrency raise", async () => {
        await seedStatistics();
        const outcome = await runControlInterval(config(), deps("a"));
        assert.equal(outcome.status, "decided");
        // headroom: 200 × 0.95 / p90 (≈ 102 ms, the histogram bucket's middle) − 1 ≈ 0.86, so the step is capped at +50 %
        assert.deepEqual(outcome.status === "decided" && [outcome.previousLimit, outcome.decision.limit, outcome.decision.reason], [40, 60, "demand"]);
        assert.deepEqual(
            lambda.calls().map((c) => [c.args[0].constructor.name, c.args[0].input]),
            [
                // read once: the decision's read is the change's "previous" (the account shares 15 requests/s)
                ["GetFunctionConcurrencyCommand", { FunctionName: functionName }],
                ["GetAccountSettingsCommand", {}],
                ["PutFunctionConcurrencyCommand", { FunctionName: functionName, ReservedConcurrentExecutions: 60 }],
            ],
        );
        const input = cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input as GetMetricDataCommandInput;
        // the interval that ended (99), shifted back two minutes for late metrics
        assert.deepEqual([input.StartTime, input.EndTime], [new Date(97 * MINUTE), new Date(98 * MINUTE)]);
        assert.deepEqual(input.MetricDataQueries, metricQueries(config().metrics, 60, "t0_"));
    });

    it("logs the decision and emits the limit and the reason as metrics", async () => {
        await seedStatistics();
        await runControlInterval(config(), deps("a"));
        const [line] = decisions();
        assert.deepEqual([line.previousLimit, line.limit, line.reason, line.changed, line.dryRun, line.missing], [40, 60, "demand", true, false, []]);
        assert.equal(line.signals.errorRate, 0.005);
        const emf = lines.map((l) => JSON.parse(l)).filter((l) => l._aws);
        assert.deepEqual(emf.map((m) => [m.ConcurrencyLimit ?? m.ControllerDecisions, m.Reason, m.Worker]).sort(), [
            [[1], "demand", functionName],
            [[60], undefined, functionName],
        ]);
    });

    it("decides at most once per interval, and again in the next one with the stored baseline", async () => {
        await seedStatistics();
        const first = await runControlInterval(config({ params: { min: 2, max: 200 } }), deps("a"));
        assert.equal((await runControlInterval(config(), deps("a"))).status, "not-leader");
        clock += MINUTE;
        await seedStatistics(100);
        const second = await runControlInterval(config({ params: { min: 2, max: 200 } }), deps("b"));
        assert.ok(first.status === "decided" && second.status === "decided");
        assert.equal(second.decision.baselineLatencyMs, first.decision.baselineLatencyMs);
        assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 2);
    });

    it("paused by an operator: holds the interval, decides and stores nothing, logs and counts it", async () => {
        await seedStatistics();
        const pauses = new ControllerPauseStore(db.client, TABLE, targetKey(config().target));
        await pauses.pause({ pausedAt: NOW - MINUTE, pausedBy: "arn:aws:iam::123456789012:user/oncall", reason: "downstream maintenance" });
        const outcome = await runControlInterval(config(), deps("a"));
        assert.equal(outcome.status, "paused");
        assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
        assert.equal(decisions().length, 0);
        assert.equal((await store().readControl(true)).decision, undefined, "no decision stored while paused");
        const logged = lines.map((l) => JSON.parse(l));
        assert.ok(logged.some((l) => l.message === "controller paused" && l.reason === "downstream maintenance"));
        assert.deepEqual(logged.filter((l) => l._aws).map((m) => [m.ControllerPaused, m.Worker]), [[[1], functionName]]);
        await pauses.resume();
        clock += MINUTE;
        await seedStatistics(100);
        assert.equal((await runControlInterval(config(), deps("a"))).status, "decided", "resumed: the next interval decides");
    });

    it("hands the previous decision's learned state (baseline, pending change, knee, served limit) to the next decision", async () => {
        const states: unknown[] = [];
        const decide: ControlLoopDependencies["decide"] = (_params, state) => {
            states.push(state);
            return { limit: 40, reason: "hysteresis", baselineLatencyMs: 90, pendingChange: { fromLimit: 50, toLimit: 40, concurrency: 38, latencyMs: 120, samples: 200, windows: 1 }, knee: { limit: 45, windows: 3 }, servedLimit: 40 };
        };
        await seedStatistics();
        await runControlInterval(config(), { ...deps("a"), decide });
        clock += MINUTE;
        await seedStatistics(100);
        await runControlInterval(config(), { ...deps("a"), decide });
        assert.deepEqual(states[1], { limit: 40, baselineLatencyMs: 90, pendingChange: { fromLimit: 50, toLimit: 40, concurrency: 38, latencyMs: 120, samples: 200, windows: 1 }, knee: { limit: 45, windows: 3 }, servedLimit: 40 });
    });

    it("logs but changes nothing in dry run", async () => {
        await seedStatistics();
        const outcome = await runControlInterval(config({ dryRun: true }), deps("a"));
        assert.ok(outcome.status === "decided" && outcome.decision.limit === 60 && outcome.dryRun);
        assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
        assert.equal(decisions()[0].dryRun, true);
    });

    it("holds without statistics or concurrency metrics, and says what was missing", async () => {
        cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
        const outcome = await runControlInterval(config(), deps("a"));
        assert.ok(outcome.status === "decided" && outcome.decision.limit === 40 && outcome.decision.reason === "too-few-samples");
        assert.deepEqual(decisions()[0].missing, ["downstream statistics", "ConcurrentExecutions"]);
        assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
    });

    it("stores the limit the unreserved guard allowed, not the one decided", async () => {
        lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 110 } });
        await seedStatistics();
        const outcome = await runControlInterval(config(), deps("a"));
        assert.ok(outcome.status === "decided" && outcome.decision.limit === 50 && outcome.applied?.limitedBy === "unreserved-concurrency");
        assert.equal(decisions()[0].limitedBy, "unreserved-concurrency");
    });

    it("reports a failed change once (one ERROR line with the target, the change and the error, one ControllerFailures metric), rethrows it, and keeps the interval claimed", async () => {
        lambda.on(PutFunctionConcurrencyCommand).rejects(new InvalidParameterValueException({ $metadata: {}, message: "no" }));
        await seedStatistics();
        await assert.rejects(runControlInterval(config(), deps("a")), { name: "InvalidParameterValueException" });
        assert.deepEqual(failureReports(lines), {
            errors: [
                {
                    level: "ERROR",
                    message: "control interval failed; the next interval reads the setting again",
                    controller: targetKey(config().target),
                    target: { kind: "ReservedConcurrency", functionName },
                    functionName,
                    interval: 100,
                    change: { from: 40, to: 60, reason: "demand" },
                    error: { name: "InvalidParameterValueException", message: "no" },
                },
            ],
            metrics: [failureMetric(functionName)],
        });
        assert.equal((await runControlInterval(config(), deps("b"))).status, "not-leader");
    });

    it("drives a Kinesis parallelization factor, counting use per shard", async () => {
        const target = { kind: "KinesisParallelizationFactor" as const, uuid: `esm-${fn}` };
        lambda.on(GetEventSourceMappingCommand).resolves({ ParallelizationFactor: 2 });
        lambda.on(UpdateEventSourceMappingCommand).resolves({});
        cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: "t0_throttles", Values: [0] }, { Id: "t0_inUse", Values: [8] }, { Id: "t0_backlog", Values: [10, 900] }] });
        const kinesis = config({ target, params: { min: 1, max: 10, latencyTargetMs: 200 }, executionsPerUnit: 4, metrics: { functionName, backlog: "IteratorAge" } });
        await writeCalls(new ControllerStore(db.client, TABLE, targetKey(target)), 99, Array.from({ length: 50 }, () => ({ latencyMs: 100, ok: true })), clock);
        const outcome = await runControlInterval(kinesis, deps("a"));
        assert.ok(outcome.status === "decided" && outcome.decision.reason === "demand");
        assert.deepEqual(lambda.commandCalls(UpdateEventSourceMappingCommand)[0].args[0].input, { UUID: target.uuid, ParallelizationFactor: 3 });
    });

    it("the scheduled handler runs one interval per invocation", async () => {
        await seedStatistics();
        const handler = createControllerHandler(config(), deps("a"));
        assert.equal((await handler()).status, "decided");
        assert.equal((await handler()).status, "not-leader");
    });

    describe("workers", () => {
        const invoke = async (latencyMs: number, ok = true, remainingMs = 30_000) => {
            const scope = createInvocationScope({ ...fakeLambdaContext(), getRemainingTimeInMillis: () => remainingMs }, { write: () => undefined });
            clock += latencyMs;
            await scope.ctx.downstream("payments", async () => {
                if (!ok) throw new Error("down");
            }).catch(() => undefined);
            await scope.finish();
        };

        it("an environment writes its totals: its first calls at once, then once per flush period; a write replaces, never adds", async () => {
            const stop = registerControlStatistics(config(), deps("w"));
            const stored = async () => {
                const stats = await store().readWindow(100);
                return [stats.calls, stats.errors];
            };
            try {
                await invoke(5);
                assert.deepEqual(await stored(), [1, 0], "the environment's first calls are written at once");
                await invoke(5, false);
                assert.deepEqual(await stored(), [1, 0], "inside the flush period the calls stay in memory");
                clock += 10_000;
                await invoke(5);
                assert.deepEqual(await stored(), [3, 1], "after the flush period: the environment's totals");
            } finally {
                stop();
            }
        });

        it("an environment writes the totals of an interval that ended at its first invocation after it", async () => {
            const stop = registerControlStatistics(config(), deps("w"));
            try {
                await invoke(5);
                await invoke(5, false);
                clock += MINUTE;
                await invoke(5);
            } finally {
                stop();
            }
            const ended = await store().readWindow(100);
            assert.deepEqual([ended.calls, ended.errors], [2, 1]);
            assert.equal((await store().readWindow(101)).calls, 1, "the same flush carries the new interval's first call");
        });

        it("self-tune: the first invocation after an interval ends decides, once across environments", async () => {
            const stops = [registerSelfTuning(config(), deps("env-1")), registerSelfTuning(config(), deps("env-2"))];
            try {
                await seedStatistics();
                await invoke(5);
                await invoke(5);
            } finally {
                stops.forEach((stop) => stop());
            }
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 1);
            assert.equal(decisions().length, 1);
        });

        it("self-tune while paused: the lease winner holds, no change is made", async () => {
            await new ControllerPauseStore(db.client, TABLE, targetKey(config().target)).pause({ pausedAt: NOW - MINUTE, pausedBy: "oncall", reason: "incident 42", pinnedLimit: 40 });
            const stop = registerSelfTuning(config(), deps("env-1"));
            try {
                await seedStatistics();
                await invoke(5);
            } finally {
                stop();
            }
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0, "the pinned 40 is already in force");
            assert.equal(decisions().length, 0);
            assert.ok(lines.map((l) => JSON.parse(l)).some((l) => l.message === "controller paused" && l.pinnedLimit === 40 && l.setting === 40));
        });

        it("self-tune: 100 busy environments across the boundary make one claim write and no failed conditional write", async () => {
            const commands: string[] = [];
            const counted = (counts: string[]) => {
                const client = db.client;
                const send = client.send.bind(client);
                return Object.assign(Object.create(client), {
                    send: (command: { constructor: { name: string }; input: { ConditionExpression?: string } }, ...rest: never[]) => {
                        counts.push(command.input.ConditionExpression?.includes("#interval < :interval") ? "claim" : command.constructor.name);
                        return (send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
                    },
                });
            };
            await seedStatistics();
            clock = 100 * MINUTE; // the boundary: interval 99 just ended
            const stops = Array.from({ length: 100 }, (_, i) =>
                registerSelfTuning(config(), { ...deps(`env-${i}`), dynamodb: counted(commands), environmentId: `env-${i}`, random: () => i / 100 }),
            );
            try {
                // every invocation's end runs every environment's observer: all 100 are busy throughout
                for (; clock < 100 * MINUTE + 10_000; clock += 100) await invoke(0);
                assert.equal(commands.filter((c) => c === "claim").length, 0, "within the settle time (one flush period) nobody claims");
                for (; clock < 100 * MINUTE + 20_000; clock += 100) await invoke(0);
            } finally {
                stops.forEach((stop) => stop());
            }
            assert.equal(commands.filter((c) => c === "claim").length, 1, "one claim: the others looked first and saw it taken");
            assert.equal(commands.filter((c) => c === "GetItemCommand").length, 100 + 2, "one eventually consistent look per environment, plus the leader's pause check and its fence after applying");
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 1);
        });

        it("self-tune: an invocation close to its timeout leaves the decision to the next one", async () => {
            const stop = registerSelfTuning(config(), deps("env-1"));
            try {
                await seedStatistics();
                await invoke(5, true, SELF_TUNING_MIN_REMAINING_MS - 1);
                assert.equal(decisions().length, 0, "no decision with too little time left");
                await invoke(5, true, SELF_TUNING_MIN_REMAINING_MS);
            } finally {
                stop();
            }
            assert.equal(decisions().length, 1);
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 1);
        });

        describe("inside the worker, with what it cannot know at deploy time omitted", () => {
            let savedName: string | undefined;
            /** The worker's queue; one per test, so leases and statistics do not carry over. */
            let queueArn: string;
            const uuid = () => `uuid-of-${functionName}`;
            const ownQueue = () => ({ kind: "SqsMaximumConcurrency" as const, eventSourceArn: queueArn });
            const seedFor = (target: ControlledTarget) =>
                writeCalls(new ControllerStore(db.client, TABLE, targetKey(target)), 99, healthyCalls(), clock);

            beforeEach(() => {
                savedName = process.env.AWS_LAMBDA_FUNCTION_NAME;
                process.env.AWS_LAMBDA_FUNCTION_NAME = functionName;
                queueArn = `arn:aws:sqs:us-east-1:123456789012:${functionName}.fifo`;
                lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: uuid(), EventSourceArn: queueArn }] });
                lambda.on(GetEventSourceMappingCommand).resolves({ ScalingConfig: { MaximumConcurrency: 40 } });
                lambda.on(UpdateEventSourceMappingCommand).resolves({});
            });
            afterEach(() => {
                process.env.AWS_LAMBDA_FUNCTION_NAME = savedName;
                if (savedName === undefined) delete process.env.AWS_LAMBDA_FUNCTION_NAME;
            });

            it("self-tune without a function name: reads metrics of and changes the running function", async () => {
                const stop = registerSelfTuning(config({ target: { kind: "ReservedConcurrency" }, metrics: { backlog: "AsyncEventAge" } }), deps("env-1"));
                try {
                    await seedStatistics();
                    await invoke(5);
                } finally {
                    stop();
                }
                assert.deepEqual(lambda.commandCalls(PutFunctionConcurrencyCommand).map((c) => c.args[0].input), [
                    { FunctionName: functionName, ReservedConcurrentExecutions: 60 },
                ]);
                const queries = cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries ?? [];
                assert.deepEqual(queries[0].MetricStat?.Metric?.Dimensions, [{ Name: "FunctionName", Value: functionName }]);
            });

            it("self-tune an SQS mapping given by its queue: looks up the UUID, then updates that mapping", async () => {
                await seedFor(ownQueue());
                const stop = registerSelfTuning(config({ target: ownQueue() }), deps("env-1"));
                try {
                    await invoke(5);
                } finally {
                    stop();
                }
                assert.deepEqual(lambda.commandCalls(ListEventSourceMappingsCommand).map((c) => c.args[0].input), [
                    { FunctionName: functionName, EventSourceArn: queueArn, Marker: undefined },
                ]);
                assert.deepEqual(lambda.commandCalls(GetEventSourceMappingCommand)[0].args[0].input, { UUID: uuid() });
                assert.deepEqual(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input), [
                    { UUID: uuid(), ScalingConfig: { MaximumConcurrency: 60 } },
                ]);
            });

            it("controller mode: statistics of workers that only know the queue reach the controller that knows the UUID", async () => {
                const stop = registerControlStatistics(config({ target: ownQueue() }), deps("worker"));
                try {
                    await invoke(5);
                    await invoke(5, false);
                    clock += MINUTE;
                    await invoke(5);
                } finally {
                    stop();
                }
                const outcome = await runControlInterval(config({ target: { ...ownQueue(), uuid: uuid() } }), deps("controller"));
                assert.equal(outcome.status, "decided");
                assert.deepEqual([decisions()[0].signals.samples, decisions()[0].signals.errorRate], [2, 0.5]);
                assert.equal(lambda.commandCalls(ListEventSourceMappingsCommand).length, 0, "the workers never looked their mapping up");
            });

            it("activateAdaptiveConcurrency registers the side CONCURRENCY_CONTROL_MODE names", async () => {
                const env = (mode: string) => ({ CONCURRENCY_CONTROL_MODE: mode, CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config({ target: ownQueue() })) });
                const stopStatistics = activateAdaptiveConcurrency(env("Controller"), deps("env-1"));
                try {
                    await seedFor(ownQueue());
                    await invoke(5);
                } finally {
                    stopStatistics();
                }
                assert.deepEqual([decisions().length, lambda.calls().length], [0, 0], "Controller: statistics only");
                assert.equal((await new ControllerStore(db.client, TABLE, targetKey(ownQueue())).readWindow(100)).calls, 1);
                const stopTuning = activateAdaptiveConcurrency(env("SelfTuning"), deps("env-1"));
                try {
                    await invoke(5);
                } finally {
                    stopTuning();
                }
                assert.equal(lambda.commandCalls(UpdateEventSourceMappingCommand).length, 1, "SelfTuning: decides and applies");
            });

            it("activateAdaptiveConcurrency fails clearly on a bad environment", () => {
                const json = (overrides: Partial<ControlLoopConfig> | Record<string, unknown>) => JSON.stringify({ ...config(), ...overrides });
                const cases: [NodeJS.ProcessEnv, RegExp][] = [
                    [{ CONCURRENCY_CONTROL_CONFIG: json({}) }, /CONCURRENCY_CONTROL_MODE must be one of Controller, SelfTuning; received nothing/],
                    [{ CONCURRENCY_CONTROL_MODE: "Auto", CONCURRENCY_CONTROL_CONFIG: json({}) }, /received "Auto"/],
                    [{ CONCURRENCY_CONTROL_MODE: "SelfTuning" }, /CONCURRENCY_CONTROL_CONFIG is required/],
                    [{ CONCURRENCY_CONTROL_MODE: "SelfTuning", CONCURRENCY_CONTROL_CONFIG: "{target" }, /CONCURRENCY_CONTROL_CONFIG must be a JSON object; it does not parse/],
                    [{ CONCURRENCY_CONTROL_MODE: "SelfTuning", CONCURRENCY_CONTROL_CONFIG: json({ target: { kind: "Memory" } }) }, /target.kind must be one of ReservedConcurrency, SqsMaximumConcurrency, KinesisParallelizationFactor; received "Memory"/],
                    [{ CONCURRENCY_CONTROL_MODE: "Controller", CONCURRENCY_CONTROL_CONFIG: json({ target: { kind: "SqsMaximumConcurrency" } }) }, /SqsMaximumConcurrency target needs eventSourceArn or uuid/],
                ];
                for (const [env, message] of cases) assert.throws(() => activateAdaptiveConcurrency(env, deps("env-1")), message);
            });
        });
    });
});

describe("one controller, several targets: GetMetricData batched", () => {
    it("claims each target, reads all their signals in one GetMetricData call, decides each", async () => {
        const db = await startDynalite();
        const lambda = mockClient(LambdaClient);
        const cw = mockClient(CloudWatchClient);
        try {
            await db.createTable("multi", "pk", "sk");
            lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 40 });
            lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 800 } });
            lambda.on(PutFunctionConcurrencyCommand).resolves({});
            const names = ["orders", "payments", "ledger"];
            cw.on(GetMetricDataCommand).resolves({
                MetricDataResults: names.flatMap((_, i) => [
                    { Id: `t${i}_throttles`, Values: [i === 1 ? 0 : 25] },
                    { Id: `t${i}_inUse`, Values: [40] },
                    { Id: `t${i}_backlog`, Values: i === 1 ? [0, 0] : [1000, 4000] },
                ]),
            });
            const configs: ControlLoopConfig[] = names.map((name) => ({
                target: { kind: "ReservedConcurrency", functionName: name },
                params: { min: 2, max: 200, latencyTargetMs: 200 },
                tableName: "multi",
                metrics: { functionName: name, backlog: "AsyncEventAge" },
            }));
            for (const c of configs) await writeCalls(new ControllerStore(db.client, "multi", targetKey(c.target)), 99, healthyCalls(), NOW);
            const outcomes = await runControlIntervals(configs, {
                dynamodb: db.client,
                cloudwatch: new CloudWatchClient({}),
                actuator: new ConcurrencyActuator({ client: new LambdaClient({}), sleep: async () => undefined }),
                clock: () => NOW,
                write: () => undefined,
            });
            assert.deepEqual(outcomes.map((o) => o.status === "decided" && [o.decision.limit, o.decision.reason]), [[60, "demand"], [40, "no-demand"], [60, "demand"]]);
            assert.equal(cw.commandCalls(GetMetricDataCommand).length, 1);
            assert.deepEqual(cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.map((q) => q.Id), names.flatMap((_, i) => [`t${i}_throttles`, `t${i}_inUse`, `t${i}_backlog`]));
        } finally {
            lambda.restore();
            cw.restore();
            await db.stop();
        }
    });

    it("splits more than 500 queries over several calls", async () => {
        const cw = mockClient(CloudWatchClient);
        try {
            cw.on(GetMetricDataCommand).callsFake((input) => ({ MetricDataResults: (input.MetricDataQueries ?? []).map((q: { Id: string }) => ({ Id: q.Id, Values: [1] })) }));
            const sources = Array.from({ length: 200 }, (_, i) => ({ functionName: `f${i}`, backlog: "AsyncEventAge" as const }));
            const signals = await readMetricSignalsBatch(new CloudWatchClient({}), sources, { start: new Date(0), end: new Date(MINUTE) });
            assert.deepEqual(cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries?.length), [500, 100]);
            assert.ok(signals.every((s) => s.throttles === 1 && s.inUse === 1));
        } finally {
            cw.restore();
        }
    });
});

describe("controller statistics and metrics parsing", () => {
    it("reads percentiles from the latency histogram to within 2.5 %", async () => {
        const db = await startDynalite();
        try {
            await db.createTable("stats", "pk", "sk");
            const store = new ControllerStore(db.client, "stats", "t");
            await writeCalls(store, 1, Array.from({ length: 500 }, (_, i) => ({ latencyMs: i + 1, ok: true })), 0, "env-a");
            await writeCalls(store, 1, Array.from({ length: 500 }, (_, i) => ({ latencyMs: i + 501, ok: i % 10 !== 0 })), 0, "env-b");
            const stats = await store.readWindow(1);
            assert.deepEqual([stats.calls, stats.errors], [1000, 50]);
            for (const [p, exact] of [[0.5, 500], [0.9, 900], [0.99, 990]]) {
                assert.ok(Math.abs(histogramPercentile(stats.buckets, p) / exact - 1) <= 0.025, `p${p * 100}`);
            }
            assert.ok(Number.isNaN(histogramPercentile((await store.readWindow(2)).buckets, 0.9)));
        } finally {
            await db.stop();
        }
    });

    it("reads backlog age growth, SQS ages in seconds and every page of GetMetricData", async () => {
        const cw = mockClient(CloudWatchClient);
        try {
            cw.on(GetMetricDataCommand)
                .resolvesOnce({ MetricDataResults: [{ Id: "t0_throttles", Values: [2] }, { Id: "t0_backlog", Values: [30] }], NextToken: "next" })
                .resolvesOnce({ MetricDataResults: [{ Id: "t0_throttles", Values: [3] }, { Id: "t0_inUse", Values: [7, 9] }, { Id: "t0_backlog", Values: [45] }] });
            const window = { start: new Date(0), end: new Date(MINUTE) };
            const signals = await readMetricSignals(new CloudWatchClient({}), { functionName: "f", backlog: "SqsAgeOfOldestMessage", queueName: "q" }, window);
            assert.deepEqual(signals, { throttles: 5, inUse: 9, backlogAgeMs: 45_000, backlogGrowing: true });
            assert.equal(cw.commandCalls(GetMetricDataCommand)[1].args[0].input.NextToken, "next");
            assert.deepEqual(cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.[2], {
                Id: "t0_backlog",
                MetricStat: { Metric: { Namespace: "AWS/SQS", MetricName: "ApproximateAgeOfOldestMessage", Dimensions: [{ Name: "QueueName", Value: "q" }] }, Period: 60, Stat: "Maximum" },
            });
        } finally {
            cw.restore();
        }
    });

    it("reads the loop's configuration from the environment and names what is missing", () => {
        const config = { target: { kind: "SqsMaximumConcurrency", uuid: "u" }, params: { min: 2, max: 10 }, tableName: "t", metrics: { functionName: "f" } };
        assert.deepEqual(controlConfigFromEnv({ CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) }), config);
        assert.throws(() => controlConfigFromEnv({}), /CONCURRENCY_CONTROL_CONFIG is required/);
        assert.throws(
            () => controlConfigFromEnv({ CONCURRENCY_CONTROL_CONFIG: JSON.stringify({ tableName: "t" }) }),
            /\(3 problems\):\n- target must be an object with a kind; received nothing\n- params must be an object with min and max; received nothing\n- metrics must be an object; received nothing$/,
        );
    });
});
