/**
 * The runtime wrapper of `FifoTopicWorker` (pattern 2, SNS FIFO → SQS FIFO with raw delivery): turns
 * the user's `(message, ctx) => void` into a Lambda handler for SQS FIFO batches with per-group
 * order, groups in parallel, idempotency on the deduplication id and a partial batch response that
 * keeps each group's order.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
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
 * Options of {@link fifoWorker}.
 * - `inBatchParallelism`: message groups run at once (default env `IN_BATCH_PARALLELISM`, else 10);
 * - `idempotency`: `false` turns the per-message idempotency off (default on);
 * - `expirySeconds`: default env `IDEMPOTENCY_EXPIRY_SECONDS`, else {@link FIFO_DEFAULT_EXPIRY_SECONDS}.
 *
 * @example
 * fifoWorker(fn, { inBatchParallelism: 5 });
 */
export type FifoWorkerOptions = OrderedWorkerOptions;

/**
 * Wraps `fn` as a Lambda handler for SQS FIFO batches.
 *
 * Messages are grouped by `MessageGroupId`; groups run concurrently (at most `inBatchParallelism`),
 * the messages of one group strictly in batch order. A failed message and every later message of
 * its group are reported in `batchItemFailures` (by `messageId`) and the later ones are not run, so
 * they come back in order. With idempotency on (the default) the key is the queue ARN, group id and
 * deduplication id, so a redelivered message that already succeeded is skipped; an in-flight
 * duplicate counts as a failure (it comes back). A message without a group id (not a FIFO queue)
 * fails, never dropped. When a batch guard rejects the batch (the circuit breaker opening, see
 * `registerBatchGuard`), the batch's own outcomes stand: succeeded messages are deleted as usual.
 *
 * The deduplication id is remembered for `expirySeconds`, far longer than SQS's 5-minute window: a
 * publisher that sends the same content again later as a new message needs a fresh deduplication id.
 *
 * @example
 * export const handler = fifoWorker<Order>(async (message, ctx) => {
 *     await ctx.downstream("ledger", () => ledger.apply(message.groupId, message.body));
 * });
 */
export function fifoWorker<TBody = unknown>(fn: FifoWorkerFunction<TBody>, options: FifoWorkerOptions = {}): FifoWorkerHandler {
    const settings = orderedWorkerSettings(options, FIFO_DEFAULT_EXPIRY_SECONDS, "fifoWorker");
    const source = fifoSource<TBody>();
    return async (event, context) => {
        const results = await processOrderedInvocation(event.Records, fn, source, settings, context);
        return { batchItemFailures: unfinishedEntries(results).map((entry) => ({ itemIdentifier: entry.value.messageId })) };
    };
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

function fifoSource<TBody>(): OrderedSource<SQSRecord, FifoWorkerMessage<TBody>> {
    return {
        owner: "fifoWorker",
        checkpointed: false,
        keyOf: (raw) => raw.attributes?.MessageGroupId ?? "",
        decode: (raw) => ({
            body: parseFifoBody(raw.body) as TBody,
            groupId: groupIdOf(raw),
            deduplicationId: raw.attributes.MessageDeduplicationId,
            raw,
        }),
        idempotencyKeyOf: idempotencyKeyOfMessage,
        payloadOf: (raw) => raw.body,
        logFieldsOf: (raw) => ({ messageId: raw.messageId, groupId: raw.attributes?.MessageGroupId }),
    };
}

function groupIdOf(raw: SQSRecord): string {
    const groupId = raw.attributes?.MessageGroupId;
    if (!groupId) throw new RecordDecodeError("fifoWorker: the message has no MessageGroupId; is the queue a FIFO queue?");
    return groupId;
}

/**
 * `eventSourceARN/groupId/deduplicationId`: high-throughput FIFO queues deduplicate per message
 * group, so the same deduplication id in two groups names two messages.
 */
function idempotencyKeyOfMessage(raw: SQSRecord): string {
    const deduplicationId = raw.attributes?.MessageDeduplicationId;
    if (!raw.eventSourceARN || !deduplicationId) {
        throw new IdempotencyKeyError(
            String(deduplicationId),
            "fifoWorker: the message has no eventSourceARN or MessageDeduplicationId, so it cannot be processed idempotently; it fails and comes back",
        );
    }
    return `${raw.eventSourceARN}/${groupIdOf(raw)}/${deduplicationId}`;
}
