/**
 * DynamoDB state of a controlled target: the per-interval lease with the last decision, and the
 * per-interval downstream statistics the workers record. Table keyed by string `pk` and string `sk`
 * ({@link CONTROLLER_TABLE_KEYS}), TTL attribute `expiresAt`.
 *
 * | item | `pk` | `sk` | attributes |
 * |---|---|---|---|
 * | control | target key | `control` | `interval` (N), `owner` (S), `claimedAt` (N, epoch ms), `decision` (S: JSON {@link ConcurrencyDecision}) |
 * | statistics | target key | `stats#<interval>` | `calls` (N), `errors` (N), `b<i>` (N) latency histogram buckets, `expiresAt` (N, epoch s) |
 *
 * The lease: claiming interval `i` is one conditional UpdateItem (`interval < i`), so exactly one caller
 * per target and interval wins, whoever runs it; the winner's decision is written back conditioned on
 * still holding that interval (fencing). Statistics cost one UpdateItem (ADD) per invocation.
 * IAM: `dynamodb:GetItem`, `dynamodb:UpdateItem` on the table.
 */
import { AttributeValue, ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { ConcurrencyDecision } from "./decision";

/** Key attribute names of the controller table (both strings). */
export const CONTROLLER_TABLE_KEYS = { partitionKey: "pk", sortKey: "sk" } as const;

/** Latency histogram buckets grow by this factor: a percentile is exact to within ±2.5 %. */
const BUCKET_GROWTH = 1.05;
const CONTROL_SK = "control";
const STATS_PREFIX = "stats#";

/** One downstream call, as far as statistics go. */
export interface CallSample {
    /** Duration in milliseconds. */
    latencyMs: number;
    /** Whether the call succeeded. */
    ok: boolean;
}

/** The statistics of one control interval. */
export interface WindowStats {
    /** Calls recorded. */
    calls: number;
    /** Of those, failed calls. */
    errors: number;
    /** Latency histogram: bucket index → calls (bucket i holds latencies in [1.05^i, 1.05^(i+1)) ms). */
    buckets: Map<number, number>;
}

/** What winning an interval returns. */
export interface IntervalClaim {
    /** The interval won. */
    interval: number;
    /** The decision stored by the previous winner, if any. */
    previous?: ConcurrencyDecision;
}

/** Reads and conditional writes of one target's items. */
export class ControllerStore {
    /**
     * @param client DynamoDB client
     * @param tableName the controller table
     * @param key the target's key ({@link targetKey})
     * @param statsTtlSeconds how long statistics items live (default 3600)
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
        private readonly key: string,
        private readonly statsTtlSeconds = 3600,
    ) {}

    /**
     * Claims control interval `interval` for `owner`. Exactly one caller per interval gets a claim; the
     * others get `undefined`.
     * @param interval the control interval (epoch time ÷ interval length, rounded down)
     * @param owner this decider's name
     * @param now epoch milliseconds, stored as `claimedAt`
     */
    async claimInterval(interval: number, owner: string, now: number): Promise<IntervalClaim | undefined> {
        try {
            const { Attributes } = await this.client.send(
                new UpdateItemCommand({
                    TableName: this.tableName,
                    Key: this.itemKey(CONTROL_SK),
                    UpdateExpression: "SET #interval = :interval, #owner = :owner, claimedAt = :now",
                    ConditionExpression: "attribute_not_exists(#interval) OR #interval < :interval",
                    ExpressionAttributeNames: { "#interval": "interval", "#owner": "owner" },
                    ExpressionAttributeValues: { ":interval": num(interval), ":owner": { S: owner }, ":now": num(now) },
                    ReturnValues: "ALL_OLD",
                }),
            );
            return { interval, previous: parseDecision(Attributes?.decision?.S) };
        } catch (error) {
            if (error instanceof ConditionalCheckFailedException) return undefined;
            throw error;
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
                    Key: this.itemKey(CONTROL_SK),
                    UpdateExpression: "SET decision = :decision",
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
     * Adds one invocation's calls to the statistics of `interval`: a single UpdateItem, none without calls.
     * @param interval the control interval the calls ended in
     * @param samples the invocation's calls
     * @param now epoch milliseconds, for the TTL
     */
    async recordCalls(interval: number, samples: readonly CallSample[], now: number): Promise<void> {
        if (samples.length === 0) return;
        const counts = new Map<number, number>();
        for (const s of samples) counts.set(bucketOf(s.latencyMs), (counts.get(bucketOf(s.latencyMs)) ?? 0) + 1);
        const adds = [...counts.keys()].map((b) => `b${b} :b${b}`);
        const values: Record<string, AttributeValue> = {
            ":calls": num(samples.length),
            ":errors": num(samples.filter((s) => !s.ok).length),
            ":ttl": num(Math.ceil(now / 1000) + this.statsTtlSeconds),
        };
        for (const [b, n] of counts) values[`:b${b}`] = num(n);
        await this.client.send(
            new UpdateItemCommand({
                TableName: this.tableName,
                Key: this.itemKey(`${STATS_PREFIX}${interval}`),
                UpdateExpression: `ADD calls :calls, errors :errors, ${adds.join(", ")} SET expiresAt = :ttl`,
                ExpressionAttributeValues: values,
            }),
        );
    }

    /**
     * The statistics of `interval` (zero calls when nothing was recorded).
     * @param interval the control interval
     */
    async readWindow(interval: number): Promise<WindowStats> {
        const { Item = {} } = await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: this.itemKey(`${STATS_PREFIX}${interval}`), ConsistentRead: true }),
        );
        const buckets = new Map<number, number>();
        for (const [name, value] of Object.entries(Item)) {
            if (/^b\d+$/.test(name)) buckets.set(Number(name.slice(1)), Number(value.N));
        }
        return { calls: Number(Item.calls?.N ?? 0), errors: Number(Item.errors?.N ?? 0), buckets };
    }

    private itemKey(sk: string): Record<string, AttributeValue> {
        return { [CONTROLLER_TABLE_KEYS.partitionKey]: { S: this.key }, [CONTROLLER_TABLE_KEYS.sortKey]: { S: sk } };
    }
}

/**
 * The `p` percentile (0 < p ≤ 1) of a window's latency histogram, at the middle of its bucket; `NaN`
 * for an empty histogram.
 * @param buckets bucket index → calls, as in {@link WindowStats}
 * @param p the percentile as a fraction, e.g. 0.9
 * @example histogramPercentile(stats.buckets, 0.9) // 118.3
 */
export function histogramPercentile(buckets: Map<number, number>, p: number): number {
    const total = [...buckets.values()].reduce((a, b) => a + b, 0);
    let seen = 0;
    for (const index of [...buckets.keys()].sort((a, b) => a - b)) {
        seen += buckets.get(index) ?? 0;
        if (seen >= Math.ceil(p * total)) return BUCKET_GROWTH ** (index + 0.5);
    }
    return NaN;
}

/** Histogram bucket of a latency; latencies under 1 ms share bucket 0. */
function bucketOf(latencyMs: number): number {
    return latencyMs < 1 ? 0 : Math.floor(Math.log(latencyMs) / Math.log(BUCKET_GROWTH));
}

function parseDecision(text: string | undefined): ConcurrencyDecision | undefined {
    return text ? (JSON.parse(text) as ConcurrencyDecision) : undefined;
}

function num(value: number): AttributeValue {
    return { N: String(value) };
}
