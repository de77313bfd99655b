/**
 * The breaker's store and actuator under injected faults (tests/helpers/faults.ts): what each fault
 * does, as documented in runtime/breaker/store.ts and the README's "What happens when…" section.
 */
import { strict as assert } from "node:assert";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand, UpdateEventSourceMappingCommandInput } from "@aws-sdk/client-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { BreakerPolicy, CircuitBreaker } from "../../runtime/breaker";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { FaultInjection, injectFaults, THROTTLE_ERRORS } from "../helpers/faults";

const TABLE = "breaker-faults";
const UUID = "mapping-uuid";
const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";
const POLICY: Partial<BreakerPolicy> = { errorThreshold: 0.5, minRequests: 20, windowSeconds: 60, openSeconds: 30 };

describe("circuit breaker under injected faults (dynalite, mocked Lambda)", () => {
    let db: LocalDynamo;
    let lambda: AwsClientStub<LambdaClient>;
    let lambdaClient: LambdaClient;
    let faults: FaultInjection[];
    let clock: number;
    let id: string;
    let n = 0;
    let enabled: boolean;
    let updates: UpdateEventSourceMappingCommandInput[];

    const breaker = (flushSeconds = 0) =>
        new CircuitBreaker({ tableName: TABLE, id, mappingUuid: UUID, policy: POLICY, flushSeconds, dynamo: db.client, lambda: lambdaClient, now: () => clock, sleep: async () => undefined, write: () => undefined });
    const stored = async () => (await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: id } }, ConsistentRead: true }))).Item;
    const inject = (client: Parameters<typeof injectFaults>[0], rules: Parameters<typeof injectFaults>[1]) => {
        const injection = injectFaults(client, rules);
        faults.push(injection);
        return injection;
    };

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
        lambda = mockClient(LambdaClient);
    });
    after(async () => {
        lambda.restore();
        await db.stop();
    });
    beforeEach(() => {
        id = `breaker-${++n}`;
        clock = 1_000_020_000;
        faults = [];
        enabled = true;
        updates = [];
        lambda.reset();
        // a fresh client: a restored injection leaves `send` as an own property bound to the mock's previous stub
        lambdaClient = new LambdaClient({});
        lambda.on(GetEventSourceMappingCommand).callsFake(() => ({ UUID, State: enabled ? "Enabled" : "Disabled", BatchSize: 100, ParallelizationFactor: 2, EventSourceArn: STREAM }));
        lambda.on(UpdateEventSourceMappingCommand).callsFake((input: UpdateEventSourceMappingCommandInput) => {
            updates.push(input);
            enabled = input.Enabled ?? enabled;
            return {};
        });
    });
    afterEach(() => faults.reverse().forEach((f) => f.restore()));

    describe("window counts (UpdateItem ADD, and SET for a new window)", () => {
        it("after (applied, response lost, retried): counted twice, requests and errors alike, so the error rate is unchanged", async () => {
            const b = breaker();
            await b.record({ requests: 4, errors: 1 });
            inject(db.client, [{ command: "UpdateItemCommand", fault: "after", times: 1 }]);
            assert.equal(await b.record({ requests: 4, errors: 1 }), "closed");
            const item = await stored();
            assert.deepEqual([item?.windowRequests.N, item?.windowErrors.N], ["12", "3"], "4+1 once, then twice: the rate stays 25 %");
        });

        it("a new window's SET after (applied, response lost, retried): the retry fails its condition, the next attempt adds to that window: counted twice, the rate unchanged", async () => {
            const b = breaker();
            const startsWindow = (command: { input: unknown; constructor: { name: string } }) =>
                command.constructor.name === "UpdateItemCommand" && String((command.input as { UpdateExpression?: string }).UpdateExpression).startsWith("SET windowStart");
            const injection = inject(db.client, [{ command: startsWindow, fault: "after", times: 1 }]);
            assert.equal(await b.record({ requests: 4, errors: 1 }), "closed");
            assert.equal(injection.injected.length, 1, "the window was started by a SET whose response was lost");
            const item = await stored();
            assert.deepEqual([item?.windowRequests.N, item?.windowErrors.N], ["8", "2"], "4+1 twice: the rate stays 25 %");
        });

        it("before / throttle: the record rejects, nothing is counted, and the environment's next flush carries the counts", async () => {
            const b = breaker(5);
            await b.record({ requests: 1, errors: 0 }); // learns the state: closed
            clock += 5_000;
            inject(db.client, [{ command: "UpdateItemCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
            await assert.rejects(b.record({ requests: 10, errors: 9 }), { name: "ProvisionedThroughputExceededException" });
            assert.equal((await stored())?.windowRequests.N, "1");
            inject(db.client, [{ command: "UpdateItemCommand", fault: "before", times: 1 }]);
            clock += 5_000;
            await assert.rejects(b.record({ requests: 1, errors: 1 }), { name: "ECONNRESET" });
            clock += 5_000;
            await b.record({ requests: 10, errors: 10 });
            const item = await stored();
            assert.deepEqual([item?.windowRequests.N, item?.windowErrors.N, item?.state.S], ["22", "20", "open"], "nothing lost: 1 + 10 + 1 + 10 calls, the trip happens");
        });

        it("delay: counted once, the caller just waits", async () => {
            const b = breaker();
            inject(db.client, [{ command: "UpdateItemCommand", fault: "delay", delayMs: 30 }]);
            await b.record({ requests: 3, errors: 0 });
            await b.record({ requests: 3, errors: 0 });
            assert.equal((await stored())?.windowRequests.N, "6");
        });
    });

    describe("state writes (conditional PutItem)", () => {
        it("after (applied, response lost, retried): the writer recognises its own trip and disables the mapping once", async () => {
            const b = breaker();
            inject(db.client, [{ command: "PutItemCommand", fault: "after", times: 1 }]);
            assert.equal(await b.record({ requests: 20, errors: 20 }), "open");
            assert.deepEqual(updates, [{ UUID, Enabled: false, BatchSize: undefined, ParallelizationFactor: undefined }]);
            assert.equal((await stored())?.state.S, "open");
        });

        it("throttle: the trip rejects and the breaker stays closed; the next batch trips it", async () => {
            const b = breaker();
            inject(db.client, [{ command: "PutItemCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
            await assert.rejects(b.record({ requests: 20, errors: 20 }), { name: "ProvisionedThroughputExceededException" });
            assert.deepEqual([(await stored())?.state.S, updates.length], ["closed", 0]);
            assert.equal(await b.record({ requests: 1, errors: 1 }), "open");
            assert.equal(updates.length, 1);
        });
    });

    describe("the mapping (UpdateEventSourceMapping)", () => {
        it("throttle: retried with backoff, the mapping is disabled", async () => {
            inject(lambdaClient, [{ command: "UpdateEventSourceMappingCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 2 }]);
            assert.equal(await breaker().record({ requests: 20, errors: 20 }), "open");
            assert.equal(enabled, false);
        });

        it("throttle on the read before the update (GetEventSourceMapping): retried with backoff too, the mapping is disabled", async () => {
            inject(lambdaClient, [{ command: "GetEventSourceMappingCommand", fault: "throttle", errorName: THROTTLE_ERRORS.lambda, times: 2 }]);
            assert.equal(await breaker().record({ requests: 20, errors: 20 }), "open");
            assert.equal(enabled, false);
            assert.deepEqual(updates.map((u) => u.Enabled), [false]);
        });

        it("after (applied, response lost, retried): the update is sent twice with the same values (idempotent)", async () => {
            inject(lambdaClient, [{ command: "UpdateEventSourceMappingCommand", fault: "after", times: 1 }]);
            assert.equal(await breaker().record({ requests: 20, errors: 20 }), "open");
            assert.deepEqual(updates.map((u) => u.Enabled), [false, false]);
        });

        it("before: the trip is stored but the record rejects; the prober's next tick disables the mapping", async () => {
            const b = breaker();
            inject(lambdaClient, [{ command: "UpdateEventSourceMappingCommand", fault: "before", times: 1 }]);
            await assert.rejects(b.record({ requests: 20, errors: 20 }), { name: "ECONNRESET" });
            assert.deepEqual([(await stored())?.state.S, enabled], ["open", true]);
            assert.deepEqual(await b.tick(), { state: "open", action: "reconciled" });
            assert.equal(enabled, false);
        });
    });

    describe("the half-open enable (UpdateEventSourceMapping)", () => {
        const halfOpenWithFailedEnable = async () => {
            const b = breaker();
            assert.equal(await b.record({ requests: 20, errors: 20 }), "open");
            clock += 30_000;
            inject(lambdaClient, [{ command: "UpdateEventSourceMappingCommand", fault: "before", times: 1 }]);
            await assert.rejects(b.tick(), { name: "ECONNRESET" });
            assert.deepEqual([(await stored())?.state.S, enabled], ["halfOpen", false], "the state is stored, the mapping still disabled: no probe can run");
            return b;
        };

        it("before: the prober's next tick, once the transition's own retries are over, enables the mapping for the probe", async () => {
            const b = await halfOpenWithFailedEnable();
            clock += 10_000;
            assert.deepEqual(await b.tick(), { state: "halfOpen", action: "waiting" }, "within the grace: the transition's enable may still land");
            clock += 50_000; // the next scheduled run
            assert.deepEqual(await b.tick(), { state: "halfOpen", action: "probeResumed" });
            assert.deepEqual([enabled, updates.at(-1)], [true, { UUID, Enabled: true, BatchSize: 1, ParallelizationFactor: 1 }]);
            assert.deepEqual(await b.tick(), { state: "halfOpen", action: "waiting" }, "an enabled mapping is left alone");
        });

        it("a close that lands while the probe is resumed: the mapping ends with the trip's settings, not the probe's", async () => {
            const b = await halfOpenWithFailedEnable();
            clock += 60_000;
            const settings = { BatchSize: 100, ParallelizationFactor: 2 };
            lambda.on(GetEventSourceMappingCommand).callsFake(() => ({ UUID, State: enabled ? "Enabled" : "Disabled", ...settings, EventSourceArn: STREAM }));
            let closing = true;
            lambda.on(UpdateEventSourceMappingCommand).callsFake(async (input: UpdateEventSourceMappingCommandInput) => {
                if (closing && input.BatchSize === 1) {
                    closing = false; // before the resume's enable lands, three probe successes close the breaker and restore the mapping
                    for (let i = 0; i < 3; i++) await breaker().record({ requests: 1, errors: 0 });
                }
                updates.push(input);
                enabled = input.Enabled ?? enabled;
                Object.assign(settings, { BatchSize: input.BatchSize ?? settings.BatchSize, ParallelizationFactor: input.ParallelizationFactor ?? settings.ParallelizationFactor });
                return {};
            });
            assert.deepEqual(await b.tick(), { state: "closed", action: "reconciled" });
            assert.deepEqual(
                updates.slice(-3).map((u) => [u.Enabled, u.BatchSize, u.ParallelizationFactor]),
                [[true, 100, 2], [true, 1, 1], [true, 100, 2]],
                "the close's restore, the resume's late enable, then the trip's settings again",
            );
            assert.deepEqual([(await stored())?.state.S, settings], ["closed", { BatchSize: 100, ParallelizationFactor: 2 }]);
        });

        it("the state read after the resume throttles: the tick fails after the enable landed, and the next tick finds the probe running", async () => {
            const b = await halfOpenWithFailedEnable();
            clock += 60_000;
            let reads = 0;
            const secondRead = () => ++reads === 2; // the tick's own read, then the read after the enable
            inject(db.client, [{ command: (c) => c.constructor.name === "GetItemCommand" && secondRead(), fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb }]);
            await assert.rejects(b.tick(), { name: THROTTLE_ERRORS.dynamodb });
            assert.deepEqual([enabled, updates.at(-1)], [true, { UUID, Enabled: true, BatchSize: 1, ParallelizationFactor: 1 }]);
            assert.deepEqual(await b.tick(), { state: "halfOpen", action: "waiting" });
        });

        it("leaves a mapping that a close restored meanwhile as it is", async () => {
            const b = await halfOpenWithFailedEnable();
            enabled = true; // an operator's forced close restored it; this prober still reads half-open
            clock += 60_000;
            const sent = updates.length;
            assert.deepEqual(await b.tick(), { state: "halfOpen", action: "waiting" });
            assert.equal(updates.length, sent, "no update: the restored settings stand");
        });
    });

    describe("counts buffered per execution environment", () => {
        it("healthy traffic: one write per flush period, not per batch", async () => {
            const b = breaker(5);
            const writes = inject(db.client, [{ command: "UpdateItemCommand", fault: "delay", delayMs: 0 }]);
            for (let i = 0; i < 50; i++) {
                await b.record({ requests: 2, errors: 0 });
                clock += 200; // 50 batches in 10 s
            }
            assert.equal(writes.injected.length, 3, "the first batch (an ADD that finds no window, then its start) and one flush 5 s later; the next period has not ended");
            assert.equal((await stored())?.windowRequests.N, String(2 * 26));
        });

        it("a failing downstream trips within one flush period across environments, and at once when the known counts already cross", async () => {
            const envs = [breaker(5), breaker(5), breaker(5)];
            for (const env of envs) await env.record({ requests: 1, errors: 0 }); // each learns: closed
            const states: string[] = [];
            for (let i = 0; i < 4; i++) for (const env of envs) states.push(await env.record({ requests: 2, errors: 2 }));
            assert.ok(states.every((s) => s === "closed"), "24 failures stay in memory: each environment alone is under the floor");
            clock += 5_000;
            assert.equal(await envs[0].record({ requests: 1, errors: 1 }), "closed", "the first flush brings 9 failed calls in 12");
            assert.equal(await envs[1].record({ requests: 1, errors: 1 }), "open", "the second crosses 20 calls: trip, at most one flush period late");
        });
    });
});
