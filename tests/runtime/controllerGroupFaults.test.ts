/**
 * A controller group (`createControllerGroupHandler`, `runControlIntervals`) under injected faults
 * (tests/helpers/faults.ts): one target's failure — its claim, pause read, statistics or change — is that
 * target's "failed" outcome while the others decide and apply as if nothing happened (a slow one changes
 * nothing); a failed batched GetMetricData fails every target; the invocation then fails with a
 * ControllerGroupIntervalError naming the failed targets, and the next interval recovers. See the README's
 * "What happens when…" (Controller).
 */
import { strict as assert } from "node:assert";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { LambdaClient, PutFunctionConcurrencyCommand, UpdateEventSourceMappingCommand } from "@aws-sdk/client-lambda";
import { AwsClientStub } from "aws-sdk-client-mock";
import { PAUSE_SORT_KEY } from "../../runtime/controller/pause";
import {
    ConcurrencyActuator,
    ControlLoopConfig,
    ControlLoopDependencies,
    ControlOutcome,
    ControllerGroupIntervalError,
    ControllerStore,
    createControllerGroupHandler,
    targetKey,
} from "../../runtime/controller";
import { ControllerTestbed, demandMetrics, failureMetric, failureReports, faultInjections, healthyCalls, isClaim, mockLambdaSettings, startControllerTestbed, writeCalls } from "../helpers/controller";
import { LocalDynamo } from "../helpers/dynalite";
import { SdkCommand, THROTTLE_ERRORS } from "../helpers/faults";

const TABLE = "controller-group-faults";
const MINUTE = 60_000;
/** Interval 100 of 60 s intervals is running (past every target's offset), 99 just ended. */
const NOW = 100 * MINUTE + 20_000;
const FAILED = "control interval failed for this target; the group's other targets run on";

describe("controller group under injected faults (dynalite, mocked Lambda and CloudWatch)", () => {
    let db: LocalDynamo;
    let lambda: AwsClientStub<LambdaClient>;
    let cloudwatch: AwsClientStub<CloudWatchClient>;
    let lambdaClient: LambdaClient;
    let cloudwatchClient: CloudWatchClient;
    let settings: Map<string, number>;
    let clock: number;
    let lines: string[];
    let n = 0;
    const faults = faultInjections();

    /** Three targets: two functions' reserved concurrency and an SQS mapping's maximum concurrency. */
    const names = () => ({ orders: `orders-${n}`, payments: `payments-${n}`, ledger: `ledger-${n}`, mapping: `esm-${n}` });
    const target = (functionName: string, kind: ControlLoopConfig["target"]): ControlLoopConfig => ({
        target: kind,
        params: { min: 2, max: 200, latencyTargetMs: 200 },
        tableName: TABLE,
        metrics: { functionName, backlog: "AsyncEventAge" },
    });
    const configs = (): ControlLoopConfig[] => {
        const { orders, payments, ledger, mapping } = names();
        return [
            target(orders, { kind: "ReservedConcurrency", functionName: orders }),
            target(payments, { kind: "ReservedConcurrency", functionName: payments }),
            target(ledger, { kind: "SqsMaximumConcurrency", uuid: mapping }),
        ];
    };
    const [ORDERS, PAYMENTS, LEDGER] = [0, 1, 2];
    const keyOf = (i: number) => targetKey(configs()[i].target);
    const deps = (): ControlLoopDependencies => ({
        dynamodb: db.client,
        cloudwatch: cloudwatchClient,
        actuator: new ConcurrencyActuator({ client: lambdaClient, sleep: async () => undefined }),
        clock: () => clock,
        sleep: async (ms) => void (clock += ms),
        owner: "group",
        write: (line) => lines.push(line),
    });
    /** One invocation of the group's scheduled handler: every target's outcome, and what it threw. */
    const runGroup = async (): Promise<{ outcomes: readonly ControlOutcome[]; error?: ControllerGroupIntervalError }> => {
        try {
            return { outcomes: await createControllerGroupHandler(configs(), deps())() };
        } catch (error) {
            assert.ok(error instanceof ControllerGroupIntervalError, `a ControllerGroupIntervalError, got ${String(error)}`);
            return { outcomes: error.outcomes, error };
        }
    };
    const brief = (o: ControlOutcome) =>
        o.status === "decided" ? `${o.interval} decided ${o.previousLimit}→${o.decision.limit} ${o.decision.reason}` : o.status === "failed" ? `${o.interval} failed ${(o.error as Error).name}` : `${o.interval} ${o.status}`;
    /** Each target's setting as the mocked Lambda holds it. */
    const limits = () => {
        const { orders, payments, mapping } = names();
        return [orders, payments, mapping].map((id) => settings.get(id) ?? 40);
    };
    /** Each target's control item: [interval claimed, interval decided, stored limit]. */
    const stored = () =>
        Promise.all(
            configs().map(async (c) => {
                const control = await new ControllerStore(db.client, TABLE, targetKey(c.target)).readControl(true);
                return [control.interval, control.decidedInterval, control.decision?.limit];
            }),
        );
    const seed = async (interval: number) => {
        for (const c of configs()) await writeCalls(new ControllerStore(db.client, TABLE, targetKey(c.target)), interval, healthyCalls(), clock);
    };
    const logged = () => lines.map((l) => JSON.parse(l));
    /** The group's per-target failure lines: [controller key, function, interval, error]. */
    const failureLines = () => logged().filter((l) => l.message === FAILED).map((l) => [l.level, l.controller, l.functionName, l.interval, l.error.name]);
    const puts = () => lambda.commandCalls(PutFunctionConcurrencyCommand).map((c) => [c.args[0].input.FunctionName, c.args[0].input.ReservedConcurrentExecutions]);
    const updates = () => lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input.ScalingConfig?.MaximumConcurrency);
    /** Matches a DynamoDB command on target `i`'s control, pause or statistics items. */
    const onItemsOf = (i: number, name: string, sortKey?: string) => (command: SdkCommand) => {
        const input = command.input as { Key?: { pk?: { S?: string }; sk?: { S?: string } }; ExpressionAttributeValues?: Record<string, { S?: string }> };
        const pk = input.Key?.pk?.S ?? input.ExpressionAttributeValues?.[":pk"]?.S ?? "";
        return command.constructor.name === name && (pk === keyOf(i) || pk.startsWith(`${keyOf(i)}#`)) && (sortKey === undefined || input.Key?.sk?.S === sortKey);
    };
    const claimOf = (i: number) => (command: SdkCommand) => isClaim(command) && onItemsOf(i, "UpdateItemCommand")(command);

    let testbed: ControllerTestbed;
    before(async () => ({ db, lambda, cloudwatch } = testbed = await startControllerTestbed([[TABLE, "pk", "sk"]])));
    after(() => testbed.stop());
    beforeEach(async () => {
        n++;
        clock = NOW;
        lines = [];
        lambda.reset();
        cloudwatch.reset();
        // fresh clients: a restored injection leaves `send` as an own property bound to the mock's previous stub
        lambdaClient = new LambdaClient({});
        cloudwatchClient = new CloudWatchClient({});
        settings = mockLambdaSettings(lambda, 40);
        cloudwatch.on(GetMetricDataCommand).resolves(demandMetrics(3));
        await seed(99);
    });
    afterEach(() => faults.restore());

    describe("one target's change (the Lambda actuator)", () => {
        it("PutFunctionConcurrency fails before it is sent: that target fails, the others apply; the invocation fails naming it; the next interval recovers", async () => {
            faults.inject(lambdaClient, [{ command: (c) => c.constructor.name === "PutFunctionConcurrencyCommand" && (c.input as { FunctionName?: string }).FunctionName === names().payments, fault: "before", times: 1 }]);
            const { outcomes, error } = await runGroup();
            assert.deepEqual(outcomes.map(brief), ["100 decided 40→60 demand", "100 failed ECONNRESET", "100 decided 40→60 demand"]);
            assert.deepEqual(limits(), [60, 40, 60]);
            assert.deepEqual([puts(), updates()], [[[names().orders, 60]], [60]]);
            // decisions are stored before they are applied (the fence): payments' 60 is stored, its setting is still 40
            assert.deepEqual(await stored(), [[100, 100, 60], [100, 100, 60], [100, 100, 60]]);
            assert.equal(error?.message, `control interval failed for 1 of 3 targets: ${names().payments} (ECONNRESET: injected: PutFunctionConcurrencyCommand failed before it was sent); the other targets ran`);
            assert.deepEqual(error?.failures.map((f) => [f.functionName, f.target, f.interval, (f.error as Error).name]), [[names().payments, keyOf(PAYMENTS), 100, "ECONNRESET"]]);
            // exactly one ERROR line for the failed target, and its ControllerFailures metric
            assert.deepEqual(failureReports(lines), {
                errors: [
                    {
                        level: "ERROR",
                        message: FAILED,
                        controller: keyOf(PAYMENTS),
                        target: { kind: "ReservedConcurrency", functionName: names().payments },
                        functionName: names().payments,
                        interval: 100,
                        change: { from: 40, to: 60, reason: "demand" },
                        error: { name: "ECONNRESET", message: "injected: PutFunctionConcurrencyCommand failed before it was sent" },
                    },
                ],
                metrics: [failureMetric(names().payments)],
            });

            clock += MINUTE;
            await seed(100);
            const next = await runGroup();
            assert.equal(next.error, undefined, "nothing failed: the handler returns the outcomes");
            // payments starts again from its setting (40), not from the decision that never took effect
            assert.deepEqual(next.outcomes.map(brief), ["101 decided 60→60 underused", "101 decided 40→60 demand", "101 decided 60→60 underused"]);
            assert.deepEqual(limits(), [60, 60, 60]);
        });

        it("PutFunctionConcurrency applied, its response lost and every retry failed: applied once, stored and set agree; the next interval starts from 60 like the others", async () => {
            faults.inject(lambdaClient, [{ command: (c) => c.constructor.name === "PutFunctionConcurrencyCommand" && (c.input as { FunctionName?: string }).FunctionName === names().payments, fault: "after", then: "throw", times: 1 }]);
            const { outcomes, error } = await runGroup();
            assert.deepEqual(outcomes.map(brief), ["100 decided 40→60 demand", "100 failed InternalServerError", "100 decided 40→60 demand"]);
            assert.deepEqual(limits(), [60, 60, 60]);
            assert.deepEqual(puts(), [[names().orders, 60], [names().payments, 60]], "applied once: the actuator does not retry a lost response");
            assert.deepEqual(await stored(), [[100, 100, 60], [100, 100, 60], [100, 100, 60]]);
            assert.deepEqual(error?.failures.map((f) => f.functionName), [names().payments]);

            clock += MINUTE;
            await seed(100);
            const next = await runGroup();
            assert.deepEqual(next.outcomes.map(brief), ["101 decided 60→60 underused", "101 decided 60→60 underused", "101 decided 60→60 underused"]);
            assert.deepEqual(puts(), [[names().orders, 60], [names().payments, 60]], "nothing applied twice");
            assert.deepEqual(await stored(), [[101, 101, 60], [101, 101, 60], [101, 101, 60]]);
        });

        it("an SQS mapping's update throttled past the actuator's 5 attempts: that target fails, the others apply; throttled twice, the next interval applies it", async () => {
            const throttled = faults.inject(lambdaClient, [{ command: "UpdateEventSourceMappingCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 5 }]);
            const { outcomes, error } = await runGroup();
            assert.deepEqual(outcomes.map(brief), ["100 decided 40→60 demand", "100 decided 40→60 demand", "100 failed TooManyRequestsException"]);
            assert.equal(throttled.injected.length, 5);
            assert.deepEqual(limits(), [60, 60, 40]);
            assert.deepEqual(error?.failures.map((f) => [f.functionName, f.target]), [[names().ledger, keyOf(LEDGER)]]);
            assert.deepEqual(failureLines(), [["ERROR", keyOf(LEDGER), names().ledger, 100, "TooManyRequestsException"]]);
            assert.equal(failureReports(lines).errors.length, 1, "one ERROR line in all");
            assert.deepEqual(failureReports(lines).metrics, [failureMetric(names().ledger)]);

            clock += MINUTE;
            await seed(100);
            faults.inject(lambdaClient, [{ command: "UpdateEventSourceMappingCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 2 }]);
            const next = await runGroup();
            assert.deepEqual(next.outcomes.map(brief), ["101 decided 60→60 underused", "101 decided 60→60 underused", "101 decided 40→60 demand"]);
            assert.deepEqual(limits(), [60, 60, 60]);
        });
    });

    describe("one target's DynamoDB state", () => {
        it("its claim fails before it is sent, then throttles: nothing is claimed for it and the others decide; a later run in the interval decides it alone", async () => {
            faults.inject(db.client, [
                { command: claimOf(PAYMENTS), fault: "before", times: 1 },
                { command: claimOf(PAYMENTS), fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 },
            ]);
            const first = await runGroup();
            assert.deepEqual(first.outcomes.map(brief), ["100 decided 40→60 demand", "100 failed ECONNRESET", "100 decided 40→60 demand"]);
            assert.deepEqual(limits(), [60, 40, 60]);
            assert.deepEqual(await stored(), [[100, 100, 60], [0, undefined, undefined], [100, 100, 60]]);
            assert.deepEqual(first.error?.failures.map((f) => f.functionName), [names().payments]);

            const second = await runGroup();
            assert.deepEqual(second.outcomes.map(brief), ["100 not-leader", "100 failed ProvisionedThroughputExceededException", "100 not-leader"]);
            const third = await runGroup();
            assert.equal(third.error, undefined);
            assert.deepEqual(third.outcomes.map(brief), ["100 not-leader", "100 decided 40→60 demand", "100 not-leader"]);
            assert.deepEqual(limits(), [60, 60, 60]);
            assert.deepEqual(failureLines(), [
                ["ERROR", keyOf(PAYMENTS), names().payments, 100, "ECONNRESET"],
                ["ERROR", keyOf(PAYMENTS), names().payments, 100, "ProvisionedThroughputExceededException"],
            ]);
        });

        it("its claim is written but every retry's response is lost: it fails and stays claimed, so nobody changes it this interval", async () => {
            faults.inject(db.client, [{ command: claimOf(PAYMENTS), fault: "after", then: "throw", times: 1 }]);
            const first = await runGroup();
            assert.deepEqual(first.outcomes.map(brief), ["100 decided 40→60 demand", "100 failed InternalServerError", "100 decided 40→60 demand"]);
            const second = await runGroup();
            assert.deepEqual(second.outcomes.map(brief), ["100 not-leader", "100 not-leader", "100 not-leader"]);
            assert.deepEqual(limits(), [60, 40, 60]);
            assert.deepEqual(await stored(), [[100, 100, 60], [100, undefined, undefined], [100, 100, 60]]);
        });

        it("its pause item or its statistics cannot be read: those targets fail holding their settings, the third applies; the error names both", async () => {
            faults.inject(db.client, [
                { command: onItemsOf(PAYMENTS, "GetItemCommand", PAUSE_SORT_KEY), fault: "before", times: 1 },
                { command: onItemsOf(LEDGER, "QueryCommand"), fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 },
            ]);
            const { outcomes, error } = await runGroup();
            assert.deepEqual(outcomes.map(brief), ["100 decided 40→60 demand", "100 failed ECONNRESET", "100 failed ProvisionedThroughputExceededException"]);
            assert.deepEqual(limits(), [60, 40, 40]);
            assert.deepEqual([puts(), updates()], [[[names().orders, 60]], []]);
            assert.deepEqual(await stored(), [[100, 100, 60], [100, undefined, undefined], [100, undefined, undefined]]);
            assert.equal(
                error?.message,
                `control interval failed for 2 of 3 targets: ${names().payments} (ECONNRESET: injected: GetItemCommand failed before it was sent), ` +
                    `${names().ledger} (ProvisionedThroughputExceededException: injected: QueryCommand throttled); the other targets ran`,
            );
            assert.deepEqual(failureLines(), [
                ["ERROR", keyOf(PAYMENTS), names().payments, 100, "ECONNRESET"],
                ["ERROR", keyOf(LEDGER), names().ledger, 100, "ProvisionedThroughputExceededException"],
            ]);
        });
    });

    describe("a slow target", () => {
        it("every DynamoDB call of one target delayed: every target decides as without the delay", async () => {
            const delayed = faults.inject(db.client, [{ command: (c) => onItemsOf(PAYMENTS, c.constructor.name)(c), fault: "delay", delayMs: 20 }]);
            const { outcomes, error } = await runGroup();
            assert.equal(error, undefined);
            // its claim, pause read, statistics (a Query per shard), decision and the re-read of the lease after applying
            assert.deepEqual(delayed.injected.map((f) => f.command), ["UpdateItemCommand", "GetItemCommand", ...Array(4).fill("QueryCommand"), "UpdateItemCommand", "GetItemCommand"]);
            assert.deepEqual(outcomes.map(brief), ["100 decided 40→60 demand", "100 decided 40→60 demand", "100 decided 40→60 demand"]);
            assert.deepEqual(limits(), [60, 60, 60]);
            assert.deepEqual(await stored(), [[100, 100, 60], [100, 100, 60], [100, 100, 60]]);
        });
    });

    describe("the batched GetMetricData (the one read the targets share)", () => {
        it("throttled, then failing before it is sent: every target fails with its error and every setting holds; the next interval decides all", async () => {
            const throttled = faults.inject(cloudwatchClient, [{ command: "GetMetricDataCommand", fault: "throttle", times: 1 }]);
            const first = await runGroup();
            assert.deepEqual(first.outcomes.map(brief), ["100 failed ThrottlingException", "100 failed ThrottlingException", "100 failed ThrottlingException"]);
            assert.equal(throttled.injected.length, 1, "one call for all targets");
            assert.equal(first.error?.message, `control interval failed for 3 of 3 targets: ${[names().orders, names().payments, names().ledger].map((f) => `${f} (ThrottlingException: injected: GetMetricDataCommand throttled)`).join(", ")}; the other targets ran`);
            assert.deepEqual(limits(), [40, 40, 40]);
            assert.deepEqual([puts(), updates()], [[], []]);
            assert.deepEqual(await stored(), [[100, undefined, undefined], [100, undefined, undefined], [100, undefined, undefined]]);
            assert.deepEqual(failureLines().map((l) => l[1]), [keyOf(ORDERS), keyOf(PAYMENTS), keyOf(LEDGER)]);
            assert.equal(failureReports(lines).errors.length, 3, "one ERROR line per target");
            assert.deepEqual(failureReports(lines).metrics, [names().orders, names().payments, names().ledger].map(failureMetric), "one ControllerFailures per target, on its own Worker");

            clock += MINUTE;
            await seed(100);
            faults.inject(cloudwatchClient, [{ command: "GetMetricDataCommand", fault: "before", times: 1 }]);
            const second = await runGroup();
            assert.deepEqual(second.outcomes.map(brief), ["101 failed ECONNRESET", "101 failed ECONNRESET", "101 failed ECONNRESET"]);
            assert.deepEqual(limits(), [40, 40, 40]);

            clock += MINUTE;
            await seed(101);
            const third = await runGroup();
            assert.equal(third.error, undefined);
            assert.deepEqual(third.outcomes.map(brief), ["102 decided 40→60 demand", "102 decided 40→60 demand", "102 decided 40→60 demand"]);
            assert.deepEqual(limits(), [60, 60, 60]);
            assert.equal(cloudwatch.commandCalls(GetMetricDataCommand).length, 1, "the faults sent nothing; the recovery one call");
        });
    });
});
