/** The claim → run → complete (or release) sequence around one unit of work. */
import { createLogger, Logger } from "../log";
import { payloadHash } from "./hash";
import { IdempotencyStore } from "./store";

/** Options of {@link runIdempotently}. */
export interface RunIdempotentlyOptions {
    /**
     * Where a failed release is reported (the function's own error is rethrown either way).
     * @default createLogger()
     * @example { log: ctx.log }
     */
    log?: Logger;
}

/** Outcome of {@link runIdempotently}. */
export interface IdempotentOutcome<T> {
    /** The function's result, or the stored (JSON round-tripped) result of an earlier run. */
    result: T;
    /** `true` when `fn` did not run because `key` was already completed. */
    duplicate: boolean;
}

/**
 * Runs `fn` at most once per `key` (within the store's expiry): claims the key, runs `fn`, stores its
 * result. A completed duplicate returns the stored result without running `fn`. When `fn` throws, the
 * claim is released (so a redelivery runs `fn` again) and the error is rethrown unchanged. When the
 * completion itself fails, the claim stays until its lease passes and the error propagates.
 * @param payload hashed with {@link payloadHash} and compared on every reuse of `key`
 * @throws IdempotencyInProgressError an in-flight duplicate (retryable, thrown at once)
 * @throws IdempotencyPayloadMismatchError `key` was used with a different payload
 * @throws IdempotencyOwnershipLostError `fn` ran, but the claim was taken over meanwhile; nothing stored
 * @example
 * const { result, duplicate } = await runIdempotently(store, event.id, event, () => charge(event.detail));
 */
export async function runIdempotently<T>(
    store: IdempotencyStore,
    key: string,
    payload: unknown,
    fn: () => Promise<T>,
    options: RunIdempotentlyOptions = {},
): Promise<IdempotentOutcome<T>> {
    const claim = await store.claim(key, payloadHash(payload));
    if (claim.status === "completed") return { result: claim.result as T, duplicate: true };
    const result = await runOrRelease(store, key, claim.ownerToken, fn, options.log ?? createLogger());
    await store.complete(key, claim.ownerToken, result);
    return { result, duplicate: false };
}

async function runOrRelease<T>(store: IdempotencyStore, key: string, ownerToken: string, fn: () => Promise<T>, log: Logger): Promise<T> {
    try {
        return await fn();
    } catch (error) {
        await releaseQuietly(store, key, ownerToken, log);
        throw error;
    }
}

async function releaseQuietly(store: IdempotencyStore, key: string, ownerToken: string, log: Logger): Promise<void> {
    try {
        if (!(await store.release(key, ownerToken))) log.warn("claim already taken over; not released", { idempotencyKey: key });
    } catch (error) {
        log.error("releasing the claim failed; a redelivery runs again once the lease passes", { idempotencyKey: key, error });
    }
}
