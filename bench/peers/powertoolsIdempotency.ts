/**
 * The idempotency peer, on the same dynalite as the package's store: Powertools idempotency
 * (`makeIdempotent` with `DynamoDBPersistenceLayer`, the event's `id` as key) against the package's
 * `eventBridgeWorker`, both counted by the same request-counting client.
 *
 * - Requests per new event and per duplicate of a completed event.
 * - Takeover, then failure: invocation A claims an event and outlives its in-progress claim (Powertools:
 *   the remaining Lambda time; ours: the lease); B takes over and completes; then A fails. A third delivery
 *   C follows. How many times did the body run? Powertools deletes the record when A fails — B's
 *   completed record with it — so C runs the body again; ours releases only a claim its owner still holds.
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { Context, EventBridgeEvent } from "aws-lambda";
import { eventBridgeWorker } from "../../runtime";
import { fakeLambdaContext } from "../../tests/helpers/lambdaContext";
import { perMillion } from "../prices";

type Event = EventBridgeEvent<"Bench", { n: number }>;

/** One peer's figures. */
export interface IdempotencyPeerFigures {
    /** Which implementation. */
    implementation: string;
    /** DynamoDB requests for a first delivery. */
    requestsPerNewEvent: number;
    /** DynamoDB requests for a duplicate of a completed event. */
    requestsPerDuplicate: number;
    /** Of the new event's requests, writes (PutItem, UpdateItem, DeleteItem) and reads (GetItem). */
    newEventRequests: { writes: number; reads: number };
    /** Times the body ran for A (claims, outlives its claim, fails), B (takes over, completes) and C (a later duplicate). */
    bodyRunsAfterTakeoverThenFailure: number;
}

const EVENTS = 20;

/**
 * Measures both implementations on `client` (a counting client of one dynalite table keyed by `id`).
 * @param client the counting client
 * @param counts its request counters by command name
 * @param tableName the table, partition key `id`
 * @example const figures = await measureIdempotencyPeers(client, counts, "bench-idempotency");
 */
export async function measureIdempotencyPeers(client: DynamoDBClient, counts: Record<string, number>, tableName: string): Promise<IdempotencyPeerFigures[]> {
    return [await measurePowertools(client, counts, tableName), await measureOurs(client, counts, tableName)];
}

async function measurePowertools(client: DynamoDBClient, counts: Record<string, number>, tableName: string): Promise<IdempotencyPeerFigures> {
    const persistenceStore = new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: client });
    const config = new IdempotencyConfig({ eventKeyJmesPath: "id" });
    const plain = makeIdempotent(async (_event: Event, _context: Context) => ({ ok: true }), { persistenceStore, config });
    const [requestsPerNewEvent, requestsPerDuplicate, newEventRequests] = await requestsPerDelivery(counts, (e) => plain(e, fakeLambdaContext()));
    let runs = 0;
    const gate = deferred();
    const takeover = makeIdempotent(
        async (_event: Event, _context: Context) => {
            runs += 1;
            if (runs === 1) {
                await gate.promise;
                throw new Error("A fails after B took over");
            }
            return { ok: true };
        },
        { persistenceStore, config: new IdempotencyConfig({ eventKeyJmesPath: "id" }) },
    );
    const e = event();
    const a = takeover(e, contextWithRemaining(50)).catch(() => undefined);
    await sleep(120); // A's in-progress claim ends with its remaining time
    await takeover(e, contextWithRemaining(30_000)).catch(() => undefined);
    gate.resolve();
    await a;
    await takeover(e, contextWithRemaining(30_000)).catch(() => undefined);
    return { implementation: "Powertools idempotency", requestsPerNewEvent, requestsPerDuplicate, newEventRequests, bodyRunsAfterTakeoverThenFailure: runs };
}

async function measureOurs(client: DynamoDBClient, counts: Record<string, number>, tableName: string): Promise<IdempotencyPeerFigures> {
    let now = Date.now();
    const base = { tableName, client, write: () => undefined, leaseSeconds: 1, expirySeconds: 3600, now: () => now };
    const plain = eventBridgeWorker(async () => ({ ok: true }), base);
    const [requestsPerNewEvent, requestsPerDuplicate, newEventRequests] = await requestsPerDelivery(counts, (e) => plain(e, fakeLambdaContext()));
    let runs = 0;
    const gate = deferred();
    const takeover = eventBridgeWorker(async () => {
        runs += 1;
        if (runs === 1) {
            await gate.promise;
            throw new Error("A fails after B took over");
        }
        return { ok: true };
    }, base);
    const e = event();
    const a = takeover(e, fakeLambdaContext()).catch(() => undefined);
    await sleep(20);
    now += 2_000; // A's 1-s lease has passed
    await takeover(e, fakeLambdaContext()).catch(() => undefined);
    gate.resolve();
    await a;
    await takeover(e, fakeLambdaContext()).catch(() => undefined);
    return { implementation: "serverless-concurrency", requestsPerNewEvent, requestsPerDuplicate, newEventRequests, bodyRunsAfterTakeoverThenFailure: runs };
}

/** Mean requests per first delivery (and its writes and reads) and per duplicate, over {@link EVENTS} events delivered twice. */
async function requestsPerDelivery(counts: Record<string, number>, deliver: (e: Event) => Promise<unknown>): Promise<[number, number, { writes: number; reads: number }]> {
    const events = Array.from({ length: EVENTS }, () => event());
    const total = () => Object.values(counts).reduce((a, b) => a + b, 0);
    const start = { ...counts };
    for (const e of events) await deliver(e);
    const afterFirst = { ...counts };
    for (const e of events) await deliver(e);
    const delta = (name: string) => ((afterFirst[name] ?? 0) - (start[name] ?? 0)) / EVENTS;
    const newEvent = { writes: delta("PutItemCommand") + delta("UpdateItemCommand") + delta("DeleteItemCommand"), reads: delta("GetItemCommand") };
    const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    return [(sum(afterFirst) - sum(start)) / EVENTS, (total() - sum(afterFirst)) / EVENTS, newEvent];
}

function contextWithRemaining(ms: number): Context {
    return { ...fakeLambdaContext(randomUUID()), getRemainingTimeInMillis: () => ms };
}

function event(): Event {
    return { id: randomUUID(), version: "0", account: "123456789012", time: new Date(0).toISOString(), region: "us-east-1", resources: [], source: "bench", "detail-type": "Bench", detail: { n: 0 } };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The peers' figures as a Markdown table with its caveats.
 * @param figures from {@link measureIdempotencyPeers}
 * @example peersTable(await measureIdempotencyPeers(client, counts, table))
 */
export function peersTable(figures: IdempotencyPeerFigures[]): string {
    const dollars = (f: IdempotencyPeerFigures) => perMillion({ dynamoWriteUnit: f.newEventRequests.writes, dynamoReadUnit: f.newEventRequests.reads }).toFixed(2);
    const rows = figures.map((f) => `| ${f.implementation} | ${f.requestsPerNewEvent} | ${f.requestsPerDuplicate} | $${dollars(f)} | ${f.bodyRunsAfterTakeoverThenFailure} |`);
    return [
        "| Implementation (same dynalite, same counting client) | DynamoDB requests / new event | DynamoDB requests / duplicate (completed) | DynamoDB $ / million new events | body runs: A claims and outlives its claim, B takes over and completes, A fails, C arrives |",
        "|---|---|---|---|---|",
        ...rows,
        "",
        `${EVENTS} events, each delivered twice, per implementation. Takeover: Powertools' in-progress claim lasts A's remaining Lambda time (50 ms here); ours lasts its lease (1 s here, on a test clock). 2 body runs are the least any store allows once a claim may lapse; the third is Powertools deleting the record when A fails (B's completed result with it). Dollars: the new event's counted writes and reads at on-demand list prices (bench/prices.ts), one unit each (items under 1 KB); Lambda, the event source and the handler's own work excluded.`,
    ].join("\n");
}

/** Requests and capacity units one batch used. */
export interface BatchCost {
    /** DynamoDB requests. */
    requests: number;
    /** Write capacity units consumed (a failed conditional write counts 1). */
    wcu: number;
    /** Read capacity units consumed. */
    rcu: number;
}

/** One implementation's cost of a batch of {@link BATCH} events, new and then delivered again. */
export interface BatchFigures {
    /** Which implementation. */
    implementation: string;
    /** A batch of new events. */
    newBatch: BatchCost;
    /** The same batch delivered again (every event a duplicate of a completed one). */
    duplicateBatch: BatchCost;
}

/** Events in the batch of {@link measureIdempotencyBatches}. */
export const BATCH = 10;

/**
 * Both implementations through batches of {@link BATCH} events on a metered client (consumed capacity
 * read from every response, `ReturnConsumedCapacity: "TOTAL"`): the batch new, then the same batch again.
 * @param client a metered client of one dynalite table keyed by `id` (see bench/scale/controller.ts `meteredDynamo`)
 * @param meter its meter
 * @param tableName the table
 * @example const rows = await measureIdempotencyBatches(client, meter, "bench-idempotency");
 */
export async function measureIdempotencyBatches(client: DynamoDBClient, meter: { requests: number; wcu: number; rcu: number; reset(): void }, tableName: string): Promise<BatchFigures[]> {
    const persistenceStore = new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: client });
    const powertools = makeIdempotent(async (_event: Event, _context: Context) => ({ ok: true }), { persistenceStore, config: new IdempotencyConfig({ eventKeyJmesPath: "id" }) });
    const ours = eventBridgeWorker(async () => ({ ok: true }), { tableName, client, write: () => undefined, expirySeconds: 3600 });
    const run = async (implementation: string, deliver: (e: Event) => Promise<unknown>): Promise<BatchFigures> => {
        const events = Array.from({ length: BATCH }, () => event());
        const batch = async (): Promise<BatchCost> => {
            meter.reset();
            for (const e of events) await deliver(e);
            return { requests: meter.requests, wcu: meter.wcu, rcu: meter.rcu };
        };
        const newBatch = await batch();
        return { implementation, newBatch, duplicateBatch: await batch() };
    };
    return [await run("Powertools idempotency", (e) => powertools(e, fakeLambdaContext())), await run("serverless-concurrency", (e) => ours(e, fakeLambdaContext()))];
}

/**
 * The batch figures as a Markdown table with its caveats.
 * @param figures from {@link measureIdempotencyBatches}
 * @example batchTable(await measureIdempotencyBatches(client, meter, table))
 */
export function batchTable(figures: BatchFigures[]): string {
    const per = (n: number) => (n / BATCH).toFixed(2).replace(/\.00$/, "");
    const rows = figures.map((f) =>
        `| ${f.implementation} | ${f.newBatch.requests} | ${f.newBatch.wcu} | ${f.newBatch.rcu} | ${per(f.newBatch.requests)} / ${per(f.newBatch.wcu)} | ${f.duplicateBatch.requests} | ${f.duplicateBatch.wcu} | ${f.duplicateBatch.rcu} | ${per(f.duplicateBatch.requests)} / ${per(f.duplicateBatch.wcu)} |`,
    );
    return [
        `| Implementation (same dynalite, same metered client) | requests / batch of ${BATCH} new | WCU / batch of ${BATCH} new | RCU / batch of ${BATCH} new | requests / WCU per new event | requests / batch of ${BATCH} duplicates | WCU / batch of ${BATCH} duplicates | RCU / batch of ${BATCH} duplicates | requests / WCU per duplicate |`,
        "|---|---|---|---|---|---|---|---|---|",
        ...rows,
        "",
        `Capacity as dynalite reports it with ReturnConsumedCapacity TOTAL (items under 1 KB: 1 WCU per write); a failed conditional write returns no capacity and is counted as 1 WCU, as DynamoDB bills it. Neither implementation batches its idempotency writes: each event of a batch is claimed and completed on its own, so a batch costs ${BATCH} × one event. On dynalite a duplicate costs the failed claim + a GetItem (dynalite ignores ReturnValuesOnConditionCheckFailure); on DynamoDB it is the failed claim alone.`,
    ].join("\n");
}
