/**
 * The idempotency store: one DynamoDB item per key, claimed with a conditional put that carries an
 * owner token and a lease, completed and released only by that owner (fencing).
 *
 * Item (table key `id`, TTL attribute `expiresAt`):
 * | attribute | content |
 * |---|---|
 * | `id` (S) | the idempotency key |
 * | `status` (S) | `INPROGRESS` or `COMPLETED` |
 * | `owner` (S) | random UUID of the claim that wrote it |
 * | `leaseExpiresAt` (N) | epoch **milliseconds**; after it an INPROGRESS claim may be taken over |
 * | `expiresAt` (N) | epoch **seconds**; the table's TTL; once passed the item counts as absent (TTL deletion is lazy) |
 * | `payloadHash` (S) | `payloadHash(payload)` of the claim |
 * | `result` (S, or NULL for `undefined`) | the JSON of the function's result, once COMPLETED |
 *
 * Requests: a first delivery costs one PutItem and one UpdateItem; a duplicate one PutItem on AWS
 * (the conflicting item comes back through `ReturnValuesOnConditionCheckFailure`), or PutItem plus a
 * consistent GetItem where it does not (dynalite); a duplicate found in the local cache none.
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
import { CachedCompletion, CompletedCache } from "./cache";
import { IdempotencyInProgressError, IdempotencyOwnershipLostError, IdempotencyPayloadMismatchError } from "./errors";

/** Claims in a row that may find the item gone or claimable again before giving up as in-progress. */
const MAX_CLAIM_ATTEMPTS = 3;

const IN_PROGRESS = "INPROGRESS";
const COMPLETED = "COMPLETED";

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
     * How long a record lives after its claim or its completion, in seconds. It must cover the whole
     * redelivery window of the event source, or a late duplicate runs again.
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
}

/** Outcome of {@link IdempotencyStore.claim}. */
export type ClaimResult =
    /** This caller owns the key now and must `complete` or `release` it with `ownerToken`. */
    | { status: "claimed"; ownerToken: string }
    /** The key was completed earlier; `result` is the stored result (JSON round-tripped). */
    | { status: "completed"; result: unknown };

/** An item as read back from the table (only the attributes a decision needs). */
interface StoredRecord extends CachedCompletion {
    status: string;
    leaseExpiresAt: number;
}

/**
 * DynamoDB-backed idempotency records with owner-fenced claims.
 * @example
 * const store = new IdempotencyStore({ tableName: "idempotency", expirySeconds: 108000, leaseSeconds: 960 });
 * const claim = await store.claim(event.id, payloadHash(event));
 */
export class IdempotencyStore {
    private readonly tableName: string;
    private readonly client: DynamoDBClient;
    private readonly expirySeconds: number;
    private readonly leaseMs: number;
    private readonly now: () => number;
    private readonly cache: CompletedCache;
    /** Payload hash per live owner token of this environment, for the cache entry written on completion. */
    private readonly claimedHashes = new Map<string, string>();

    /** @param options see {@link IdempotencyStoreOptions} */
    constructor(options: IdempotencyStoreOptions) {
        if (!options.tableName) throw new Error("IdempotencyStore: tableName is required");
        this.tableName = options.tableName;
        this.client = options.client ?? new DynamoDBClient({});
        this.expirySeconds = integerAtLeast(1, "expirySeconds", options.expirySeconds);
        this.leaseMs = integerAtLeast(1, "leaseSeconds", options.leaseSeconds) * 1000;
        this.now = options.now ?? Date.now;
        this.cache = new CompletedCache(integerAtLeast(0, "localCacheSize", options.localCacheSize ?? 0));
    }

    /**
     * Claims `key` for this caller, or returns the stored result of a completed earlier run. Never
     * waits. An absent key, an expired record, or an INPROGRESS claim whose lease has passed (same
     * payload hash) is claimed with a new owner token.
     * @param hash `payloadHash(payload)` of this delivery
     * @throws IdempotencyInProgressError another invocation holds a live claim (retryable)
     * @throws IdempotencyPayloadMismatchError the key is recorded with a different payload hash
     */
    async claim(key: string, hash: string): Promise<ClaimResult> {
        const cached = this.cache.get(key, epochSeconds(this.now()));
        if (cached) return completedResult(key, hash, cached);
        for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
            const ownerToken = randomUUID();
            const conflict = await this.putClaim(key, hash, ownerToken);
            if (conflict === undefined) {
                if (this.cache.enabled) this.claimedHashes.set(ownerToken, hash);
                return { status: "claimed", ownerToken };
            }
            const outcome = conflict && this.resolveConflict(key, hash, conflict);
            if (outcome) return outcome;
        }
        throw new IdempotencyInProgressError(key);
    }

    /**
     * Stores `result` (as JSON) and marks the key COMPLETED, only if `ownerToken` still owns the
     * INPROGRESS claim. The record then lives `expirySeconds` from now.
     * @throws IdempotencyOwnershipLostError the claim was taken over; nothing was written
     */
    async complete(key: string, ownerToken: string, result: unknown): Promise<void> {
        const hash = this.claimedHashes.get(ownerToken);
        this.claimedHashes.delete(ownerToken);
        const expiresAt = epochSeconds(this.now()) + this.expirySeconds;
        const json = JSON.stringify(result);
        const command = this.completeCommand(key, ownerToken, expiresAt, json);
        try {
            await this.client.send(command);
        } catch (error) {
            throw isConditionFailure(error) ? new IdempotencyOwnershipLostError(key) : error;
        }
        if (hash !== undefined) this.cache.set(key, { payloadHash: hash, result: json, expiresAt });
    }

    /**
     * Deletes the claim after a failure so a redelivery runs the function again, only if
     * `ownerToken` still owns the INPROGRESS claim.
     * @returns `true` if deleted, `false` if the claim was no longer ours (left untouched)
     */
    async release(key: string, ownerToken: string): Promise<boolean> {
        this.claimedHashes.delete(ownerToken);
        const command = new DeleteItemCommand({
            TableName: this.tableName,
            Key: { id: { S: key } },
            ConditionExpression: "#owner = :owner AND #status = :inProgress",
            ExpressionAttributeNames: names("owner", "status"),
            ExpressionAttributeValues: ownerValues(ownerToken),
        });
        try {
            await this.client.send(command);
            return true;
        } catch (error) {
            if (isConditionFailure(error)) return false;
            throw error;
        }
    }

    /** Conditional put of a new claim; `undefined` if it won, else the conflicting record (`null`: gone since). */
    private async putClaim(key: string, hash: string, ownerToken: string): Promise<StoredRecord | null | undefined> {
        try {
            await this.client.send(this.claimCommand(key, hash, ownerToken, this.now()));
            return undefined;
        } catch (error) {
            if (!isConditionFailure(error)) throw error;
            const old = (error as { Item?: Record<string, AttributeValue> }).Item;
            return old ? parseRecord(old) : this.read(key);
        }
    }

    /** Consistent read, for where the failed condition did not return the old item. */
    private async read(key: string): Promise<StoredRecord | null> {
        const { Item } = await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: { id: { S: key } }, ConsistentRead: true }),
        );
        return Item ? parseRecord(Item) : null;
    }

    /** Decides a lost claim: a completed result, an error, or `undefined` when the key is claimable again. */
    private resolveConflict(key: string, hash: string, record: StoredRecord): ClaimResult | undefined {
        const now = this.now();
        if (record.expiresAt <= epochSeconds(now)) return undefined;
        if (record.status === COMPLETED) {
            const result = completedResult(key, hash, record);
            this.cache.set(key, record);
            return result;
        }
        if (record.payloadHash !== hash) throw new IdempotencyPayloadMismatchError(key);
        if (record.leaseExpiresAt > now) throw new IdempotencyInProgressError(key);
        return undefined;
    }

    /** PutItem of an INPROGRESS claim, allowed over an absent or expired item or a lapsed lease of the same payload. */
    private claimCommand(key: string, hash: string, ownerToken: string, now: number): PutItemCommand {
        return new PutItemCommand({
            TableName: this.tableName,
            Item: {
                id: { S: key },
                status: { S: IN_PROGRESS },
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
                ":inProgress": { S: IN_PROGRESS },
                ":hash": { S: hash },
            },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
    }

    /** UpdateItem to COMPLETED, fenced on the owner token. */
    private completeCommand(key: string, ownerToken: string, expiresAt: number, json?: string): UpdateItemCommand {
        return new UpdateItemCommand({
            TableName: this.tableName,
            Key: { id: { S: key } },
            UpdateExpression: "SET #status = :completed, #expiresAt = :expiresAt, #result = :result",
            ConditionExpression: "#owner = :owner AND #status = :inProgress",
            ExpressionAttributeNames: names("status", "expiresAt", "result", "owner"),
            ExpressionAttributeValues: {
                ...ownerValues(ownerToken),
                ":completed": { S: COMPLETED },
                ":expiresAt": { N: String(expiresAt) },
                ":result": json === undefined ? { NULL: true } : { S: json },
            },
        });
    }
}

function completedResult(key: string, hash: string, record: CachedCompletion): ClaimResult {
    if (record.payloadHash !== hash) throw new IdempotencyPayloadMismatchError(key);
    return { status: "completed", result: record.result === undefined ? undefined : JSON.parse(record.result) };
}

function parseRecord(item: Record<string, AttributeValue>): StoredRecord {
    return {
        status: item.status?.S ?? "",
        leaseExpiresAt: Number(item.leaseExpiresAt?.N ?? 0),
        expiresAt: Number(item.expiresAt?.N ?? 0),
        payloadHash: item.payloadHash?.S ?? "",
        result: item.result?.S,
    };
}

function ownerValues(ownerToken: string): Record<string, AttributeValue> {
    return { ":owner": { S: ownerToken }, ":inProgress": { S: IN_PROGRESS } };
}

function names(...attributes: string[]): Record<string, string> {
    return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

/** Matched by name, so a client from another copy of the SDK is recognised too. */
function isConditionFailure(error: unknown): boolean {
    return (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException";
}

function epochSeconds(ms: number): number {
    return Math.floor(ms / 1000);
}

function integerAtLeast(min: number, name: string, value: number): number {
    if (!Number.isInteger(value) || value < min) {
        throw new Error(`IdempotencyStore: ${name} must be an integer ≥ ${min}; received ${value}`);
    }
    return value;
}
