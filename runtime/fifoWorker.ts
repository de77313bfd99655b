/**
 * The runtime wrapper of `FifoTopicWorker` (pattern 2, SNS FIFO → SQS FIFO with raw delivery): turns
 * the user's `(message, ctx) => void` into a Lambda handler for SQS FIFO batches with per-group
 * order, groups in parallel, idempotency per message (by message id, or by the publisher's
 * deduplication id: `FIFO_IDEMPOTENCY_KEY`) and a partial batch response that
 * keeps each group's order.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { ENV, Environment, FifoIdempotencyKey, optionalString } from "../contracts/environment";
import { ConfigurationError } from "../contracts/errors";
import { WorkerContext } from "./context";
import { IdempotencyKeyError } from "./idempotency";
import {
    OrderedSource,
    OrderedWorkerOptions,
    orderedWorkerSettings,
    processOrderedInvocation,
    RecordDecodeError,
    unfinishedEntries,
} from "./ordering";

/**
 * Default idempotency record expiry of the FIFO worker: 1,209,600 s = 14 days, SQS's longest message
 * retention, so a message is remembered for as long as the queue may deliver it again.
 */
export const FIFO_DEFAULT_EXPIRY_SECONDS = 1_209_600;

/**
 * One message of an SQS FIFO batch, as the user's function receives it.
 *
 * @example
 * async (message: FifoWorkerMessage<Order>, ctx) => ctx.downstream("orders", () => save(message.body));
 */
export interface FifoWorkerMessage<TBody = unknown> {
    /** The SNS message (raw delivery): parsed JSON when it parses, else the string. */
    body: TBody;
    /** The message group id; messages of one group are processed in order. */
    groupId: string;
    /** The deduplication id (explicit, or the content hash with content-based deduplication). */
    deduplicationId: string | undefined;
    /** The SQS record exactly as Lambda delivered it. */
    raw: SQSRecord;
}

/**
 * The user's business function for one message. Throwing (or rejecting) fails the message and every
 * later message of its group in the batch; they come back in order.
 *
 * @example
 * const fn: FifoWorkerFunction<Order> = async (message) => { await apply(message.body); };
 */
export type FifoWorkerFunction<TBody = unknown> = (message: FifoWorkerMessage<TBody>, ctx: WorkerContext) => Promise<void> | void;

/**
 * A Lambda handler for an SQS FIFO event source mapping with `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
 *
 * @example
 * export const handler: FifoWorkerHandler = fifoWorker(fn);
 */
export type FifoWorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * What the FIFO worker's idempotency key is built from (env `FIFO_IDEMPOTENCY_KEY`).
 * - `MessageId`: queue ARN + SQS message id. A redelivery of a message (visibility timeout, a failed
 *   batch item) keeps its message id, so it never runs twice; a new message with the same body is a new
 *   message id and runs. The right key with content-based deduplication, where the deduplication id is
 *   the body's SHA-256: two identical "+1 to account X" sent more than 5 minutes apart are two messages
 *   for SQS and must be two for the worker. Publisher retries within SQS's 5-minute window are removed
 *   by SQS itself.
 * - `DeduplicationId`: queue ARN + group id + the publisher's deduplication id (per group, as
 *   high-throughput queues deduplicate). For publishers that supply ids naming a business operation: a
 *   re-send with the same id after the 5-minute window is still skipped, for the idempotency expiry.
 *   Never use it with content-based deduplication: identical bodies would be skipped for the whole expiry.
 */
export { FifoIdempotencyKey };

/**
 * Options of {@link fifoWorker}.
 * - `inBatchParallelism`: message groups run at once (default env `IN_BATCH_PARALLELISM`, else 10);
 * - `idempotency`: `false` turns the per-message idempotency off (default on);
 * - `expirySeconds`: default env `IDEMPOTENCY_EXPIRY_SECONDS`, else {@link FIFO_DEFAULT_EXPIRY_SECONDS}.
 *
 * @example
 * fifoWorker(fn, { inBatchParallelism: 5, idempotencyKey: "DeduplicationId" });
 */
export interface FifoWorkerOptions extends OrderedWorkerOptions {
    /**
     * What the idempotency key is built from; see {@link FifoIdempotencyKey}.
     * @default env `FIFO_IDEMPOTENCY_KEY`, else "MessageId"
     * @example "DeduplicationId"
     */
    idempotencyKey?: FifoIdempotencyKey;
}

/**
 * Wraps `fn` as a Lambda handler for SQS FIFO batches.
 *
 * Messages are grouped by `MessageGroupId`; groups run concurrently (at most `inBatchParallelism`),
 * the messages of one group strictly in batch order. A failed message and every later message of
 * its group are reported in `batchItemFailures` (by `messageId`) and the later ones are not run, so
 * they come back in order. With idempotency on (the default) the key is chosen by `idempotencyKey`
 * (the SQS message id unless told otherwise), so a redelivered message that already succeeded is
 * skipped; an in-flight duplicate counts as a failure (it comes back). A message without a group id
 * (not a FIFO queue) or without a body fails, never dropped. A batch that cannot be answered message
 * by message (no `Records` array, a null record or one without `messageId`) fails whole with
 * `MalformedBatchError` before any message runs. When a batch guard rejects the batch (the circuit
 * breaker opening, see `registerBatchGuard`), the batch's own outcomes stand: succeeded messages are
 * deleted as usual.
 *
 * @example
 * export const handler = fifoWorker<Order>(async (message, ctx) => {
 *     await ctx.downstream("ledger", () => ledger.apply(message.groupId, message.body));
 * });
 */
export function fifoWorker<TBody = unknown>(fn: FifoWorkerFunction<TBody>, options: FifoWorkerOptions = {}): FifoWorkerHandler {
    const settings = orderedWorkerSettings(options, FIFO_DEFAULT_EXPIRY_SECONDS, "fifoWorker");
    const source = fifoSource<TBody>(fifoIdempotencyKeyFrom(options));
    return async (event, context) => {
        const results = await processOrderedInvocation(event?.Records, fn, source, settings, context);
        return { batchItemFailures: unfinishedEntries(results).map((entry) => ({ itemIdentifier: entry.value.messageId })) };
    };
}

/**
 * The idempotency key mode: the option, else `FIFO_IDEMPOTENCY_KEY`, else `MessageId`.
 * @throws ConfigurationError for any other value
 * @example fifoIdempotencyKeyFrom({}, { FIFO_IDEMPOTENCY_KEY: "DeduplicationId" }) // "DeduplicationId"
 */
export function fifoIdempotencyKeyFrom(options: FifoWorkerOptions, env: Environment = process.env): FifoIdempotencyKey {
    const value: string = options.idempotencyKey ?? optionalString(env, ENV.fifoIdempotencyKey) ?? FifoIdempotencyKey.MessageId;
    if (value === FifoIdempotencyKey.MessageId || value === FifoIdempotencyKey.DeduplicationId) return value;
    const source = options.idempotencyKey === undefined ? `environment variable ${ENV.fifoIdempotencyKey}` : "fifoWorker: idempotencyKey";
    throw new ConfigurationError(`${source} must be "MessageId" or "DeduplicationId"; received ${JSON.stringify(value)}`);
}

/**
 * Parses a message body as JSON when it parses, else returns the string unchanged.
 *
 * @example
 * parseFifoBody('{"a":1}'); // { a: 1 }
 * parseFifoBody("hello"); // "hello"
 */
export function parseFifoBody(body: string): unknown {
    try {
        return JSON.parse(body);
    } catch {
        return body;
    }
}

function fifoSource<TBody>(keyMode: FifoIdempotencyKey): OrderedSource<SQSRecord, FifoWorkerMessage<TBody>> {
    return {
        owner: "fifoWorker",
        checkpointed: false,
        unreportable: unreportableMessage,
        keyOf: (raw) => raw.attributes?.MessageGroupId ?? "",
        decode: (raw) => ({
            body: parseFifoBody(bodyOf(raw)) as TBody,
            groupId: groupIdOf(raw),
            deduplicationId: raw.attributes?.MessageDeduplicationId,
            raw,
        }),
        idempotencyKeyOf: keyMode === FifoIdempotencyKey.MessageId ? messageIdKey : deduplicationIdKey,
        payloadOf: (raw) => raw.body,
        logFieldsOf: (raw) => ({ messageId: raw.messageId, groupId: raw.attributes?.MessageGroupId }),
    };
}

/** A record the partial batch response cannot name: SQS reports by message id. */
function unreportableMessage(raw: unknown): string | undefined {
    if (raw === null || typeof raw !== "object") return `is ${raw === null ? "null" : typeof raw}, not an SQS message`;
    const messageId = (raw as { messageId?: unknown }).messageId;
    if (typeof messageId !== "string" || messageId === "") return "has no messageId";
    return undefined;
}

function bodyOf(raw: SQSRecord): string {
    if (typeof raw.body !== "string") throw new RecordDecodeError(`fifoWorker: message ${raw.messageId} has no body`);
    return raw.body;
}

function groupIdOf(raw: SQSRecord): string {
    const groupId = raw.attributes?.MessageGroupId;
    if (!groupId) throw new RecordDecodeError(`fifoWorker: message ${raw.messageId} has no MessageGroupId; is the queue a FIFO queue?`);
    return groupId;
}

/** `eventSourceARN/messageId`: a redelivery keeps its message id; a new message never has an old one. */
function messageIdKey(raw: SQSRecord): string {
    if (!raw.eventSourceARN) throw missingKey(raw, "eventSourceARN");
    return `${raw.eventSourceARN}/${raw.messageId}`;
}

/**
 * `eventSourceARN/groupId/deduplicationId`: high-throughput FIFO queues deduplicate per message
 * group, so the same deduplication id in two groups names two messages.
 */
function deduplicationIdKey(raw: SQSRecord): string {
    const deduplicationId = raw.attributes?.MessageDeduplicationId;
    if (!raw.eventSourceARN) throw missingKey(raw, "eventSourceARN");
    if (!deduplicationId) throw missingKey(raw, "MessageDeduplicationId");
    return `${raw.eventSourceARN}/${groupIdOf(raw)}/${deduplicationId}`;
}

function missingKey(raw: SQSRecord, field: string): IdempotencyKeyError {
    return new IdempotencyKeyError(
        String(raw.messageId),
        `fifoWorker: message ${raw.messageId} has no ${field}, so it cannot be processed idempotently; it fails and comes back`,
    );
}
