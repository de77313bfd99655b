import { strict as assert } from "node:assert";
import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import fc from "fast-check";
import { ConfigurationError } from "../../contracts/errors";
import {
    decodeKinesisData,
    IdempotencyInProgressError,
    InMemoryIdempotencyStore,
    kinesisWorker,
    KinesisWorkerFunction,
    KinesisWorkerOptions,
    KinesisWorkerRecord,
    MalformedBatchError,
    payloadHash,
    RecordDecodeError,
    registerBatchGuard,
} from "../../runtime";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { framed, kplAggregate, lengthDelimited, varintField } from "../helpers/kpl";
import { fakeLambdaContext, lineSink } from "../helpers/lambdaContext";

const RUNS = 500;
const STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";
const SHARD = "shardId-000000000000";


function kinesisRecord(partitionKey: string, sequenceNumber: string, data: unknown, shard = SHARD): KinesisStreamRecord {
    const base64 = typeof data === "string" ? data : Buffer.from(JSON.stringify(data)).toString("base64");
    return {
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${shard}:${sequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/worker",
        awsRegion: "us-east-1",
        eventSourceARN: STREAM_ARN,
        kinesis: { kinesisSchemaVersion: "1.0", partitionKey, sequenceNumber, data: base64, approximateArrivalTimestamp: 1_700_000_000 },
    };
}

const event = (records: KinesisStreamRecord[]): KinesisStreamEvent => ({ Records: records });
const yieldTicks = async (ticks: number) => {
    for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
};
/** Sequence numbers wider than 2^64, as Kinesis issues them. */
const sequenceNumber = (index: number) => (49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n + BigInt(index) * 1_000n).toString();

describe("kinesisWorker: decoding", () => {
    it("parses UTF-8 JSON, keeps other bytes as a Buffer, rejects non-base64", () => {
        assert.deepEqual(decodeKinesisData(Buffer.from('{"a":[1,2]}').toString("base64")), { a: [1, 2] });
        assert.equal(decodeKinesisData(Buffer.from("42").toString("base64")), 42);
        assert.deepEqual(decodeKinesisData(Buffer.from("plain text").toString("base64")), Buffer.from("plain text"));
        assert.deepEqual(decodeKinesisData(Buffer.from([0x22, 0xff, 0x22]).toString("base64")), Buffer.from([0x22, 0xff, 0x22]));
        assert.deepEqual(decodeKinesisData(""), Buffer.alloc(0));
        for (const bad of ["not base64!", "abc", undefined, 12]) assert.throws(() => decodeKinesisData(bad), RecordDecodeError);
    });

    it("hands the user the decoded data, partition key, sequence number and raw record", async () => {
        const seen: KinesisWorkerRecord[] = [];
        const raw = kinesisRecord("user-1", "100", { amount: 5 });
        const handler = kinesisWorker(async (record) => void seen.push(record), { idempotency: false, write: () => undefined });
        assert.deepEqual(await handler(event([raw]), fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(seen, [{ data: { amount: 5 }, partitionKey: "user-1", sequenceNumber: "100", raw }]);
    });

    it("fails an undecodable record like any other: reported, and later records of its key are not run", async () => {
        const ran: string[] = [];
        const records = [kinesisRecord("a", "1", "%%%"), kinesisRecord("a", "2", { n: 2 }), kinesisRecord("b", "3", { n: 3 })];
        const handler = kinesisWorker(async (r) => void ran.push(r.sequenceNumber), { idempotency: false, write: () => undefined });
        assert.deepEqual(await handler(event(records), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "1" }] });
        assert.deepEqual(ran, ["3"]);
    });
});

describe("kinesisWorker: malformed input", () => {
    const quiet = { idempotency: false, write: () => undefined } as const;

    it("fails the whole batch before any record runs when Records is missing or null, naming the problem", async () => {
        let runs = 0;
        const handler = kinesisWorker(async () => void runs++, quiet);
        for (const [bad, shown] of [[{}, "undefined"], [{ Records: null }, "null"], [null, "undefined"]] as const) {
            await assert.rejects(
                handler(bad as unknown as KinesisStreamEvent, fakeLambdaContext()),
                (e: unknown) => e instanceof MalformedBatchError && e.message === `kinesisWorker: the event has no Records array (received ${shown}); the batch fails before any record runs`,
            );
        }
        assert.equal(runs, 0);
    });

    it("fails the whole batch before any record runs when a record cannot be named in the response (null, no kinesis, no sequence number)", async () => {
        const ran: string[] = [];
        const sink = lineSink();
        const handler = kinesisWorker(async (r) => void ran.push(r.sequenceNumber), { idempotency: false, write: sink.write });
        const noKinesis = { ...kinesisRecord("b", "2", {}), kinesis: undefined };
        const noSequence = { ...kinesisRecord("c", "3", {}), kinesis: { ...kinesisRecord("c", "3", {}).kinesis, sequenceNumber: undefined } };
        const records = [kinesisRecord("a", "1", {}), null, noKinesis, noSequence] as unknown as KinesisStreamRecord[];
        await assert.rejects(
            handler(event(records), fakeLambdaContext()),
            (e: unknown) =>
                e instanceof MalformedBatchError &&
                e.message === "kinesisWorker: record 1 is null, not a Kinesis record; record 2 has no kinesis field; record 3 has no kinesis.sequenceNumber; the batch fails before any record runs",
        );
        assert.deepEqual(ran, []);
        assert.ok(sink.json().some((l) => l.level === "ERROR" && /malformed batch rejected before any record ran/.test(l.message)));
    });

    it("reports a record without a partition key as that record's failure, with a message naming it; other keys run", async () => {
        const ran: string[] = [];
        const sink = lineSink();
        const handler = kinesisWorker(async (r) => void ran.push(r.sequenceNumber), { idempotency: false, write: sink.write });
        const noKey = { ...kinesisRecord("x", "5", {}), kinesis: { ...kinesisRecord("x", "5", {}).kinesis, partitionKey: undefined } } as unknown as KinesisStreamRecord;
        const response = await handler(event([kinesisRecord("a", "4", {}), noKey, kinesisRecord("b", "6", {})]), fakeLambdaContext());
        assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: "5" }] });
        assert.deepEqual(ran.sort(), ["4", "6"]);
        const failure = sink.json().find((l) => l.level === "ERROR" && l.sequenceNumber === "5");
        assert.equal(failure?.error.message, "kinesisWorker: record 5 has no kinesis.partitionKey");
    });

    it("names the record whose data is not base64", async () => {
        const sink = lineSink();
        const handler = kinesisWorker(async () => undefined, { idempotency: false, write: sink.write });
        await handler(event([kinesisRecord("a", "9", "%%%")]), fakeLambdaContext());
        assert.equal(sink.json().find((l) => l.level === "ERROR")?.error.message, "kinesisWorker: record 9: kinesis.data is not a base64 string");
    });
});

describe("kinesisWorker: partial batch response", () => {
    it("reports only the earliest record that did not succeed, across keys", async () => {
        const records = ["a", "b", "a", "c", "b", "a"].map((key, i) => kinesisRecord(key, String(10 + i), { i }));
        const failing = new Set(["14", "12"]); // b fails at 14, a fails at 12 (a's 15 is then skipped)
        const ran: string[] = [];
        const handler = kinesisWorker(
            async (r) => {
                ran.push(r.sequenceNumber);
                if (failing.has(r.sequenceNumber)) throw new Error("boom");
            },
            { idempotency: false, write: () => undefined },
        );
        assert.deepEqual(await handler(event(records), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "12" }] });
        assert.deepEqual([...ran].sort(), ["10", "11", "12", "13", "14"]);
    });

    it("waits half the remaining time on a claim whose lease outlasts it, then fails that record, with a metric", async () => {
        const clock = { now: 1_800_000_000_000 };
        const store = new InMemoryIdempotencyStore({ leaseSeconds: 90, now: () => clock.now });
        const raw = kinesisRecord("a", "7", { n: 1 });
        await store.claim(`${STREAM_ARN}/${raw.eventID}`, payloadHash({ partitionKey: "a", data: raw.kinesis.data })); // another invocation holds it
        const sink = lineSink();
        const waits: number[] = [];
        let runs = 0;
        const sleep = async (ms: number) => void (waits.push(ms), (clock.now += ms));
        const handler = kinesisWorker(async () => void runs++, { idempotencyStore: store, write: sink.write, sleep });
        const next = kinesisRecord("a", "8", { n: 2 });
        assert.deepEqual(await handler(event([raw, next]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "7" }] });
        assert.deepEqual([runs, waits], [0, [15_000]], "half of the context's 30 s; the 90 s lease is still running after it");
        assert.ok(sink.json().some((l) => l._aws && l.InFlightDuplicates?.[0] === 1));
        assert.ok(sink.json().some((l) => l.message === "record is claimed by an earlier invocation; waiting for the claim's lease (its lease outlasts the wait, so the record then fails and its retry waits on)" && l.waitMs === 15_000));
    });

    it("does not wait on an in-progress error the handler itself threw: the record fails at once", async () => {
        const waits: number[] = [];
        const handler = kinesisWorker(
            async () => {
                throw new IdempotencyInProgressError("nested-key", 5_000);
            },
            { idempotencyStore: new InMemoryIdempotencyStore(), write: () => undefined, sleep: async (ms) => void waits.push(ms) },
        );
        assert.deepEqual(await handler(event([kinesisRecord("a", "7", { n: 1 })]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "7" }] });
        assert.deepEqual(waits, [], "the handler ran: its error is its own, not this record's claim");
    });

    it("runs a record again once the lease of a claim left by a failed release passes, before Lambda's 10 retries run out", async () => {
        const clock = { now: 1_800_000_000_000 };
        const memory = new InMemoryIdempotencyStore({ leaseSeconds: 90, expirySeconds: 90_000, now: () => clock.now });
        let releaseFails = true;
        const store = Object.assign(Object.create(memory), {
            release: async (key: string, token: string) => {
                if (!releaseFails) return memory.release(key, token);
                releaseFails = false;
                throw Object.assign(new Error("Rate exceeded"), { name: "ProvisionedThroughputExceededException" });
            },
        });
        const waits: number[] = [];
        const sleep = async (ms: number) => void (waits.push(ms), (clock.now += ms));
        let runs = 0;
        const handler = kinesisWorker(
            async () => {
                runs++;
                if (runs === 1) throw new Error("downstream 503");
            },
            { idempotencyStore: store, write: () => undefined, sleep },
        );
        const raw = kinesisRecord("a", "7", { n: 1 });
        const outcomes: number[] = [];
        for (let invocation = 0; invocation <= 10 && runs < 2; invocation++) {
            outcomes.push((await handler(event([raw]), fakeLambdaContext())).batchItemFailures.length);
            clock.now += 2_000; // Lambda retries a stream batch within seconds
        }
        assert.equal(runs, 2, "the record ran again after the lease, instead of reaching the failure destination unrun");
        assert.deepEqual(outcomes, [1, 1, 1, 1, 1, 1, 0], "the first run failed; five retries each waited 15 s (and 2 s between) of the 90 s lease");
        assert.deepEqual(waits, [15_000, 15_000, 15_000, 15_000, 15_000, 4_000], "the last waits 3 s left of the lease and 1 s of slack, then claims");
    });

    it("fails a record without eventID when idempotency is on", async () => {
        const raw = { ...kinesisRecord("a", "1", { n: 1 }), eventID: "" };
        const handler = kinesisWorker(async () => undefined, { idempotencyStore: new InMemoryIdempotencyStore(), write: () => undefined });
        assert.deepEqual(await handler(event([raw]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "1" }] });
    });

    it("gives each record a ctx whose log names the record", async () => {
        const sink = lineSink();
        const handler = kinesisWorker(async (_r, ctx) => ctx.log.info("hello"), { idempotency: false, write: sink.write });
        await handler(event([kinesisRecord("k", "5", {})]), fakeLambdaContext());
        const line = sink.json().find((l) => l.message === "hello");
        assert.equal(line?.partitionKey, "k");
        assert.equal(line?.sequenceNumber, "5");
    });
});

describe("kinesisWorker: KPL aggregates", () => {
    const aggregateRecord = async (outerKey: string, seq: string, users: [string, unknown][]) =>
        kinesisRecord(outerKey, seq, (await kplAggregate(users.map(([partitionKey, data]) => ({ partitionKey, data: Buffer.from(JSON.stringify(data)) })))).toString("base64"));

    it("counts the batch's records, and its user records as items, on the batch-rejected warning", async () => {
        // Intended change: the warning's `records` counted user records, so a batch of 2 records read as 4.
        const aggregate = await aggregateRecord("outer", "200", [["a", { n: 1 }], ["b", { n: 2 }], ["a", { n: 3 }]]);
        const sink = lineSink();
        const unregister = registerBatchGuard(async () => ({ reason: "test guard" }));
        try {
            const handler = kinesisWorker(async () => undefined, { idempotency: false, write: sink.write });
            assert.deepEqual(await handler(event([aggregate, kinesisRecord("a", "300", { n: 4 })]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "200" }] });
            await handler(event([kinesisRecord("a", "400", { n: 5 })]), fakeLambdaContext());
        } finally {
            unregister();
        }
        const warnings = sink.json().filter((l) => l.message === "batch rejected; every record is reported failed and comes back");
        assert.deepEqual(warnings.map((l) => [l.reason, l.records, l.items]), [["test guard", 2, 4], ["test guard", 1, undefined]]);
    });

    it("runs each user record under its own key, in order within the key, with its sub-sequence number and the aggregate as raw", async () => {
        const aggregate = await aggregateRecord("outer", "200", [["a", { n: 1 }], ["b", { n: 2 }], ["a", { n: 3 }]]);
        const plain = kinesisRecord("a", "300", { n: 4 });
        const seen: KinesisWorkerRecord[] = [];
        const handler = kinesisWorker(async (record) => void seen.push(record), { idempotency: false, inBatchParallelism: 1, write: () => undefined });
        assert.deepEqual(await handler(event([aggregate, plain]), fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(seen, [
            { data: { n: 1 }, partitionKey: "a", sequenceNumber: "200", subSequenceNumber: 0, raw: aggregate },
            { data: { n: 3 }, partitionKey: "a", sequenceNumber: "200", subSequenceNumber: 2, raw: aggregate },
            { data: { n: 4 }, partitionKey: "a", sequenceNumber: "300", raw: plain },
            { data: { n: 2 }, partitionKey: "b", sequenceNumber: "200", subSequenceNumber: 1, raw: aggregate },
        ]);
    });

    it("reports the aggregate when one user record fails; on redelivery the ones that succeeded are skipped, the failed one and its key's later ones run", async () => {
        const aggregate = await aggregateRecord("outer", "200", [["a", { n: 1 }], ["b", { n: 2 }], ["b", { n: 3 }], ["c", { n: 4 }]]);
        const runs: number[] = [];
        let failing = true;
        const handler = kinesisWorker<{ n: number }>(
            async (record) => {
                runs.push(record.data.n);
                if (record.data.n === 2 && failing) throw new Error("downstream down");
            },
            { idempotencyStore: new InMemoryIdempotencyStore(), write: () => undefined },
        );
        assert.deepEqual(await handler(event([aggregate]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "200" }] });
        assert.deepEqual([...runs].sort(), [1, 2, 4]);
        failing = false;
        runs.length = 0;
        assert.deepEqual(await handler(event([aggregate]), fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(runs, [2, 3]);
    });

    it("keeps a user record's idempotency apart from its siblings' and from the aggregate's own key", async () => {
        const store = new InMemoryIdempotencyStore();
        const aggregate = await aggregateRecord("outer", "200", [["a", { n: 1 }], ["a", { n: 2 }]]);
        const handler = kinesisWorker(async () => undefined, { idempotencyStore: store, write: () => undefined });
        await handler(event([aggregate]), fakeLambdaContext());
        const key = `${STREAM_ARN}/${aggregate.eventID}`;
        const payload = (n: number) => payloadHash({ partitionKey: "a", data: Buffer.from(JSON.stringify({ n })).toString("base64") });
        assert.equal((await store.claim(`${key}#0`, payload(1))).status, "completed");
        assert.equal((await store.claim(`${key}#1`, payload(2))).status, "completed");
        assert.equal((await store.claim(key, payloadHash({ partitionKey: "outer", data: aggregate.kinesis.data }))).status, "claimed");
    });

    it("fails an aggregate whose digest matches but whose message cannot be read, and runs the batch's other keys", async () => {
        const corrupt = kinesisRecord("outer", "200", framed(Buffer.concat([lengthDelimited(1, Buffer.from("a")), lengthDelimited(3, varintField(1, 4))])).toString("base64"));
        const other = kinesisRecord("z", "300", { n: 9 });
        const sink = lineSink();
        const seen: string[] = [];
        const handler = kinesisWorker(async (record) => void seen.push(record.partitionKey), { idempotency: false, write: sink.write });
        assert.deepEqual(await handler(event([corrupt, other]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "200" }] });
        assert.deepEqual(seen, ["z"]);
        const failure = sink.json().find((l) => l.level === "ERROR" && l.sequenceNumber === "200");
        assert.equal(failure?.error.message, "kinesisWorker: record 200: KPL aggregate with a valid digest cannot be read: user record 0 has no data");
    });

    it("hands a record that only starts with the magic bytes (its digest does not match) over whole", async () => {
        const lookalike = kinesisRecord("a", "200", Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), Buffer.alloc(20)]).toString("base64"));
        const seen: KinesisWorkerRecord[] = [];
        const handler = kinesisWorker(async (record) => void seen.push(record), { idempotency: false, write: () => undefined });
        assert.deepEqual(await handler(event([lookalike]), fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(seen, [{ data: Buffer.from(lookalike.kinesis.data, "base64"), partitionKey: "a", sequenceNumber: "200", raw: lookalike }]);
    });

    it("hands an aggregate over whole with kplDeaggregation false, or KPL_DEAGGREGATION=false, and refuses another value at creation", async () => {
        const aggregate = await aggregateRecord("outer", "200", [["a", { n: 1 }], ["b", { n: 2 }]]);
        for (const [options, env] of [[{ kplDeaggregation: false }, {}], [{}, { KPL_DEAGGREGATION: "false" }], [{ kplDeaggregation: false }, { KPL_DEAGGREGATION: "true" }]] as const) {
            const seen: KinesisWorkerRecord[] = [];
            const handler = kinesisWorker(async (record) => void seen.push(record), { idempotency: false, write: () => undefined, ...options }, env);
            assert.deepEqual(await handler(event([aggregate]), fakeLambdaContext()), { batchItemFailures: [] });
            assert.deepEqual(seen, [{ data: Buffer.from(aggregate.kinesis.data, "base64"), partitionKey: "outer", sequenceNumber: "200", raw: aggregate }]);
        }
        assert.throws(() => kinesisWorker(async () => undefined, { idempotency: false }, { KPL_DEAGGREGATION: "yes" }), /environment variable KPL_DEAGGREGATION must be "true" or "false"; received "yes"/);
    });

    it("fails a user record with an empty partition key (AWS's encoder cannot write one; a hand-made aggregate can)", async () => {
        const userRecord = Buffer.concat([varintField(1, 0), lengthDelimited(3, Buffer.from("{}"))]);
        const keyless = kinesisRecord("outer", "200", framed(Buffer.concat([lengthDelimited(1, Buffer.alloc(0)), lengthDelimited(3, userRecord)])).toString("base64"));
        const sink = lineSink();
        const seen: string[] = [];
        const handler = kinesisWorker(async (record) => void seen.push(record.partitionKey), { idempotency: false, write: sink.write });
        assert.deepEqual(await handler(event([keyless, kinesisRecord("z", "300", { n: 9 })]), fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "200" }] });
        assert.deepEqual(seen, ["z"]);
        const failure = sink.json().find((l) => l.level === "ERROR" && l.sequenceNumber === "200");
        assert.deepEqual([failure?.subSequenceNumber, failure?.error.message], [0, "kinesisWorker: record 200: user record 0 has no partition key"]);
    });

    it("runs nothing for an aggregate of no user records, and moves on past it", async () => {
        const empty = kinesisRecord("outer", "200", framed(lengthDelimited(1, Buffer.from("a"))).toString("base64"));
        const seen: string[] = [];
        const handler = kinesisWorker(async (record) => void seen.push(record.sequenceNumber), { idempotency: false, write: () => undefined });
        assert.deepEqual(await handler(event([empty, kinesisRecord("a", "300", { n: 1 })]), fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(seen, ["300"]);
    });
});

describe("kinesisWorker: settings", () => {
    afterEach(() => {
        delete process.env.IN_BATCH_PARALLELISM;
    });

    it("takes inBatchParallelism from the option, else IN_BATCH_PARALLELISM, else 10", async () => {
        const peak = async (options: KinesisWorkerOptions) => {
            let inFlight = 0;
            let max = 0;
            const handler = kinesisWorker(
                async () => {
                    max = Math.max(max, ++inFlight);
                    await yieldTicks(2);
                    inFlight--;
                },
                { idempotency: false, write: () => undefined, ...options },
            );
            await handler(event(Array.from({ length: 40 }, (_, i) => kinesisRecord(`k${i}`, String(i), {}))), fakeLambdaContext());
            return max;
        };
        assert.equal(await peak({}), 10);
        process.env.IN_BATCH_PARALLELISM = "3";
        assert.equal(await peak({}), 3);
        assert.equal(await peak({ inBatchParallelism: 5 }), 5);
    });

    it("rejects a bad parallelism and a missing table when the handler is created", () => {
        const refused = (options: KinesisWorkerOptions, message: string) =>
            assert.throws(() => kinesisWorker(async () => undefined, options), (e: unknown) => e instanceof ConfigurationError && e.message === message);
        refused({ inBatchParallelism: 0, idempotency: false }, "kinesisWorker: inBatchParallelism must be an integer from 1 to 1000; received 0");
        refused({ inBatchParallelism: 2.5, idempotency: false }, "kinesisWorker: inBatchParallelism must be an integer from 1 to 1000; received 2.5");
        for (const value of ["many", "0", "1001", " ", "0x1"]) {
            process.env.IN_BATCH_PARALLELISM = value;
            refused({ idempotency: false }, `environment variable IN_BATCH_PARALLELISM must be an integer in [1, 1000]; received ${JSON.stringify(value)}`);
        }
        delete process.env.IN_BATCH_PARALLELISM;
        assert.throws(() => kinesisWorker(async () => undefined, { tableName: "" }), (e: unknown) => e instanceof ConfigurationError && /kinesisWorker: idempotency is on but no table/.test(e.message));
    });
});

interface SimRecord {
    key: string;
    failures: number;
    latencyTicks: number;
}

/**
 * Lambda's Kinesis loop over one shard: a batch starts at the checkpoint; an empty response moves the
 * checkpoint past the batch, otherwise to the lowest reported sequence number; a lost response
 * (timeout after the work) leaves it where it was.
 */
async function simulateShard(records: SimRecord[], batchSize: number, parallelism: number, lostResponses: boolean[]) {
    const raws = records.map((r, i) => kinesisRecord(r.key, sequenceNumber(i), { i }));
    const failuresLeft = records.map((r) => r.failures);
    const processed: number[] = [];
    const attempts: { invocation: number; index: number; failed: boolean }[] = [];
    let invocation = 0;
    const fn: KinesisWorkerFunction<{ i: number }> = async (record) => {
        const index = record.data.i;
        await yieldTicks(records[index].latencyTicks);
        const failed = failuresLeft[index] > 0;
        attempts.push({ invocation, index, failed });
        if (failed) {
            failuresLeft[index]--;
            throw new Error(`record ${index} failed`);
        }
        processed.push(index);
    };
    const handler = kinesisWorker(fn, { idempotencyStore: new InMemoryIdempotencyStore(), inBatchParallelism: parallelism, write: () => undefined });
    let checkpoint = 0;
    for (; checkpoint < raws.length && invocation < 500; invocation++) {
        const batch = raws.slice(checkpoint, checkpoint + batchSize);
        const { batchItemFailures } = await handler(event(batch), fakeLambdaContext(`req-${invocation}`));
        if (lostResponses[invocation]) continue; // the first few invocations may time out after their work
        checkpoint = nextCheckpoint(raws, checkpoint + batch.length, batchItemFailures.map((f) => f.itemIdentifier));
        assert.ok(processed.filter((i) => i < checkpoint).length === checkpoint, "checkpoint passed a record that did not succeed");
    }
    return { processed, attempts, finished: checkpoint === raws.length };
}

function nextCheckpoint(raws: KinesisStreamRecord[], afterBatch: number, reported: string[]): number {
    if (reported.length === 0) return afterBatch;
    const lowest = reported.map(BigInt).reduce((a, b) => (a < b ? a : b));
    return raws.findIndex((r) => BigInt(r.kinesis.sequenceNumber) === lowest);
}

describe("kinesisWorker: properties under Lambda's checkpoint and redelivery", function () {
    this.timeout(60_000);
    const simulation = fc.record({
        records: fc.array(
            fc.record({
                key: fc.constantFrom("k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"),
                failures: fc.constantFrom(0, 0, 0, 0, 0, 1, 2),
                latencyTicks: fc.integer({ min: 0, max: 3 }),
            }),
            { minLength: 1, maxLength: 50, size: "max" },
        ),
        batchSize: fc.integer({ min: 1, max: 30 }),
        parallelism: fc.integer({ min: 1, max: 8 }),
        lostResponses: fc.array(fc.constantFrom(false, false, true), { maxLength: 8 }),
    });

    it("keeps per-key order, never runs past a failure of the same key, and processes every record exactly once", async () => {
        await fc.assert(
            fc.asyncProperty(simulation, async ({ records, batchSize, parallelism, lostResponses }) => {
                const { processed, attempts, finished } = await simulateShard(records, batchSize, parallelism, lostResponses);
                assert.ok(finished, "redelivery loop did not finish");
                assert.deepEqual([...processed].sort((a, b) => a - b), records.map((_, i) => i), "not exactly once");
                for (const key of new Set(records.map((r) => r.key))) {
                    const ofKey = processed.filter((i) => records[i].key === key);
                    assert.deepEqual(ofKey, [...ofKey].sort((a, b) => a - b), `order of ${key} violated`);
                }
                assertNothingRanAfterAFailure(attempts, records);
            }),
            { numRuns: RUNS },
        );
    });
});

/** Within one invocation, the attempts of a key are increasing and stop at the key's first failure. */
function assertNothingRanAfterAFailure(attempts: { invocation: number; index: number; failed: boolean }[], records: SimRecord[]): void {
    const lastOfKey = new Map<string, { index: number; failed: boolean }>();
    for (const attempt of attempts) {
        const slot = `${attempt.invocation}/${records[attempt.index].key}`;
        const previous = lastOfKey.get(slot);
        assert.ok(!previous?.failed, `record ${attempt.index} ran after ${previous?.index} of its key failed`);
        assert.ok(!previous || previous.index < attempt.index, "a key's records ran out of order");
        lastOfKey.set(slot, attempt);
    }
}

describe("kinesisWorker on dynalite (real idempotency store)", () => {
    const TABLE = "kinesis-idempotency";
    let db: LocalDynamo;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());

    it("a redelivered batch skips the records that already succeeded and resumes the failed key in order", async () => {
        const records = ["a", "b", "a", "b", "c"].map((key, i) => kinesisRecord(key, String(100 + i), { i }));
        let failNext = true;
        const runs: string[] = [];
        const sink = lineSink();
        const handler = kinesisWorker(
            async (record) => {
                runs.push(record.sequenceNumber);
                if (record.sequenceNumber === "101" && failNext) {
                    failNext = false;
                    throw new Error("downstream unavailable");
                }
            },
            { tableName: TABLE, client: db.client, write: sink.write },
        );
        const first = await handler(event(records), fakeLambdaContext("req-1"));
        assert.deepEqual(first, { batchItemFailures: [{ itemIdentifier: "101" }] });
        assert.deepEqual([...runs].sort(), ["100", "101", "102", "104"]);
        runs.length = 0;
        const retry = await handler(event(records.slice(1)), fakeLambdaContext("req-2"));
        assert.deepEqual(retry, { batchItemFailures: [] });
        assert.deepEqual([...runs].sort(), ["101", "103"]);
        const skipped = sink.json().filter((l) => l.message === "record already processed; skipped").map((l) => l.sequenceNumber);
        assert.deepEqual(skipped.sort(), ["102", "104"]);
    });
});
