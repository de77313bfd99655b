/**
 * Ordered batches, measured side by side in one run: the package's ordered workers at
 * `inBatchParallelism` 1 (sequential), 10 (the default) and 32, against the Powertools batch processors
 * (`@aws-lambda-powertools/batch`): its sequential processors (`BatchProcessor` with
 * `processInParallel: false` for Kinesis, `SqsFifoPartialProcessorAsync` for SQS FIFO) and its parallel
 * `BatchProcessor`, whose order violations are counted. One 1000-record Kinesis batch over 100 partition
 * keys and 50 SQS FIFO batches of 10 messages over 10 groups, keys drawn by a seeded generator, a handler
 * that awaits 5 ms. Idempotency is off, so the figures are the ordering executor's alone.
 */
import { performance } from "node:perf_hooks";
import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import type { KinesisStreamEvent, KinesisStreamRecord, SQSEvent, SQSRecord } from "aws-lambda";
import { fifoWorker, kinesisWorker } from "../runtime";
import { fakeLambdaContext } from "../tests/helpers/lambdaContext";
import { markdownTable } from "./runner";
import { seededRandom } from "./simulator/random";

/** Heading printed by `npm run bench`. */
export const title = "Ordered batches: per-key parallel at the default and at 32, against the Powertools batch processors";

const WORK_MS = 5;
const DEFAULT_PARALLELISM = 10;
const KINESIS = { records: 1000, keys: 100, batches: 1 };
const FIFO = { messages: 10, groups: 10, batches: 50 };

interface Payload {
    key: string;
    n: number;
}

/** How one batch is processed: returns the batch item failures. */
type Runner = (tracker: OrderTracker) => () => Promise<{ batchItemFailures: unknown[] }>;

/** One way of processing a source's batches. */
interface Mode {
    label: string;
    /** Keys in flight at once (Infinity: every record at once). */
    parallelism: number;
    runner: (items: Payload[]) => Runner;
}

interface Row {
    source: string;
    mode: string;
    parallelism: number;
    ms: number;
    /** Σ over batches of the lower bound on per-key-ordered time, in handler calls: max(longest key, records ÷ parallelism). */
    criticalPathCalls: number;
    records: number;
    violations: number;
    processed: number;
}

/** Runs the measurement and returns the Markdown table. */
export async function run(): Promise<string> {
    const random = seededRandom(20_260_101);
    const kinesisBatches = Array.from({ length: KINESIS.batches }, () => payloads(KINESIS.records, KINESIS.keys, random));
    const fifoBatches = Array.from({ length: FIFO.batches }, () => payloads(FIFO.messages, FIFO.groups, random));
    const rows = [
        ...(await measureSource("Kinesis", kinesisBatches, kinesisModes())),
        ...(await measureSource("SQS FIFO", fifoBatches, fifoModes())),
    ];
    return [
        table(rows),
        "",
        `Kinesis: ${KINESIS.batches} batch of ${KINESIS.records} records over ${KINESIS.keys} keys; SQS FIFO: ${FIFO.batches} batches of ${FIFO.messages} messages over ${FIFO.groups} groups; the handler awaits ${WORK_MS} ms; modes run one after the other on the same batches.`,
        "Bound: records ÷ Σ max(longest key, records ÷ parallelism) — the best speedup any executor that keeps per-key order can reach at that parallelism; the parallel Powertools processor is not bound by it because it does not keep order.",
        "Order violation: a record of a key starting before the previous record of that key finished, or after a later one started. Timings include the event-loop timer resolution; speedups are relative to the package's sequential row of the same source.",
    ].join("\n");
}

function kinesisModes(): Mode[] {
    const ours = (parallelism: number, label: string): Mode => ({
        label,
        parallelism,
        runner: (items) => (tracker) => {
            const handler = kinesisWorker<Payload>((r) => tracker.run(r.data), { inBatchParallelism: parallelism, idempotency: false, write: () => undefined });
            const event = kinesisEvent(items);
            return () => handler(event, fakeLambdaContext());
        },
    });
    const powertools = (processInParallel: boolean, label: string): Mode => ({
        label,
        parallelism: processInParallel ? Infinity : 1,
        runner: (items) => (tracker) => {
            const processor = new BatchProcessor(EventType.KinesisDataStreams);
            const event = kinesisEvent(items);
            const handler = (record: KinesisStreamRecord) => tracker.run(JSON.parse(Buffer.from(record.kinesis.data, "base64").toString("utf8")) as Payload);
            return () => processPartialResponse(event, handler, processor, { context: fakeLambdaContext(), processInParallel });
        },
    });
    return [
        ours(1, "serverless-concurrency, sequential"),
        ours(DEFAULT_PARALLELISM, "serverless-concurrency, default"),
        ours(32, "serverless-concurrency"),
        powertools(false, "Powertools BatchProcessor, sequential"),
        powertools(true, "Powertools BatchProcessor, parallel"),
    ];
}

function fifoModes(): Mode[] {
    const ours = (parallelism: number, label: string): Mode => ({
        label,
        parallelism,
        runner: (items) => (tracker) => {
            const handler = fifoWorker<Payload>((m) => tracker.run(m.body), { inBatchParallelism: parallelism, idempotency: false, write: () => undefined });
            const event = sqsEvent(items);
            return () => handler(event, fakeLambdaContext());
        },
    });
    const handlerOf = (tracker: OrderTracker) => (record: SQSRecord) => tracker.run(JSON.parse(record.body) as Payload);
    return [
        ours(1, "serverless-concurrency, sequential"),
        ours(DEFAULT_PARALLELISM, "serverless-concurrency, default"),
        ours(32, "serverless-concurrency"),
        {
            label: "Powertools SqsFifoPartialProcessorAsync",
            parallelism: 1,
            runner: (items) => (tracker) => {
                const event = sqsEvent(items);
                return () => processPartialResponse(event, handlerOf(tracker), new SqsFifoPartialProcessorAsync(), { context: fakeLambdaContext() });
            },
        },
        {
            label: "Powertools BatchProcessor, parallel",
            parallelism: Infinity,
            runner: (items) => (tracker) => {
                const event = sqsEvent(items);
                return () => processPartialResponse(event, handlerOf(tracker), new BatchProcessor(EventType.SQS), { context: fakeLambdaContext(), processInParallel: true });
            },
        },
    ];
}

async function measureSource(source: string, batches: Payload[][], modes: Mode[]): Promise<Row[]> {
    const rows = modes.map((m) => ({ source, mode: m.label, parallelism: m.parallelism, ms: 0, criticalPathCalls: 0, records: 0, violations: 0, processed: 0 }));
    for (const items of batches) {
        for (const [i, mode] of modes.entries()) {
            const tracker = new OrderTracker();
            rows[i].ms += await timed(mode.runner(items)(tracker));
            rows[i].violations += tracker.violations;
            rows[i].processed += tracker.processed;
            rows[i].records += items.length;
            rows[i].criticalPathCalls += Math.max(longestKey(items), Math.ceil(items.length / mode.parallelism));
        }
    }
    return rows;
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

async function timed(call: () => Promise<{ batchItemFailures: unknown[] }>): Promise<number> {
    const start = performance.now();
    const { batchItemFailures } = await call();
    if (batchItemFailures.length > 0) throw new Error("bench batch reported failures");
    return performance.now() - start;
}

function table(rows: Row[]): string {
    const sequential = new Map(rows.filter((r) => r.parallelism === 1 && r.mode.startsWith("serverless")).map((r) => [r.source, r.ms]));
    const cells = rows.map((r) => [
        r.source,
        r.mode,
        Number.isFinite(r.parallelism) ? String(r.parallelism) : "all records",
        `${r.ms.toFixed(0)} ms`,
        `${((sequential.get(r.source) ?? r.ms) / r.ms).toFixed(1)}×`,
        Number.isFinite(r.parallelism) ? `${(r.records / r.criticalPathCalls).toFixed(1)}×` : "—",
        String(r.violations),
        `${r.processed} / ${r.records}`,
    ]);
    return markdownTable(["source", "processor", "parallelism", "time", "speedup", "bound", "order violations", "records processed"], cells);
}
