/**
 * Pure decisions shared by every idempotency store: what a conflicting record means for a claim, what
 * of a result can be stored, and which store settings are consistent. No I/O.
 */
import { ConfigurationError } from "../../contracts/errors";
import { IdempotencyInProgressError, IdempotencyPayloadMismatchError } from "./errors";
import { ClaimResult, CompletionReport, ResultNotStoredReason } from "./persistence";

/** Record states. */
export const RecordStatus = { InProgress: "INPROGRESS", Completed: "COMPLETED" } as const;

/**
 * Default largest stored result: 384 KiB of JSON, which leaves 16 KiB of DynamoDB's 400 KiB item for
 * the key (≤ 2 KiB) and the other attributes.
 */
export const DEFAULT_MAX_STORED_RESULT_BYTES = 384 * 1024;

/** A record as a store keeps it (only what a decision needs). */
export interface StoredRecord {
    /** `INPROGRESS` or `COMPLETED`. */
    status: string;
    /** Owner token of the claim that wrote it. */
    owner: string;
    /** Epoch milliseconds after which an INPROGRESS claim may be taken over. */
    leaseExpiresAt: number;
    /** Epoch seconds after which the record counts as absent. */
    expiresAt: number;
    /** `payloadHash` of the claim. */
    payloadHash: string;
    /** Result JSON of a COMPLETED record (`undefined`: none, see `resultNotStored`). */
    result?: string;
    /** Set on a COMPLETED record whose result was not stored. */
    resultNotStored?: ResultNotStoredReason;
}

/**
 * What a claim attempt that met `record` means:
 * - `claimed`: `record` is this attempt's own claim (its write was applied, the response lost);
 * - `completed`: the stored result (payload hash checked);
 * - `undefined`: the key is claimable again (expired record, or a lapsed lease of the same payload).
 * @throws IdempotencyPayloadMismatchError recorded with another payload hash
 * @throws IdempotencyInProgressError a live claim of another owner
 * @example decideClaimConflict("k", "h", token, record, Date.now())
 */
export function decideClaimConflict(key: string, hash: string, ownerToken: string, record: StoredRecord, nowMs: number): ClaimResult | undefined {
    if (record.owner === ownerToken && record.status === RecordStatus.InProgress) return { status: "claimed", ownerToken };
    if (record.expiresAt <= epochSeconds(nowMs)) return undefined;
    if (record.status === RecordStatus.Completed) return completedClaim(key, hash, record);
    if (record.payloadHash !== hash) throw new IdempotencyPayloadMismatchError(key);
    if (record.leaseExpiresAt > nowMs) throw new IdempotencyInProgressError(key, record.leaseExpiresAt - nowMs);
    return undefined;
}

/**
 * The answer to a duplicate of a COMPLETED record.
 * @throws IdempotencyPayloadMismatchError recorded with another payload hash
 * @example completedClaim("k", "h", { payloadHash: "h", result: "1" }) // { status: "completed", result: 1 }
 */
export function completedClaim(key: string, hash: string, record: Pick<StoredRecord, "payloadHash" | "result" | "resultNotStored">): ClaimResult {
    if (record.payloadHash !== hash) throw new IdempotencyPayloadMismatchError(key);
    const result = record.result === undefined ? undefined : JSON.parse(record.result);
    return record.resultNotStored ? { status: "completed", result, resultNotStored: record.resultNotStored } : { status: "completed", result };
}

/** What a completion writes: the result JSON, or the reason it is left out. */
export type PreparedResult =
    | { stored: true; json: string | undefined }
    | { stored: false; reason: ResultNotStoredReason; detail: string };

/**
 * Serialises `result` for storage: its JSON when it serialises within `maxBytes` (UTF-8), else the
 * reason it is left out. `undefined` (and anything JSON drops) is stored as no result.
 * @example prepareResult({ ok: true }, 1024) // { stored: true, json: '{"ok":true}' }
 */
export function prepareResult(result: unknown, maxBytes: number): PreparedResult {
    let json: string | undefined;
    try {
        json = JSON.stringify(result);
    } catch (error) {
        return { stored: false, reason: ResultNotStoredReason.Unserializable, detail: `the result cannot be serialised as JSON (${(error as Error).message})` };
    }
    const bytes = json === undefined ? 0 : Buffer.byteLength(json, "utf8");
    if (bytes > maxBytes) {
        return { stored: false, reason: ResultNotStoredReason.TooLarge, detail: `the result is ${bytes} bytes of JSON, over the largest stored result of ${maxBytes} bytes` };
    }
    return { stored: true, json };
}

/** The report of a completion that wrote `prepared`. */
export function completionReport(prepared: PreparedResult): CompletionReport {
    return prepared.stored ? { resultStored: true } : { resultStored: false, reason: prepared.reason, detail: prepared.detail };
}

/** Timing and size settings every store validates the same way. */
export interface RecordSettings {
    /** Seconds a record lives after its claim or completion. */
    expirySeconds: number;
    /** Seconds an INPROGRESS claim is protected. */
    leaseSeconds: number;
    /** Largest stored result JSON in bytes. */
    maxStoredResultBytes: number;
}

/**
 * Validates store settings: integers, expiry ≥ lease (else a second claimer could take a live claim
 * once the record expires), result limit ≥ 0.
 * @param owner the store's name, for the message
 * @throws ConfigurationError naming the setting and the value received
 * @example validateRecordSettings({ expirySeconds: 3600, leaseSeconds: 960, maxStoredResultBytes: 1024 }, "IdempotencyStore")
 */
export function validateRecordSettings(settings: RecordSettings, owner: string): RecordSettings {
    integerAtLeast(1, "expirySeconds", settings.expirySeconds, owner);
    integerAtLeast(1, "leaseSeconds", settings.leaseSeconds, owner);
    integerAtLeast(0, "maxStoredResultBytes", settings.maxStoredResultBytes, owner);
    if (settings.expirySeconds < settings.leaseSeconds) {
        throw new ConfigurationError(
            `${owner}: expirySeconds (${settings.expirySeconds}) must be at least leaseSeconds (${settings.leaseSeconds}); ` +
                "a record that expires before its lease lets a second invocation take over a live claim",
        );
    }
    return settings;
}

/**
 * @throws ConfigurationError when `value` is not an integer ≥ `min`
 * @example integerAtLeast(0, "localCacheSize", 10, "IdempotencyStore")
 */
export function integerAtLeast(min: number, name: string, value: number, owner: string): number {
    if (!Number.isInteger(value) || value < min) throw new ConfigurationError(`${owner}: ${name} must be an integer ≥ ${min}; received ${value}`);
    return value;
}

/** Epoch seconds of epoch milliseconds. */
export function epochSeconds(ms: number): number {
    return Math.floor(ms / 1000);
}
