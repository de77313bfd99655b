/** The claim → run → complete (or release) sequence around one unit of work. */
import { createLogger, Logger } from "../log";
import { IdempotencyOwnershipLostError, UnhashablePayloadError } from "./errors";
import { payloadHash } from "./hash";
import { CompletionReport, IdempotencyPersistence } from "./persistence";

/** Completion writes tried before the failure is logged (after the SDK's own retries of each). */
export const COMPLETION_ATTEMPTS = 3;
/** Pause before the second completion attempt; doubled before each later one. */
const COMPLETION_RETRY_BASE_MS = 50;

/** Options of {@link runIdempotently}. */
export interface RunIdempotentlyOptions {
    /**
     * Where a failed release, a result not stored and a failed completion are reported.
     * @default createLogger()
     * @example { log: ctx.log }
     */
    log?: Logger;
}

/** Outcome of {@link runIdempotently}. */
export interface IdempotentOutcome<T> {
    /** The function's result, or the stored (JSON round-tripped) result of an earlier run (`undefined` when it was not stored). */
    result: T;
    /** `true` when `fn` did not run because `key` was already completed. */
    duplicate: boolean;
    /** Whether the result is (or, for a duplicate, was) stored with the completed key. */
    resultStored: boolean;
    /**
     * Whether the key is recorded as completed. `false` only when `fn` ran but the completion write
     * failed (logged): the claim then stays until its lease passes, and a duplicate arriving after the
     * lease runs `fn` again.
     */
    completed: boolean;
}

/**
 * Runs `fn` at most once per `key` (within the store's expiry): claims the key, runs `fn`, stores its
 * result. A completed duplicate returns the stored result without running `fn`. When `fn` throws, the
 * claim is released (so a redelivery runs `fn` again) and the error is rethrown unchanged.
 *
 * After `fn` succeeded, this delivery succeeds whatever the store does, except when the claim was
 * taken over: a result that cannot be stored completes the key without it (a warning line; later
 * duplicates are skipped and get `undefined`), and a completion that still fails after
 * {@link COMPLETION_ATTEMPTS} attempts is logged as an error (`completed: false`) rather than thrown, since failing the delivery would only
 * bring the event back to meet its own in-progress claim and run again after the lease.
 * @param payload hashed with {@link payloadHash} and compared on every reuse of `key`
 * @throws UnhashablePayloadError the payload nests too deep or is not JSON (before any write)
 * @throws IdempotencyKeyError the key cannot be stored (before any write)
 * @throws IdempotencyInProgressError an in-flight duplicate (retryable, thrown at once)
 * @throws IdempotencyPayloadMismatchError `key` was used with a different payload
 * @throws IdempotencyOwnershipLostError `fn` ran, but the claim was taken over meanwhile; nothing stored
 * @example
 * const { result, duplicate } = await runIdempotently(store, event.id, event, () => charge(event.detail));
 */
export async function runIdempotently<T>(
    store: IdempotencyPersistence,
    key: string,
    payload: unknown,
    fn: () => Promise<T>,
    options: RunIdempotentlyOptions = {},
): Promise<IdempotentOutcome<T>> {
    const log = options.log ?? createLogger();
    const claim = await store.claim(key, hashOf(key, payload));
    if (claim.status === "completed") return { result: claim.result as T, duplicate: true, resultStored: claim.resultNotStored === undefined, completed: true };
    const result = await runOrRelease(store, key, claim.ownerToken, fn, log);
    return { result, duplicate: false, ...(await completeOrReport(store, key, claim.ownerToken, result, log)) };
}

function hashOf(key: string, payload: unknown): string {
    try {
        return payloadHash(payload);
    } catch (error) {
        throw error instanceof UnhashablePayloadError ? new UnhashablePayloadError(error.reason, key) : error;
    }
}

async function runOrRelease<T>(store: IdempotencyPersistence, key: string, ownerToken: string, fn: () => Promise<T>, log: Logger): Promise<T> {
    try {
        return await fn();
    } catch (error) {
        await releaseQuietly(store, key, ownerToken, log);
        throw error;
    }
}

async function completeOrReport(
    store: IdempotencyPersistence,
    key: string,
    ownerToken: string,
    result: unknown,
    log: Logger,
): Promise<{ resultStored: boolean; completed: boolean }> {
    try {
        const report = await completeWithRetries(store, key, ownerToken, result);
        if (!report.resultStored) {
            log.warn("result not stored: the key is completed without it; later duplicates are skipped and get no result", {
                idempotencyKey: key,
                reason: report.reason,
                detail: report.detail,
            });
        }
        return { resultStored: report.resultStored, completed: true };
    } catch (error) {
        if (error instanceof IdempotencyOwnershipLostError) throw error;
        log.error("storing the completion failed; this delivery succeeds, a duplicate arriving after the lease runs again", { idempotencyKey: key, error });
        return { resultStored: false, completed: false };
    }
}

/**
 * The completion, re-sent after a failure (not after a takeover): every store recognises its own
 * completion, so a re-send is safe, and it is the one write whose loss can make a later duplicate run again.
 */
async function completeWithRetries(store: IdempotencyPersistence, key: string, ownerToken: string, result: unknown): Promise<CompletionReport> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await store.complete(key, ownerToken, result);
        } catch (error) {
            if (error instanceof IdempotencyOwnershipLostError || attempt >= COMPLETION_ATTEMPTS) throw error;
            await new Promise((resolve) => setTimeout(resolve, COMPLETION_RETRY_BASE_MS * 2 ** (attempt - 1)));
        }
    }
}

async function releaseQuietly(store: IdempotencyPersistence, key: string, ownerToken: string, log: Logger): Promise<void> {
    try {
        if (!(await store.release(key, ownerToken))) log.warn("claim already taken over; not released", { idempotencyKey: key });
    } catch (error) {
        log.error("releasing the claim failed; a redelivery runs again once the lease passes", { idempotencyKey: key, error });
    }
}
