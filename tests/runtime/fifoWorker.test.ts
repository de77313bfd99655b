import { strict as assert } from "node:assert";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import fc from "fast-check";
import { ConfigurationError } from "../../contracts/errors";
import {
    fifoIdempotencyKeyFrom,
    fifoWorker,
    InMemoryIdempotencyStore,
    MalformedBatchError,
    FifoWorkerFunction,
    FifoWorkerMessage,
    parseFifoBody,
    payloadHash,
} from "../../runtime";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { fakeLambdaContext, lineSink } from "../helpers/lambdaContext";

const RUNS = 500;
const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders.fifo";


function sqsRecord(messageId: string, groupId: string | undefined, body: string, deduplicationId = `dedup-${messageId}`): SQSRecord {
    return {
        messageId,
        receiptHandle: `rh-${messageId}`,
        body,
        attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: "1700000000000",
            SenderId: "AIDAEXAMPLE",
            ApproximateFirstReceiveTimestamp: "1700000000001",
            ...(groupId === undefined ? {} : { MessageGroupId: groupId }),
            MessageDeduplicationId: deduplicationId,
            SequenceNumber: "18849496460467696128",
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: QUEUE_ARN,
        awsRegion: "us-east-1",
    };
}

const event = (records: SQSRecord[]): SQSEvent => ({ Records: records });
const quiet = { write: () => undefined };
const yieldTicks = async (ticks: number) => {
    for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
};
const ids = (response: { batchItemFailures: { itemIdentifier: string }[] }) => response.batchItemFailures.map((f) => f.itemIdentifier);

describe("fifoWorker: messages", () => {
    it("parses the body as JSON when it parses, else keeps the string", () => {
        assert.deepEqual(parseFifoBody('{"order":1}'), { order: 1 });
        assert.equal(parseFifoBody("not json"), "not json");
        assert.equal(parseFifoBody(""), "");
    });

    it("hands the user the body, group id, deduplication id and raw record", async () => {
        const seen: FifoWorkerMessage[] = [];
        const raw = sqsRecord("m1", "g1", '{"amount":5}', "d-1");
        const handler = fifoWorker(async (message) => void seen.push(message), { idempotency: false, ...quiet });
        assert.deepEqual(await handler(event([raw]), fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(seen, [{ body: { amount: 5 }, groupId: "g1", deduplicationId: "d-1", raw }]);
    });

    it("reports a failed message and every later message of its group, runs none of them, runs other groups", async () => {
        const records = [
            sqsRecord("m1", "a", "1"),
            sqsRecord("m2", "b", "2"),
            sqsRecord("m3", "a", "3"),
            sqsRecord("m4", "a", "4"),
            sqsRecord("m5", "b", "5"),
        ];
        const ran: string[] = [];
        const handler = fifoWorker(
            async (message) => {
                ran.push(message.raw.messageId);
                if (message.raw.messageId === "m1") throw new Error("boom");
            },
            { idempotency: false, ...quiet },
        );
        assert.deepEqual(ids(await handler(event(records), fakeLambdaContext())), ["m1", "m3", "m4"]);
        assert.deepEqual([...ran].sort(), ["m1", "m2", "m5"]);
    });

    it("fails a message without MessageGroupId (not a FIFO queue), never drops it", async () => {
        let runs = 0;
        const handler = fifoWorker(async () => void runs++, { idempotency: false, ...quiet });
        assert.deepEqual(ids(await handler(event([sqsRecord("m1", undefined, "x")]), fakeLambdaContext())), ["m1"]);
        assert.equal(runs, 0);
    });

    it("counts an in-flight duplicate as a failure of that message and blocks the rest of its group", async () => {
        const store = new InMemoryIdempotencyStore();
        await store.claim(`${QUEUE_ARN}/m1`, payloadHash("1")); // another invocation holds it
        const sink = lineSink();
        let runs = 0;
        const handler = fifoWorker(async () => void runs++, { idempotencyStore: store, write: sink.write });
        const response = await handler(event([sqsRecord("m1", "g", "1"), sqsRecord("m2", "g", "2")]), fakeLambdaContext());
        assert.deepEqual(ids(response), ["m1", "m2"]);
        assert.equal(runs, 0);
        assert.ok(sink.json().some((l) => l._aws && l.InFlightDuplicates?.[0] === 1));
    });

    it("with idempotencyKey DeduplicationId, treats one deduplication id in two groups as two messages (per-group deduplication)", async () => {
        let runs = 0;
        const handler = fifoWorker(async () => void runs++, { idempotencyStore: new InMemoryIdempotencyStore(), idempotencyKey: "DeduplicationId", ...quiet });
        await handler(event([sqsRecord("m1", "a", "x", "same"), sqsRecord("m2", "b", "x", "same")]), fakeLambdaContext());
        assert.equal(runs, 2);
    });
});

describe("fifoWorker: malformed input", () => {
    it("fails the whole batch before any message runs when Records is missing or a message cannot be named in the response", async () => {
        let runs = 0;
        const handler = fifoWorker(async () => void runs++, { idempotency: false, ...quiet });
        await assert.rejects(
            handler({} as SQSEvent, fakeLambdaContext()),
            (e: unknown) => e instanceof MalformedBatchError && e.message === "fifoWorker: the event has no Records array (received undefined); the batch fails before any record runs",
        );
        const noId = { ...sqsRecord("m3", "g", "3"), messageId: undefined } as unknown as SQSRecord;
        await assert.rejects(
            handler(event([sqsRecord("m1", "g", "1"), null as unknown as SQSRecord, noId]), fakeLambdaContext()),
            (e: unknown) =>
                e instanceof MalformedBatchError &&
                e.message === "fifoWorker: record 1 is null, not an SQS message; record 2 has no messageId; the batch fails before any record runs",
        );
        assert.equal(runs, 0);
    });

    it("reports a message without attributes or body as that message's failure, naming it; other groups run", async () => {
        const ran: string[] = [];
        const sink = lineSink();
        const handler = fifoWorker(async (m) => void ran.push(m.raw.messageId), { idempotency: false, write: sink.write });
        const noAttributes = { ...sqsRecord("m2", "g2", "2"), attributes: undefined } as unknown as SQSRecord;
        const noBody = { ...sqsRecord("m3", "g3", "3"), body: undefined } as unknown as SQSRecord;
        assert.deepEqual(ids(await handler(event([sqsRecord("m1", "g1", "1"), noAttributes, noBody]), fakeLambdaContext())), ["m2", "m3"]);
        assert.deepEqual(ran, ["m1"]);
        const messages = sink.json().filter((l) => l.level === "ERROR").map((l) => l.error.message).sort();
        assert.deepEqual(messages, ["fifoWorker: message m2 has no MessageGroupId; is the queue a FIFO queue?", "fifoWorker: message m3 has no body"]);
    });
});

describe("fifoWorker: the idempotency key (FIFO_IDEMPOTENCY_KEY)", () => {
    afterEach(() => {
        delete process.env.FIFO_IDEMPOTENCY_KEY;
    });

    it("defaults to MessageId; reads DeduplicationId from the option or the environment; refuses anything else at creation", () => {
        assert.equal(fifoIdempotencyKeyFrom({}, {}), "MessageId");
        assert.equal(fifoIdempotencyKeyFrom({}, { FIFO_IDEMPOTENCY_KEY: "DeduplicationId" }), "DeduplicationId");
        assert.equal(fifoIdempotencyKeyFrom({ idempotencyKey: "MessageId" }, { FIFO_IDEMPOTENCY_KEY: "DeduplicationId" }), "MessageId");
        process.env.FIFO_IDEMPOTENCY_KEY = "messageid";
        assert.throws(
            () => fifoWorker(async () => undefined, { idempotency: false }),
            (e: unknown) => e instanceof ConfigurationError && e.message === 'environment variable FIFO_IDEMPOTENCY_KEY must be "MessageId" or "DeduplicationId"; received "messageid"',
        );
        assert.throws(() => fifoWorker(async () => undefined, { idempotency: false, idempotencyKey: "Body" as never }), /fifoWorker: idempotencyKey must be "MessageId" or "DeduplicationId"; received "Body"/);
    });

    it("MessageId (content-based deduplication): a redelivery never runs twice; a new message with the same body after SQS's window runs", async () => {
        const bodies: string[] = [];
        const handler = fifoWorker(async (m) => void bodies.push(m.raw.messageId), { idempotencyStore: new InMemoryIdempotencyStore(), ...quiet });
        const contentHash = "3f1b7c"; // content-based deduplication: the same body has the same deduplication id
        const first = sqsRecord("m1", "account-x", '{"add":1}', contentHash);
        await handler(event([first]), fakeLambdaContext());
        await handler(event([first]), fakeLambdaContext()); // the same message again (visibility timeout, lost response)
        assert.deepEqual(bodies, ["m1"]);
        await handler(event([sqsRecord("m2", "account-x", '{"add":1}', contentHash)]), fakeLambdaContext()); // sent again 6 minutes later: a new message
        assert.deepEqual(bodies, ["m1", "m2"]);
    });

    it("DeduplicationId (publisher-supplied ids): a re-send with the same id is skipped for the whole expiry", async () => {
        process.env.FIFO_IDEMPOTENCY_KEY = "DeduplicationId";
        const runs: string[] = [];
        const handler = fifoWorker(async (m) => void runs.push(m.raw.messageId), { idempotencyStore: new InMemoryIdempotencyStore(), ...quiet });
        await handler(event([sqsRecord("m1", "g", '{"op":"pay-42"}', "pay-42")]), fakeLambdaContext());
        await handler(event([sqsRecord("m2", "g", '{"op":"pay-42"}', "pay-42")]), fakeLambdaContext());
        assert.deepEqual(runs, ["m1"]);
    });
});

interface SimMessage {
    group: string;
    failures: number;
    latencyTicks: number;
}

const GROUPS = ["g1", "g2", "g3", "g4", "g5", "g6"];

/**
 * Lambda's SQS FIFO loop: a batch takes the queue's messages in order, from some of the groups
 * (`groupMasks`, then all groups), at most `batchSize`; reported messages stay in the queue in
 * place, the others are deleted; a lost response (timeout after the work) deletes nothing.
 */
async function simulateQueue(messages: SimMessage[], batchSize: number, parallelism: number, groupMasks: number[], lostResponses: boolean[]) {
    let queue = messages.map((m, i) => sqsRecord(`m${i}`, m.group, JSON.stringify({ i })));
    const failuresLeft = messages.map((m) => m.failures);
    const processed: number[] = [];
    const attempts: { invocation: number; index: number; failed: boolean }[] = [];
    let invocation = 0;
    const fn: FifoWorkerFunction<{ i: number }> = async (message) => {
        const index = message.body.i;
        await yieldTicks(messages[index].latencyTicks);
        const failed = failuresLeft[index] > 0;
        attempts.push({ invocation, index, failed });
        if (failed) {
            failuresLeft[index]--;
            throw new Error(`message ${index} failed`);
        }
        processed.push(index);
    };
    const handler = fifoWorker(fn, { idempotencyStore: new InMemoryIdempotencyStore(), inBatchParallelism: parallelism, ...quiet });
    for (; queue.length > 0 && invocation < 500; invocation++) {
        const batch = receive(queue, batchSize, groupMasks[invocation]);
        const reported = new Set(ids(await handler(event(batch), fakeLambdaContext(`req-${invocation}`))));
        if (lostResponses[invocation]) continue;
        const deleted = batch.filter((m) => !reported.has(m.messageId));
        for (const m of deleted) assert.ok(processed.includes(Number(m.messageId.slice(1))), `${m.messageId} deleted unprocessed`);
        queue = queue.filter((m) => !deleted.includes(m));
    }
    return { processed, attempts, finished: queue.length === 0 };
}

function receive(queue: SQSRecord[], batchSize: number, groupMask: number | undefined): SQSRecord[] {
    const inMask = (m: SQSRecord) => groupMask === undefined || (groupMask & (1 << GROUPS.indexOf(m.attributes.MessageGroupId!))) !== 0;
    const eligible = queue.some(inMask) ? queue.filter(inMask) : queue;
    return eligible.slice(0, batchSize);
}

describe("fifoWorker: properties under SQS FIFO redelivery", function () {
    this.timeout(60_000);
    const simulation = fc.record({
        messages: fc.array(
            fc.record({
                group: fc.constantFrom(...GROUPS),
                failures: fc.constantFrom(0, 0, 0, 0, 0, 1, 2),
                latencyTicks: fc.integer({ min: 0, max: 3 }),
            }),
            { minLength: 1, maxLength: 40, size: "max" },
        ),
        batchSize: fc.integer({ min: 1, max: 10 }),
        parallelism: fc.integer({ min: 1, max: 8 }),
        groupMasks: fc.array(fc.integer({ min: 1, max: 63 }), { maxLength: 10 }),
        lostResponses: fc.array(fc.constantFrom(false, false, true), { maxLength: 8 }),
    });

    it("keeps per-group order, never runs past a failure of the same group, and processes every message exactly once", async () => {
        await fc.assert(
            fc.asyncProperty(simulation, async ({ messages, batchSize, parallelism, groupMasks, lostResponses }) => {
                const { processed, attempts, finished } = await simulateQueue(messages, batchSize, parallelism, groupMasks, lostResponses);
                assert.ok(finished, "redelivery loop did not finish");
                assert.deepEqual([...processed].sort((a, b) => a - b), messages.map((_, i) => i), "not exactly once");
                for (const group of GROUPS) {
                    const ofGroup = processed.filter((i) => messages[i].group === group);
                    assert.deepEqual(ofGroup, [...ofGroup].sort((a, b) => a - b), `order of ${group} violated`);
                }
                assertNothingRanAfterAFailure(attempts, messages);
            }),
            { numRuns: RUNS },
        );
    });
});

/** Within one invocation, the attempts of a group are increasing and stop at the group's first failure. */
function assertNothingRanAfterAFailure(attempts: { invocation: number; index: number; failed: boolean }[], messages: SimMessage[]): void {
    const lastOfGroup = new Map<string, { index: number; failed: boolean }>();
    for (const attempt of attempts) {
        const slot = `${attempt.invocation}/${messages[attempt.index].group}`;
        const previous = lastOfGroup.get(slot);
        assert.ok(!previous?.failed, `message ${attempt.index} ran after ${previous?.index} of its group failed`);
        assert.ok(!previous || previous.index < attempt.index, "a group's messages ran out of order");
        lastOfGroup.set(slot, attempt);
    }
}

describe("fifoWorker on dynalite (real idempotency store)", () => {
    const TABLE = "fifo-idempotency";
    let db: LocalDynamo;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());

    it("a batch redelivered after a lost response runs only what had not succeeded, in group order", async () => {
        const records = [sqsRecord("m1", "a", "1"), sqsRecord("m2", "b", "2"), sqsRecord("m3", "a", "3"), sqsRecord("m4", "b", "4")];
        let failM3 = true;
        const runs: string[] = [];
        const handler = fifoWorker(
            async (message) => {
                runs.push(message.raw.messageId);
                if (message.raw.messageId === "m3" && failM3) {
                    failM3 = false;
                    throw new Error("downstream unavailable");
                }
            },
            { tableName: TABLE, client: db.client, ...quiet },
        );
        assert.deepEqual(ids(await handler(event(records), fakeLambdaContext("req-1"))), ["m3"]);
        assert.deepEqual([...runs].sort(), ["m1", "m2", "m3", "m4"]);
        runs.length = 0;
        assert.deepEqual(ids(await handler(event(records), fakeLambdaContext("req-2"))), []);
        assert.deepEqual(runs, ["m3"]);
    });
});
