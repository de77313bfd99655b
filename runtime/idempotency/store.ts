/**
 * The DynamoDB idempotency store: one item per key, claimed with a conditional put that carries an
 * owner token and a lease, completed and released only by that owner (fencing).
 *
 * Item (table key `id`, TTL attribute `expiresAt`):
 * | attribute | content |
 * |---|---|
 * | `id` (S) | the idempotency key (at most 2,048 bytes, DynamoDB's partition-key limit) |
 * | `status` (S) | `INPROGRESS` or `COMPLETED` |
 * | `owner` (S) | random UUID of the claim that wrote it; kept on completion |
 * | `leaseExpiresAt` (N) | epoch **milliseconds**; after it an INPROGRESS claim may be taken over |
 * | `expiresAt` (N) | epoch **seconds**; the table's TTL; once passed the item counts as absent (TTL deletion is lazy) |
 * | `payloadHash` (S) | `payloadHash(payload)` of the claim |
 * | `result` (S, or NULL for none) | the JSON of the function's result, once COMPLETED |
 * | `resultNotStored` (S) | on a COMPLETED item without its result: `TooLarge`, `Unserializable` or `Rejected` |
 *
 * Ambiguous writes: when a write's response is lost, the SDK re-sends the same command, whose
 * condition then fails against the write itself; when the SDK gives up, the caller gets an error
 * although the write may have been applied. In both cases the store reads the item (consistently) and
 * recognises its own owner token: a claim or completion that was applied counts as done.
 *
 * Requests: a first delivery costs one PutItem and one UpdateItem; a duplicate one PutItem on AWS
 * (the conflicting item comes back through `ReturnValuesOnConditionCheckFailure`), or PutItem plus a
 * consistent GetItem where it does not (dynalite); a duplicate found in the local cache none; a lost
 * response one GetItem more.
 * IAM: `dynamodb:GetItem`, `PutItem`, `UpdateItem`, `DeleteItem` on the table.
 */
import { randomUUID } from "node:crypto";
import {
    AttributeValue,
    DeleteItemCommand,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { ConfigurationError } from "../../contracts/errors";
import { CompletedCache } from "./cache";
import { IdempotencyInProgressError, IdempotencyKeyError, IdempotencyOwnershipLostError } from "./errors";
import { ClaimResult, CompletionReport, IdempotencyPersistence, ResultNotStoredReason } from "./persistence";
import {
    completedClaim,
    completionReport,
    decideClaimConflict,
    DEFAULT_MAX_STORED_RESULT_BYTES,
    epochSeconds,
    integerAtLeast,
    PreparedResult,
    prepareResult,
    RecordStatus,
    StoredRecord,
    validateRecordSettings,
} from "./records";

/** Claims in a row that may find the item gone or claimable again before giving up as in-progress. */
const MAX_CLAIM_ATTEMPTS = 3;

/** DynamoDB's limit on a partition key value. */
export const MAX_KEY_BYTES = 2048;

/** Options of {@link IdempotencyStore}. */
export interface IdempotencyStoreOptions {
    /**
     * The DynamoDB table: string partition key `id`, TTL on `expiresAt`.
     * @example process.env.IDEMPOTENCY_TABLE_NAME
     */
    tableName: string;
    /**
     * The DynamoDB client.
     * @default new DynamoDBClient({}) — the SDK's default configuration, so `AWS_ENDPOINT_URL_DYNAMODB` applies
     * @example new DynamoDBClient({ maxAttempts: 5 })
     */
    client?: DynamoDBClient;
    /**
     * How long a record lives after its claim or its completion, in seconds; at least `leaseSeconds`.
     * It must cover the whole redelivery window of the event source, or a late duplicate runs again.
     * @example 108000 // EventBridge target retries (24 h) + Lambda async retries (6 h)
     */
    expirySeconds: number;
    /**
     * How long an INPROGRESS claim is protected, in seconds; after it another invocation may take the
     * claim over, and the original owner can then neither complete nor release it.
     * @example 960 // above Lambda's 900 s maximum timeout
     */
    leaseSeconds: number;
    /**
     * Clock, epoch milliseconds (tests inject one to expire leases).
     * @default Date.now
     * @example () => fakeClock.now
     */
    now?: () => number;
    /**
     * Completed records kept in memory per execution environment (least recently used evicted), so a
     * duplicate that reaches the same environment again costs no request. 0 disables the cache.
     * @default 0
     * @example 1000
     */
    localCacheSize?: number;
    /**
     * Largest result JSON, in UTF-8 bytes, stored with a completed record. A larger result (or one that
     * does not serialise, or that DynamoDB refuses) completes the key without it: the function never
     * runs twice for it, and a duplicate is skipped with no result (`resultNotStored` on the claim).
     * @default DEFAULT_MAX_STORED_RESULT_BYTES (393,216 = 384 KiB)
     * @example 16384
     */
    maxStoredResultBytes?: number;
}

/**
 * DynamoDB-backed idempotency records with owner-fenced claims.
 * @example
 * const store = new IdempotencyStore({ tableName: "idempotency", expirySeconds: 108000, leaseSeconds: 960 });
 * const claim = await store.claim(event.id, payloadHash(event));
 */
export class IdempotencyStore implements IdempotencyPersistence {
    private readonly tableName: string;
    private readonly client: DynamoDBClient;
    private readonly expirySeconds: number;
    private readonly leaseMs: number;
    private readonly maxStoredResultBytes: number;
    private readonly now: () => number;
    private readonly cache: CompletedCache;
    /** Payload hash per live owner token of this environment, for the cache entry written on completion. */
    private readonly claimedHashes = new Map<string, string>();

    /**
     * @param options see {@link IdempotencyStoreOptions}
     * @throws ConfigurationError a missing table name, a non-integer setting, or an expiry shorter than the lease
     */
    constructor(options: IdempotencyStoreOptions) {
        if (!options.tableName) throw new ConfigurationError("IdempotencyStore: tableName is required");
        const settings = validateRecordSettings(
            {
                expirySeconds: options.expirySeconds,
                leaseSeconds: options.leaseSeconds,
                maxStoredResultBytes: options.maxStoredResultBytes ?? DEFAULT_MAX_STORED_RESULT_BYTES,
            },
            "IdempotencyStore",
        );
        this.tableName = options.tableName;
        this.client = options.client ?? new DynamoDBClient({});
        this.expirySeconds = settings.expirySeconds;
        this.leaseMs = settings.leaseSeconds * 1000;
        this.maxStoredResultBytes = settings.maxStoredResultBytes;
        this.now = options.now ?? Date.now;
        this.cache = new CompletedCache(integerAtLeast(0, "localCacheSize", options.localCacheSize ?? 0, "IdempotencyStore"));
    }

    /**
     * Claims `key` for this caller, or returns the stored result of a completed earlier run. Never
     * waits. An absent key, an expired record, or an INPROGRESS claim whose lease has passed (same
     * payload hash) is claimed with a new owner token. A claim whose write was applied but whose
     * response was lost is recognised by its owner token and counts as claimed.
     * @param hash `payloadHash(payload)` of this delivery
     * @throws IdempotencyKeyError the key is longer than {@link MAX_KEY_BYTES} (nothing written)
     * @throws IdempotencyInProgressError another invocation holds a live claim (retryable)
     * @throws IdempotencyPayloadMismatchError the key is recorded with a different payload hash
     */
    async claim(key: string, hash: string): Promise<ClaimResult> {
        assertKeyFits(key);
        const cached = this.cache.get(key, epochSeconds(this.now()));
        if (cached) return completedClaim(key, hash, cached);
        for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
            const outcome = await this.claimOnce(key, hash);
            if (outcome) return outcome;
        }
        throw new IdempotencyInProgressError(key);
    }

    /** One conditional claim with a fresh owner token; `undefined` when the key turned out claimable again. */
    private async claimOnce(key: string, hash: string): Promise<ClaimResult | undefined> {
        const ownerToken = randomUUID();
        const conflict = await this.putClaim(key, hash, ownerToken);
        if (conflict === null) return undefined;
        const outcome = conflict === undefined ? { status: "claimed" as const, ownerToken } : decideClaimConflict(key, hash, ownerToken, conflict, this.now());
        if (outcome?.status === "claimed" && this.cache.enabled) this.claimedHashes.set(ownerToken, hash);
        if (outcome?.status === "completed" && conflict) this.cache.set(key, conflict);
        return outcome;
    }

    /**
     * Marks the key COMPLETED with `result` as JSON, only while `ownerToken` owns the INPROGRESS claim;
     * the record then lives `expirySeconds` from now. A result that cannot be stored (over
     * `maxStoredResultBytes`, not serialisable, or refused by DynamoDB with a `ValidationException`) is
     * replaced by a `resultNotStored` marker. A completion applied whose response was lost counts as done.
     * @throws IdempotencyOwnershipLostError the claim was taken over; nothing was written
     */
    async complete(key: string, ownerToken: string, result: unknown): Promise<CompletionReport> {
        const hash = this.claimedHashes.get(ownerToken);
        this.claimedHashes.delete(ownerToken);
        const expiresAt = epochSeconds(this.now()) + this.expirySeconds;
        let prepared = prepareResult(result, this.maxStoredResultBytes);
        try {
            await this.writeCompletion(key, ownerToken, expiresAt, prepared);
        } catch (error) {
            if (!isValidationError(error) || !prepared.stored) throw error;
            prepared = { stored: false, reason: ResultNotStoredReason.Rejected, detail: `DynamoDB refused the item with the result (${(error as Error).message})` };
            await this.writeCompletion(key, ownerToken, expiresAt, prepared);
        }
        if (hash !== undefined) {
            this.cache.set(key, { payloadHash: hash, expiresAt, ...(prepared.stored ? { result: prepared.json } : { resultNotStored: prepared.reason }) });
        }
        return completionReport(prepared);
    }

    /**
     * Deletes the claim after a failure so a redelivery runs the function again, only if
     * `ownerToken` still owns the INPROGRESS claim. A delete applied whose response was lost counts as done.
     * @returns `true` if the claim is gone, `false` if it belongs to someone else (left untouched)
     */
    async release(key: string, ownerToken: string): Promise<boolean> {
        this.claimedHashes.delete(ownerToken);
        try {
            await this.client.send(this.releaseCommand(key, ownerToken));
            return true;
        } catch (error) {
            const record = await this.readAfter(error, key);
            if (record === null) return true;
            if (isOwnClaim(record, ownerToken) && !isConditionFailure(error)) throw error;
            return false;
        }
    }

    /** Conditional put of a new claim; `undefined` if it won, else the conflicting record (`null`: gone since). */
    private async putClaim(key: string, hash: string, ownerToken: string): Promise<StoredRecord | null | undefined> {
        try {
            await this.client.send(this.claimCommand(key, hash, ownerToken, this.now()));
            return undefined;
        } catch (error) {
            if (isConditionFailure(error)) {
                const old = (error as { Item?: Record<string, AttributeValue> }).Item;
                return old ? parseRecord(old) : this.read(key);
            }
            const record = await this.readAfter(error, key);
            if (record && isOwnClaim(record, ownerToken)) return undefined;
            throw error;
        }
    }

    /** Writes the completion; a lost response is resolved by reading the item back. */
    private async writeCompletion(key: string, ownerToken: string, expiresAt: number, prepared: PreparedResult): Promise<void> {
        try {
            await this.client.send(this.completeCommand(key, ownerToken, expiresAt, prepared));
        } catch (error) {
            if (isValidationError(error)) throw error;
            const record = await this.readAfter(error, key);
            if (record?.owner === ownerToken && record.status === RecordStatus.Completed) return;
            throw isConditionFailure(error) ? new IdempotencyOwnershipLostError(key) : error;
        }
    }

    /** Consistent read, for where the failed condition did not return the old item. */
    private async read(key: string): Promise<StoredRecord | null> {
        const { Item } = await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: { id: { S: key } }, ConsistentRead: true }),
        );
        return Item ? parseRecord(Item) : null;
    }

    /** The item after a failed write; when the read fails too, the write's error is what the caller gets. */
    private async readAfter(writeError: unknown, key: string): Promise<StoredRecord | null> {
        try {
            return await this.read(key);
        } catch {
            throw writeError;
        }
    }

    /** PutItem of an INPROGRESS claim, allowed over an absent or expired item or a lapsed lease of the same payload. */
    private claimCommand(key: string, hash: string, ownerToken: string, now: number): PutItemCommand {
        return new PutItemCommand({
            TableName: this.tableName,
            Item: {
                id: { S: key },
                status: { S: RecordStatus.InProgress },
                owner: { S: ownerToken },
                leaseExpiresAt: { N: String(now + this.leaseMs) },
                expiresAt: { N: String(epochSeconds(now) + this.expirySeconds) },
                payloadHash: { S: hash },
            },
            ConditionExpression:
                "attribute_not_exists(#id) OR #expiresAt <= :nowSeconds OR " +
                "(#status = :inProgress AND #leaseExpiresAt <= :nowMs AND #payloadHash = :hash)",
            ExpressionAttributeNames: names("id", "expiresAt", "status", "leaseExpiresAt", "payloadHash"),
            ExpressionAttributeValues: {
                ":nowSeconds": { N: String(epochSeconds(now)) },
                ":nowMs": { N: String(now) },
                ":inProgress": { S: RecordStatus.InProgress },
                ":hash": { S: hash },
            },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
    }

    /** UpdateItem to COMPLETED with the result or the marker saying why it is missing, fenced on the owner token. */
    private completeCommand(key: string, ownerToken: string, expiresAt: number, prepared: PreparedResult): UpdateItemCommand {
        const marker = prepared.stored ? "" : ", #resultNotStored = :resultNotStored";
        return new UpdateItemCommand({
            TableName: this.tableName,
            Key: { id: { S: key } },
            UpdateExpression: `SET #status = :completed, #expiresAt = :expiresAt, #result = :result${marker}`,
            ConditionExpression: "#owner = :owner AND #status = :inProgress",
            ExpressionAttributeNames: names("status", "expiresAt", "result", "owner", ...(prepared.stored ? [] : ["resultNotStored"])),
            ExpressionAttributeValues: {
                ...ownerValues(ownerToken),
                ":completed": { S: RecordStatus.Completed },
                ":expiresAt": { N: String(expiresAt) },
                ":result": prepared.stored && prepared.json !== undefined ? { S: prepared.json } : { NULL: true },
                ...(prepared.stored ? {} : { ":resultNotStored": { S: prepared.reason } }),
            },
        });
    }

    /** DeleteItem of the claim, fenced on the owner token. */
    private releaseCommand(key: string, ownerToken: string): DeleteItemCommand {
        return new DeleteItemCommand({
            TableName: this.tableName,
            Key: { id: { S: key } },
            ConditionExpression: "#owner = :owner AND #status = :inProgress",
            ExpressionAttributeNames: names("owner", "status"),
            ExpressionAttributeValues: ownerValues(ownerToken),
        });
    }
}

function assertKeyFits(key: string): void {
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes === 0 || bytes > MAX_KEY_BYTES) {
        throw new IdempotencyKeyError(
            key.slice(0, 100),
            `idempotency key is ${bytes} bytes; DynamoDB keys must be 1 to ${MAX_KEY_BYTES} bytes, so it is rejected before any write`,
        );
    }
}

function isOwnClaim(record: StoredRecord, ownerToken: string): boolean {
    return record.owner === ownerToken && record.status === RecordStatus.InProgress;
}

function parseRecord(item: Record<string, AttributeValue>): StoredRecord {
    return {
        status: item.status?.S ?? "",
        owner: item.owner?.S ?? "",
        leaseExpiresAt: Number(item.leaseExpiresAt?.N ?? 0),
        expiresAt: Number(item.expiresAt?.N ?? 0),
        payloadHash: item.payloadHash?.S ?? "",
        result: item.result?.S,
        resultNotStored: item.resultNotStored?.S as ResultNotStoredReason | undefined,
    };
}

function ownerValues(ownerToken: string): Record<string, AttributeValue> {
    return { ":owner": { S: ownerToken }, ":inProgress": { S: RecordStatus.InProgress } };
}

function names(...attributes: string[]): Record<string, string> {
    return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

/** Matched by name, so a client from another copy of the SDK is recognised too. */
function isConditionFailure(error: unknown): boolean {
    return (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException";
}

/** A deterministic refusal (item too large, bad attribute): re-sending the same request fails again. */
function isValidationError(error: unknown): boolean {
    return (error as { name?: unknown } | null)?.name === "ValidationException";
}
