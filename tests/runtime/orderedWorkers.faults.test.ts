/**
 * The ordered workers on dynalite with faults injected into the idempotency store's client: a lost
 * claim or completion response never stalls a shard or a group, and under random faults on 10 % of
 * DynamoDB calls every record's body runs exactly once, in order per key, through Lambda's redelivery.
 */
import * as assert from "node:assert/strict";
import type { SQSRecord } from "aws-lambda";
import { fifoWorker, kinesisWorker, KinesisWorkerFunction } from "../../runtime";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { FaultRule, injectFaults, seededRandom, THROTTLE_ERRORS } from "../helpers/faults";
import { kinesisRecord } from "../helpers/kinesisRecords";
import { fakeLambdaContext } from "../helpers/lambdaContext";

const TABLE = "ordered-faults";
const STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/faults";
const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:faults.fifo";
const quiet = { write: () => undefined };

function sqsRecord(messageId: string, groupId: string, body: string): SQSRecord {
    return {
        messageId,
        receiptHandle: `rh-${messageId}`,
        body,
        attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: "1700000000000",
            SenderId: "AIDAEXAMPLE",
            ApproximateFirstReceiveTimestamp: "1700000000001",
            MessageGroupId: groupId,
            MessageDeduplicationId: `content-${body}`,
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: QUEUE_ARN,
        awsRegion: "us-east-1",
    };
}

describe("ordered workers with faults in the idempotency store (dynalite)", function () {
    this.timeout(120_000);
    let db: LocalDynamo;
    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());

    for (const command of ["PutItemCommand", "UpdateItemCommand"]) {
        it(`Kinesis: a lost ${command} response on every record neither fails nor repeats a record`, async () => {
            const runs: string[] = [];
            const handler = kinesisWorker(async (r) => void runs.push(r.sequenceNumber), { tableName: TABLE, client: db.client, ...quiet });
            const records = ["a", "b", "a"].map((key, i) => kinesisRecord(STREAM_ARN, key, `${command}-${i}`));
            const faults = injectFaults(db.client, [{ command, fault: "after" }]);
            try {
                assert.deepEqual(await handler({ Records: records }, fakeLambdaContext()), { batchItemFailures: [] });
            } finally {
                faults.restore();
            }
            assert.equal(faults.injected.length, 3);
            assert.deepEqual(await handler({ Records: records }, fakeLambdaContext()), { batchItemFailures: [] });
            assert.deepEqual([...runs].sort(), records.map((r) => r.kinesis.sequenceNumber).sort());
        });

        it(`FIFO: a lost ${command} response on every message neither fails nor repeats a message`, async () => {
            const runs: string[] = [];
            const handler = fifoWorker(async (m) => void runs.push(m.raw.messageId), { tableName: TABLE, client: db.client, ...quiet });
            const records = ["g1", "g2", "g1"].map((group, i) => sqsRecord(`${command}-m${i}`, group, `body-${i}`));
            const faults = injectFaults(db.client, [{ command, fault: "after" }]);
            try {
                assert.deepEqual(await handler({ Records: records }, fakeLambdaContext()), { batchItemFailures: [] });
            } finally {
                faults.restore();
            }
            assert.deepEqual(await handler({ Records: records }, fakeLambdaContext()), { batchItemFailures: [] });
            assert.deepEqual([...runs].sort(), records.map((r) => r.messageId).sort());
        });
    }

    it("Kinesis under random faults on 10 % of DynamoDB calls: every record runs exactly once, in order per key, and the shard finishes", async () => {
        const KEYS = ["k1", "k2", "k3", "k4", "k5"];
        const records = Array.from({ length: 120 }, (_, i) => kinesisRecord(STREAM_ARN, KEYS[i % KEYS.length], String(1_000_000 + i), { i }));
        const processed: number[] = [];
        const fn: KinesisWorkerFunction<{ i: number }> = async (record) => void processed.push(record.data.i);
        const clock = { now: 1_800_000_000_000 };
        const completionFailed = new Set<number>();
        const write = (line: string) => {
            const entry = JSON.parse(line);
            if (/storing the completion failed/.test(entry.message ?? "")) completionFailed.add(Number(entry.sequenceNumber) - 1_000_000);
        };
        const sleep = async (ms: number) => void (clock.now += ms); // a record waits out a stranded claim on the simulated clock
        const handler = kinesisWorker(fn, { tableName: TABLE, client: db.client, inBatchParallelism: 4, leaseSeconds: 30, expirySeconds: 3600, now: () => clock.now, write, sleep });
        const rules: FaultRule[] = [
            { command: /Item/, fault: "before", probability: 0.03 },
            { command: /Item/, fault: "after", probability: 0.04 / 0.97 },
            { command: /Item/, fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, probability: 0.03 / 0.93 },
        ];
        const faulty = injectFaultsInOrder(db.client, rules, seededRandom(77));
        let checkpoint = 0;
        let invocations = 0;
        try {
            for (; checkpoint < records.length && invocations < 200; invocations++) {
                const batch = records.slice(checkpoint, checkpoint + 25);
                const { batchItemFailures } = await handler({ Records: batch }, fakeLambdaContext(`req-${invocations}`));
                checkpoint = batchItemFailures.length === 0 ? checkpoint + batch.length : records.findIndex((r) => r.kinesis.sequenceNumber === batchItemFailures[0].itemIdentifier);
                clock.now += 5_000; // Lambda retries within seconds; a claim stranded by a fault is free again after its 30 s lease
            }
        } finally {
            faulty.restore();
        }
        assert.equal(checkpoint, records.length, "the shard did not finish");
        assert.ok(faulty.injected() > 20, `only ${faulty.injected()} faults injected`);
        // The documented residual: a record whose completion failed on all its attempts may run again after its lease.
        const runsOf = (i: number) => processed.filter((p) => p === i).length;
        for (const [i] of records.entries()) assert.equal(runsOf(i) === 1 || (completionFailed.has(i) && runsOf(i) === 2), true, `record ${i} ran ${runsOf(i)} times`);
        for (const key of KEYS) {
            const ofKey = [...new Set(processed.filter((i) => KEYS[i % KEYS.length] === key))];
            assert.deepEqual(ofKey, [...ofKey].sort((a, b) => a - b), `order of ${key} violated`);
        }
    });
});

/**
 * Each rule gets its own chance on every call, the last rule first (the helper applies only the first
 * matching rule of one injection, so the rules are installed one over another; the probabilities
 * above are conditional ones that add up to 10 % of calls in all).
 */
function injectFaultsInOrder(client: Parameters<typeof injectFaults>[0], rules: FaultRule[], random: () => number) {
    const injections = rules.map((rule) => injectFaults(client, [rule], { random }));
    return {
        injected: () => injections.reduce((sum, injection) => sum + injection.injected.length, 0),
        restore: () => [...injections].reverse().forEach((injection) => injection.restore()),
    };
}
