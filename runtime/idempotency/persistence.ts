/**
 * The idempotency persistence port: what `runIdempotently` and the runtime wrappers need from a store.
 * Implementations: {@link IdempotencyStore} (DynamoDB) and {@link InMemoryIdempotencyStore} (tests,
 * single-process use); both apply the same decisions (`records.ts`).
 */

/** Why a completed key carries no stored result. */
export const ResultNotStoredReason = {
    /** The result's JSON is larger than `maxStoredResultBytes`. */
    TooLarge: "TooLarge",
    /** The result cannot be turned into JSON (circular, BigInt, a throwing `toJSON`). */
    Unserializable: "Unserializable",
    /** The store refused the item with the result (DynamoDB `ValidationException`); completed without it. */
    Rejected: "Rejected",
} as const;

/** One of {@link ResultNotStoredReason}. */
export type ResultNotStoredReason = (typeof ResultNotStoredReason)[keyof typeof ResultNotStoredReason];

/** Outcome of {@link IdempotencyPersistence.claim}. */
export type ClaimResult =
    /** This caller owns the key now and must `complete` or `release` it with `ownerToken`. */
    | { status: "claimed"; ownerToken: string }
    /**
     * The key was completed earlier; `result` is the stored result (JSON round-tripped). When the
     * result could not be stored, `result` is `undefined` and `resultNotStored` says why.
     */
    | { status: "completed"; result: unknown; resultNotStored?: ResultNotStoredReason };

/** Outcome of {@link IdempotencyPersistence.complete}: the key is COMPLETED in either case. */
export type CompletionReport =
    | { resultStored: true }
    /** Completed with a marker instead of the result; `detail` is for the log line. */
    | { resultStored: false; reason: ResultNotStoredReason; detail: string };

/**
 * Owner-fenced idempotency records. Every implementation must recognise its own writes: a claim or a
 * completion whose write was applied but whose response was lost (and re-sent) is still this owner's.
 * @example
 * const store: IdempotencyPersistence = new InMemoryIdempotencyStore();
 * const claim = await store.claim("order-1", payloadHash(order));
 */
export interface IdempotencyPersistence {
    /**
     * Claims `key`, or returns the completed earlier run. Never waits.
     * @param hash `payloadHash(payload)` of this delivery
     * @throws IdempotencyInProgressError another invocation holds a live claim (retryable)
     * @throws IdempotencyPayloadMismatchError the key is recorded with a different payload hash
     * @throws IdempotencyKeyError the key cannot be stored
     */
    claim(key: string, hash: string): Promise<ClaimResult>;
    /**
     * Marks the key COMPLETED with `result` (or, when it cannot be stored, with a marker saying why),
     * only while `ownerToken` owns the claim.
     * @throws IdempotencyOwnershipLostError the claim was taken over; nothing was written
     */
    complete(key: string, ownerToken: string, result: unknown): Promise<CompletionReport>;
    /**
     * Deletes the claim after a failure so a redelivery runs again, only while `ownerToken` owns it.
     * @returns `true` when the claim is gone, `false` when it belongs to someone else (left untouched)
     */
    release(key: string, ownerToken: string): Promise<boolean>;
}
