/**
 * Scale of the Step Functions semaphore (issue 13, semaphore row), measured on dynalite with the consumed
 * capacity read from the responses (`ReturnConsumedCapacity: "TOTAL"`, added to every request by a
 * middleware): one operation is an acquire that takes a free permit plus its release, with 100 and 1,000
 * other permits held on the same semaphore. The ceiling is what the single semaphore item allows: about
 * 1,000 WCU/s and 3,000 RCU/s per item (one partition).
 *
 * Only the layout the runtime uses today (holders as attributes of the one semaphore item) is measured,
 * as the `before` rows: the per-holder layout of issue 13 is not built yet, so there are no `after` rows.
 */
import { ConsumedCapacity, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { Semaphore } from "../../runtime/semaphore";
import { startDynalite } from "../../tests/helpers/dynalite";
import { perMillion } from "../prices";
import { ScaleRow } from "./types";

const TABLE = "scale-semaphore";
const HELD = [100, 1000];
const PAIRS = 50;
const ITEM_WCU_PER_SECOND = 1000;
const ITEM_RCU_PER_SECOND = 3000;
const SEMAPHORE_ITEM = "semaphore";

/** Requests and capacity counted by the middleware, in total and on the semaphore item alone. */
interface Counts {
    requests: number;
    wcu: number;
    rcu: number;
    hotWcu: number;
    hotRcu: number;
}

const zero = (): Counts => ({ requests: 0, wcu: 0, rcu: 0, hotWcu: 0, hotRcu: 0 });

/** Adds `ReturnConsumedCapacity: "TOTAL"` to every request of `client` and sums what the responses report. */
function countCapacity(client: DynamoDBClient): Counts {
    const counts = zero();
    client.middlewareStack.add(
        (next, context) => async (args) => {
            const input = args.input as { ReturnConsumedCapacity?: string; Key?: { sk?: { S?: string } } };
            input.ReturnConsumedCapacity = "TOTAL";
            counts.requests++;
            const hot = input.Key?.sk?.S === SEMAPHORE_ITEM;
            const result = await next(args);
            const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity }).ConsumedCapacity;
            const units = consumed?.CapacityUnits ?? 0;
            const isWrite = /^(Put|Update|Delete)Item/.test(context.commandName ?? "");
            const read = isWrite ? 0 : units;
            const write = isWrite ? units : 0;
            counts.rcu += read;
            counts.wcu += write;
            if (hot) {
                counts.hotRcu += read;
                counts.hotWcu += write;
            }
            return result;
        },
        { step: "initialize", name: "countConsumedCapacity" },
    );
    return counts;
}

/** Holds `held` permits, then measures {@link PAIRS} acquire + release pairs of other executions. */
async function measureAt(client: DynamoDBClient, counts: Counts, held: number): Promise<Counts> {
    const semaphore = new Semaphore({
        tableName: TABLE,
        name: `held-${held}`,
        limit: held + 10,
        dynamo: client,
        sfn: new SFNClient({ region: "us-east-1" }),
        logger: createLogger({ write: () => undefined }),
        metrics: new Metrics({ write: () => undefined }),
    });
    const arn = (i: number) => `arn:aws:states:us-east-1:123456789012:execution:scale:held-${held}-${i}`;
    for (let i = 0; i < held; i++) await semaphore.acquire({ executionArn: arn(i), token: `t-${i}` });
    const before = { ...counts };
    for (let i = held; i < held + PAIRS; i++) {
        await semaphore.acquire({ executionArn: arn(i), token: `t-${i}` });
        await semaphore.release(arn(i));
    }
    const per = (key: keyof Counts) => (counts[key] - before[key]) / PAIRS;
    return { requests: per("requests"), wcu: per("wcu"), rcu: per("rcu"), hotWcu: per("hotWcu"), hotRcu: per("hotRcu") };
}

function row(held: number, c: Counts): ScaleRow {
    const byWrites = c.hotWcu > 0 ? ITEM_WCU_PER_SECOND / c.hotWcu : Infinity;
    const byReads = c.hotRcu > 0 ? ITEM_RCU_PER_SECOND / c.hotRcu : Infinity;
    const writesBind = byWrites <= byReads;
    return {
        pattern: "Semaphore",
        operation: `acquire (free permit) + release at ${held.toLocaleString("en-US")} permits held`,
        layout: "before",
        requestsPerOperation: round(c.requests),
        wcuPerOperation: round(c.wcu),
        rcuPerOperation: round(c.rcu),
        bindingLimit: writesBind ? "1,000 WCU/s on the semaphore item" : "3,000 RCU/s on the semaphore item",
        ceilingPerSecond: Math.floor(Math.min(byWrites, byReads)),
        costPerMillion: perMillion({ dynamoWriteUnit: c.wcu, dynamoReadUnit: c.rcu, lambdaRequest: 2 }),
        note:
            `of which on the semaphore item: ${round(c.hotWcu)} WCU, ${round(c.hotRcu)} RCU per pair; dynalite reports no capacity for a ` +
            "failed conditional write (DynamoDB charges one), none happen on this uncontended path; cost counts DynamoDB and the 2 Lambda requests",
    };
}

function round(value: number): number {
    return Math.round(value * 10) / 10;
}

/**
 * Measures the semaphore rows: today's single-item layout at 100 and 1,000 permits held.
 * @example const rows = await measure(); // ScaleRow[] with layout "before"
 */
export async function measure(): Promise<ScaleRow[]> {
    const db = await startDynalite();
    const sfn = mockClient(SFNClient);
    try {
        sfn.on(SendTaskSuccessCommand).resolves({});
        await db.createTable(TABLE, "pk", "sk");
        const counts = countCapacity(db.client);
        const rows: ScaleRow[] = [];
        for (const held of HELD) rows.push(row(held, await measureAt(db.client, counts, held)));
        return rows;
    } finally {
        sfn.restore();
        await db.stop();
    }
}
