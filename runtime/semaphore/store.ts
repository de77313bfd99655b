/**
 * DynamoDB I/O of the semaphore. Every change of permits is one conditional UpdateItem on a single item,
 * so it is atomic without transactions (which dynalite lacks) and a stale plan simply fails its condition.
 *
 * Table: string partition key `pk` and string sort key `sk` ({@link SEMAPHORE_TABLE_KEYS}), no TTL needed.
 * | item | `sk` | attributes |
 * |---|---|---|
 * | semaphore | `semaphore` | `inUse` (N), `queue` (L of S: waiter ids, oldest first), one `h_<id>` (M: {@link Holder}) per holder |
 * | waiter | `waiter#<id>` | `executionArn` (S), `token` (S), `enqueuedAt` (N, epoch ms), `delivered` (BOOL) |
 *
 * `pk` is the semaphore's name; `<id>` is {@link digest} of the execution ARN (22 characters), so the
 * queue stays small: about 15,000 waiters fit in the 400 KB item. Tokens (up to 2 KB) live on the
 * waiter items: an execution's waiter item is its record from its acquire to its release (queued, then
 * holding), and its `token` is the only token a grant for that execution is ever sent to; `delivered`
 * says that a SendTaskSuccess for the grant succeeded (or that the grant's fate is left to the
 * execution's own release). IAM: `dynamodb:GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `Query`.
 */
import { createHash } from "node:crypto";
import {
    AttributeValue,
    DeleteItemCommand,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    QueryCommand,
    UpdateItemCommand,
    UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { Holder, SemaphoreSnapshot } from "./plan";

type UpdateInput = Omit<UpdateItemCommandInput, "TableName" | "Key">;

/** Key attribute names of the semaphore table (both strings). */
export const SEMAPHORE_TABLE_KEYS = { partitionKey: "pk", sortKey: "sk" } as const;

const SEMAPHORE_SK = "semaphore";
const WAITER_PREFIX = "waiter#";
const HOLDER_PREFIX = "h_";

/** A queued (or granted but not yet woken) execution and the task token that wakes it. */
export interface Waiter {
    /** {@link digest} of the execution ARN. */
    id: string;
    /** The waiting execution. */
    executionArn: string;
    /** The `.waitForTaskToken` token of its acquire state. */
    token: string;
    /** When it was written, epoch milliseconds. */
    enqueuedAt: number;
    /** A grant for this execution was delivered (SendTaskSuccess succeeded), or is left to its release. */
    delivered: boolean;
}

/** Outcome of {@link SemaphoreStore.recordWaiter}. */
export type RecordOutcome = "recorded" | "otherToken";

/**
 * A short, fixed-length, attribute-name-safe digest (SHA-256, base64url, 22 characters).
 * @example digest("arn:aws:states:us-east-1:123456789012:execution:m:run-1") // "q3…" (22 chars)
 */
export function digest(value: string): string {
    return createHash("sha256").update(value).digest("base64url").slice(0, 22);
}

/** Conditional writes and reads of one semaphore's items; see the module comment for the layout. */
export class SemaphoreStore {
    /**
     * @param client DynamoDB client
     * @param tableName the semaphore table
     * @param name the semaphore's name (partition key value)
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
        private readonly name: string,
    ) {}

    /** A consistent read of the semaphore item (empty when it does not exist yet). */
    async read(): Promise<SemaphoreSnapshot> {
        const { Item } = await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: this.key(SEMAPHORE_SK), ConsistentRead: true }),
        );
        return parseSnapshot(Item ?? {});
    }

    /** Takes a free permit for `id` if fewer than `limit` are in use and nobody is queued (no barging). */
    grantFree(id: string, holder: Holder, limit: number): Promise<boolean> {
        return this.succeeds({
            UpdateExpression: "SET inUse = if_not_exists(inUse, :zero) + :one, #h = :holder",
            ConditionExpression:
                "(attribute_not_exists(inUse) OR inUse < :limit) AND attribute_not_exists(#h) AND (attribute_not_exists(queue) OR size(queue) = :zero)",
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":zero": num(0), ":one": num(1), ":limit": num(limit), ":holder": holderValue(holder) },
        });
    }

    /** Appends `id` to the queue unless it is already queued or holding; returns the item after, or undefined. */
    async enqueue(id: string): Promise<SemaphoreSnapshot | undefined> {
        const after = await this.update({
            ReturnValues: "ALL_NEW",
            UpdateExpression: "SET queue = list_append(if_not_exists(queue, :empty), :ids)",
            ConditionExpression: "attribute_not_exists(#h) AND NOT contains(queue, :id)",
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":empty": { L: [] }, ":ids": { L: [{ S: id }] }, ":id": { S: id } },
        });
        return after && parseSnapshot(after);
    }

    /** Moves the queue's head `id` to the holders, taking a free permit (fewer than `limit` in use). */
    grantHead(id: string, holder: Holder, limit: number): Promise<boolean> {
        return this.succeeds({
            UpdateExpression: "REMOVE queue[0] SET inUse = inUse + :one, #h = :holder",
            ConditionExpression: "queue[0] = :id AND inUse < :limit AND attribute_not_exists(#h)",
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":one": num(1), ":id": { S: id }, ":limit": num(limit), ":holder": holderValue(holder) },
        });
    }

    /**
     * Hands `from`'s permit straight to the queue's head `to` (the count is unchanged), unless the
     * semaphore is over `limit`. With `grantId`, only if `from`'s grant still has that id.
     */
    handOff(from: string, to: string, holder: Holder, limit: number, grantId?: string): Promise<boolean> {
        return this.succeeds({
            UpdateExpression: "REMOVE #from, queue[0] SET #to = :holder",
            ConditionExpression: withGrant(
                "attribute_exists(#from) AND queue[0] = :to AND attribute_not_exists(#to) AND inUse <= :limit",
                "#from",
                grantId,
            ),
            ExpressionAttributeNames: { "#from": holderAttribute(from), "#to": holderAttribute(to) },
            ExpressionAttributeValues: {
                ":to": { S: to },
                ":limit": num(limit),
                ":holder": holderValue(holder),
                ...grantValue(grantId),
            },
        });
    }

    /**
     * Gives `id`'s permit back to the pool, when nobody is queued or the semaphore is over `limit`.
     * With `grantId`, only if the grant still has that id.
     */
    giveBack(id: string, limit: number, grantId?: string): Promise<boolean> {
        return this.succeeds({
            UpdateExpression: "REMOVE #h SET inUse = inUse - :one",
            ConditionExpression: withGrant(
                "attribute_exists(#h) AND (attribute_not_exists(queue) OR size(queue) = :zero OR inUse > :limit)",
                "#h",
                grantId,
            ),
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":zero": num(0), ":one": num(1), ":limit": num(limit), ...grantValue(grantId) },
        });
    }

    /** Gives `id`'s grant a new `grantId` (before a redelivery), if `id` holds a permit. */
    rebind(id: string, grantId: string): Promise<boolean> {
        return this.succeeds({
            UpdateExpression: "SET #h.grantId = :g",
            ConditionExpression: "attribute_exists(#h)",
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":g": { S: grantId } },
        });
    }

    /** Removes `id` from the queue at `index` (as read), if it is still there. */
    dequeue(id: string, index: number): Promise<boolean> {
        return this.succeeds({
            UpdateExpression: `REMOVE queue[${index}]`,
            ConditionExpression: `queue[${index}] = :id`,
            ExpressionAttributeValues: { ":id": { S: id } },
        });
    }

    /** Writes the waiter item unconditionally (repair and tests; the protocol uses {@link recordWaiter}). */
    async putWaiter(waiter: Omit<Waiter, "delivered"> & { delivered?: boolean }): Promise<void> {
        await this.client.send(
            new PutItemCommand({
                TableName: this.tableName,
                Item: {
                    ...this.key(WAITER_PREFIX + waiter.id),
                    executionArn: { S: waiter.executionArn },
                    token: { S: waiter.token },
                    enqueuedAt: num(waiter.enqueuedAt),
                    delivered: { BOOL: waiter.delivered ?? false },
                },
            }),
        );
    }

    /**
     * Records the execution's request: creates its waiter item, or finds it with the same token (a
     * duplicate or an SDK retry of this very write, so it is idempotent). `otherToken` when the item
     * carries another token; then nothing is written.
     */
    async recordWaiter(waiter: Omit<Waiter, "delivered">): Promise<RecordOutcome> {
        const written = await this.updateItem(WAITER_PREFIX + waiter.id, {
            UpdateExpression: "SET executionArn = :e, #t = :t, enqueuedAt = if_not_exists(enqueuedAt, :now), delivered = if_not_exists(delivered, :false)",
            ConditionExpression: "attribute_not_exists(sk) OR #t = :t",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":e": { S: waiter.executionArn }, ":t": { S: waiter.token }, ":now": num(waiter.enqueuedAt), ":false": { BOOL: false } },
        });
        return written ? "recorded" : "otherToken";
    }

    /** Replaces the waiter's token `from` by `to` while it is still `from` and undelivered; false otherwise. */
    async replaceToken(id: string, from: string, to: string): Promise<boolean> {
        return (await this.updateItem(WAITER_PREFIX + id, {
            UpdateExpression: "SET #t = :to",
            ConditionExpression: "#t = :from AND (attribute_not_exists(delivered) OR delivered = :false)",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":from": { S: from }, ":to": { S: to }, ":false": { BOOL: false } },
        })) !== undefined;
    }

    /** Marks the waiter's grant delivered, while it still carries `token` (idempotent). */
    async markDelivered(id: string, token: string): Promise<void> {
        await this.updateItem(WAITER_PREFIX + id, {
            UpdateExpression: "SET delivered = :true",
            ConditionExpression: "#t = :t",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":t": { S: token }, ":true": { BOOL: true } },
        });
    }

    /** The waiter item of `id`, if any. */
    async getWaiter(id: string): Promise<Waiter | undefined> {
        const { Item } = await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: this.key(WAITER_PREFIX + id), ConsistentRead: true }),
        );
        return Item && parseWaiter(Item);
    }

    /** Deletes the waiter item of `id`; with `token`, only while it still carries that token. */
    async deleteWaiter(id: string, token?: string): Promise<void> {
        try {
            await this.client.send(
                new DeleteItemCommand({
                    TableName: this.tableName,
                    Key: this.key(WAITER_PREFIX + id),
                    ...(token === undefined ? {} : sameToken(token)),
                }),
            );
        } catch (error) {
            if (!isConditionFailure(error)) throw error;
        }
    }

    /** Every waiter item of this semaphore (all pages). */
    async listWaiters(): Promise<Waiter[]> {
        const waiters: Waiter[] = [];
        let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
        do {
            const page = await this.client.send(
                new QueryCommand({
                    TableName: this.tableName,
                    KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
                    ExpressionAttributeValues: { ":pk": { S: this.name }, ":prefix": { S: WAITER_PREFIX } },
                    ConsistentRead: true,
                    ExclusiveStartKey,
                }),
            );
            waiters.push(...(page.Items ?? []).map(parseWaiter));
            ExclusiveStartKey = page.LastEvaluatedKey;
        } while (ExclusiveStartKey);
        return waiters;
    }

    /** The conditional update of the semaphore item; see {@link updateItem}. */
    private update(input: UpdateInput): Promise<Record<string, AttributeValue> | undefined> {
        return this.updateItem(SEMAPHORE_SK, input);
    }

    /** A conditional update; the returned attributes (empty unless asked for), or undefined when the condition failed. */
    private async updateItem(sk: string, input: UpdateInput): Promise<Record<string, AttributeValue> | undefined> {
        try {
            const { Attributes } = await this.client.send(new UpdateItemCommand({ TableName: this.tableName, Key: this.key(sk), ...input }));
            return Attributes ?? {};
        } catch (error) {
            if (isConditionFailure(error)) return undefined;
            throw error;
        }
    }

    private async succeeds(input: UpdateInput): Promise<boolean> {
        return (await this.update(input)) !== undefined;
    }

    private key(sk: string): Record<string, AttributeValue> {
        return { pk: { S: this.name }, sk: { S: sk } };
    }
}

function sameToken(token: string) {
    return { ConditionExpression: "#t = :t", ExpressionAttributeNames: { "#t": "token" }, ExpressionAttributeValues: { ":t": { S: token } } };
}

function holderAttribute(id: string): string {
    return HOLDER_PREFIX + id;
}

function holderValue(holder: Holder): AttributeValue {
    return {
        M: {
            executionArn: { S: holder.executionArn },
            grantId: { S: holder.grantId },
            grantedAt: num(holder.grantedAt),
            leaseUntil: num(holder.leaseUntil),
        },
    };
}

function withGrant(condition: string, attribute: string, grantId: string | undefined): string {
    return grantId === undefined ? condition : `${condition} AND ${attribute}.grantId = :g`;
}

function grantValue(grantId: string | undefined): Record<string, AttributeValue> {
    return grantId === undefined ? {} : { ":g": { S: grantId } };
}

function parseSnapshot(item: Record<string, AttributeValue>): SemaphoreSnapshot {
    const holders = new Map<string, Holder>();
    for (const [name, value] of Object.entries(item)) {
        if (name.startsWith(HOLDER_PREFIX) && value.M) holders.set(name.slice(HOLDER_PREFIX.length), parseHolder(value.M));
    }
    return { inUse: Number(item.inUse?.N ?? 0), queue: (item.queue?.L ?? []).map((v) => v.S ?? ""), holders };
}

function parseHolder(m: Record<string, AttributeValue>): Holder {
    return {
        executionArn: m.executionArn?.S ?? "",
        grantId: m.grantId?.S ?? "",
        grantedAt: Number(m.grantedAt?.N ?? 0),
        leaseUntil: Number(m.leaseUntil?.N ?? 0),
    };
}

function parseWaiter(item: Record<string, AttributeValue>): Waiter {
    return {
        id: (item.sk?.S ?? "").slice(WAITER_PREFIX.length),
        executionArn: item.executionArn?.S ?? "",
        token: item.token?.S ?? "",
        enqueuedAt: Number(item.enqueuedAt?.N ?? 0),
        delivered: item.delivered?.BOOL === true,
    };
}

function num(value: number): AttributeValue {
    return { N: String(value) };
}

function isConditionFailure(error: unknown): boolean {
    return (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException";
}
