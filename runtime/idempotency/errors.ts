/**
 * Errors of the idempotency store. `retryable` tells a wrapper whether redelivering the same event
 * later can succeed (in-flight duplicate) or never will (payload mismatch, missing or oversized key,
 * a payload that cannot be hashed).
 */
import { ServerlessConcurrencyError } from "../../contracts/errors";

/** Base class of every idempotency error. */
export class IdempotencyError extends ServerlessConcurrencyError {
    override name = "IdempotencyError";
    /** Whether a later redelivery of the same event can succeed. */
    readonly retryable: boolean = false;

    /**
     * @param key the idempotency key concerned
     * @param message human-readable explanation
     */
    constructor(
        readonly key: string,
        message: string,
    ) {
        super(message);
    }
}

/**
 * Another invocation holds a live claim on the key (an in-flight duplicate). Retryable: the caller
 * fails fast instead of waiting, so the duplicate does not hold a slot of the pool; the event source
 * (Lambda async retry, stream or queue redelivery) comes back later and then gets the stored result.
 */
export class IdempotencyInProgressError extends IdempotencyError {
    override name = "IdempotencyInProgressError";
    override readonly retryable: boolean = true;

    /**
     * @param key the idempotency key concerned
     * @param leaseRemainingMs how long, by the store's clock, until the claim's lease passes and the key may
     * be claimed again; `undefined` when the store could not tell
     */
    constructor(
        key: string,
        readonly leaseRemainingMs?: number,
    ) {
        super(key, `idempotency key "${key}" is being processed by another invocation; retry later`);
    }
}

/** The key was seen before with a different payload hash: the producer reused an id for other content. */
export class IdempotencyPayloadMismatchError extends IdempotencyError {
    override name = "IdempotencyPayloadMismatchError";
    /** @param key the idempotency key concerned */
    constructor(key: string) {
        super(key, `idempotency key "${key}" was already used with a different payload`);
    }
}

/**
 * A completion was rejected because the claim is no longer held by this owner (its lease expired and
 * another invocation took it over). Nothing was overwritten.
 */
export class IdempotencyOwnershipLostError extends IdempotencyError {
    override name = "IdempotencyOwnershipLostError";
    /** @param key the idempotency key concerned */
    constructor(key: string) {
        super(key, `claim on idempotency key "${key}" was taken over by another invocation; result not stored`);
    }
}

/**
 * The event carries no usable idempotency key (missing, or longer than the store can hold), so it is
 * rejected before any write rather than processed unprotected.
 */
export class IdempotencyKeyError extends IdempotencyError {
    override name = "IdempotencyKeyError";
    /**
     * @param key the (missing or invalid) key, stringified
     * @param message what is missing and where
     */
    constructor(key: string, message: string) {
        super(key, message);
    }
}

/**
 * The payload cannot be hashed for the payload check (nested deeper than `MAX_PAYLOAD_DEPTH` levels,
 * circular, or holding a value JSON cannot represent such as a BigInt); raised before any write.
 */
export class UnhashablePayloadError extends IdempotencyError {
    override name = "UnhashablePayloadError";
    /**
     * @param reason why the payload cannot be hashed
     * @param key the idempotency key, when known
     */
    constructor(
        readonly reason: string,
        key = "",
    ) {
        super(key, `the payload${key ? ` of idempotency key "${key}"` : ""} cannot be hashed: ${reason}; rejected before any write`);
    }
}
