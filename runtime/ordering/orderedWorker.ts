/**
 * What `kinesisWorker` and `fifoWorker` share: their options, and one invocation of an ordered batch
 * (decode, idempotency, per-key order, failure reporting) on top of {@link processOrderedBatch}.
 */
import type { Context } from "aws-lambda";
import { ENV, Environment, optionalInteger } from "../../contracts/environment";
import { ConfigurationError } from "../../contracts/errors";
import { createInvocationScope, InvocationScope, WorkerContext } from "../context";
import {
    countIdempotentOutcome,
    IdempotencyInProgressError,
    IdempotencyOptions,
    IdempotencyOwnershipLostError,
    IdempotencyPayloadMismatchError,
    IdempotencyPersistence,
    idempotencyStoreFrom,
    runIdempotently,
} from "../idempotency";
import { LineWriter, LogFields, Logger } from "../log";
import { MetricName } from "../metrics";
import { checkBatchGuards } from "./batchGuard";
import { BatchRejectedError, MalformedBatchError } from "./errors";
import { LEASE_WAIT_SHARE } from "../../contracts/idempotency";
import { leaseWait } from "./leaseWait";
import { BatchEntry, EntryResult, planBatch } from "./plan";
import { processOrderedBatch } from "./processor";

/** Keys processed at the same time within one batch when neither the option nor `IN_BATCH_PARALLELISM` says otherwise. */
export const DEFAULT_IN_BATCH_PARALLELISM = 10;

/** The largest in-batch parallelism the wrappers accept (the Kinesis component's upper bound). */
export const MAX_IN_BATCH_PARALLELISM = 1000;

/**
 * Options of the ordered wrappers; every idempotency option falls back to the environment the
 * component sets (`IDEMPOTENCY_TABLE_NAME`, `IDEMPOTENCY_EXPIRY_SECONDS`, `IDEMPOTENCY_LEASE_SECONDS`, …).
 *
 * @example
 * kinesisWorker(handle, { inBatchParallelism: 32, idempotency: false });
 */
export interface OrderedWorkerOptions extends IdempotencyOptions {
    /**
     * How many ordering keys (partition keys, message groups) of one batch run at the same time;
     * records of one key always run one after another. An integer from 1 to 1000; 1 processes the
     * batch sequentially. Bounds the downstream concurrency at (function concurrency × this).
     * @default env `IN_BATCH_PARALLELISM`, else 10
     * @example 32
     */
    inBatchParallelism?: number;
    /**
     * Where log and EMF lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
    /**
     * How a record of a checkpointed source (Kinesis) waits for the lease of a claim an earlier invocation
     * left in progress (see `leaseWait`).
     * @default setTimeout
     * @example async (ms) => void (clock.now += ms)
     */
    sleep?: (ms: number) => Promise<void>;
}

/**
 * How an ordered wrapper reads one raw record of its event source. A raw record is one item, unless
 * `itemsOf` splits it (a KPL aggregate: one item per user record); every other member reads an item.
 *
 * @example
 * const source: OrderedSource<SQSRecord, FifoWorkerMessage> = { owner: "fifoWorker", keyOf: (r) => r.attributes.MessageGroupId, ... };
 */
export interface OrderedSource<TRaw, TDecoded, TItem = TRaw> {
    /** The wrapper's name, for error messages. */
    readonly owner: string;
    /**
     * Whether the source keeps a checkpoint (Kinesis): then a rejected batch must report its successes
     * as failures too, or the checkpoint would move past the batch. A queue (SQS) deletes each
     * succeeded message on its own, so a rejection leaves the batch's outcomes as they are. A
     * checkpointed source also retries a failed batch at once, so its records wait out the lease of a
     * claim left in progress ({@link leaseWait}); a queue redelivers after the visibility timeout.
     */
    readonly checkpointed: boolean;
    /**
     * Why `raw` cannot be named in a partial batch response (null, no sequence number, no message id),
     * or `undefined` when it can. Any such record fails the whole batch before anything runs.
     */
    unreportable(raw: unknown): string | undefined;
    /**
     * The items of a reportable raw record, in source order; they run in that order within their keys.
     * Without it, the raw record is the item (then `TItem` must be `TRaw`).
     */
    itemsOf?(raw: TRaw): readonly TItem[];
    /** The ordering key (partition key, message group id); items of one key run in order. */
    keyOf(item: TItem): string;
    /** The value the user's function receives; throws `RecordDecodeError` when impossible. */
    decode(item: TItem): TDecoded;
    /** The idempotency key of the item; throws `IdempotencyKeyError` when it has none. */
    idempotencyKeyOf(item: TItem): string;
    /** What the idempotency payload check hashes. */
    payloadOf(item: TItem): unknown;
    /** Fields that identify the item in log lines. */
    logFieldsOf(item: TItem): LogFields;
}

/** The user's per-record function, as both ordered wrappers call it. */
type RecordFunction<TDecoded> = (record: TDecoded, ctx: WorkerContext) => Promise<void> | void;

/**
 * Settings an ordered wrapper resolves once, when the handler is created (module load), so a bad
 * setting fails the cold start rather than every batch.
 *
 * @example
 * const settings = orderedWorkerSettings(options, 604800, "kinesisWorker");
 */
export interface OrderedWorkerSettings {
    /** Keys run at once in a batch. */
    readonly parallelism: number;
    /** The idempotency store, or `undefined` when idempotency is off. */
    readonly store: IdempotencyPersistence | undefined;
    /** Where log and EMF lines go. */
    readonly write?: LineWriter;
    /** How a record waits for a claim's lease. */
    readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Resolves the options: explicit option, then environment, then defaults.
 *
 * @param defaultExpirySeconds the event source's whole redelivery window
 * @param owner the wrapper's name, for error messages
 * @param env the environment
 * @throws ConfigurationError when `inBatchParallelism` (or `IN_BATCH_PARALLELISM`) is not an integer from 1 to 1000, or an idempotency setting is invalid
 * @example
 * orderedWorkerSettings({ inBatchParallelism: 4 }, 1209600, "fifoWorker").parallelism; // 4
 */
export function orderedWorkerSettings(options: OrderedWorkerOptions, defaultExpirySeconds: number, owner: string, env: Environment = process.env): OrderedWorkerSettings {
    return {
        parallelism: inBatchParallelismFrom(options, owner, env),
        store: idempotencyStoreFrom(options, defaultExpirySeconds, owner, env),
        write: options.write,
        sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    };
}

function inBatchParallelismFrom(options: OrderedWorkerOptions, owner: string, env: Environment): number {
    const bounds = { min: 1, max: MAX_IN_BATCH_PARALLELISM };
    const value = options.inBatchParallelism;
    if (value === undefined) return optionalInteger(env, ENV.inBatchParallelism, bounds) ?? DEFAULT_IN_BATCH_PARALLELISM;
    if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
        throw new ConfigurationError(`${owner}: inBatchParallelism must be an integer from 1 to ${MAX_IN_BATCH_PARALLELISM}; received ${value}`);
    }
    return value;
}

/**
 * Runs one invocation's records in order per key and returns each item's outcome (position order; an
 * item is a record, or one of the records `source.itemsOf` splits it into). Never rejects because of a record; the caller turns the outcomes into the partial batch response.
 * A batch that cannot be answered record by record (no `Records` array, a record the response could
 * not name) is rejected with {@link MalformedBatchError} before any record runs (one error line).
 * Then the registered batch guards ({@link registerBatchGuard}) see the batch's downstream samples: when
 * one rejects the batch of a checkpointed source (Kinesis), every record that succeeded is turned into a
 * failure too (one warning line), so the checkpoint does not move past the batch; on a queue (SQS) the
 * batch's own outcomes stand.
 *
 * @example
 * const results = await processOrderedInvocation(event.Records, fn, kinesisSource, settings, context);
 */
export async function processOrderedInvocation<TRaw, TDecoded, TItem = TRaw>(
    records: readonly TRaw[] | null | undefined,
    fn: RecordFunction<TDecoded>,
    source: OrderedSource<TRaw, TDecoded, TItem>,
    settings: OrderedWorkerSettings,
    lambdaContext: Context,
): Promise<EntryResult<TItem>[]> {
    const scope = createInvocationScope(lambdaContext, { write: settings.write });
    try {
        assertReportable(records, source, scope.log);
        const items = records.flatMap((raw) => (source.itemsOf ? source.itemsOf(raw) : [raw as unknown as TItem]));
        const entries = items.map((item, index): BatchEntry<TItem> => ({ key: source.keyOf(item), position: BigInt(index), value: item }));
        const results = await processOrderedBatch(
            planBatch(entries),
            (entry) => processRecord(entry.value, fn, source, { store: settings.store, claimWait: source.checkpointed ? claimWaitOf(settings, lambdaContext) : undefined }, scope),
            { parallelism: settings.parallelism },
        );
        logSkipped(results, source, scope.log);
        return await guarded(results, { records: records.length, checkpointed: source.checkpointed }, scope, lambdaContext);
    } finally {
        await scope.finish();
    }
}

/**
 * The results; on a checkpointed source, all of them failed when a batch guard rejects the batch. The warning counts
 * the batch's `records`, and its `items` when a source split records into more (KPL user records).
 */
async function guarded<TItem>(results: EntryResult<TItem>[], batch: { records: number; checkpointed: boolean }, scope: InvocationScope, lambdaContext: Context): Promise<EntryResult<TItem>[]> {
    const onError = (error: unknown) => scope.log.warn("batch guard failed; the batch's own outcomes stand", { error });
    const rejection = await checkBatchGuards(scope.samples, lambdaContext, onError);
    if (!rejection) return results;
    const fields = { reason: rejection.reason, ...rejection.fields, records: batch.records, ...(results.length !== batch.records ? { items: results.length } : {}) };
    if (!batch.checkpointed) {
        scope.log.warn("batch rejected; succeeded messages are deleted as usual, failed ones come back", fields);
        return results;
    }
    scope.log.warn("batch rejected; every record is reported failed and comes back", fields);
    const error = new BatchRejectedError(rejection.reason);
    return results.map((result) => (result.outcome.status === "succeeded" ? { entry: result.entry, outcome: { status: "failed", error } } : result));
}

/** How one record may wait for claims' leases: the sleep and this record's budget of waiting. */
interface ClaimWait {
    sleep: (ms: number) => Promise<void>;
    budgetMs: number;
}

function claimWaitOf(settings: OrderedWorkerSettings, lambdaContext: Context): ClaimWait {
    return { sleep: settings.sleep, budgetMs: LEASE_WAIT_SHARE * lambdaContext.getRemainingTimeInMillis() };
}

async function processRecord<TRaw, TDecoded, TItem>(
    item: TItem,
    fn: RecordFunction<TDecoded>,
    source: OrderedSource<TRaw, TDecoded, TItem>,
    idempotency: { store: IdempotencyPersistence | undefined; claimWait: ClaimWait | undefined },
    scope: InvocationScope,
): Promise<void> {
    const log = scope.log.child(source.logFieldsOf(item));
    const { store, claimWait } = idempotency;
    try {
        const record = source.decode(item);
        let ran = false;
        const run = async () => {
            ran = true;
            return fn(record, { ...scope.ctx, log });
        };
        if (!store) {
            await run();
            return;
        }
        const attempt = () => runIdempotently(store, source.idempotencyKeyOf(item), source.payloadOf(item), run, { log });
        const outcome = await waitingOutClaims(attempt, () => ran, claimWait, log);
        countIdempotentOutcome(outcome, scope.metrics);
        if (outcome.duplicate) log.info("record already processed; skipped");
    } catch (error) {
        reportFailure(error, scope, log);
        throw error;
    }
}

/**
 * Runs `attempt` (an idempotent run); with a `claimWait`, an in-progress error of its claim (`ran()` still
 * false: the user's function did not run, so the error is not one it threw) is waited out as
 * {@link leaseWait} says and the attempt made again.
 */
async function waitingOutClaims<T>(attempt: () => Promise<T>, ran: () => boolean, claimWait: ClaimWait | undefined, log: Logger): Promise<T> {
    let budgetMs = claimWait?.budgetMs ?? 0;
    for (;;) {
        try {
            return await attempt();
        } catch (error) {
            const wait = claimWait && !ran() && error instanceof IdempotencyInProgressError ? leaseWait(error.leaseRemainingMs, budgetMs) : undefined;
            if (!claimWait || !wait) throw error;
            const then = wait.passes ? "then claims it" : "its lease outlasts the wait, so the record then fails and its retry waits on";
            log.info(`record is claimed by an earlier invocation; waiting for the claim's lease (${then})`, { waitMs: wait.waitMs });
            await claimWait.sleep(wait.waitMs);
            budgetMs -= wait.waitMs;
            if (!wait.passes) throw error;
        }
    }
}

function reportFailure(error: unknown, scope: InvocationScope, log: Logger): void {
    const retried = "the record and the later records of its key come back";
    if (error instanceof IdempotencyInProgressError) {
        scope.metrics.add(MetricName.InFlightDuplicates, "Count", 1);
        log.info(`record is being processed by another invocation; ${retried}`, { error });
    } else if (error instanceof IdempotencyPayloadMismatchError) {
        scope.metrics.add(MetricName.PayloadMismatches, "Count", 1);
        log.error(`record id reused with a different payload; ${retried}`, { error });
    } else if (error instanceof IdempotencyOwnershipLostError) {
        scope.metrics.add(MetricName.OwnershipLost, "Count", 1);
        log.warn(`processed, but the claim had been taken over; ${retried}`, { error });
    } else {
        log.error(`record failed; ${retried}`, { error });
    }
}

function logSkipped<TRaw, TItem>(results: readonly EntryResult<TItem>[], source: OrderedSource<TRaw, unknown, TItem>, log: Logger): void {
    const skipped = results.filter((r) => r.outcome.status === "skipped").map((r) => source.logFieldsOf(r.entry.value));
    if (skipped.length > 0) log.warn("records not run because an earlier record of their key failed", { skipped });
}

/** Throws {@link MalformedBatchError} (after one error line) unless every record can be reported on its own. */
function assertReportable<TRaw, TItem>(records: readonly TRaw[] | null | undefined, source: OrderedSource<TRaw, unknown, TItem>, log: Logger): asserts records is readonly TRaw[] {
    const problems = Array.isArray(records)
        ? records.flatMap((raw, index) => {
              const problem = source.unreportable(raw);
              return problem === undefined ? [] : [`record ${index} ${problem}`];
          })
        : [`the event has no Records array (received ${records === null ? "null" : typeof records})`];
    if (problems.length === 0) return;
    const error = new MalformedBatchError(`${source.owner}: ${problems.join("; ")}; the batch fails before any record runs`);
    log.error("malformed batch rejected before any record ran; the event source retries it, then sends it to its failure destination", { error });
    throw error;
}
