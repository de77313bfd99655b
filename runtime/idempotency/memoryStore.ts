/**
 * An in-memory implementation of the idempotency port, with the DynamoDB store's semantics (owner
 * tokens, leases, expiry, payload check, result limit), for tests and single-process use. Records live
 * in this process only: it does not deduplicate across Lambda execution environments.
 */
import { randomUUID } from "node:crypto";
import { IdempotencyOwnershipLostError } from "./errors";
import { ClaimResult, CompletionReport, IdempotencyPersistence } from "./persistence";
import { completionReport, decideClaimConflict, DEFAULT_MAX_STORED_RESULT_BYTES, epochSeconds, prepareResult, RecordStatus, StoredRecord, validateRecordSettings } from "./records";

/** Options of {@link InMemoryIdempotencyStore}. */
export interface InMemoryIdempotencyStoreOptions {
    /**
     * Seconds a record lives after its claim or completion; at least `leaseSeconds`.
     * @default 3600
     * @example 604800
     */
    expirySeconds?: number;
    /**
     * Seconds an INPROGRESS claim is protected.
     * @default 960
     * @example 60
     */
    leaseSeconds?: number;
    /**
     * Largest stored result JSON in UTF-8 bytes; a larger result completes the key without it.
     * @default DEFAULT_MAX_STORED_RESULT_BYTES
     * @example 1024
     */
    maxStoredResultBytes?: number;
    /**
     * Clock, epoch milliseconds.
     * @default Date.now
     * @example () => clock.now
     */
    now?: () => number;
}

/**
 * In-memory idempotency records.
 * @example
 * const handler = kinesisWorker(fn, { idempotencyStore: new InMemoryIdempotencyStore() });
 */
export class InMemoryIdempotencyStore implements IdempotencyPersistence {
    private readonly records = new Map<string, StoredRecord>();
    private readonly expirySeconds: number;
    private readonly leaseMs: number;
    private readonly maxStoredResultBytes: number;
    private readonly now: () => number;

    /**
     * @param options see {@link InMemoryIdempotencyStoreOptions}
     * @throws ConfigurationError a non-integer setting or an expiry shorter than the lease
     */
    constructor(options: InMemoryIdempotencyStoreOptions = {}) {
        const settings = validateRecordSettings(
            {
                expirySeconds: options.expirySeconds ?? 3600,
                leaseSeconds: options.leaseSeconds ?? 960,
                maxStoredResultBytes: options.maxStoredResultBytes ?? DEFAULT_MAX_STORED_RESULT_BYTES,
            },
            "InMemoryIdempotencyStore",
        );
        this.expirySeconds = settings.expirySeconds;
        this.leaseMs = settings.leaseSeconds * 1000;
        this.maxStoredResultBytes = settings.maxStoredResultBytes;
        this.now = options.now ?? Date.now;
    }

    /** See {@link IdempotencyPersistence.claim}. */
    async claim(key: string, hash: string): Promise<ClaimResult> {
        const now = this.now();
        const ownerToken = randomUUID();
        const record = this.records.get(key);
        const outcome = record && decideClaimConflict(key, hash, ownerToken, record, now);
        if (outcome) return outcome;
        this.records.set(key, {
            status: RecordStatus.InProgress,
            owner: ownerToken,
            leaseExpiresAt: now + this.leaseMs,
            expiresAt: epochSeconds(now) + this.expirySeconds,
            payloadHash: hash,
        });
        return { status: "claimed", ownerToken };
    }

    /** See {@link IdempotencyPersistence.complete}. */
    async complete(key: string, ownerToken: string, result: unknown): Promise<CompletionReport> {
        const record = this.ownClaim(key, ownerToken);
        if (!record) throw new IdempotencyOwnershipLostError(key);
        const prepared = prepareResult(result, this.maxStoredResultBytes);
        this.records.set(key, {
            ...record,
            status: RecordStatus.Completed,
            expiresAt: epochSeconds(this.now()) + this.expirySeconds,
            ...(prepared.stored ? { result: prepared.json } : { resultNotStored: prepared.reason }),
        });
        return completionReport(prepared);
    }

    /** See {@link IdempotencyPersistence.release}. */
    async release(key: string, ownerToken: string): Promise<boolean> {
        if (!this.records.has(key)) return true;
        if (!this.ownClaim(key, ownerToken)) return false;
        return this.records.delete(key);
    }

    private ownClaim(key: string, ownerToken: string): StoredRecord | undefined {
        const record = this.records.get(key);
        return record?.owner === ownerToken && record.status === RecordStatus.InProgress ? record : undefined;
    }
}
