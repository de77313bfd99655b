/**
 * How far adaptive concurrency scales, before (the previous layout, reproduced here call for call) and
 * after (the runtime as it is), measured on dynalite with the consumed capacity read from the responses
 * (`ReturnConsumedCapacity: "TOTAL"`). Rows: controller statistics, self-tuning claims, the Lambda
 * control plane, GetMetricData. The breaker's row is in `breaker.ts`.
 *
 * Ceilings use AWS's published limits (aws-facts.md): 1,000 WCU/s and 3,000 RCU/s per item or partition,
 * 15 Lambda control-plane requests/s per account, 50 GetMetricData requests/s per account. A failed
 * conditional write returns no consumed capacity but is billed and counted by DynamoDB as at least
 * 1 WCU: the meter counts it so.
 *
 * Run alone: `TS_NODE_TRANSPILE_ONLY=true npx ts-node bench/scale/controller.ts`.
 */
import "../../tests/helpers/setup";
import { CloudWatchClient, GetMetricDataCommand, MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { AttributeValue, DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { CONTROL_TIMING_DEFAULTS } from "../../contracts/controller";
import { ControllerStore, DynamoDbControlPlaneBudget, MAX_QUERIES_PER_CALL, readMetricSignalsBatch, StatisticsBuffer } from "../../runtime/controller";
import { LocalDynamo, startDynalite } from "../../tests/helpers/dynalite";
import { perMillion } from "../prices";
import { ScaleRow } from "./types";

/** AWS limits the ceilings are computed from. */
export const LIMITS = { itemWcuPerSecond: 1000, partitionRcuPerSecond: 3000, lambdaControlPlanePerSecond: 15, getMetricDataPerSecond: 50 } as const;

/** Assumed load of one busy execution environment: 100 ms invocations back to back. */
const INVOCATIONS_PER_ENVIRONMENT_PER_SECOND = 10;
const INTERVAL_SECONDS = CONTROL_TIMING_DEFAULTS.intervalSeconds;
const FLUSH_SECONDS = CONTROL_TIMING_DEFAULTS.statisticsFlushSeconds;
const SHARDS = CONTROL_TIMING_DEFAULTS.statisticsShards;
const SPREAD_SECONDS = CONTROL_TIMING_DEFAULTS.claimSpreadSeconds;

/** Requests and capacity a metered client has used. */
export interface Meter {
    requests: number;
    wcu: number;
    rcu: number;
    reset(): void;
}

/**
 * A DynamoDB client on `endpoint` that asks every request for its consumed capacity and adds it up
 * (a failed conditional write as 1 WCU).
 * @example const { client, meter } = meteredDynamo(db.endpoint);
 */
export function meteredDynamo(endpoint: string): { client: DynamoDBClient; meter: Meter } {
    const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" }, maxAttempts: 1 });
    const meter: Meter = {
        requests: 0,
        wcu: 0,
        rcu: 0,
        reset() {
            this.requests = this.wcu = this.rcu = 0;
        },
    };
    client.middlewareStack.add(
        (next, context) => async (args) => {
            const write = /^(Put|Update|Delete)Item/.test(context.commandName ?? "");
            (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
            meter.requests += 1;
            try {
                const result = await next(args);
                const units = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
                if (write) meter.wcu += units;
                else meter.rcu += units;
                return result;
            } catch (error) {
                if ((error as { name?: string }).name === "ConditionalCheckFailedException") meter.wcu += 1;
                throw error;
            }
        },
        { step: "initialize", name: "meterCapacity" },
    );
    return { client, meter };
}

/** Downstream latencies of a realistic spread (deterministic): 20 ms to 2 s. */
function latencyOf(i: number): number {
    return 20 * 100 ** ((i * 0.618_034) % 1);
}

/** Controller statistics: one ADD per invocation on one item, against one PutItem per environment and flush. */
async function statisticsRows(db: LocalDynamo): Promise<ScaleRow[]> {
    const { client, meter } = meteredDynamo(db.endpoint);
    const invocations = 1000;
    // before: `recordCalls`, one UpdateItem ADD per invocation into `stats#<interval>` (the item grows a bucket per distinct latency)
    for (let i = 0; i < invocations; i++) await client.send(previousRecordCalls("before", 100, latencyOf(i)));
    const before = { requests: meter.requests / invocations, wcu: meter.wcu / invocations };
    meter.reset();
    // after: environments keep totals in memory and write them once per flush period
    const store = new ControllerStore(client, "scale", "after", { shards: SHARDS });
    const environments = 20;
    const perFlush = INVOCATIONS_PER_ENVIRONMENT_PER_SECOND * FLUSH_SECONDS;
    for (let env = 0; env < environments; env++) {
        const buffer = new StatisticsBuffer(FLUSH_SECONDS * 1000, 100 * INTERVAL_SECONDS * 1000);
        for (let i = 0; i < perFlush * 3; i++) {
            const now = 100 * INTERVAL_SECONDS * 1000 + (i + 1) * (1000 / INVOCATIONS_PER_ENVIRONMENT_PER_SECOND);
            buffer.add(100, [{ latencyMs: latencyOf(env * 1000 + i), ok: i % 50 !== 0 }]);
            if (!buffer.due(100, now)) continue;
            for (const p of buffer.pending()) {
                await store.writeStatistics(p.interval, `env-${env}`, p.stats, now);
                buffer.written(p.interval, 100, now);
            }
        }
    }
    const flushes = meter.requests;
    const afterInvocations = environments * perFlush * 3;
    const wcuPerFlush = meter.wcu / flushes;
    meter.reset();
    await store.readWindow(100);
    const readRcuPerInterval = meter.rcu;
    const ceilingEnvironments = (SHARDS * LIMITS.itemWcuPerSecond * FLUSH_SECONDS) / wcuPerFlush;
    client.destroy();
    const operation = "one invocation's downstream calls recorded";
    return [
        row("Controller statistics", operation, "before", before.requests, before.wcu, 0, "1,000 WCU/s on the interval's one item", LIMITS.itemWcuPerSecond / before.wcu, perMillion({ dynamoWriteUnit: before.wcu })),
        row(
            "Controller statistics",
            operation,
            "after",
            flushes / afterInvocations,
            (wcuPerFlush * flushes) / afterInvocations,
            readRcuPerInterval / afterInvocations,
            `1,000 WCU/s per statistics partition × ${SHARDS} shards, one write per environment per ${FLUSH_SECONDS} s`,
            ceilingEnvironments * INVOCATIONS_PER_ENVIRONMENT_PER_SECOND,
            perMillion({ dynamoWriteUnit: (wcuPerFlush * flushes) / afterInvocations }),
            `${wcuPerFlush.toFixed(1)} WCU per flush; ceiling ≈ ${Math.round(ceilingEnvironments).toLocaleString("en-US")} environments at ${INVOCATIONS_PER_ENVIRONMENT_PER_SECOND} invocations/s each; the decision's read: ${readRcuPerInterval} RCU per interval for ${environments} environments`,
        ),
    ];
}

/** The previous layout's per-invocation write, as `ControllerStore.recordCalls` sent it. */
function previousRecordCalls(key: string, interval: number, latencyMs: number): UpdateItemCommand {
    const bucket = latencyMs < 1 ? 0 : Math.floor(Math.log(latencyMs) / Math.log(1.05));
    const values: Record<string, AttributeValue> = { ":calls": { N: "1" }, ":errors": { N: "0" }, ":ttl": { N: "9999999999" }, [`:b${bucket}`]: { N: "1" } };
    return new UpdateItemCommand({
        TableName: "scale",
        Key: { pk: { S: key }, sk: { S: `stats#${interval}` } },
        UpdateExpression: `ADD calls :calls, errors :errors, b${bucket} :b${bucket} SET expiresAt = :ttl`,
        ExpressionAttributeValues: values,
    });
}

/** Self-tuning: every environment claims at the boundary, against a look (eventually consistent) and one claim. */
async function claimRows(db: LocalDynamo): Promise<ScaleRow[]> {
    const { client, meter } = meteredDynamo(db.endpoint);
    const environments = 200;
    const store = new ControllerStore(client, "scale", "claims");
    await store.claimInterval(99, "seed", 0);
    await store.saveDecision(99, "seed", { limit: 40, reason: "demand", baselineLatencyMs: 84.2, latencyTargetMs: 105.25 });
    meter.reset();
    // before: the first invocation of every environment after the boundary sends the conditional claim
    await Promise.all(Array.from({ length: environments }, (_, i) => client.send(previousClaim(100, `env-${i}`)).catch(() => undefined)));
    const before = { requests: meter.requests / environments, wcu: meter.wcu / environments };
    meter.reset();
    // after: each environment looks first (its offset spreads the looks); one claims
    for (let i = 0; i < environments; i++) {
        if ((await store.readControl(false)).interval >= 101) continue;
        await store.claimInterval(101, `env-${i}`, 0);
    }
    const after = { requests: meter.requests / environments, wcu: meter.wcu / environments, rcu: meter.rcu / environments };
    client.destroy();
    const jitterSeconds = SPREAD_SECONDS / 2;
    const operation = "one environment's turn at an interval boundary";
    return [
        row("Self-tuning", operation, "before", before.requests, before.wcu, 0, "1,000 WCU/s on the control item, every claim in the same second", LIMITS.itemWcuPerSecond / before.wcu, perMillion({ dynamoWriteUnit: before.wcu }), `environments per target and interval; ${environments - 1} of ${environments} claims fail their condition`),
        row(
            "Self-tuning",
            operation,
            "after",
            after.requests,
            after.wcu,
            after.rcu,
            `3,000 RCU/s on the control item's partition, looks spread over ${jitterSeconds} s of jitter`,
            (LIMITS.partitionRcuPerSecond / after.rcu) * jitterSeconds,
            perMillion({ dynamoWriteUnit: after.wcu, dynamoReadUnit: after.rcu }),
            "environments per target and interval; one claim, no failed conditional write when the looks do not coincide",
        ),
    ];
}

/** The previous layout's claim: one conditional UpdateItem per environment. */
function previousClaim(interval: number, owner: string): UpdateItemCommand {
    return new UpdateItemCommand({
        TableName: "scale",
        Key: { pk: { S: "claims" }, sk: { S: "control" } },
        UpdateExpression: "SET #interval = :interval, #owner = :owner, claimedAt = :now",
        ConditionExpression: "attribute_not_exists(#interval) OR #interval < :interval",
        ExpressionAttributeNames: { "#interval": "interval", "#owner": "owner" },
        ExpressionAttributeValues: { ":interval": { N: String(interval) }, ":owner": { S: owner }, ":now": { N: "0" } },
        ReturnValues: "ALL_OLD",
    });
}

/** The Lambda control plane: calls per change, and what the shared budget costs and allows. */
async function controlPlaneRows(db: LocalDynamo): Promise<ScaleRow[]> {
    await db.createTable("scale-budget", "pk");
    const { client, meter } = meteredDynamo(db.endpoint);
    let now = 0;
    const rate = 10;
    const budget = new DynamoDbControlPlaneBudget({ client, tableName: "scale-budget", requestsPerSecond: rate, clock: () => now, sleep: async (ms) => void (now += ms), maxWaitMs: 3_600_000 });
    const callsPerChange = 3; // GetFunctionConcurrency, GetAccountSettings, PutFunctionConcurrency (a raise)
    const changes = 100;
    for (let i = 0; i < changes * callsPerChange; i++) await budget.take();
    const achievedPerSecond = (changes * callsPerChange) / (now / 1000);
    const perChange = { requests: meter.requests / changes, wcu: meter.wcu / changes, rcu: meter.rcu / changes };
    client.destroy();
    const operation = `one target's change (${callsPerChange} control-plane calls)`;
    // before: each process serialises only its own calls; self-tuning targets all change in the second after the boundary
    const beforePerInterval = LIMITS.lambdaControlPlanePerSecond / callsPerChange;
    const afterPerInterval = (rate * INTERVAL_SECONDS) / callsPerChange;
    return [
        row("Control plane", operation, "before", callsPerChange, 0, 0, "15 requests/s per account, all targets in the same second", beforePerInterval / INTERVAL_SECONDS, 0, `${beforePerInterval} target changes per ${INTERVAL_SECONDS} s interval before calls throttle and intervals are lost`),
        row(
            "Control plane",
            operation,
            "after",
            callsPerChange + perChange.requests,
            perChange.wcu,
            perChange.rcu,
            `a shared token bucket at ${rate} requests/s (measured ${achievedPerSecond.toFixed(1)}/s over ${changes * callsPerChange} takes), targets offset in the interval`,
            afterPerInterval / INTERVAL_SECONDS,
            perMillion({ dynamoWriteUnit: perChange.wcu, dynamoReadUnit: perChange.rcu }),
            `${afterPerInterval} target changes per ${INTERVAL_SECONDS} s interval; each call waits for a token instead of failing`,
        ),
    ];
}

/** GetMetricData: one call per target, against one call per 166 targets. */
async function metricRows(): Promise<ScaleRow[]> {
    const cloudwatch = mockClient(CloudWatchClient);
    try {
        cloudwatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries?: MetricDataQuery[] }) => ({ MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: [1] })) }));
        const targets = 1000;
        const sources = Array.from({ length: targets }, (_, i) => ({ functionName: `worker-${i}`, backlog: "IteratorAge" as const }));
        const window = { start: new Date(0), end: new Date(60_000) };
        const client = new CloudWatchClient({});
        for (const source of sources) await readMetricSignalsBatch(client, [source], window);
        const beforeCalls = cloudwatch.commandCalls(GetMetricDataCommand).length;
        cloudwatch.resetHistory();
        await readMetricSignalsBatch(client, sources, window);
        const afterCalls = cloudwatch.commandCalls(GetMetricDataCommand).length;
        const metricsPerTarget = 3;
        const cost = perMillion({ cloudWatchMetricRequested: metricsPerTarget });
        const operation = "one target's signals for one interval";
        return [
            row("GetMetricData", operation, "before", beforeCalls / targets, 0, 0, "50 GetMetricData requests/s per account", LIMITS.getMetricDataPerSecond * (targets / beforeCalls), cost, `${LIMITS.getMetricDataPerSecond * INTERVAL_SECONDS} targets per ${INTERVAL_SECONDS} s interval`),
            row(
                "GetMetricData",
                operation,
                "after",
                afterCalls / targets,
                0,
                0,
                `50 GetMetricData requests/s, ${MAX_QUERIES_PER_CALL} queries per call`,
                LIMITS.getMetricDataPerSecond * (targets / afterCalls),
                cost,
                `measured ${afterCalls} calls for ${targets} targets (runControlIntervals); CloudWatch bills per metric, so the cost is unchanged`,
            ),
        ];
    } finally {
        cloudwatch.restore();
    }
}

function row(
    pattern: string,
    operation: string,
    layout: "before" | "after",
    requestsPerOperation: number,
    wcuPerOperation: number,
    rcuPerOperation: number,
    bindingLimit: string,
    ceilingPerSecond: number,
    costPerMillion: number,
    note?: string,
): ScaleRow {
    const round = (value: number) => Math.round(value * 10_000) / 10_000;
    return { pattern, operation, layout, requestsPerOperation: round(requestsPerOperation), wcuPerOperation: round(wcuPerOperation), rcuPerOperation: round(rcuPerOperation), bindingLimit, ceilingPerSecond: Math.round(ceilingPerSecond * 100) / 100, costPerMillion, note };
}

/**
 * Measures every controller row, before and after, on a fresh in-process dynalite.
 * @example for (const r of await measure()) console.log(r.pattern, r.layout, r.ceilingPerSecond);
 */
export async function measure(): Promise<ScaleRow[]> {
    const db = await startDynalite();
    try {
        await db.createTable("scale", "pk", "sk");
        return [...(await statisticsRows(db)), ...(await claimRows(db)), ...(await controlPlaneRows(db)), ...(await metricRows())];
    } finally {
        await db.stop();
    }
}

if (require.main === module) {
    measure().then((rows) => console.table(rows), (error) => {
        console.error(error);
        process.exit(1);
    });
}
