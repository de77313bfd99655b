/**
 * DynamoDB I/O of the semaphore, laid out so that no item grows with the limit or the queue: permits live on
 * small shard items, each execution on its own item, each waiter's place in the queue on its own item. Every
 * change is one conditional single-item write (no transactions: dynalite lacks them, and on a hot item they
 * would conflict); where a step of the protocol spans two items, the later item says whether the earlier
 * write counts, and the sweeper repairs a step that was interrupted in between (see {@link Semaphore}).
 *
 * Table: string partition key `pk` and string sort key `sk` ({@link SEMAPHORE_TABLE_KEYS}), no TTL needed.
 * `<name>` is the semaphore's name; `<id>` is {@link digest} of the execution ARN (22 characters).
 * | item | `pk` | `sk` | attributes |
 * |---|---|---|---|
 * | counters | `<name>` | `counters` | `tickets` (N, queue tickets issued), `shards` (N, the most shards any limit used) |
 * | room hints | `<name>#rooms#<g>` | `rooms` | one `s<k>` (N: version × 1024 + count) per shard `k` of group `g` |
 * | shard | `<name>#shard#<k>` | `shard` | `n` (N, permits taken), `v` (N, version), one `h_<id>` (M: {@link Holder}) per holder |
 * | queue place | `<name>#queue` | ticket, 16 digits | `id` (S) |
 * | execution | `<name>#exec#<0–15>` | `<id>` | `executionArn`, `token`, `enqueuedAt`, `delivered`, `ticket` (N, once queued), `shard` (N, once granted) |
 *
 * A shard holds at most {@link SHARD_CAPACITY} permits, so its item stays under 1 KB; the room hints are
 * versioned so that they converge whatever order their writes land in. Every item except the queue places
 * has its own partition key, and the execution items are spread over 16, so no partition carries more than
 * the queue. Tokens (up to 2 KB) live on the execution items: an execution's item is its record from its
 * acquire to its release, and its `token` is the only token a grant for that execution is ever sent to.
 * IAM: `dynamodb:GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `Query`.
 *
 * The layout before issue 13 kept every holder and the queue on one item (`sk` = `semaphore`, and
 * `waiter#<id>` items); {@link SemaphoreStore.legacyInUse} reads it so that the sweeper can warn while an
 * old deployment still holds permits there (README: migrating).
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
import { hintGroup, Holder, RoomHint, SemaphoreSnapshot, ShardState } from "./plan";

type UpdateInput = Omit<UpdateItemCommandInput, "TableName" | "Key">;
type Key = Record<string, AttributeValue>;

/** Key attribute names of the semaphore table (both strings). */
export const SEMAPHORE_TABLE_KEYS = { partitionKey: "pk", sortKey: "sk" } as const;

/** Partitions the execution items are spread over. */
const EXECUTION_PARTITIONS = 16;
const HOLDER_PREFIX = "h_";
/** Room hints pack a shard's version and count into one number: version × this + count. */
const HINT_RADIX = 1024;

/** A queued, granted or holding execution and the task token that wakes it. */
export interface Waiter {
    /** {@link digest} of the execution ARN. */
    id: string;
    /** The waiting execution. */
    executionArn: string;
    /** The `.waitForTaskToken` token of its acquire state. */
    token: string;
    /** When it was first recorded, epoch milliseconds. */
    enqueuedAt: number;
    /** A grant for this execution was delivered (SendTaskSuccess succeeded), or is left to its release. */
    delivered: boolean;
    /** Its queue ticket, once it was queued. */
    ticket?: number;
    /** The shard of its permit, once a grant was recorded for it. */
    shard?: number;
}

/** One place in the queue. */
export interface QueuePlace {
    /** The ticket: places are served in ticket order. */
    ticket: number;
    /** The waiting execution's id. */
    id: string;
}

/** Outcome of {@link SemaphoreStore.recordGrant}: recorded, recorded on another shard already, or no execution item. */
export type GrantRecord = "recorded" | "elsewhere" | "missing";

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
     * @param name the semaphore's name (prefix of every partition key)
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
        private readonly name: string,
    ) {}

    // Counters -------------------------------------------------------------------------------------------

    /** Issues a queue ticket. A retried write after a lost response skips a number, which is harmless. */
    async nextTicket(): Promise<number> {
        const { Attributes } = await this.client.send(
            new UpdateItemCommand({
                TableName: this.tableName,
                Key: this.countersKey(),
                UpdateExpression: "ADD tickets :one",
                ExpressionAttributeValues: { ":one": num(1) },
                ReturnValues: "UPDATED_NEW",
            }),
        );
        return Number(Attributes?.tickets?.N ?? 0);
    }

    /** Raises the recorded shard count to `shards` (so the sweeper also reads shards a lowered limit drains). */
    async noteShards(shards: number): Promise<void> {
        await this.conditional(this.countersKey(), {
            UpdateExpression: "SET shards = :k",
            ConditionExpression: "attribute_not_exists(shards) OR shards < :k",
            ExpressionAttributeValues: { ":k": num(shards) },
        });
    }

    /** The most shards any limit of this semaphore used (0 before the first acquire). */
    async knownShards(): Promise<number> {
        return Number((await this.get(this.countersKey()))?.shards?.N ?? 0);
    }

    // Room hints -----------------------------------------------------------------------------------------

    /** The room hints of hint group `group`, by shard. */
    async readHints(group: number): Promise<Map<number, RoomHint>> {
        const hints = new Map<number, RoomHint>();
        for (const [name, value] of Object.entries((await this.get(this.hintKey(group))) ?? {})) {
            if (!name.startsWith("s") || value.N === undefined) continue;
            const packed = Number(value.N);
            hints.set(Number(name.slice(1)), { version: Math.floor(packed / HINT_RADIX), count: packed % HINT_RADIX });
        }
        return hints;
    }

    /** Records what shard `shard` looked like at `state.version`, unless a newer state is recorded already. */
    async writeHint(shard: number, state: Pick<ShardState, "version" | "count">): Promise<void> {
        await this.conditional(this.hintKey(hintGroup(shard)), {
            UpdateExpression: "SET #s = :hint",
            ConditionExpression: "attribute_not_exists(#s) OR #s < :hint",
            ExpressionAttributeNames: { "#s": `s${shard}` },
            ExpressionAttributeValues: { ":hint": num(state.version * HINT_RADIX + state.count) },
        });
    }

    // Shards -----------------------------------------------------------------------------------------------

    /** A consistent read of shard `shard` (empty when never written). */
    async readShard(shard: number): Promise<ShardState> {
        return parseShard((await this.get(this.shardKey(shard))) ?? {});
    }

    /** Takes a permit of shard `shard` for `id` while fewer than `capacity` are taken there; the shard after, or undefined. */
    grantIn(shard: number, id: string, holder: Holder, capacity: number): Promise<ShardState | undefined> {
        return this.shardUpdate(shard, {
            UpdateExpression: "SET #h = :holder, n = if_not_exists(n, :zero) + :one, v = if_not_exists(v, :zero) + :one",
            ConditionExpression: "(attribute_not_exists(n) OR n < :capacity) AND attribute_not_exists(#h)",
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":zero": num(0), ":one": num(1), ":capacity": num(capacity), ":holder": holderValue(holder) },
        });
    }

    /**
     * Hands `from`'s permit on shard `shard` straight to `to` (the count is unchanged), unless the shard is
     * over `capacity`. With `grantId`, only if `from`'s grant still has that id. The shard after, or undefined.
     */
    handOff(shard: number, from: string, to: string, holder: Holder, capacity: number, grantId?: string): Promise<ShardState | undefined> {
        return this.shardUpdate(shard, {
            UpdateExpression: "REMOVE #from SET #to = :holder, v = v + :one",
            ConditionExpression: withGrant("attribute_exists(#from) AND attribute_not_exists(#to) AND n <= :capacity", "#from", grantId),
            ExpressionAttributeNames: { "#from": holderAttribute(from), "#to": holderAttribute(to) },
            ExpressionAttributeValues: { ":one": num(1), ":capacity": num(capacity), ":holder": holderValue(holder), ...grantValue(grantId) },
        });
    }

    /** Gives `id`'s permit on shard `shard` back; with `grantId`, only if the grant still has that id. The shard after, or undefined. */
    giveBack(shard: number, id: string, grantId?: string): Promise<ShardState | undefined> {
        return this.shardUpdate(shard, {
            UpdateExpression: "REMOVE #h SET n = n - :one, v = v + :one",
            ConditionExpression: withGrant("attribute_exists(#h)", "#h", grantId),
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":one": num(1), ...grantValue(grantId) },
        });
    }

    /** Gives `id`'s grant on shard `shard` a new `grantId` (before a redelivery), if `id` holds a permit there. */
    async rebind(shard: number, id: string, grantId: string): Promise<boolean> {
        return (await this.shardUpdate(shard, {
            UpdateExpression: "SET #h.g = :g",
            ConditionExpression: "attribute_exists(#h)",
            ExpressionAttributeNames: { "#h": holderAttribute(id) },
            ExpressionAttributeValues: { ":g": { S: grantId } },
        })) !== undefined;
    }

    // Queue ------------------------------------------------------------------------------------------------

    /** Writes `id`'s place in the queue (idempotent: the same ticket always names the same execution). */
    async putPlace(place: QueuePlace): Promise<void> {
        await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: { ...this.placeKey(place.ticket), id: { S: place.id } } }));
    }

    /** The oldest place in the queue, if any (one consistent read). */
    async head(): Promise<QueuePlace | undefined> {
        return (await this.queryPlaces(1))[0];
    }

    /** Every place in the queue, oldest first (all pages). */
    queue(): Promise<QueuePlace[]> {
        return this.queryPlaces();
    }

    /** Removes the queue place of ticket `ticket` (idempotent). */
    async removePlace(ticket: number): Promise<void> {
        await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: this.placeKey(ticket) }));
    }

    // Executions ---------------------------------------------------------------------------------------------

    /**
     * Records the execution's request: creates its item, or finds it with the same token (a duplicate or an
     * SDK retry of this very write, so it is idempotent). The item as recorded, or undefined when it carries
     * another token (then nothing is written).
     */
    async recordWaiter(waiter: Pick<Waiter, "id" | "executionArn" | "token" | "enqueuedAt">): Promise<Waiter | undefined> {
        const after = await this.executionUpdate(waiter.id, {
            UpdateExpression: "SET executionArn = :e, #t = :t, enqueuedAt = if_not_exists(enqueuedAt, :now), delivered = if_not_exists(delivered, :false)",
            ConditionExpression: "attribute_not_exists(sk) OR #t = :t",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":e": { S: waiter.executionArn }, ":t": { S: waiter.token }, ":now": num(waiter.enqueuedAt), ":false": { BOOL: false } },
            ReturnValues: "ALL_NEW",
        });
        return after && parseWaiter(after);
    }

    /** Writes the execution item unconditionally (repair and tests; the protocol uses {@link recordWaiter}). */
    async putWaiter(waiter: Pick<Waiter, "id" | "executionArn" | "token" | "enqueuedAt"> & Partial<Waiter>): Promise<void> {
        await this.client.send(
            new PutItemCommand({
                TableName: this.tableName,
                Item: {
                    ...this.executionKey(waiter.id),
                    executionArn: { S: waiter.executionArn },
                    token: { S: waiter.token },
                    enqueuedAt: num(waiter.enqueuedAt),
                    delivered: { BOOL: waiter.delivered ?? false },
                    ...(waiter.ticket === undefined ? {} : { ticket: num(waiter.ticket) }),
                    ...(waiter.shard === undefined ? {} : { shard: num(waiter.shard) }),
                },
            }),
        );
    }

    /**
     * Gives the execution `ticket` unless it has one already (a retried acquire, or the sweeper queueing it
     * again); its ticket afterwards, or undefined when the item is gone or carries another token.
     */
    async takeTicket(id: string, token: string, ticket: number): Promise<number | undefined> {
        const after = await this.executionUpdate(id, {
            UpdateExpression: "SET ticket = if_not_exists(ticket, :ticket)",
            ConditionExpression: "attribute_exists(sk) AND #t = :t",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":ticket": num(ticket), ":t": { S: token } },
            ReturnValues: "ALL_NEW",
        });
        return after ? Number(after.ticket?.N) : undefined;
    }

    /**
     * Records that the execution's permit is on shard `shard`. Once recorded it never moves: a grant on any
     * other shard is a duplicate and is undone. The first write wins; see {@link GrantRecord}.
     */
    async recordGrant(id: string, shard: number): Promise<GrantRecord> {
        const written = await this.executionUpdate(id, {
            UpdateExpression: "SET #shard = :s",
            ConditionExpression: "attribute_exists(sk) AND (attribute_not_exists(#shard) OR #shard = :s)",
            ExpressionAttributeNames: { "#shard": "shard" },
            ExpressionAttributeValues: { ":s": num(shard) },
        });
        if (written) return "recorded";
        return (await this.getWaiter(id)) ? "elsewhere" : "missing";
    }

    /** Replaces the token `from` by `to` while it is still `from` and undelivered; false otherwise. */
    async replaceToken(id: string, from: string, to: string): Promise<boolean> {
        return (await this.executionUpdate(id, {
            UpdateExpression: "SET #t = :to",
            ConditionExpression: "#t = :from AND (attribute_not_exists(delivered) OR delivered = :false)",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":from": { S: from }, ":to": { S: to }, ":false": { BOOL: false } },
        })) !== undefined;
    }

    /** Marks the execution's grant delivered while its item still carries `token` (idempotent); false when it does not. */
    async markDelivered(id: string, token: string): Promise<boolean> {
        return (await this.executionUpdate(id, {
            UpdateExpression: "SET delivered = :true",
            ConditionExpression: "#t = :t",
            ExpressionAttributeNames: { "#t": "token" },
            ExpressionAttributeValues: { ":t": { S: token }, ":true": { BOOL: true } },
        })) !== undefined;
    }

    /** The execution item of `id`, if any. */
    async getWaiter(id: string): Promise<Waiter | undefined> {
        const item = await this.get(this.executionKey(id));
        return item && parseWaiter(item);
    }

    /** Deletes the execution item of `id`; with `token`, only while it still carries that token. */
    async deleteWaiter(id: string, token?: string): Promise<void> {
        try {
            await this.client.send(
                new DeleteItemCommand({
                    TableName: this.tableName,
                    Key: this.executionKey(id),
                    ...(token === undefined ? {} : { ConditionExpression: "#t = :t", ExpressionAttributeNames: { "#t": "token" }, ExpressionAttributeValues: { ":t": { S: token } } }),
                }),
            );
        } catch (error) {
            if (!isConditionFailure(error)) throw error;
        }
    }

    /** Every execution item of this semaphore (all 16 partitions, all pages). */
    async listWaiters(): Promise<Waiter[]> {
        const waiters: Waiter[] = [];
        for (let partition = 0; partition < EXECUTION_PARTITIONS; partition++) {
            const items = await this.queryAll({ KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: this.executionPartition(partition) } } });
            waiters.push(...items.map(parseWaiter));
        }
        return waiters;
    }

    // Whole view -----------------------------------------------------------------------------------------------

    /** The whole semaphore, read shard by shard (not atomic: for the sweeper's metrics, the CLI and tests). */
    async read(): Promise<SemaphoreSnapshot> {
        const shards = await this.knownShards();
        const holders = new Map<string, Holder>();
        let inUse = 0;
        for (let shard = 0; shard < shards; shard++) {
            const state = await this.readShard(shard);
            inUse += state.count;
            for (const [id, holder] of state.holders) holders.set(id, holder);
        }
        return { inUse, queue: (await this.queue()).map((place) => place.id), holders };
    }

    /**
     * Permits and waiters still recorded in the layout before issue 13 (one item holding every holder and
     * the queue); zeros when there is none.
     */
    async legacyInUse(): Promise<{ inUse: number; waiters: number }> {
        const item = await this.get({ pk: { S: this.name }, sk: { S: "semaphore" } });
        return { inUse: Number(item?.inUse?.N ?? 0), waiters: item?.queue?.L?.length ?? 0 };
    }

    // Plumbing -------------------------------------------------------------------------------------------------

    private async queryPlaces(limit?: number): Promise<QueuePlace[]> {
        const items = await this.queryAll({ KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: this.queuePartition() } }, Limit: limit }, limit);
        return items.map((item) => ({ ticket: Number(item.sk?.S ?? 0), id: item.id?.S ?? "" }));
    }

    /** A consistent Query over every page, or until `limit` items were read. */
    private async queryAll(input: { KeyConditionExpression: string; ExpressionAttributeValues: Key; Limit?: number }, limit?: number): Promise<Key[]> {
        const items: Key[] = [];
        let ExclusiveStartKey: Key | undefined;
        do {
            const page = await this.client.send(new QueryCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey, ...input }));
            items.push(...(page.Items ?? []));
            ExclusiveStartKey = page.LastEvaluatedKey;
        } while (ExclusiveStartKey && (limit === undefined || items.length < limit));
        return limit === undefined ? items : items.slice(0, limit);
    }

    private async get(key: Key): Promise<Key | undefined> {
        return (await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item;
    }

    private async shardUpdate(shard: number, input: UpdateInput): Promise<ShardState | undefined> {
        const after = await this.conditional(this.shardKey(shard), { ...input, ReturnValues: "ALL_NEW" });
        return after && parseShard(after);
    }

    private executionUpdate(id: string, input: UpdateInput): Promise<Key | undefined> {
        return this.conditional(this.executionKey(id), input);
    }

    /** A conditional update; the returned attributes (empty unless asked for), or undefined when the condition failed. */
    private async conditional(key: Key, input: UpdateInput): Promise<Key | undefined> {
        try {
            const { Attributes } = await this.client.send(new UpdateItemCommand({ TableName: this.tableName, Key: key, ...input }));
            return Attributes ?? {};
        } catch (error) {
            if (isConditionFailure(error)) return undefined;
            throw error;
        }
    }

    private countersKey(): Key {
        return { pk: { S: this.name }, sk: { S: "counters" } };
    }

    private hintKey(group: number): Key {
        return { pk: { S: `${this.name}#rooms#${group}` }, sk: { S: "rooms" } };
    }

    private shardKey(shard: number): Key {
        return { pk: { S: `${this.name}#shard#${shard}` }, sk: { S: "shard" } };
    }

    private queuePartition(): string {
        return `${this.name}#queue`;
    }

    private placeKey(ticket: number): Key {
        return { pk: { S: this.queuePartition() }, sk: { S: String(ticket).padStart(16, "0") } };
    }

    private executionPartition(partition: number): string {
        return `${this.name}#exec#${partition}`;
    }

    private executionKey(id: string): Key {
        return { pk: { S: this.executionPartition(id.charCodeAt(0) % EXECUTION_PARTITIONS) }, sk: { S: id } };
    }
}

function holderAttribute(id: string): string {
    return HOLDER_PREFIX + id;
}

function holderValue(holder: Holder): AttributeValue {
    return { M: { e: { S: holder.executionArn }, g: { S: holder.grantId }, t: num(holder.grantedAt), l: num(holder.leaseUntil) } };
}

function withGrant(condition: string, attribute: string, grantId: string | undefined): string {
    return grantId === undefined ? condition : `${condition} AND ${attribute}.g = :g`;
}

function grantValue(grantId: string | undefined): Record<string, AttributeValue> {
    return grantId === undefined ? {} : { ":g": { S: grantId } };
}

function parseShard(item: Key): ShardState {
    const holders = new Map<string, Holder>();
    for (const [name, value] of Object.entries(item)) {
        if (!name.startsWith(HOLDER_PREFIX) || !value.M) continue;
        const m = value.M;
        holders.set(name.slice(HOLDER_PREFIX.length), { executionArn: m.e?.S ?? "", grantId: m.g?.S ?? "", grantedAt: Number(m.t?.N ?? 0), leaseUntil: Number(m.l?.N ?? 0) });
    }
    return { version: Number(item.v?.N ?? 0), count: Number(item.n?.N ?? 0), holders };
}

function parseWaiter(item: Key): Waiter {
    return {
        id: item.sk?.S ?? "",
        executionArn: item.executionArn?.S ?? "",
        token: item.token?.S ?? "",
        enqueuedAt: Number(item.enqueuedAt?.N ?? 0),
        delivered: item.delivered?.BOOL === true,
        ...(item.ticket?.N === undefined ? {} : { ticket: Number(item.ticket.N) }),
        ...(item.shard?.N === undefined ? {} : { shard: Number(item.shard.N) }),
    };
}

function num(value: number): AttributeValue {
    return { N: String(value) };
}

function isConditionFailure(error: unknown): boolean {
    return (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException";
}
