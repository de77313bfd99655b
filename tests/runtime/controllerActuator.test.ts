import { strict as assert } from "node:assert";
import {
    GetAccountSettingsCommand,
    GetEventSourceMappingCommand,
    GetFunctionConcurrencyCommand,
    InvalidParameterValueException,
    LambdaClient,
    PutFunctionConcurrencyCommand,
    TooManyRequestsException,
    UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { ConcurrencyActuator, ControlledTarget, LimitOutOfRangeError } from "../../runtime/controller";

const FUNCTION: ControlledTarget = { kind: "ReservedConcurrency", functionName: "orders-worker" };
const SQS: ControlledTarget = { kind: "SqsMaximumConcurrency", uuid: "sqs-mapping" };
const KINESIS: ControlledTarget = { kind: "KinesisParallelizationFactor", uuid: "kinesis-mapping" };

const throttled = (retryAfterSeconds?: string) =>
    new TooManyRequestsException({ $metadata: {}, message: "Rate exceeded", retryAfterSeconds, Reason: "CallerRateLimitExceeded" });

describe("ConcurrencyActuator (aws-sdk-client-mock)", () => {
    let lambda: AwsClientStub<LambdaClient>;
    let sleeps: number[];
    let actuator: ConcurrencyActuator;

    /** Every call sent, as [command, input]. */
    const calls = () => lambda.calls().map((c) => [c.args[0].constructor.name, c.args[0].input]);

    before(() => {
        lambda = mockClient(LambdaClient);
    });
    beforeEach(() => {
        lambda.reset();
        sleeps = [];
        actuator = new ConcurrencyActuator({ client: new LambdaClient({}), sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });
    });
    after(() => lambda.restore());

    describe("reserved concurrency", () => {
        beforeEach(() => {
            lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 40 });
            lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 500 } });
            lambda.on(PutFunctionConcurrencyCommand).callsFake((input) => input);
        });

        it("raises after checking the account's unreserved concurrency", async () => {
            assert.deepEqual(await actuator.apply(FUNCTION, 60), { previous: 40, applied: 60, changed: true, limitedBy: undefined });
            assert.deepEqual(calls(), [
                ["GetFunctionConcurrencyCommand", { FunctionName: "orders-worker" }],
                ["GetAccountSettingsCommand", {}],
                ["PutFunctionConcurrencyCommand", { FunctionName: "orders-worker", ReservedConcurrentExecutions: 60 }],
            ]);
        });

        it("lowers without reading the account settings", async () => {
            assert.equal((await actuator.apply(FUNCTION, 30)).applied, 30);
            assert.deepEqual(calls(), [
                ["GetFunctionConcurrencyCommand", { FunctionName: "orders-worker" }],
                ["PutFunctionConcurrencyCommand", { FunctionName: "orders-worker", ReservedConcurrentExecutions: 30 }],
            ]);
        });

        it("sends nothing when the value is already set", async () => {
            assert.deepEqual(await actuator.apply(FUNCTION, 40), { previous: 40, applied: 40, changed: false });
            assert.deepEqual(calls(), [["GetFunctionConcurrencyCommand", { FunctionName: "orders-worker" }]]);
        });

        it("raises only as far as keeps 100 executions unreserved", async () => {
            lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 120 } });
            assert.deepEqual(await actuator.apply(FUNCTION, 80), { previous: 40, applied: 60, changed: true, limitedBy: "unreserved-concurrency" });
            assert.deepEqual(lambda.commandCalls(PutFunctionConcurrencyCommand)[0].args[0].input, { FunctionName: "orders-worker", ReservedConcurrentExecutions: 60 });
        });

        it("refuses a raise when the account is at 100 unreserved, and never lowers instead", async () => {
            lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 90 } });
            assert.deepEqual(await actuator.apply(FUNCTION, 80), { previous: 40, applied: 40, changed: false, limitedBy: "unreserved-concurrency" });
            assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
        });

        it("counts a function without a reservation as drawing from the unreserved pool", async () => {
            lambda.on(GetFunctionConcurrencyCommand).resolves({});
            lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 150 } });
            assert.deepEqual(await actuator.apply(FUNCTION, 80), { previous: undefined, applied: 50, changed: true, limitedBy: "unreserved-concurrency" });
        });
    });

    describe("the unreserved-100 guard under concurrency and AWS refusals", () => {
        /** An account with `accountLimit` executions; functions' reservations; AWS's check optional. */
        const account = (accountLimit: number, reserved: Record<string, number>, enforce: boolean) => {
            const unreserved = () => accountLimit - Object.values(reserved).reduce((a, b) => a + b, 0);
            lambda.on(GetFunctionConcurrencyCommand).callsFake((input) => ({ ReservedConcurrentExecutions: reserved[input.FunctionName] }));
            lambda.on(GetAccountSettingsCommand).callsFake(async () => {
                await new Promise((resolve) => setImmediate(resolve));
                return { AccountLimit: { ConcurrentExecutions: accountLimit, UnreservedConcurrentExecutions: unreserved() } };
            });
            lambda.on(PutFunctionConcurrencyCommand).callsFake((input) => {
                const after = unreserved() + (reserved[input.FunctionName] ?? 0) - input.ReservedConcurrentExecutions;
                if (enforce && after < 100) {
                    throw new InvalidParameterValueException({
                        $metadata: {},
                        message: "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
                    });
                }
                reserved[input.FunctionName] = input.ReservedConcurrentExecutions;
                return input;
            });
            return unreserved;
        };
        const a: ControlledTarget = { kind: "ReservedConcurrency", functionName: "a" };
        const b: ControlledTarget = { kind: "ReservedConcurrency", functionName: "b" };

        it("two raises at once in one process never take the account under 100 unreserved (a fake that does not enforce)", async () => {
            const unreserved = account(230, { a: 40, b: 40 }, false);
            const other = new ConcurrencyActuator({ client: new LambdaClient({}) });
            const [first, second] = await Promise.all([actuator.apply(a, 80), other.apply(b, 80)]);
            assert.equal(unreserved(), 100, "150 unreserved left room for +50 in all");
            assert.deepEqual([first.applied, first.limitedBy, second.applied, second.limitedBy], [80, undefined, 50, "unreserved-concurrency"]);
        });

        it("AWS refuses a raise another process raced: re-reads, applies the highest allowed value, logs and counts it", async () => {
            const lines: string[] = [];
            const reserved = { a: 40, b: 40 };
            account(300, reserved, true);
            // what this actuator reads is stale: another process reserved 80 more for b in between
            lambda.on(GetAccountSettingsCommand).resolvesOnce({ AccountLimit: { UnreservedConcurrentExecutions: 220 } }).callsFake(() => ({ AccountLimit: { UnreservedConcurrentExecutions: 300 - reserved.a - reserved.b } }));
            reserved.b = 120;
            const guarded = new ConcurrencyActuator({ client: new LambdaClient({}), write: (line) => lines.push(line) });
            const result = await guarded.apply(a, 100);
            assert.deepEqual(result, { previous: 40, applied: 80, changed: true, limitedBy: "unreserved-concurrency", refusedByAws: true });
            assert.deepEqual(reserved, { a: 80, b: 120 }, "exactly 100 left unreserved");
            const logged = lines.map((l) => JSON.parse(l));
            const warning = logged.find((l) => l.message?.startsWith("AWS refused a reserved-concurrency raise"));
            assert.deepEqual([warning?.level, warning?.attempted, warning?.applied, warning?.held], ["WARN", 100, 80, false]);
            assert.deepEqual(logged.filter((l) => l._aws).map((l) => l.UnreservedFloorRefusals), [[1]]);
        });

        it("AWS refuses and nothing is left: holds the setting, never an error out of the interval", async () => {
            const lines: string[] = [];
            const reserved = { a: 40, b: 160 };
            account(300, reserved, true);
            lambda.on(GetAccountSettingsCommand).resolvesOnce({ AccountLimit: { UnreservedConcurrentExecutions: 200 } }).callsFake(() => ({ AccountLimit: { UnreservedConcurrentExecutions: 300 - reserved.a - reserved.b } }));
            const guarded = new ConcurrencyActuator({ client: new LambdaClient({}), write: (line) => lines.push(line) });
            assert.deepEqual(await guarded.apply(a, 80), { previous: 40, applied: 40, changed: false, limitedBy: "unreserved-concurrency", refusedByAws: true });
            assert.equal(reserved.a, 40);
            assert.equal(lines.map((l) => JSON.parse(l)).find((l) => l.level === "WARN")?.held, true);
        });

        it("another InvalidParameterValueException is not a floor refusal: rethrown", async () => {
            account(1000, { a: 40 }, false);
            lambda.on(PutFunctionConcurrencyCommand).rejects(new InvalidParameterValueException({ $metadata: {}, message: "Function not found" }));
            await assert.rejects(actuator.apply(a, 60), { name: "InvalidParameterValueException", message: "Function not found" });
        });
    });

    describe("event source mappings", () => {
        it("sets an SQS mapping's ScalingConfig.MaximumConcurrency", async () => {
            lambda.on(GetEventSourceMappingCommand).resolves({ UUID: "sqs-mapping", ScalingConfig: { MaximumConcurrency: 20 } });
            lambda.on(UpdateEventSourceMappingCommand).resolves({});
            assert.deepEqual(await actuator.apply(SQS, 30), { previous: 20, applied: 30, changed: true });
            assert.deepEqual(calls(), [
                ["GetEventSourceMappingCommand", { UUID: "sqs-mapping" }],
                ["UpdateEventSourceMappingCommand", { UUID: "sqs-mapping", ScalingConfig: { MaximumConcurrency: 30 } }],
            ]);
        });

        it("sets a Kinesis mapping's ParallelizationFactor", async () => {
            lambda.on(GetEventSourceMappingCommand).resolves({ UUID: "kinesis-mapping", ParallelizationFactor: 2 });
            lambda.on(UpdateEventSourceMappingCommand).resolves({});
            await actuator.apply(KINESIS, 4);
            assert.deepEqual(calls(), [
                ["GetEventSourceMappingCommand", { UUID: "kinesis-mapping" }],
                ["UpdateEventSourceMappingCommand", { UUID: "kinesis-mapping", ParallelizationFactor: 4 }],
            ]);
        });

        it("reads the current setting of each kind", async () => {
            lambda.on(GetEventSourceMappingCommand, { UUID: "sqs-mapping" }).resolves({ ScalingConfig: { MaximumConcurrency: 7 } });
            lambda.on(GetEventSourceMappingCommand, { UUID: "kinesis-mapping" }).resolves({ ParallelizationFactor: 3 });
            lambda.on(GetFunctionConcurrencyCommand).resolves({});
            assert.deepEqual([await actuator.read(SQS), await actuator.read(KINESIS), await actuator.read(FUNCTION)], [7, 3, undefined]);
        });

        const outOfRange: [ControlledTarget, number][] = [
            [SQS, 1],
            [SQS, 1001],
            [KINESIS, 0],
            [KINESIS, 11],
            [FUNCTION, 0],
            [FUNCTION, 2.5],
        ];
        for (const [target, limit] of outOfRange) {
            it(`rejects ${limit} for ${target.kind} before any call`, async () => {
                await assert.rejects(actuator.apply(target, limit), LimitOutOfRangeError);
                assert.equal(lambda.calls().length, 0);
            });
        }
    });

    describe("throttling", () => {
        beforeEach(() => {
            lambda.on(GetEventSourceMappingCommand).resolves({ ScalingConfig: { MaximumConcurrency: 20 } });
        });

        it("retries TooManyRequestsException with exponential backoff", async () => {
            lambda.on(UpdateEventSourceMappingCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({});
            assert.equal((await actuator.apply(SQS, 30)).changed, true);
            assert.equal(lambda.commandCalls(UpdateEventSourceMappingCommand).length, 3);
            assert.deepEqual(sleeps, [500, 1000]);
        });

        it("waits as long as Retry-After says", async () => {
            lambda.on(UpdateEventSourceMappingCommand).rejectsOnce(throttled("3")).resolves({});
            await actuator.apply(SQS, 30);
            assert.deepEqual(sleeps, [3000]);
        });

        it("caps a long Retry-After at 5 s: the caller would rather fail this interval than wait", async () => {
            lambda.on(UpdateEventSourceMappingCommand).rejectsOnce(throttled("60")).resolves({});
            await actuator.apply(SQS, 30);
            assert.deepEqual(sleeps, [5000]);
        });

        it("gives up after maxAttempts and rethrows the throttle", async () => {
            lambda.on(UpdateEventSourceMappingCommand).rejects(throttled());
            await assert.rejects(actuator.apply(SQS, 30), { name: "TooManyRequestsException" });
            assert.equal(lambda.commandCalls(UpdateEventSourceMappingCommand).length, 5);
            assert.deepEqual(sleeps, [500, 1000, 2000, 4000]);
        });

        it("does not retry other errors", async () => {
            lambda.on(UpdateEventSourceMappingCommand).rejects(new InvalidParameterValueException({ $metadata: {}, message: "bad" }));
            await assert.rejects(actuator.apply(SQS, 30), { name: "InvalidParameterValueException" });
            assert.equal(lambda.commandCalls(UpdateEventSourceMappingCommand).length, 1);
        });

        it("sends one control-plane call at a time across actuators in the process", async () => {
            const log: string[] = [];
            lambda.on(GetEventSourceMappingCommand).callsFake(async (input) => {
                log.push(`start ${input.UUID}`);
                await new Promise((resolve) => setImmediate(resolve));
                log.push(`end ${input.UUID}`);
                return { ScalingConfig: { MaximumConcurrency: 30 } };
            });
            const other = new ConcurrencyActuator({ client: new LambdaClient({}) });
            await Promise.all([actuator.read({ kind: "SqsMaximumConcurrency", uuid: "a" }), other.read({ kind: "SqsMaximumConcurrency", uuid: "b" })]);
            assert.deepEqual(log, ["start a", "end a", "start b", "end b"]);
        });
    });
});
