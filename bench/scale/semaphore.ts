/**
 * Scale of the Step Functions semaphore (issue 13, semaphore row), measured on dynalite with the consumed
 * capacity read from the responses (`ReturnConsumedCapacity: "TOTAL"`, added to every request by a
 * middleware that also counts a failed conditional write as 1 WCU, as DynamoDB bills it), per partition key.
 *
 * - before: the layout up to issue 13, one item holding every holder and the queue, reproduced here call
 *   for call for the path measured (the runtime no longer has it).
 * - after: the runtime as it is (shard items of {@link SHARD_CAPACITY} permits, one item per execution and
 *   per queue place).
 *
 * One operation is an acquire plus a release with `held` other permits held on the same semaphore: either
 * a free permit (limit = held + 10) or, at saturation (limit = held), an acquire that queues and the release
 * of an older holder that hands its permit over. The ceiling is what the busiest partition key allows: about
 * 1,000 WCU/s and 3,000 RCU/s (one partition key lives on one partition; DynamoDB may split a hot key range by
 * sort key, never an item). The runtime spreads free grants over the shards at random; here that random source is
 * seeded ({@link PLACEMENT_SEED}), so every run measures the same placement, and the busiest key is the busiest of
 * {@link PAIRS} operations: a sustained load spreads more evenly, so the ceiling is a lower bound.
 *
 * Run alone: `TS_NODE_TRANSPILE_ONLY=true npx ts-node bench/scale/semaphore.ts`.
 */
import "../../tests/helpers/setup";
import { AttributeValue, DeleteItemCommand, DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { digest, Semaphore, SHARD_CAPACITY } from "../../runtime/semaphore";
import { startDynalite } from "../../tests/helpers/dynalite";
import { perMillion } from "../prices";
import { seededRandom } from "../simulator/random";
import { ScaleRow } from "./types";

const TABLE = "scale-semaphore";
const HELD = [100, 1000];
/** Operations measured per row. */
const PAIRS = 200;
/** Seed of the semaphore's placement of free grants (the runtime draws it from `Math.random`). */
const PLACEMENT_SEED = 13;
const PARTITION_WCU_PER_SECOND = 1000;
const PARTITION_RCU_PER_SECOND = 3000;
/** A Step Functions task token is about 700–1,000 characters; the measured ones are this long. */
const TOKEN_LENGTH = 800;

/** Requests and capacity counted by the middleware, in total and per partition key. */
class CapacityMeter {
    requests = 0;
    readonly wcu = new Map<string, number>();
    readonly rcu = new Map<string, number>();

    /** Adds the meter to `client`. */
    attach(client: DynamoDBClient): void {
        client.middlewareStack.add(
            (next, context) => async (args) => {
                const input = args.input as { ReturnConsumedCapacity?: string; Key?: { pk?: { S?: string } }; ExpressionAttributeValues?: { ":pk"?: { S?: string } } };
                input.ReturnConsumedCapacity = "TOTAL";
                this.requests++;
                const partition = input.Key?.pk?.S ?? input.ExpressionAttributeValues?.[":pk"]?.S ?? "?";
                const write = /^(Put|Update|Delete)Item/.test(context.commandName ?? "");
                const into = write ? this.wcu : this.rcu;
                try {
                    const result = await next(args);
                    const units = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
                    into.set(partition, (into.get(partition) ?? 0) + units);
                    return result;
                } catch (error) {
                    if ((error as { name?: string }).name === "ConditionalCheckFailedException") into.set(partition, (into.get(partition) ?? 0) + 1);
                    throw error;
                }
            },
            { step: "initialize", name: "meterCapacityByPartition" },
        );
    }

    reset(): void {
        this.requests = 0;
        this.wcu.clear();
        this.rcu.clear();
    }
}

/** What one operation cost, averaged over the measured pairs. */
interface PerOperation {
    requests: number;
    wcu: number;
    rcu: number;
    /** The partition key with the most WCU per operation, and its WCU and RCU. */
    busiest: { partition: string; wcu: number; rcu: number };
}

function perOperation(meter: CapacityMeter, operations: number): PerOperation {
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const partitions = new Set([...meter.wcu.keys(), ...meter.rcu.keys()]);
    let busiest = { partition: "", wcu: -1, rcu: 0 };
    for (const partition of partitions) {
        const wcu = (meter.wcu.get(partition) ?? 0) / operations;
        const rcu = (meter.rcu.get(partition) ?? 0) / operations;
        const load = Math.max(wcu / PARTITION_WCU_PER_SECOND, rcu / PARTITION_RCU_PER_SECOND);
        const current = Math.max(busiest.wcu / PARTITION_WCU_PER_SECOND, busiest.rcu / PARTITION_RCU_PER_SECOND);
        if (load > current) busiest = { partition, wcu, rcu };
    }
    return { requests: meter.requests / operations, wcu: sum(meter.wcu) / operations, rcu: sum(meter.rcu) / operations, busiest };
}

const arnOf = (label: string, i: number) => `arn:aws:states:us-east-1:123456789012:execution:scale-protected:${label}-${String(i).padStart(6, "0")}`;
const tokenOf = (i: number) => `AQC${String(i).padStart(8, "0")}`.padEnd(TOKEN_LENGTH, "t");

/**
 * The layout before issue 13, call for call on the measured path: the semaphore item (`sk` = `semaphore`)
 * carries `inUse`, `queue` and one `h_<id>` map per holder; each execution has a `waiter#<id>` item.
 * acquire = record the waiter, take a free permit on the semaphore item, SendTaskSuccess, mark delivered;
 * release = read the semaphore item, give the permit back, delete the waiter.
 */
class PreviousLayout {
    constructor(
        private readonly client: DynamoDBClient,
        private readonly name: string,
        private readonly limit: number,
        private readonly sfn: SFNClient,
    ) {}

    async acquire(executionArn: string, token: string): Promise<void> {
        const id = digest(executionArn);
        await this.update(`waiter#${id}`, "SET executionArn = :e, #t = :t, enqueuedAt = if_not_exists(enqueuedAt, :now), delivered = if_not_exists(delivered, :false)", "attribute_not_exists(sk) OR #t = :t", { "#t": "token" }, {
            ":e": { S: executionArn },
            ":t": { S: token },
            ":now": { N: String(Date.now()) },
            ":false": { BOOL: false },
        });
        await this.update("semaphore", "SET inUse = if_not_exists(inUse, :zero) + :one, #h = :holder", "(attribute_not_exists(inUse) OR inUse < :limit) AND attribute_not_exists(#h) AND (attribute_not_exists(queue) OR size(queue) = :zero)", { "#h": `h_${id}` }, {
            ":zero": { N: "0" },
            ":one": { N: "1" },
            ":limit": { N: String(this.limit) },
            ":holder": {
                M: {
                    executionArn: { S: executionArn },
                    grantId: { S: "0b7e5e1c-3b8f-4c1e-9f5e-0d6b7a2c4e11" },
                    grantedAt: { N: String(Date.now()) },
                    leaseUntil: { N: String(Date.now() + 900_000) },
                },
            },
        });
        await this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: "{}" }));
        await this.update(`waiter#${id}`, "SET delivered = :true", "#t = :t", { "#t": "token" }, { ":t": { S: token }, ":true": { BOOL: true } });
    }

    async release(executionArn: string): Promise<void> {
        const id = digest(executionArn);
        await this.client.send(new GetItemCommand({ TableName: TABLE, Key: this.key("semaphore"), ConsistentRead: true }));
        await this.update("semaphore", "REMOVE #h SET inUse = inUse - :one", "attribute_exists(#h) AND (attribute_not_exists(queue) OR size(queue) = :zero OR inUse > :limit)", { "#h": `h_${id}` }, {
            ":zero": { N: "0" },
            ":one": { N: "1" },
            ":limit": { N: String(this.limit) },
        });
        await this.client.send(new DeleteItemCommand({ TableName: TABLE, Key: this.key(`waiter#${id}`) }));
    }

    private async update(sk: string, expression: string, condition: string, names: Record<string, string>, values: Record<string, AttributeValue>): Promise<void> {
        await this.client.send(
            new UpdateItemCommand({ TableName: TABLE, Key: this.key(sk), UpdateExpression: expression, ConditionExpression: condition, ExpressionAttributeNames: names, ExpressionAttributeValues: values }),
        );
    }

    private key(sk: string): Record<string, AttributeValue> {
        return { pk: { S: this.name }, sk: { S: sk } };
    }
}

/** The runtime's semaphore on the metered client. */
function semaphoreOf(client: DynamoDBClient, sfn: SFNClient, name: string, limit: number): Semaphore {
    return new Semaphore({ tableName: TABLE, name, limit, dynamo: client, sfn, logger: createLogger({ write: () => undefined }), metrics: new Metrics({ write: () => undefined }), random: seededRandom(PLACEMENT_SEED) });
}

/** Before: `held` permits held, then {@link PAIRS} acquire + release pairs of other executions on free permits. */
async function measureBefore(client: DynamoDBClient, sfn: SFNClient, meter: CapacityMeter, held: number): Promise<PerOperation> {
    const layout = new PreviousLayout(client, `before-${held}`, held + 10, sfn);
    for (let i = 0; i < held; i++) await layout.acquire(arnOf(`before-${held}`, i), tokenOf(i));
    meter.reset();
    for (let i = held; i < held + PAIRS; i++) {
        await layout.acquire(arnOf(`before-${held}`, i), tokenOf(i));
        await layout.release(arnOf(`before-${held}`, i));
    }
    return perOperation(meter, PAIRS);
}

/** After, free permits: `held` permits held (limit = held + 10), then {@link PAIRS} acquire + release pairs. */
async function measureAfterFree(client: DynamoDBClient, sfn: SFNClient, meter: CapacityMeter, held: number): Promise<PerOperation> {
    const label = `after-free-${held}`;
    const semaphore = semaphoreOf(client, sfn, label, held + 10);
    for (let i = 0; i < held; i++) await semaphore.acquire({ executionArn: arnOf(label, i), token: tokenOf(i) });
    meter.reset();
    for (let i = held; i < held + PAIRS; i++) {
        await semaphore.acquire({ executionArn: arnOf(label, i), token: tokenOf(i) });
        await semaphore.release(arnOf(label, i));
    }
    return perOperation(meter, PAIRS);
}

/**
 * After, at saturation: all `held` permits held (limit = held); each operation is a new acquire that
 * queues plus the release of the oldest holder, which hands its permit to it.
 */
async function measureAfterHandOff(client: DynamoDBClient, sfn: SFNClient, meter: CapacityMeter, held: number): Promise<PerOperation> {
    const label = `after-full-${held}`;
    const semaphore = semaphoreOf(client, sfn, label, held);
    for (let i = 0; i < held; i++) await semaphore.acquire({ executionArn: arnOf(label, i), token: tokenOf(i) });
    meter.reset();
    for (let i = 0; i < PAIRS; i++) {
        await semaphore.acquire({ executionArn: arnOf(label, held + i), token: tokenOf(held + i) });
        await semaphore.release(arnOf(label, i));
    }
    return perOperation(meter, PAIRS);
}

function row(operation: string, layout: ScaleRow["layout"], measured: PerOperation, note: string): ScaleRow {
    const { busiest } = measured;
    const byWrites = busiest.wcu > 0 ? PARTITION_WCU_PER_SECOND / busiest.wcu : Infinity;
    const byReads = busiest.rcu > 0 ? PARTITION_RCU_PER_SECOND / busiest.rcu : Infinity;
    const where = describePartition(busiest.partition);
    return {
        pattern: "Semaphore",
        operation,
        layout,
        requestsPerOperation: round(measured.requests),
        wcuPerOperation: round(measured.wcu),
        rcuPerOperation: round(measured.rcu),
        bindingLimit: byWrites <= byReads ? `1,000 WCU/s on ${where}` : `3,000 RCU/s on ${where}`,
        ceilingPerSecond: Math.floor(Math.min(byWrites, byReads)),
        costPerMillion: perMillion({ dynamoWriteUnit: measured.wcu, dynamoReadUnit: measured.rcu, lambdaRequest: 2 }),
        note: `busiest partition key: ${round(busiest.wcu)} WCU, ${round(busiest.rcu)} RCU per operation; ${note}; cost counts DynamoDB and the 2 Lambda requests`,
    };
}

/** A partition key of either layout, in words. */
function describePartition(partition: string): string {
    if (partition.startsWith("before-")) return "the semaphore's one partition (the semaphore item)";
    if (partition.includes("#queue")) return "the queue's partition";
    if (partition.includes("#shard#")) return "one shard item";
    if (partition.includes("#rooms#")) return "one room-hint item";
    if (partition.includes("#exec#")) return "one of the 16 execution partitions";
    return "the counters item";
}

function round(value: number): number {
    return Math.round(value * 10) / 10;
}

/**
 * Measures the semaphore rows: the previous single-item layout and today's sharded one, at 100 and 1,000
 * permits held.
 * @example const rows = await measure(); // ScaleRow[], before and after
 */
export async function measure(): Promise<ScaleRow[]> {
    const db = await startDynalite();
    const sfnMock = mockClient(SFNClient);
    try {
        sfnMock.on(SendTaskSuccessCommand).resolves({});
        const sfn = new SFNClient({ region: "us-east-1" });
        await db.createTable(TABLE, "pk", "sk");
        const meter = new CapacityMeter();
        meter.attach(db.client);
        const rows: ScaleRow[] = [];
        for (const held of HELD) {
            const at = `at ${held.toLocaleString("en-US")} permits held`;
            rows.push(row(`acquire (free permit) + release ${at}`, "before", await measureBefore(db.client, sfn, meter, held), "every holder is an attribute of the one item, so each write grows with the permits held"));
            rows.push(row(`acquire (free permit) + release ${at}`, "after", await measureAfterFree(db.client, sfn, meter, held), `shard items of ${SHARD_CAPACITY} permits; placement seeded, the busiest key of ${PAIRS} operations (a sustained load spreads more evenly: the ceiling is a lower bound); the WCU of a write does not grow with the permits held`));
            rows.push(row(`acquire (queued) + hand-off ${at}, limit reached`, "after", await measureAfterHandOff(db.client, sfn, meter, held), "each queue place is its own item on the queue's partition"));
        }
        return rows;
    } finally {
        sfnMock.restore();
        await db.stop();
    }
}

if (require.main === module) {
    measure().then((rows) => console.table(rows.map(({ note: _note, ...rest }) => rest)));
}
