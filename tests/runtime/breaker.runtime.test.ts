import { strict as assert } from "node:assert";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
    DeleteEventSourceMappingCommand,
    GetEventSourceMappingCommand,
    LambdaClient,
    PutFunctionConcurrencyCommand,
    ResourceInUseException,
    ServiceException,
    UpdateEventSourceMappingCommand,
    UpdateEventSourceMappingCommandInput,
} from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import {
    BreakerPolicy,
    breakerFromEnv,
    breakerObserver,
    CircuitBreaker,
    createProberHandler,
    EventSourceMappingActuator,
} from "../../runtime/breaker";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";

const TABLE = "breakers";
const UUID = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE";
const KINESIS = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";
const SQS = "arn:aws:sqs:us-east-1:123456789012:orders.fifo";
const POLICY: Partial<BreakerPolicy> = { errorThreshold: 0.5, minRequests: 20, windowSeconds: 60, openSeconds: 30, maxOpenSeconds: 900, successThreshold: 3 };

/** An event source mapping behind a mocked Lambda API; updates move it to Enabling/Disabling. */
class FakeMapping {
    mapping: { State: string; BatchSize: number; ParallelizationFactor?: number; EventSourceArn: string };
    readonly updates: UpdateEventSourceMappingCommandInput[] = [];
    readonly failures: Error[] = [];
    readonly lambda = mockClient(LambdaClient);

    constructor(source: string, batchSize: number, parallelizationFactor?: number) {
        this.mapping = { State: "Enabled", BatchSize: batchSize, ParallelizationFactor: parallelizationFactor, EventSourceArn: source };
        this.lambda.on(GetEventSourceMappingCommand).callsFake(() => ({ UUID, ...this.mapping }));
        this.lambda.on(UpdateEventSourceMappingCommand).callsFake((input: UpdateEventSourceMappingCommandInput) => {
            const failure = this.failures.shift();
            if (failure) throw failure;
            this.updates.push(input);
            this.mapping = {
                ...this.mapping,
                State: input.Enabled ? "Enabling" : "Disabling",
                BatchSize: input.BatchSize ?? this.mapping.BatchSize,
                ParallelizationFactor: input.ParallelizationFactor ?? this.mapping.ParallelizationFactor,
            };
            return { UUID, ...this.mapping };
        });
    }

    /** Lambda finishes the state change. */
    settle(): void {
        this.mapping.State = this.mapping.State.replace("ing", "ed");
    }

    forbiddenCalls(): number {
        return this.lambda.commandCalls(DeleteEventSourceMappingCommand).length + this.lambda.commandCalls(PutFunctionConcurrencyCommand).length;
    }
}

describe("CircuitBreaker on dynalite with a mocked Lambda API", () => {
    let db: LocalDynamo;
    let esm: FakeMapping;
    let clock: number;
    let lines: string[];
    let breakerId = 0;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());
    beforeEach(() => {
        clock = 1_000_020_000; // 20 s into a 60 s window
        lines = [];
        breakerId++;
    });
    afterEach(() => {
        assert.equal(esm.forbiddenCalls(), 0, "the mapping is never deleted and reserved concurrency never set");
        esm.lambda.restore();
    });

    const breaker = (policy: Partial<BreakerPolicy> = POLICY) =>
        new CircuitBreaker({
            tableName: TABLE,
            id: `breaker-${breakerId}`,
            mappingUuid: UUID,
            policy,
            probeLeaseSeconds: 120,
            dynamo: db.client,
            now: () => clock,
            sleep: async () => undefined,
            write: (line) => lines.push(line),
        });
    const stored = async () => {
        const { Item } = await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: `breaker-${breakerId}` } }, ConsistentRead: true }));
        return Item;
    };
    const trip = async (b: CircuitBreaker) => {
        assert.equal(await b.record({ requests: 20, errors: 20 }), "open");
        esm.settle();
    };
    const toHalfOpen = async (b: CircuitBreaker) => {
        await trip(b);
        clock += 30_000;
        assert.equal((await b.tick()).action, "halfOpened");
        esm.settle();
    };

    it("does not trip below the volume floor, even when every call fails", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        for (let i = 0; i < 19; i++) assert.equal(await b.record({ requests: 1, errors: 1 }), "closed");
        assert.deepEqual(esm.updates, []);
        assert.equal(await b.record({ requests: 1, errors: 1 }), "open", "the 20th call reaches the floor");
    });

    it("does not trip below the threshold, and counts each window separately", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        assert.equal(await b.record({ requests: 40, errors: 19 }), "closed");
        clock += 60_000;
        assert.equal(await b.record({ requests: 15, errors: 15 }), "closed", "a new window starts from zero");
        assert.deepEqual(esm.updates, []);
    });

    it("trips on the error rate: disables the mapping (never deletes it) and records the original settings", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        await trip(breaker());
        assert.deepEqual(esm.updates, [{ UUID, Enabled: false, BatchSize: undefined, ParallelizationFactor: undefined }]);
        assert.equal(esm.mapping.State, "Disabled");
        const item = await stored();
        assert.equal(item?.state.S, "open");
        assert.deepEqual(item?.original.M, { batchSize: { N: "500" }, parallelizationFactor: { N: "4" } });
    });

    it("makes one transition and one update when concurrent workers cross the threshold", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        const states = await Promise.all(Array.from({ length: 12 }, () => b.record({ requests: 5, errors: 5 })));
        assert.ok(states.includes("open"));
        assert.equal(esm.updates.length, 1);
        assert.equal(lines.filter((l) => l.includes("circuit breaker transition")).length, 1);
    });

    it("reports open to in-flight invocations without counting them", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        await trip(b);
        assert.equal(await b.record({ requests: 3, errors: 0 }), "open");
        assert.equal(await b.state(), "open");
        assert.equal(esm.updates.length, 1);
    });

    it("skips the update when the mapping is already disabled or disabling (idempotent)", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        esm.mapping.State = "Disabling";
        await breaker().record({ requests: 20, errors: 20 });
        assert.deepEqual(esm.updates, []);
    });

    it("runs one probe at a time under concurrent probers: one half-open transition, one update", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        await trip(b);
        assert.deepEqual(await b.tick(), { state: "open", action: "reconciled" }, "before the open time ends");
        clock += 30_000;
        const reports = await Promise.all(Array.from({ length: 8 }, () => breaker().tick()));
        assert.equal(reports.filter((r) => r.action === "halfOpened").length, 1);
        assert.ok(reports.every((r) => r.state === "halfOpen"));
        assert.deepEqual(esm.updates.slice(1), [{ UUID, Enabled: true, BatchSize: 1, ParallelizationFactor: 1 }]);
        esm.settle();
        assert.deepEqual(await b.tick(), { state: "halfOpen", action: "waiting" }, "the probe's lease is held");
        assert.equal(esm.updates.length, 2);
    });

    it("while open, the prober disables a mapping that was enabled behind its back", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        await trip(b);
        esm.mapping.State = "Enabled";
        assert.deepEqual(await b.tick(), { state: "open", action: "reconciled" });
        assert.deepEqual(esm.updates.at(-1), { UUID, Enabled: false, BatchSize: undefined, ParallelizationFactor: undefined });
    });

    it("probes an SQS mapping with batch size 1 and no parallelization factor", async () => {
        esm = new FakeMapping(SQS, 10);
        await toHalfOpen(breaker());
        assert.deepEqual(esm.updates[1], { UUID, Enabled: true, BatchSize: 1, ParallelizationFactor: undefined });
    });

    it("a failed probe reopens with a doubled open time and disables the mapping again", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        await toHalfOpen(b);
        assert.equal(await b.record({ requests: 1, errors: 1 }), "open");
        assert.deepEqual(esm.updates[2], { UUID, Enabled: false, BatchSize: undefined, ParallelizationFactor: undefined });
        esm.settle();
        clock += 59_000;
        assert.equal((await b.tick()).action, "reconciled");
        clock += 1_000;
        assert.equal((await b.tick()).action, "halfOpened");
        assert.equal(esm.updates.length, 4);
    });

    it("a probe that never reports within its lease counts as failed", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        await toHalfOpen(b);
        clock += 120_000;
        assert.deepEqual(await b.tick(), { state: "open", action: "probeFailed" });
        assert.equal((await stored())?.failedProbes.N, "1");
    });

    it("closes after successThreshold probe successes and restores the original settings", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker();
        await toHalfOpen(b);
        assert.equal(await b.record({ requests: 1, errors: 0 }), "halfOpen");
        assert.equal(await b.record({ requests: 1, errors: 0 }), "halfOpen");
        assert.equal(await b.record({ requests: 1, errors: 0 }), "closed");
        assert.deepEqual(esm.updates.at(-1), { UUID, Enabled: true, BatchSize: 500, ParallelizationFactor: 4 });
        const item = await stored();
        assert.equal(item?.state.S, "closed");
        assert.equal(item?.original, undefined, "the original settings are forgotten once restored");
        assert.equal(await b.record({ requests: 19, errors: 19 }), "closed", "a fresh window after closing");
    });

    it("keeps the original settings across re-opens (never records the probe's batch size 1)", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker({ ...POLICY, successThreshold: 1 });
        await toHalfOpen(b);
        await b.record({ requests: 1, errors: 1 });
        esm.settle();
        clock += 60_000;
        await b.tick();
        esm.settle();
        assert.equal(await b.record({ requests: 1, errors: 0 }), "closed");
        assert.deepEqual(esm.updates.at(-1), { UUID, Enabled: true, BatchSize: 500, ParallelizationFactor: 4 });
    });

    it("an interrupted close is finished by the next tick", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        const b = breaker({ ...POLICY, successThreshold: 1 });
        await toHalfOpen(b);
        esm.failures.push(new ServiceException({ message: "Lambda is down", $metadata: {} }));
        await assert.rejects(b.record({ requests: 1, errors: 0 }), /Lambda is down/);
        assert.deepEqual(await b.tick(), { state: "closed", action: "restored" });
        assert.deepEqual(esm.updates.at(-1), { UUID, Enabled: true, BatchSize: 500, ParallelizationFactor: 4 });
        assert.deepEqual(await b.tick(), { state: "closed", action: "waiting" });
    });

    it("retries an update while the mapping is busy", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        esm.failures.push(new ResourceInUseException({ message: "busy", $metadata: {} }));
        const sleeps: number[] = [];
        const actuator = new EventSourceMappingActuator({ uuid: UUID, sleep: async (ms) => void sleeps.push(ms) });
        assert.equal(await actuator.disable(), true);
        assert.deepEqual(sleeps, [1000]);
        assert.equal(esm.updates.length, 1);
    });

    it("writes a structured log line and EMF metrics per transition", async () => {
        esm = new FakeMapping(KINESIS, 500, 4);
        await trip(breaker());
        const records = lines.map((l) => JSON.parse(l));
        const log = records.find((r) => r.message === "circuit breaker transition");
        assert.deepEqual(
            { level: log.level, breaker: log.breaker, from: log.from, to: log.to, reason: log.reason, window: log.window },
            { level: "INFO", breaker: `breaker-${breakerId}`, from: "closed", to: "open", reason: "errorRate", window: { requests: 20, errors: 20 } },
        );
        const emf = records.find((r) => r._aws);
        assert.equal(emf._aws.CloudWatchMetrics[0].Namespace, "ServerlessConcurrency");
        assert.deepEqual(emf._aws.CloudWatchMetrics[0].Dimensions, [["Worker", "Breaker"]]);
        assert.deepEqual([emf.CircuitBreakerState, emf.CircuitBreakerTransitions], [[2], [1]]);
    });

    describe("wiring", () => {
        const env = () => ({ BREAKER_TABLE_NAME: TABLE, BREAKER_MAPPING_UUID: UUID, BREAKER_ID: `breaker-${breakerId}`, BREAKER_MIN_REQUESTS: "2" });

        it("the prober handler and breakerFromEnv read the environment", async () => {
            esm = new FakeMapping(KINESIS, 500, 4);
            const b = breakerFromEnv({ env: env(), dynamo: db.client, write: () => undefined });
            assert.equal(await b.record({ requests: 2, errors: 2 }), "open", "BREAKER_MIN_REQUESTS applies");
            assert.deepEqual(await createProberHandler({ env: env(), dynamo: db.client })(), { state: "open", action: "reconciled" });
        });

        it("names a missing or non-numeric variable", () => {
            esm = new FakeMapping(KINESIS, 500, 4);
            assert.throws(() => breakerFromEnv({ env: { ...env(), BREAKER_MAPPING_UUID: undefined } }), /BREAKER_MAPPING_UUID or BREAKER_EVENT_SOURCE_ARN is required/);
            assert.throws(() => breakerFromEnv({ env: { ...env(), BREAKER_OPEN_SECONDS: "soon" } }), /BREAKER_OPEN_SECONDS must be a number; received "soon"/);
            assert.throws(() => breakerFromEnv({ env: { ...env(), BREAKER_ERROR_THRESHOLD: "2" } }), /errorThreshold must be a number in \(0, 1\]; received 2/);
        });

        it("the invocation observer feeds ctx.downstream outcomes and skips invocations without calls", async () => {
            esm = new FakeMapping(KINESIS, 500, 4);
            const b = breaker({ ...POLICY, minRequests: 3 });
            const observe = breakerObserver(b);
            const sample = (ok: boolean) => ({ name: "payments", latencyMs: 3, ok, at: clock });
            await observe([], {} as never);
            assert.equal(await stored(), undefined, "no write without downstream calls");
            await observe([sample(true), sample(false)], {} as never);
            assert.equal(await b.state(), "closed");
            await observe([sample(false)], {} as never);
            assert.equal(await b.state(), "open");
        });
    });
});
