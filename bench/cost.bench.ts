/**
 * Cost per million events of each pattern, from the runtime's own requests: every figure is a count of
 * the SDK calls the runtime made in this run, on dynalite (in process) for DynamoDB — its consumed capacity
 * read from the responses by the `meteredDynamo` middleware, a failed conditional write counted as the
 * 1 WCU DynamoDB bills — and on aws-sdk-client-mock for Lambda, CloudWatch and Step Functions (calls
 * counted by the mock). Step Functions transitions of the semaphore's own states are counted from a local
 * run (aws-local-stepfunctions) of the protected definition with every Task overridden. Dollars are
 * `bench/prices.ts` (list prices, one date).
 *
 * Rows: the EventBridge worker (a new event, idempotency on), the Kinesis ordered worker and the FIFO worker
 * (new records, idempotency on, one Lambda request per batch), the controller's own overhead per interval
 * (the scheduled controller: its invocation, GetMetricData, lease, window read and decision; plus the
 * workers' statistics writes) amortised over a stated event rate, the breaker's overhead per batch, and
 * the semaphore per execution (acquire + release: DynamoDB, the two Lambda requests, the transitions of
 * its own states). `figures()` returns the numbers; `run()` prints the tables.
 */
// Fake credentials (nothing reaches AWS) and the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20.
import "../tests/helpers/setup";
import { randomUUID } from "node:crypto";
import { CloudWatchClient, GetMetricDataCommand, MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import type { EventBridgeEvent, KinesisStreamEvent, SQSEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { RunOptions, StateMachine, StateMachineDefinition } from "aws-local-stepfunctions";
import { AslDefinition, AslState, protect } from "../components/internal/semaphoreAsl";
import { BREAKER_RUNTIME_DEFAULTS } from "../contracts/breaker";
import { CONTROL_TIMING_DEFAULTS } from "../contracts/controller";
import {
    addSamples,
    CircuitBreaker,
    ConcurrencyActuator,
    ControllerStore,
    emptyStats,
    eventBridgeWorker,
    fifoWorker,
    kinesisWorker,
    MappingActuatorPort,
    runControlInterval,
    targetKey,
} from "../runtime";
import { createLogger } from "../runtime/log";
import { Metrics } from "../runtime/metrics";
import { Semaphore } from "../runtime/semaphore";
import { LocalDynamo, startDynalite } from "../tests/helpers/dynalite";
import { fakeLambdaContext } from "../tests/helpers/lambdaContext";
import { PRICES, PRICES_AS_OF } from "./prices";
import { markdownTable } from "./runner";
import { Meter, meteredDynamo } from "./scale/controller";

/** Heading printed by `npm run bench`. */
export const title = "Cost per million events: the runtime's own requests per pattern";

/** Events measured per worker row. */
const EVENTS = 200;
const KINESIS_BATCH = 100;
const FIFO_BATCH = 10;
/** The controller row's stated load: events per second per target, and the environments that serve it (100 ms each). */
const CONTROLLER_LOAD = { eventsPerSecond: 100, environments: 10 };
const CONTROLLER_INTERVALS = 5;
const INTERVAL_SECONDS = CONTROL_TIMING_DEFAULTS.intervalSeconds;
const FLUSH_SECONDS = CONTROL_TIMING_DEFAULTS.statisticsFlushSeconds;
/** The breaker row's stated load: one batch per second per environment, over three flush periods. */
const BREAKER_LOAD = { batchesPerSecond: 1, flushPeriods: 3 };
const SEMAPHORE_PAIRS = 50;
const LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:";

/** What one event (or execution) costs in requests, by priced item. */
export interface Counts {
    /** DynamoDB requests (all kinds). */
    dynamoRequests: number;
    /** DynamoDB write units (a failed conditional write counts 1). */
    wcu: number;
    /** DynamoDB read units. */
    rcu: number;
    /** Lambda invocations (requests). */
    lambdaRequests: number;
    /** Step Functions Standard state transitions. */
    sfnTransitions: number;
    /** CloudWatch metrics requested through GetMetricData. */
    cloudWatchMetrics: number;
}

/** One pattern's figures. */
export interface CostRow {
    /** The pattern. */
    pattern: string;
    /** What one "event" is in this row and what was measured. */
    unit: string;
    /** Per event. */
    perEvent: Counts;
    /** The runtime's own dollars per million events: DynamoDB, Lambda requests, transitions, CloudWatch metrics. */
    runtimeUsdPerMillion: number;
    /** What the event source itself charges per million events (not the runtime's; for scale). */
    sourceUsdPerMillion?: number;
    /** How the source charge is made up. */
    sourceNote?: string;
    /** Calls that are counted but not charged, and assumptions. */
    note: string;
}

/** Everything this bench measures. */
export interface CostFigures {
    /** The date of the prices. */
    pricesAsOf: string;
    /** One row per pattern. */
    rows: CostRow[];
}

const ZERO: Counts = { dynamoRequests: 0, wcu: 0, rcu: 0, lambdaRequests: 0, sfnTransitions: 0, cloudWatchMetrics: 0 };

/**
 * Dollars per million events for `counts` per event, unrounded.
 * @example usdPerMillion({ ...ZERO, wcu: 2, lambdaRequests: 1 }) // 1.45
 */
export function usdPerMillion(counts: Counts): number {
    const dollars =
        counts.wcu * PRICES.dynamoWriteUnit +
        counts.rcu * PRICES.dynamoReadUnit +
        counts.lambdaRequests * PRICES.lambdaRequest +
        counts.sfnTransitions * PRICES.sfnStandardTransition +
        counts.cloudWatchMetrics * PRICES.cloudWatchMetricRequested;
    return dollars * 1e6;
}

/**
 * Measures every row in one run.
 * @example const { rows } = await figures();
 */
export async function figures(): Promise<CostFigures> {
    const db = await startDynalite();
    try {
        const rows = [
            await eventBridgeRow(db),
            await kinesisRow(db),
            await fifoRow(db),
            await controllerRow(db),
            ...(await breakerRows(db)),
            await semaphoreRow(db),
        ];
        return { pricesAsOf: PRICES_AS_OF, rows };
    } finally {
        await db.stop();
    }
}

/** Runs the measurement and returns the Markdown tables and their caveats. */
export async function run(): Promise<string> {
    return render(await figures());
}

/** The table and notes for {@link figures}. */
export function render(f: CostFigures): string {
    const n = (value: number) => (value === 0 ? "0" : value >= 1 ? value.toFixed(2).replace(/\.00$/, "") : value.toPrecision(2));
    const headings = ["pattern", "unit", "DynamoDB requests/event", "WCU/event", "RCU/event", "Lambda requests/event", "transitions/event", "GetMetricData metrics/event", "runtime $/million events", "event source $/million"];
    const cells = f.rows.map((r) => [
        r.pattern,
        r.unit,
        n(r.perEvent.dynamoRequests),
        n(r.perEvent.wcu),
        n(r.perEvent.rcu),
        n(r.perEvent.lambdaRequests),
        n(r.perEvent.sfnTransitions),
        n(r.perEvent.cloudWatchMetrics),
        `$${r.runtimeUsdPerMillion.toFixed(r.runtimeUsdPerMillion < 0.1 ? 4 : 2)}`,
        r.sourceUsdPerMillion === undefined ? "" : `$${r.sourceUsdPerMillion.toFixed(2)}`,
    ]);
    return [
        markdownTable(headings, cells),
        "",
        `Counted from the runtime's SDK calls in this run (DynamoDB on dynalite with consumed capacity from the responses; Lambda, CloudWatch and Step Functions on aws-sdk-client-mock); priced with bench/prices.ts (${f.pricesAsOf}, us-east-1 list prices, no free tier).`,
        "Not included: Lambda duration (GB-seconds depend on the handler: add them per your function), data transfer, CloudWatch Logs ingestion of the runtime's log and EMF lines, and the event source's own charges except in the last column, which is the source's list price for scale, not the runtime's.",
        ...f.rows.map((r) => `- ${r.pattern}: ${r.note}${r.sourceNote ? ` Event source: ${r.sourceNote}` : ""}`),
    ].join("\n");
}

function perEvent(meter: Meter, events: number, extra: Partial<Counts> = {}): Counts {
    return { ...ZERO, dynamoRequests: meter.requests / events, wcu: meter.wcu / events, rcu: meter.rcu / events, ...extra };
}

function costRow(row: Omit<CostRow, "runtimeUsdPerMillion">): CostRow {
    const round = (value: number) => Math.round(value * 1e6) / 1e6;
    const counts = Object.fromEntries(Object.entries(row.perEvent).map(([k, v]) => [k, round(v)])) as unknown as Counts;
    return { ...row, perEvent: counts, runtimeUsdPerMillion: Math.round(usdPerMillion(row.perEvent) * 1e4) / 1e4 };
}

async function eventBridgeRow(db: LocalDynamo): Promise<CostRow> {
    const table = "cost-eventbridge";
    await db.createTable(table, "id");
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        const handler = eventBridgeWorker(async (_event: EventBridgeEvent<"Cost", { n: number }>, ctx) => ctx.downstream("work", async () => undefined), { tableName: table, client, write: () => undefined });
        for (let n = 0; n < EVENTS; n++) await handler(eventBridgeEvent(n), fakeLambdaContext());
        return costRow({
            pattern: "EventBridge worker",
            unit: "a new event, idempotency on (the default)",
            perEvent: perEvent(meter, EVENTS, { lambdaRequests: 1 }),
            sourceUsdPerMillion: PRICES.eventBridgeEvent * 1e6,
            sourceNote: "one custom event published (PutEvents, ≤ 64 KB).",
            note: "one asynchronous invocation per event; a duplicate delivery costs its failed conditional write instead of the handler (see the idempotency bench).",
        });
    } finally {
        client.destroy();
    }
}

async function kinesisRow(db: LocalDynamo): Promise<CostRow> {
    const table = "cost-kinesis";
    await db.createTable(table, "id");
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        const handler = kinesisWorker(async (record, ctx) => ctx.downstream("work", async () => void record), { tableName: table, client, write: () => undefined });
        for (let b = 0; b < EVENTS / KINESIS_BATCH; b++) {
            const { batchItemFailures } = await handler(kinesisEvent(b), fakeLambdaContext());
            if (batchItemFailures.length) throw new Error("cost bench: the Kinesis batch reported failures");
        }
        return costRow({
            pattern: "Kinesis ordered worker",
            unit: `a new record in a batch of ${KINESIS_BATCH}, idempotency on (the default)`,
            perEvent: perEvent(meter, EVENTS, { lambdaRequests: 1 / KINESIS_BATCH }),
            sourceUsdPerMillion: PRICES.kinesisPutUnit * 1e6,
            sourceNote: "one PUT payload unit per record ≤ 25 KB (provisioned mode; shard-hours not included).",
            note: `one Lambda request per batch of ${KINESIS_BATCH}; records of a partition key in order, keys in parallel (the default inBatchParallelism).`,
        });
    } finally {
        client.destroy();
    }
}

async function fifoRow(db: LocalDynamo): Promise<CostRow> {
    const table = "cost-fifo";
    await db.createTable(table, "id");
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        const handler = fifoWorker(async (message, ctx) => ctx.downstream("work", async () => void message), { tableName: table, client, write: () => undefined });
        for (let b = 0; b < EVENTS / FIFO_BATCH; b++) {
            const { batchItemFailures } = await handler(sqsEvent(b), fakeLambdaContext());
            if (batchItemFailures.length) throw new Error("cost bench: the FIFO batch reported failures");
        }
        return costRow({
            pattern: "FIFO worker",
            unit: `a new message in a batch of ${FIFO_BATCH}, idempotency on (the default)`,
            perEvent: perEvent(meter, EVENTS, { lambdaRequests: 1 / FIFO_BATCH }),
            sourceUsdPerMillion: (1 + 2 / FIFO_BATCH) * PRICES.sqsFifoRequest * 1e6,
            sourceNote: `SendMessage per message, plus the poller's ReceiveMessage and DeleteMessageBatch per batch of ${FIFO_BATCH} (1.2 requests per message, ≤ 64 KB).`,
            note: `one Lambda request per batch of ${FIFO_BATCH}; messages of a group in order, groups in parallel.`,
        });
    } finally {
        client.destroy();
    }
}

/**
 * The scheduled controller of one target, for {@link CONTROLLER_INTERVALS} intervals: its invocation, its
 * GetMetricData, its lease, window read and decision write, and the Lambda control-plane calls of a change
 * (free); before each interval the workers' statistics writes (each environment once per flush period).
 */
async function controllerRow(db: LocalDynamo): Promise<CostRow> {
    const table = "cost-controller";
    await db.createTable(table, "pk", "sk");
    const lambda = mockClient(LambdaClient);
    const cloudwatch = mockClient(CloudWatchClient);
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
        lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 800 } });
        lambda.on(PutFunctionConcurrencyCommand).resolves({});
        cloudwatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries?: MetricDataQuery[] }) => ({
            MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: q.Id?.endsWith("backlog") ? [1000, 2000] : [10] })),
        }));
        const functionName = "cost-worker";
        const target = { kind: "ReservedConcurrency" as const, functionName };
        const config = { target, params: { min: 1, max: 100 }, tableName: table, metrics: { functionName, backlog: "AsyncEventAge" as const } };
        const store = new ControllerStore(client, table, targetKey(target));
        const eventsPerInterval = CONTROLLER_LOAD.eventsPerSecond * INTERVAL_SECONDS;
        const flushesPerInterval = INTERVAL_SECONDS / FLUSH_SECONDS;
        const worker = { ...ZERO };
        const controller = { ...ZERO };
        let clock = 0;
        let decided = 0;
        for (let i = 0; i < CONTROLLER_INTERVALS; i++) {
            const interval = 100 + i;
            // The workers: each environment writes its totals of the interval once per flush period.
            meter.reset();
            for (let env = 0; env < CONTROLLER_LOAD.environments; env++) {
                const stats = emptyStats();
                for (let flush = 1; flush <= flushesPerInterval; flush++) {
                    const calls = eventsPerInterval / CONTROLLER_LOAD.environments / flushesPerInterval;
                    addSamples(stats, Array.from({ length: calls }, (_, k) => ({ latencyMs: 80 + ((k * 37) % 60), ok: true })));
                    await store.writeStatistics(interval, `env-${env}`, stats, (interval * INTERVAL_SECONDS + flush * FLUSH_SECONDS) * 1000);
                }
            }
            worker.dynamoRequests += meter.requests;
            worker.wcu += meter.wcu;
            worker.rcu += meter.rcu;
            // The controller, after the interval's settle time and offset.
            meter.reset();
            cloudwatch.resetHistory();
            clock = ((interval + 1) * INTERVAL_SECONDS + FLUSH_SECONDS + CONTROL_TIMING_DEFAULTS.claimSpreadSeconds) * 1000;
            const outcome = await runControlInterval(config, {
                dynamodb: client,
                cloudwatch: new CloudWatchClient({}),
                actuator: new ConcurrencyActuator({ client: new LambdaClient({}), sleep: async () => undefined }),
                clock: () => clock,
                sleep: async (ms) => void (clock += ms),
                owner: "cost-controller",
                write: () => undefined,
            });
            if (outcome.status === "decided") decided++;
            const metrics = cloudwatch.commandCalls(GetMetricDataCommand).reduce((sum, c) => sum + (c.args[0].input.MetricDataQueries ?? []).filter((q) => q.MetricStat).length, 0);
            controller.dynamoRequests += meter.requests;
            controller.wcu += meter.wcu;
            controller.rcu += meter.rcu;
            controller.cloudWatchMetrics += metrics;
            controller.lambdaRequests += 1; // the scheduled controller's own invocation
        }
        if (decided !== CONTROLLER_INTERVALS) throw new Error(`cost bench: the controller decided ${decided} of ${CONTROLLER_INTERVALS} intervals`);
        const events = eventsPerInterval * CONTROLLER_INTERVALS;
        const per = (c: Counts) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v / events])) as unknown as Counts;
        const total = Object.fromEntries(Object.keys(ZERO).map((k) => [k, (worker as never)[k] + (controller as never)[k]])) as unknown as Counts;
        const controlPlane = lambda.calls().length / CONTROLLER_INTERVALS;
        const perInterval = (c: Counts) => `${(c.dynamoRequests / CONTROLLER_INTERVALS).toFixed(1)} DynamoDB requests, ${(c.wcu / CONTROLLER_INTERVALS).toFixed(1)} WCU, ${(c.rcu / CONTROLLER_INTERVALS).toFixed(1)} RCU`;
        return costRow({
            pattern: "Adaptive concurrency (controller mode)",
            unit: `one target at ${CONTROLLER_LOAD.eventsPerSecond} events/s (${CONTROLLER_LOAD.environments} environments), its overhead amortised over ${eventsPerInterval.toLocaleString("en-US")} events per ${INTERVAL_SECONDS} s interval`,
            perEvent: per(total),
            note:
                `per interval, measured over ${CONTROLLER_INTERVALS}: the controller ${perInterval(controller)}, ${controller.cloudWatchMetrics / CONTROLLER_INTERVALS} GetMetricData metrics and its own invocation; ` +
                `the workers' statistics ${perInterval(worker)} (one write per environment per ${FLUSH_SECONDS} s); ${controlPlane.toFixed(1)} Lambda control-plane calls (no charge). ` +
                `The controller's share is fixed per interval and target, so it halves when the event rate doubles; the statistics grow with the environments, not the events.`,
        });
    } finally {
        client.destroy();
        lambda.restore();
        cloudwatch.restore();
    }
}

/** The mapping actuator is not what is measured here (it acts only when the breaker trips). */
const IDLE_MAPPING: MappingActuatorPort = {
    settings: async () => ({ batchSize: 100 }),
    disable: async () => true,
    enableForProbe: async () => true,
    restore: async () => true,
};

/** The breaker's guard of an ordered worker: one `record` per batch, at the default flush period. */
async function breakerRows(db: LocalDynamo): Promise<CostRow[]> {
    const table = "cost-breaker";
    await db.createTable(table, "id");
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        let clock = 1_000_000_000_000;
        const breaker = new CircuitBreaker({ tableName: table, id: "cost", actuator: IDLE_MAPPING, dynamo: client, now: () => clock, write: () => undefined });
        await breaker.record({ requests: 10, errors: 0 }); // the window exists, as in steady traffic
        meter.reset();
        const periods = BREAKER_LOAD.flushPeriods;
        const batches = periods * BREAKER_RUNTIME_DEFAULTS.flushSeconds * BREAKER_LOAD.batchesPerSecond;
        for (let b = 0; b < batches; b++) {
            clock += 1000 / BREAKER_LOAD.batchesPerSecond;
            await breaker.record({ requests: 10, errors: b % 20 === 0 ? 1 : 0 });
        }
        const perBatch = perEvent(meter, batches);
        const note = `${perBatch.dynamoRequests.toFixed(3)} DynamoDB requests and ${perBatch.wcu.toFixed(3)} WCU per batch, at ${BREAKER_LOAD.batchesPerSecond} batch/s per environment over ${periods} flush periods of ${BREAKER_RUNTIME_DEFAULTS.flushSeconds} s; the prober runs on its schedule in every state (by default once a minute: about 43,200 invocations and as many state reads per worker each 30 days, a fixed cost, not per record; not counted here).`;
        const scaled = (size: number): Counts => Object.fromEntries(Object.entries(perBatch).map(([k, v]) => [k, v / size])) as unknown as Counts;
        return [
            costRow({ pattern: "Circuit breaker (batch guard)", unit: `overhead per record, batches of ${KINESIS_BATCH} (Kinesis)`, perEvent: scaled(KINESIS_BATCH), note }),
            costRow({ pattern: "Circuit breaker (batch guard)", unit: `overhead per message, batches of ${FIFO_BATCH} (SQS FIFO)`, perEvent: scaled(FIFO_BATCH), note: "the same per-batch figures, over smaller batches." }),
        ];
    } finally {
        client.destroy();
    }
}

/**
 * The semaphore per execution: `Semaphore.acquire` (a free permit) + `release` through the public API, on a
 * metered client (whatever items and requests the layout uses), the Step Functions calls it makes counted
 * by the mock, and the transitions of the states `protect` adds around one Task of work.
 */
async function semaphoreRow(db: LocalDynamo): Promise<CostRow> {
    const table = "cost-semaphore";
    await db.createTable(table, "pk", "sk");
    const sfn = mockClient(SFNClient);
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        sfn.on(SendTaskSuccessCommand).resolves({});
        sfn.on(SendTaskFailureCommand).resolves({});
        sfn.on(SendTaskHeartbeatCommand).resolves({});
        const semaphore = new Semaphore({
            tableName: table,
            name: "cost",
            limit: 10,
            dynamo: client,
            sfn: new SFNClient({ region: "us-east-1" }),
            logger: createLogger({ write: () => undefined }),
            metrics: new Metrics({ write: () => undefined }),
        });
        const arn = (i: number) => `arn:aws:states:us-east-1:123456789012:execution:cost:${i}`;
        // one warm-up pair: the semaphore's items exist, as in steady traffic
        await semaphore.acquire({ executionArn: arn(-1), token: "t-warm" });
        await semaphore.release(arn(-1));
        meter.reset();
        sfn.resetHistory();
        for (let i = 0; i < SEMAPHORE_PAIRS; i++) {
            await semaphore.acquire({ executionArn: arn(i), token: `t-${i}` });
            await semaphore.release(arn(i));
        }
        const sfnCalls = sfn.calls().length / SEMAPHORE_PAIRS;
        const transitions = await semaphoreTransitions();
        return costRow({
            pattern: "Semaphore (Step Functions)",
            unit: "one execution: acquire (a free permit) + release",
            perEvent: perEvent(meter, SEMAPHORE_PAIRS, { lambdaRequests: 2, sfnTransitions: transitions }),
            note: `the acquire and release functions (2 Lambda requests) and the ${transitions} transitions of the states the semaphore adds (a local run of protect() around one Task, that Task's own transition not counted); ${sfnCalls.toFixed(1)} Step Functions API call (SendTaskSuccess, not billed) per execution; a waiting acquire costs no more transitions (task token), the sweeper's schedule is not counted.`,
        });
    } finally {
        client.destroy();
        sfn.restore();
    }
}

/** Transitions Step Functions bills for the states `protect` adds: a local run with every Task overridden, minus the work's own. */
async function semaphoreTransitions(): Promise<number> {
    const work: AslDefinition = { StartAt: "Work", States: { Work: { Type: "Task", Resource: `${LAMBDA_ARN}work`, End: true } } };
    const definition = protect({ acquireFunctionArn: `${LAMBDA_ARN}acquire`, releaseFunctionArn: `${LAMBDA_ARN}release` }, work);
    const handlers = Object.fromEntries(taskNames(definition).map((name) => [name, async () => (await new Promise(setImmediate), { granted: true, Payload: {}, StatusCode: 200 })]));
    const machine = new StateMachine(definition as unknown as StateMachineDefinition);
    const context = { Execution: { Id: "arn:aws:states:us-east-1:123456789012:execution:cost:1" }, Task: { Token: "token" } };
    const { result, eventLogs } = machine.run({}, { overrides: { taskResourceLocalHandlers: handlers } as RunOptions["overrides"], context });
    let transitions = 0;
    for await (const event of eventLogs) if (event.type === "StateEntered" || event.type === "StateRetried") transitions++;
    await result;
    return transitions - taskNames(work).length;
}

/** Every Task state's name, in nested Parallel branches and Map processors too. */
function taskNames(definition: AslDefinition): string[] {
    return Object.entries(definition.States).flatMap(([name, state]) => {
        const s = state as AslState & { Branches?: AslDefinition[]; ItemProcessor?: AslDefinition; Iterator?: AslDefinition };
        const nested = [...(s.Branches ?? []), ...(s.ItemProcessor ? [s.ItemProcessor] : []), ...(s.Iterator ? [s.Iterator] : [])].flatMap(taskNames);
        return s.Type === "Task" ? [name, ...nested] : nested;
    });
}

function eventBridgeEvent(n: number): EventBridgeEvent<"Cost", { n: number }> {
    return { id: randomUUID(), version: "0", account: "123456789012", time: new Date(0).toISOString(), region: "us-east-1", resources: [], source: "bench", "detail-type": "Cost", detail: { n } };
}

function kinesisEvent(batch: number): KinesisStreamEvent {
    return {
        Records: Array.from({ length: KINESIS_BATCH }, (_, i) => {
            const sequence = String(batch * KINESIS_BATCH + i + 1000);
            return {
                eventSource: "aws:kinesis",
                eventVersion: "1.0",
                eventID: `shardId-000000000000:${sequence}`,
                eventName: "aws:kinesis:record",
                invokeIdentityArn: "arn:aws:iam::123456789012:role/bench",
                awsRegion: "us-east-1",
                eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/cost",
                kinesis: { kinesisSchemaVersion: "1.0", partitionKey: `k-${i % 10}`, sequenceNumber: sequence, data: Buffer.from(JSON.stringify({ i })).toString("base64"), approximateArrivalTimestamp: 0 },
            };
        }),
    };
}

function sqsEvent(batch: number): SQSEvent {
    return {
        Records: Array.from({ length: FIFO_BATCH }, (_, i) => ({
            messageId: `m-${batch}-${i}`,
            receiptHandle: `rh-${batch}-${i}`,
            body: JSON.stringify({ i }),
            attributes: { ApproximateReceiveCount: "1", SentTimestamp: "0", SenderId: "bench", ApproximateFirstReceiveTimestamp: "0", MessageGroupId: `g-${i % 5}`, MessageDeduplicationId: `d-${batch}-${i}` },
            messageAttributes: {},
            md5OfBody: "",
            eventSource: "aws:sqs",
            eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:cost.fifo",
            awsRegion: "us-east-1",
        })),
    };
}

if (require.main === module) {
    run().then((text) => console.log(text), (error) => {
        console.error(error);
        process.exit(1);
    });
}
