/**
 * The runtime wrapper of `KinesisOrderedWorker` (pattern 2, Kinesis): turns the user's
 * `(record, ctx) => void` into a Lambda handler for Kinesis batches with per-partition-key order,
 * keys in parallel, idempotency per record and a partial batch response whose checkpoint never
 * passes a record that did not succeed.
 */
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { ENV, Environment, optionalBoolean } from "../contracts/environment";
import { WorkerContext } from "./context";
import { IdempotencyKeyError } from "./idempotency";
import { KPL_BASE64_PREFIX, KplUserRecord, kplUserRecords } from "./kinesisAggregation";
import {
    OrderedSource,
    OrderedWorkerOptions,
    orderedWorkerSettings,
    processOrderedInvocation,
    RecordDecodeError,
    resumeEntry,
} from "./ordering";

/**
 * Default idempotency record expiry of the Kinesis worker: 604,800 s = 7 days, the largest finite
 * `MaximumRecordAgeInSeconds` an event source mapping accepts, so a record is remembered for as long
 * as Lambda may deliver it again.
 */
export const KINESIS_DEFAULT_EXPIRY_SECONDS = 604_800;

/**
 * One decoded Kinesis record, as the user's function receives it.
 *
 * @example
 * async (record: KinesisWorkerRecord<Order>, ctx) => ctx.downstream("orders", () => save(record.data));
 */
export interface KinesisWorkerRecord<TData = unknown> {
    /** The record's data: parsed JSON when the bytes are UTF-8 JSON, else a `Buffer` of the raw bytes. */
    data: TData;
    /** The partition key; records with the same key are processed in sequence order. */
    partitionKey: string;
    /** The record's sequence number within its shard (of a KPL user record: the aggregate's). */
    sequenceNumber: string;
    /**
     * Set on a user record of a KPL aggregate only: its index in the aggregate, from 0 (user records of
     * one key run in sequence number, then sub-sequence number order).
     * @example 2
     */
    subSequenceNumber?: number;
    /** The record exactly as Lambda delivered it (of a KPL user record: the aggregate). */
    raw: KinesisStreamRecord;
}

/** What the Kinesis worker runs one by one: a record, or one user record of a KPL aggregate. */
interface KinesisItem {
    /** The record as Lambda delivered it. */
    record: KinesisStreamRecord;
    /** The user record, when `record` is a KPL aggregate. */
    user?: KplUserRecord;
    /** Why `record` looked like a KPL aggregate (magic bytes, digest) but could not be read: it fails. */
    unreadable?: Error;
}

/**
 * The user's business function for one record. Throwing (or rejecting) fails the record: no later
 * record of its partition key runs in this invocation, and Lambda delivers it again.
 *
 * @example
 * const fn: KinesisWorkerFunction<Order> = async (record, ctx) => { await apply(record.data); };
 */
export type KinesisWorkerFunction<TData = unknown> = (record: KinesisWorkerRecord<TData>, ctx: WorkerContext) => Promise<void> | void;

/**
 * A Lambda handler for a Kinesis event source mapping with `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
 *
 * @example
 * export const handler: KinesisWorkerHandler = kinesisWorker(fn);
 */
export type KinesisWorkerHandler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;

/**
 * Options of {@link kinesisWorker}.
 * - `inBatchParallelism`: partition keys run at once (default env `IN_BATCH_PARALLELISM`, else 10);
 * - `idempotency`: `false` turns the per-record idempotency off (default on);
 * - `expirySeconds`: default env `IDEMPOTENCY_EXPIRY_SECONDS`, else {@link KINESIS_DEFAULT_EXPIRY_SECONDS}.
 *
 * @example
 * kinesisWorker(fn, { inBatchParallelism: 32 });
 */
export interface KinesisWorkerOptions extends OrderedWorkerOptions {
    /**
     * Whether a KPL-aggregated record runs as its user records; `false` hands it over whole, as before this
     * option existed (for handlers that de-aggregate `raw` themselves).
     * @default env `KPL_DEAGGREGATION` ("true" / "false"), else true
     * @example false
     */
    kplDeaggregation?: boolean;
}

/**
 * Wraps `fn` as a Lambda handler for Kinesis batches.
 *
 * Records are grouped by partition key; keys run concurrently (at most `inBatchParallelism`), the
 * records of one key strictly one after another in sequence order. When a record fails, no later
 * record of its key runs in this invocation. The response reports the earliest record that did not
 * succeed (`itemIdentifier` = its sequence number): Lambda resumes there, so the checkpoint never
 * passes a failed or skipped record. Records of other keys after it that did succeed come back too;
 * with idempotency on (the default; key = `eventSourceARN` + `eventID`) they are skipped as duplicates.
 * A record a producer aggregated with the KPL (magic bytes and MD5 digest, as the KCL checks them) runs as
 * its user records, each under its own partition key and with its `subSequenceNumber` (idempotency key
 * + `#` + it); one that fails reports the aggregate's sequence number, so the whole aggregate comes back and
 * its user records that succeeded are skipped as duplicates. An aggregate whose digest matches but whose
 * message cannot be read fails like an undecodable record.
 * A record that meets a claim an earlier invocation left in progress (it timed out, or its release
 * failed) waits for the claim's lease within the invocation, up to half the remaining time, and then runs;
 * when the lease outlasts that wait, the record fails after it and comes back (an in-flight duplicate,
 * counted in `InFlightDuplicates`), so each of Lambda's quick retries uses up that much of the lease. A record whose data
 * is not base64, or that has no partition key, fails like any other record, never dropped. A batch
 * that cannot be answered record by record (no `Records` array; a null record, one without `kinesis`
 * or without a sequence number) fails whole with `MalformedBatchError` before any record runs, with a
 * message naming each such record. When a batch guard rejects the batch (the
 * circuit breaker while open, see `registerBatchGuard`), the earliest record is reported, so the
 * checkpoint does not move past the batch.
 *
 * The store, parallelism and de-aggregation are configured when the handler is created (module load), so a
 * missing table or a bad `IN_BATCH_PARALLELISM` or `KPL_DEAGGREGATION` fails fast.
 * @param env where the settings the options leave out are read (default `process.env`)
 *
 * @example
 * export const handler = kinesisWorker<Order>(async (record, ctx) => {
 *     await ctx.downstream("ledger", () => ledger.apply(record.partitionKey, record.data));
 * });
 */
export function kinesisWorker<TData = unknown>(fn: KinesisWorkerFunction<TData>, options: KinesisWorkerOptions = {}, env: Environment = process.env): KinesisWorkerHandler {
    const settings = orderedWorkerSettings(options, KINESIS_DEFAULT_EXPIRY_SECONDS, "kinesisWorker", env);
    const source = kinesisSource<TData>(options.kplDeaggregation ?? optionalBoolean(env, ENV.kplDeaggregation) ?? true);
    return async (event, context) => {
        const results = await processOrderedInvocation(event?.Records, fn, source, settings, context);
        const resumeAt = resumeEntry(results);
        return { batchItemFailures: resumeAt ? [{ itemIdentifier: resumeAt.value.record.kinesis.sequenceNumber }] : [] };
    };
}

/**
 * Decodes a record's data: base64 to bytes, then parsed JSON when the bytes are valid UTF-8 JSON,
 * else the bytes as a `Buffer`.
 *
 * @throws RecordDecodeError when `data` is not a base64 string
 * @example
 * decodeKinesisData(Buffer.from('{"a":1}').toString("base64")); // { a: 1 }
 * decodeKinesisData(Buffer.from([0xff, 0x00]).toString("base64")); // <Buffer ff 00>
 */
export function decodeKinesisData(data: unknown): unknown {
    if (!isBase64(data)) throw new RecordDecodeError("kinesisWorker: kinesis.data is not a base64 string");
    return decodeBytes(Buffer.from(data, "base64"));
}

/** Parsed JSON when `bytes` are UTF-8 JSON, else `bytes`. */
function decodeBytes(bytes: Buffer): unknown {
    try {
        return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
        return bytes;
    }
}

function kinesisSource<TData>(deaggregate: boolean): OrderedSource<KinesisStreamRecord, KinesisWorkerRecord<TData>, KinesisItem> {
    return {
        owner: "kinesisWorker",
        checkpointed: true,
        unreportable: unreportableKinesisRecord,
        itemsOf: deaggregate ? itemsOfRecord : (record) => [{ record }],
        keyOf: ({ record, user }) => user?.partitionKey ?? record.kinesis.partitionKey ?? "",
        decode: (item) => decodeItem<TData>(item),
        idempotencyKeyOf: ({ record, user }) => idempotencyKeyOfRecord(record) + (user ? `#${user.subSequenceNumber}` : ""),
        payloadOf: ({ record, user }) => (user ? { partitionKey: user.partitionKey, data: user.data.toString("base64") } : { partitionKey: record.kinesis.partitionKey, data: record.kinesis.data }),
        logFieldsOf: ({ record, user }) => ({
            partitionKey: user?.partitionKey ?? record.kinesis.partitionKey,
            sequenceNumber: record.kinesis.sequenceNumber,
            ...(user ? { subSequenceNumber: user.subSequenceNumber } : {}),
        }),
    };
}

/**
 * A record's items: one per user record when its data is a KPL aggregate (none for an empty one), else the
 * record itself. An aggregate that cannot be read is one item that fails (it is retried, never dropped).
 */
function itemsOfRecord(record: KinesisStreamRecord): KinesisItem[] {
    // (Plain records, most of them, are told apart by their base64 text: their data is decoded once, when it runs.)
    if (!isBase64(record.kinesis.data) || !record.kinesis.data.startsWith(KPL_BASE64_PREFIX)) return [{ record }];
    try {
        const users = kplUserRecords(Buffer.from(record.kinesis.data, "base64"));
        return users ? users.map((user) => ({ record, user })) : [{ record }];
    } catch (error) {
        return [{ record, unreadable: error as Error }];
    }
}

function decodeItem<TData>({ record, user, unreadable }: KinesisItem): KinesisWorkerRecord<TData> {
    if (unreadable) throw new RecordDecodeError(`kinesisWorker: record ${record.kinesis.sequenceNumber}: ${unreadable.message}`);
    if (!user) return { data: dataOf(record) as TData, partitionKey: partitionKeyOf(record), sequenceNumber: record.kinesis.sequenceNumber, raw: record };
    if (user.partitionKey === "") throw new RecordDecodeError(`kinesisWorker: record ${record.kinesis.sequenceNumber}: user record ${user.subSequenceNumber} has no partition key`);
    return { data: decodeBytes(user.data) as TData, partitionKey: user.partitionKey, sequenceNumber: record.kinesis.sequenceNumber, subSequenceNumber: user.subSequenceNumber, raw: record };
}

/** A record the partial batch response cannot name: Lambda resumes at a sequence number, so it needs one. */
function unreportableKinesisRecord(raw: unknown): string | undefined {
    if (raw === null || typeof raw !== "object") return `is ${raw === null ? "null" : typeof raw}, not a Kinesis record`;
    const kinesis = (raw as { kinesis?: unknown }).kinesis;
    if (kinesis === null || typeof kinesis !== "object") return "has no kinesis field";
    const sequenceNumber = (kinesis as { sequenceNumber?: unknown }).sequenceNumber;
    if (typeof sequenceNumber !== "string" || sequenceNumber === "") return "has no kinesis.sequenceNumber";
    return undefined;
}

function dataOf(raw: KinesisStreamRecord): unknown {
    if (!isBase64(raw.kinesis.data)) throw new RecordDecodeError(`kinesisWorker: record ${raw.kinesis.sequenceNumber}: kinesis.data is not a base64 string`);
    return decodeKinesisData(raw.kinesis.data);
}

function isBase64(data: unknown): data is string {
    return typeof data === "string" && data.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(data);
}

function partitionKeyOf(raw: KinesisStreamRecord): string {
    const partitionKey = raw.kinesis.partitionKey;
    if (typeof partitionKey !== "string" || partitionKey === "") {
        throw new RecordDecodeError(`kinesisWorker: record ${raw.kinesis.sequenceNumber} has no kinesis.partitionKey`);
    }
    return partitionKey;
}

/** `eventSourceARN/eventID`: the event id (`shardId-…:sequenceNumber`) is unique within a stream, the ARN across streams. */
function idempotencyKeyOfRecord(raw: KinesisStreamRecord): string {
    if (!raw.eventSourceARN || !raw.eventID) {
        throw new IdempotencyKeyError(
            `${raw.eventSourceARN}/${raw.eventID}`,
            "kinesisWorker: the record has no eventSourceARN or eventID, so it cannot be processed idempotently; it fails and comes back",
        );
    }
    return `${raw.eventSourceARN}/${raw.eventID}`;
}
