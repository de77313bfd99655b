/**
 * DynamoDB state of a controlled target: the per-interval lease with the leader's decision, and the
 * downstream statistics the workers' execution environments write. Table keyed by string `pk` and
 * string `sk` ({@link CONTROLLER_TABLE_KEYS}), TTL attribute `expiresAt`.
 *
 * | item | `pk` | `sk` | attributes |
 * |---|---|---|---|
 * | control | target key | `control` | `interval` (N), `owner` (S), `claimedAt` (N, epoch ms), `decision` (S: JSON {@link ConcurrencyDecision}), `decidedInterval` (N) |
 * | statistics | `<target key>#stats#<shard>` | `<interval>#<environment id>` | `calls` (N), `errors` (N), `b<i>` (N) latency histogram buckets, `expiresAt` (N, epoch s) |
 *
 * The lease: claiming interval `i` is one conditional UpdateItem (`interval < i`), so exactly one caller
 * per target and interval wins, whoever runs it; the winner's decision is written conditioned on still
 * holding that interval (fencing), and stored with the interval it belongs to, so a superseded leader can
 * restore the current leader's decision.
 *
 * Statistics: each execution environment writes its own item per interval with its running totals (a
 * PutItem that replaces it: retried or repeated writes are harmless), spread over `shards` partitions
 * by environment. Writes grow with environments and flushes, not invocations; the reader sums one Query
 * per shard.
 *
 * Faults (tests/runtime/controllerFaults.test.ts): a claim whose response was lost (the SDK's retry
 * fails the condition) is recognised by its owner and counts as won; a lost response on a decision or a
 * statistics write is harmless (both are idempotent); a failed or throttled call rejects.
 * IAM: a worker's statistics only `dynamodb:PutItem` ({@link ControllerStore.writeStatistics}); the deciding side
 * `dynamodb:GetItem`, `dynamodb:UpdateItem`, `dynamodb:Query` (lease, decision, window), and PutItem too when
 * it also records statistics (self-tuning).
 */
import {
    AttributeValue,
    ConditionalCheckFailedException,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    QueryCommand,
    UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { CONTROL_TIMING_DEFAULTS } from "../../contracts/controller";
import type { ConcurrencyDecision } from "./decision";
import { WindowStats } from "./statistics";

/** Key attribute names of the controller table (both strings). */
export const CONTROLLER_TABLE_KEYS = { partitionKey: "pk", sortKey: "sk" } as const;

const CONTROL_SK = "control";

/** What winning an interval returns. */
export interface IntervalClaim {
    /** The interval won. */
    interval: number;
    /** The decision stored by the previous winner, if any. */
    previous?: ConcurrencyDecision;
}

/** The control item as stored. */
export interface ControlRecord {
    /** The last interval claimed (0 when never claimed). */
    interval: number;
    /** Who claimed it. */
    owner?: string;
    /** The last decision stored. */
    decision?: ConcurrencyDecision;
    /** The interval `decision` was made in. */
    decidedInterval?: number;
}

/** What the control loop needs from its storage; {@link ControllerStore} is the DynamoDB one. */
export interface ControllerStorePort {
    /** Claims `interval` for `owner`; `undefined` when another caller holds it or a later one. */
    claimInterval(interval: number, owner: string, now: number): Promise<IntervalClaim | undefined>;
    /** Stores `decision` if `owner` still holds `interval`; false when superseded. */
    saveDecision(interval: number, owner: string, decision: ConcurrencyDecision): Promise<boolean>;
    /** The control item; `consistent` for fencing, eventually consistent (half the read cost) for a look before claiming. */
    readControl(consistent: boolean): Promise<ControlRecord>;
    /** Replaces one environment's totals of `interval`. */
    writeStatistics(interval: number, environmentId: string, stats: WindowStats, now: number): Promise<void>;
    /** The sum of every environment's totals of `interval` (zero calls when nothing was written). */
    readWindow(interval: number): Promise<WindowStats>;
}

/** Options of {@link ControllerStore}. */
export interface ControllerStoreOptions {
    /**
     * How long statistics items live, seconds.
     * @default 3600
     * @example 7200
     */
    statsTtlSeconds?: number;
    /**
     * Statistics partitions (each takes 1,000 WCU/s); environments spread over them by id.
     * @default 4
     * @example 16
     */
    shards?: number;
}

/** Reads and conditional writes of one target's items. */
export class ControllerStore implements ControllerStorePort {
    private readonly statsTtlSeconds: number;
    private readonly shards: number;

    /**
     * @param client DynamoDB client
     * @param tableName the controller table
     * @param key the target's key ({@link targetKey})
     * @param options TTL and shards of the statistics
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
        private readonly key: string,
        options: ControllerStoreOptions = {},
    ) {
        this.statsTtlSeconds = options.statsTtlSeconds ?? 3600;
        this.shards = options.shards ?? CONTROL_TIMING_DEFAULTS.statisticsShards;
    }

    /**
     * Claims control interval `interval` for `owner`. Exactly one caller per interval gets a claim; the
     * others get `undefined`. A claim whose response was lost and whose retry failed the condition is
     * recognised by `owner` and returned as won.
     * @param interval the control interval (epoch time ÷ interval length, rounded down)
     * @param owner this decider's name, unique per decider
     * @param now epoch milliseconds, stored as `claimedAt`
     */
    async claimInterval(interval: number, owner: string, now: number): Promise<IntervalClaim | undefined> {
        try {
            const { Attributes } = await this.client.send(
                new UpdateItemCommand({
                    TableName: this.tableName,
                    Key: this.itemKey(this.key, CONTROL_SK),
                    UpdateExpression: "SET #interval = :interval, #owner = :owner, claimedAt = :now",
                    ConditionExpression: "attribute_not_exists(#interval) OR #interval < :interval",
                    ExpressionAttributeNames: { "#interval": "interval", "#owner": "owner" },
                    ExpressionAttributeValues: { ":interval": num(interval), ":owner": { S: owner }, ":now": num(now) },
                    ReturnValues: "ALL_OLD",
                }),
            );
            return { interval, previous: parseDecision(Attributes?.decision?.S) };
        } catch (error) {
            if (!(error instanceof ConditionalCheckFailedException)) throw error;
            const control = await this.readControl(true);
            return control.interval === interval && control.owner === owner ? { interval, previous: control.decision } : undefined;
        }
    }

    /**
     * Stores `decision` if `owner` still holds `interval`; false when a later claim took over.
     * @param interval the interval claimed
     * @param owner the name it was claimed with
     * @param decision the decision to keep for the next interval
     */
    async saveDecision(interval: number, owner: string, decision: ConcurrencyDecision): Promise<boolean> {
        try {
            await this.client.send(
                new UpdateItemCommand({
                    TableName: this.tableName,
                    Key: this.itemKey(this.key, CONTROL_SK),
                    UpdateExpression: "SET decision = :decision, decidedInterval = :interval",
                    ConditionExpression: "#interval = :interval AND #owner = :owner",
                    ExpressionAttributeNames: { "#interval": "interval", "#owner": "owner" },
                    ExpressionAttributeValues: { ":interval": num(interval), ":owner": { S: owner }, ":decision": { S: JSON.stringify(decision) } },
                }),
            );
            return true;
        } catch (error) {
            if (error instanceof ConditionalCheckFailedException) return false;
            throw error;
        }
    }

    /**
     * The control item.
     * @param consistent a strongly consistent read (1 RCU) rather than an eventually consistent one (0.5 RCU)
     */
    async readControl(consistent: boolean): Promise<ControlRecord> {
        const { Item = {} } = await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: this.itemKey(this.key, CONTROL_SK), ConsistentRead: consistent }),
        );
        return {
            interval: Number(Item.interval?.N ?? 0),
            owner: Item.owner?.S,
            decision: parseDecision(Item.decision?.S),
            decidedInterval: Item.decidedInterval ? Number(Item.decidedInterval.N) : undefined,
        };
    }

    /**
     * Replaces one execution environment's totals of `interval` (one PutItem; repeating it is harmless).
     * @param interval the control interval the calls ended in
     * @param environmentId the environment's id (its item, and its shard)
     * @param stats the environment's totals of that interval so far
     * @param now epoch milliseconds, for the TTL
     */
    async writeStatistics(interval: number, environmentId: string, stats: WindowStats, now: number): Promise<void> {
        const item: Record<string, AttributeValue> = {
            ...this.itemKey(this.statsPartition(shardOf(environmentId, this.shards)), `${interval}#${environmentId}`),
            calls: num(stats.calls),
            errors: num(stats.errors),
            expiresAt: num(Math.ceil(now / 1000) + this.statsTtlSeconds),
        };
        for (const [bucket, count] of stats.buckets) item[`b${bucket}`] = num(count);
        await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item }));
    }

    /**
     * The statistics of `interval` summed over every environment (zero calls when nothing was recorded):
     * one consistent Query per shard (more when a shard's items exceed 1 MB).
     * @param interval the control interval
     */
    async readWindow(interval: number): Promise<WindowStats> {
        const total: WindowStats = { calls: 0, errors: 0, buckets: new Map() };
        for (let shard = 0; shard < this.shards; shard++) {
            for await (const item of this.queryShard(shard, interval)) addItem(total, item);
        }
        return total;
    }

    private async *queryShard(shard: number, interval: number): AsyncGenerator<Record<string, AttributeValue>> {
        let startKey: Record<string, AttributeValue> | undefined;
        do {
            const page = await this.client.send(
                new QueryCommand({
                    TableName: this.tableName,
                    KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
                    ExpressionAttributeValues: { ":pk": { S: this.statsPartition(shard) }, ":prefix": { S: `${interval}#` } },
                    ConsistentRead: true,
                    ExclusiveStartKey: startKey,
                }),
            );
            yield* page.Items ?? [];
            startKey = page.LastEvaluatedKey;
        } while (startKey);
    }

    private statsPartition(shard: number): string {
        return `${this.key}#stats#${shard}`;
    }

    private itemKey(pk: string, sk: string): Record<string, AttributeValue> {
        return { [CONTROLLER_TABLE_KEYS.partitionKey]: { S: pk }, [CONTROLLER_TABLE_KEYS.sortKey]: { S: sk } };
    }
}

/**
 * The statistics shard of an environment: a stable hash of its id.
 * @param environmentId the environment's id
 * @param shards the number of shards
 * @example shardOf("0b6c…", 4) // 2
 */
export function shardOf(environmentId: string, shards: number): number {
    let hash = 0;
    for (let i = 0; i < environmentId.length; i++) hash = (Math.imul(hash, 31) + environmentId.charCodeAt(i)) >>> 0;
    return hash % shards;
}

function addItem(total: WindowStats, item: Record<string, AttributeValue>): void {
    total.calls += Number(item.calls?.N ?? 0);
    total.errors += Number(item.errors?.N ?? 0);
    for (const [name, value] of Object.entries(item)) {
        if (/^b\d+$/.test(name)) {
            const bucket = Number(name.slice(1));
            total.buckets.set(bucket, (total.buckets.get(bucket) ?? 0) + Number(value.N));
        }
    }
}

function parseDecision(text: string | undefined): ConcurrencyDecision | undefined {
    return text ? (JSON.parse(text) as ConcurrencyDecision) : undefined;
}

function num(value: number): AttributeValue {
    return { N: String(value) };
}
