/**
 * The runtime wrapper of `EventBridgeWorkerPool` (pattern 1): turns the user's `(event, ctx) => result`
 * into a Lambda handler with idempotency on the EventBridge event `id`, downstream timing and metrics.
 */
import type { Context, EventBridgeEvent } from "aws-lambda";
import { createInvocationScope, InvocationScope, WorkerContext } from "./context";
import {
    countIdempotentOutcome,
    IdempotencyInProgressError,
    IdempotencyKeyError,
    IdempotencyOptions,
    IdempotencyOwnershipLostError,
    IdempotencyPayloadMismatchError,
    IdempotencyPersistence,
    idempotencyStoreFrom,
    runIdempotently,
    UnhashablePayloadError,
} from "./idempotency";
import { LineWriter, Logger } from "./log";
import { MetricName } from "./metrics";

/**
 * Default record expiry of the EventBridge worker: 108,000 s = 30 h, the whole redelivery window of an
 * event: EventBridge target retries (up to 24 h) plus Lambda asynchronous retries (up to 6 h).
 */
export const EVENTBRIDGE_DEFAULT_EXPIRY_SECONDS = 108_000;

/** Options of {@link eventBridgeWorker}; every idempotency option falls back to the environment set by the component. */
export interface EventBridgeWorkerOptions extends IdempotencyOptions {
    /**
     * Where log and EMF lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/** The user's business function: gets the event and the {@link WorkerContext}. */
export type EventBridgeWorkerFunction<TEvent, TResult> = (event: TEvent, ctx: WorkerContext) => Promise<TResult> | TResult;

/** A Lambda handler for asynchronous EventBridge invocations. */
export type EventBridgeHandler<TEvent, TResult> = (event: TEvent, context: Context) => Promise<TResult>;

/**
 * Wraps `fn` as a Lambda handler for EventBridge events.
 *
 * With idempotency on (the default) the event `id` is the key: the first delivery runs `fn` and stores
 * its result; a completed duplicate gets the stored result without running `fn`; an in-flight
 * duplicate fails at once with the retryable {@link IdempotencyInProgressError} (Lambda's async retry
 * comes back later; the duplicate never holds a slot of the pool while waiting); a failure of `fn`
 * releases the claim and is rethrown, so the retry runs `fn` again. An event without a string `id`, or
 * with an `id` over 2,048 bytes, is rejected with {@link IdempotencyKeyError}, never processed
 * unprotected; a payload nested deeper than 1,000 levels with {@link UnhashablePayloadError}; both
 * before any write. A result that cannot be stored (too large, not serialisable) is returned to this
 * caller and the event id completed without it: a duplicate is skipped and gets `undefined`. The store
 * is configured when the handler is created (module load), so a missing table fails fast.
 * @example
 * export const handler = eventBridgeWorker(async (event: EventBridgeEvent<"OrderPlaced", Order>, ctx) => {
 *     await ctx.downstream("payments", () => payments.charge(event.detail));
 * });
 */
export function eventBridgeWorker<TEvent = EventBridgeEvent<string, unknown>, TResult = unknown>(
    fn: EventBridgeWorkerFunction<TEvent, TResult>,
    options: EventBridgeWorkerOptions = {},
): EventBridgeHandler<TEvent, TResult> {
    const store = idempotencyStoreFrom(options, EVENTBRIDGE_DEFAULT_EXPIRY_SECONDS, "eventBridgeWorker");
    return async (event, context) => {
        const scope = createInvocationScope(context, { write: options.write });
        try {
            return await (store ? processOnce(store, fn, event, scope) : fn(event, scope.ctx));
        } finally {
            await scope.finish();
        }
    };
}

async function processOnce<TEvent, TResult>(
    store: IdempotencyPersistence,
    fn: EventBridgeWorkerFunction<TEvent, TResult>,
    event: TEvent,
    scope: InvocationScope,
): Promise<TResult> {
    const eventId = idOf(event, scope);
    const log = scope.log.child({ eventId });
    try {
        const outcome = await runIdempotently(store, eventId, withoutReplayName(event), async () => fn(event, scope.ctx), { log });
        countIdempotentOutcome(outcome, scope.metrics);
        if (outcome.duplicate) log.info(outcome.resultStored ? "duplicate event skipped; stored result returned" : "duplicate event skipped; its result was not stored");
        return outcome.result;
    } catch (error) {
        reportFailure(error, scope, log);
        throw error;
    }
}

/**
 * The payload whose hash guards the event id. An archive replay re-sends the event with the same `id`
 * plus a `replay-name` field: it is the same event, so a completed one is skipped like any duplicate
 * instead of being rejected as a payload mismatch.
 */
function withoutReplayName(event: unknown): unknown {
    if (event === null || typeof event !== "object" || !("replay-name" in event)) return event;
    const { ["replay-name"]: _replayName, ...original } = event as Record<string, unknown>;
    return original;
}

function idOf(event: unknown, scope: InvocationScope): string {
    const id = (event as { id?: unknown } | null)?.id;
    if (typeof id === "string" && id !== "") return id;
    const error = new IdempotencyKeyError(
        String(id),
        "eventBridgeWorker: the event has no string `id`, so it cannot be processed idempotently; rejected (it reaches the DLQ after the retries)",
    );
    scope.log.error("event rejected: no idempotency key", { error });
    throw error;
}

function reportFailure(error: unknown, scope: InvocationScope, log: Logger): void {
    if (error instanceof IdempotencyInProgressError) {
        scope.metrics.add(MetricName.InFlightDuplicates, "Count", 1);
        log.info("in-flight duplicate rejected; the async retry will come back", { error });
    } else if (error instanceof IdempotencyPayloadMismatchError) {
        scope.metrics.add(MetricName.PayloadMismatches, "Count", 1);
        log.error("event id reused with a different payload; rejected", { error });
    } else if (error instanceof IdempotencyOwnershipLostError) {
        scope.metrics.add(MetricName.OwnershipLost, "Count", 1);
        log.warn("processed, but the claim had been taken over; result not stored", { error });
    } else if (error instanceof IdempotencyKeyError || error instanceof UnhashablePayloadError) {
        log.error("event rejected before any write; it reaches the DLQ after the retries", { error });
    } else {
        log.error("event processing failed", { error });
    }
}
