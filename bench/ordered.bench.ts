/**
 * Ordered batches, sequential versus per-key parallel, measured side by side in one run: a
 * 1000-record Kinesis batch over 100 partition keys and SQS FIFO batches of 10 messages over 10
 * groups, with a handler that awaits 5 ms. Keys are drawn by a seeded generator, so both modes get
 * the same batches; rounds alternate between the modes. Idempotency is off, so the ratio is the
 * ordering executor's alone (the DynamoDB cost per record is in the idempotency table).
 */
import { performance } from "node:perf_hooks";
import type { KinesisStreamEvent, SQSEvent } from "aws-lambda";
import { fifoWorker, kinesisWorker } from "../runtime";
import { fakeLambdaContext } from "../tests/helpers/lambdaContext";
import { seededRandom } from "./simulator/random";

/** Heading printed by `npm run bench`. */
export const title = "Ordered batches: sequential vs per-key parallel (idempotency off, handler awaits 5 ms)";

const WORK_MS = 5;
const PARALLEL = 32;
const KINESIS = { records: 1000, keys: 100, rounds: 2 };
const FIFO = { messages: 10, groups: 10, batches: 50 };

interface Payload {
    key: string;
    n: number;
}

interface Row {
    source: string;
    shape: string;
    sequentialMs: number;
    parallelMs: number;
    /** Σ over batches of the lower bound on per-key parallel time, in handler calls: max(longest key, records / 32). */
    criticalPathCalls: number;
    records: number;
    violations: number;
    processed: number;
}

type BatchRunner = (parallelism: number, tracker: OrderTracker) => () => Promise<{ batchItemFailures: unknown[] }>;

/** Runs the measurement and returns the Markdown table. */
export async function run(): Promise<string> {
    const random = seededRandom(20_260_101);
    const kinesis = emptyRow("Kinesis", `${KINESIS.rounds} batches of ${KINESIS.records} records, ${KINESIS.keys} keys`);
    for (let round = 0; round < KINESIS.rounds; round++) {
        const items = payloads(KINESIS.records, KINESIS.keys, random);
        const event = kinesisEvent(items);
        await measureBatch(kinesis, items, (parallelism, tracker) => {
            const handler = kinesisWorker<Payload>((r) => tracker.run(r.data), { inBatchParallelism: parallelism, idempotency: false, write: () => undefined });
            return () => handler(event, fakeLambdaContext());
        });
    }
    const fifo = emptyRow("SQS FIFO", `${FIFO.batches} batches of ${FIFO.messages} messages, ${FIFO.groups} groups`);
    for (let batch = 0; batch < FIFO.batches; batch++) {
        const items = payloads(FIFO.messages, FIFO.groups, random);
        const event = sqsEvent(items);
        await measureBatch(fifo, items, (parallelism, tracker) => {
            const handler = fifoWorker<Payload>((m) => tracker.run(m.body), { inBatchParallelism: parallelism, idempotency: false, write: () => undefined });
            return () => handler(event, fakeLambdaContext());
        });
    }
    return table([kinesis, fifo]);
}

/** Runs one batch sequentially, then per-key parallel, each with a fresh order tracker, and adds the figures to `row`. */
async function measureBatch(row: Row, items: Payload[], runner: BatchRunner): Promise<void> {
    for (const parallelism of [1, PARALLEL]) {
        const tracker = new OrderTracker();
        const ms = await timed(runner(parallelism, tracker));
        if (parallelism === 1) row.sequentialMs += ms;
        else row.parallelMs += ms;
        row.violations += tracker.violations;
        row.processed += tracker.processed;
    }
    row.records += items.length;
    row.criticalPathCalls += Math.max(longestKey(items), Math.ceil(items.length / PARALLEL));
}

function longestKey(items: Payload[]): number {
    return Math.max(...items.map((p) => p.n + 1));
}

/**
 * Counts order violations: a record of a key starting before the previous record of that key
 * finished, or starting with a lower `n` than one already started.
 */
class OrderTracker {
    violations = 0;
    processed = 0;
    private readonly lastStarted = new Map<string, number>();
    private readonly busy = new Set<string>();

    async run({ key, n }: Payload): Promise<void> {
        if (this.busy.has(key) || n <= (this.lastStarted.get(key) ?? -1)) this.violations++;
        this.busy.add(key);
        this.lastStarted.set(key, n);
        await new Promise((resolve) => setTimeout(resolve, WORK_MS));
        this.busy.delete(key);
        this.processed++;
    }
}

/** `count` payloads with keys drawn from `keys`; `n` increases per key in batch order. */
function payloads(count: number, keys: number, random: () => number): Payload[] {
    const next = new Map<string, number>();
    return Array.from({ length: count }, () => {
        const key = `key-${Math.floor(random() * keys)}`;
        const n = next.get(key) ?? 0;
        next.set(key, n + 1);
        return { key, n };
    });
}

function kinesisEvent(items: Payload[]): KinesisStreamEvent {
    return {
        Records: items.map((p, i) => ({
            eventSource: "aws:kinesis",
            eventVersion: "1.0",
            eventID: `shardId-000000000000:${1000 + i}`,
            eventName: "aws:kinesis:record",
            invokeIdentityArn: "arn:aws:iam::123456789012:role/bench",
            awsRegion: "us-east-1",
            eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
            kinesis: { kinesisSchemaVersion: "1.0", partitionKey: p.key, sequenceNumber: String(1000 + i), data: Buffer.from(JSON.stringify(p)).toString("base64"), approximateArrivalTimestamp: 0 },
        })),
    };
}

function sqsEvent(items: Payload[]): SQSEvent {
    return {
        Records: items.map((p, i) => ({
            messageId: `m-${i}`,
            receiptHandle: `rh-${i}`,
            body: JSON.stringify(p),
            attributes: { ApproximateReceiveCount: "1", SentTimestamp: "0", SenderId: "bench", ApproximateFirstReceiveTimestamp: "0", MessageGroupId: p.key, MessageDeduplicationId: `d-${i}` },
            messageAttributes: {},
            md5OfBody: "",
            eventSource: "aws:sqs",
            eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:bench.fifo",
            awsRegion: "us-east-1",
        })),
    };
}

function emptyRow(source: string, shape: string): Row {
    return { source, shape, sequentialMs: 0, parallelMs: 0, criticalPathCalls: 0, records: 0, violations: 0, processed: 0 };
}

async function timed(call: () => Promise<{ batchItemFailures: unknown[] }>): Promise<number> {
    const start = performance.now();
    const { batchItemFailures } = await call();
    if (batchItemFailures.length > 0) throw new Error("bench batch reported failures");
    return performance.now() - start;
}

function table(rows: Row[]): string {
    const lines = [
        `| source | batches (keys drawn at random) | sequential (inBatchParallelism 1) | per-key parallel (${PARALLEL}) | speedup | bound (records ÷ critical path) | order violations | records processed |`,
        "|---|---|---|---|---|---|---|---|",
        ...rows.map(
            (r) =>
                `| ${r.source} | ${r.shape} | ${r.sequentialMs.toFixed(0)} ms | ${r.parallelMs.toFixed(0)} ms | ${(r.sequentialMs / r.parallelMs).toFixed(1)}× | ` +
                `${(r.records / r.criticalPathCalls).toFixed(1)}× | ${r.violations} | ${r.processed} / ${r.records * 2} |`,
        ),
    ];
    return lines.join("\n");
}
