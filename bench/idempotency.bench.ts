/**
 * Idempotency cost of the EventBridge worker, measured against dynalite (in process) in one run:
 * DynamoDB requests per event (counted by a client middleware) and time per event, for the same
 * handler with idempotency off and on, first deliveries and duplicates, rounds interleaved so the
 * rows share the machine's conditions.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EventBridgeEvent } from "aws-lambda";
import { eventBridgeWorker, EventBridgeWorkerOptions, IdempotencyStore, payloadHash, WorkerContext } from "../runtime";
import { countingClient, startDynalite } from "../tests/helpers/dynalite";
import { fakeLambdaContext } from "../tests/helpers/lambdaContext";
import { batchTable, measureIdempotencyBatches, measureIdempotencyPeers, peersTable } from "./peers/powertoolsIdempotency";
import { meteredDynamo } from "./scale/controller";

/** Heading printed by `npm run bench`. */
export const title = "Idempotency cost: EventBridge worker on dynalite";

const TABLE = "bench-idempotency";
const ROUNDS = 4;
const EVENTS_PER_ROUND = 50;
/** The handler's simulated downstream call, so the ratio relates to a function that does some I/O. */
const WORK_MS = 5;

type Event = EventBridgeEvent<"Bench", { n: number }>;

interface Row {
    label: string;
    idempotency: string;
    requests: Record<string, number>;
    ms: number;
    events: number;
}

/** Runs the measurement and returns the Markdown table. */
export async function run(): Promise<string> {
    const db = await startDynalite();
    try {
        await db.createTable(TABLE, "id");
        const { client, counts } = countingClient(db.endpoint);
        const holder = new IdempotencyStore({ tableName: TABLE, client: db.client, expirySeconds: 3600, leaseSeconds: 3600 });
        const rows = await measure(client, counts, holder);
        const peers = await measureIdempotencyPeers(client, counts, TABLE);
        client.destroy();
        const metered = meteredDynamo(db.endpoint);
        const batches = await measureIdempotencyBatches(metered.client, metered.meter, TABLE);
        metered.client.destroy();
        return `${table(rows)}\n\n${peersTable(peers)}\n\n${batchTable(batches)}`;
    } finally {
        await db.stop();
    }
}

/** @param holder an uncounted store that holds claims, to create in-flight duplicates */
async function measure(client: DynamoDBClient, counts: Record<string, number>, holder: IdempotencyStore): Promise<Row[]> {
    const base: EventBridgeWorkerOptions = { tableName: TABLE, client, write: () => undefined };
    const handler = async (_event: Event, ctx: WorkerContext) => ctx.downstream("work", () => sleep(WORK_MS));
    const off = eventBridgeWorker(handler, { ...base, idempotency: false });
    const on = eventBridgeWorker(handler, base);
    const cached = eventBridgeWorker(handler, { ...base, localCacheSize: 1000 });
    const rows: Row[] = [
        row("first delivery", "off"),
        row("first delivery", "on"),
        row("duplicate (completed)", "on"),
        row("duplicate (completed), cached in this environment", "on + local cache"),
        row("duplicate in flight (rejected, retryable)", "on"),
    ];
    for (let round = 0; round < ROUNDS; round++) {
        const events = Array.from({ length: EVENTS_PER_ROUND }, (_, n) => event(n));
        await timeBatch(rows[0], counts, events, off);
        await timeBatch(rows[1], counts, events, on);
        await timeBatch(rows[2], counts, events, on);
        await Promise.all(events.map((e) => cached(e, fakeLambdaContext())));
        await timeBatch(rows[3], counts, events, cached);
        const held = events.map((e) => event(e.detail.n));
        await Promise.all(held.map((e) => holder.claim(e.id, payloadHash(e))));
        await timeBatch(rows[4], counts, held, (e, c) => on(e, c).catch(() => undefined));
    }
    return rows;
}

async function timeBatch(target: Row, counts: Record<string, number>, events: Event[], handler: (e: Event, c: ReturnType<typeof fakeLambdaContext>) => Promise<unknown>): Promise<void> {
    const before = { ...counts };
    const start = performance.now();
    for (const e of events) await handler(e, fakeLambdaContext());
    target.ms += performance.now() - start;
    target.events += events.length;
    for (const [name, n] of Object.entries(counts)) target.requests[name] = (target.requests[name] ?? 0) + n - (before[name] ?? 0);
}

function table(rows: Row[]): string {
    const baseline = rows[0].ms / rows[0].events;
    const lines = [
        "| Delivery | Idempotency | DynamoDB requests / event | ms / event | vs. idempotency off |",
        "|---|---|---|---|---|",
        ...rows.map((r) => {
            const ms = r.ms / r.events;
            return `| ${r.label} | ${r.idempotency} | ${requestsText(r)} | ${ms.toFixed(2)} | ${(ms / baseline).toFixed(2)}× |`;
        }),
    ];
    const note =
        `\n${ROUNDS} interleaved rounds × ${EVENTS_PER_ROUND} events per row, sequential; the handler makes one simulated ` +
        `${WORK_MS} ms downstream call (skipped on duplicates). dynalite ignores ReturnValuesOnConditionCheckFailure, so a ` +
        "duplicate costs PutItem + GetItem here; on DynamoDB the old item returns with the failed PutItem (1 request). " +
        "dynalite runs in this process, so its CPU time is included in the ms column.";
    return lines.join("\n") + "\n" + note;
}

function requestsText(r: Row): string {
    const total = Object.values(r.requests).reduce((a, b) => a + b, 0);
    const parts = Object.entries(r.requests)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `${(n / r.events).toFixed(2).replace(/\.00$/, "")} ${name.replace(/Command$/, "")}`);
    return parts.length ? `${(total / r.events).toFixed(2).replace(/\.00$/, "")} (${parts.join(" + ")})` : "0";
}

function row(label: string, idempotency: string): Row {
    return { label, idempotency, requests: {}, ms: 0, events: 0 };
}

function event(n: number): Event {
    return {
        id: randomUUID(),
        version: "0",
        account: "123456789012",
        time: new Date(0).toISOString(),
        region: "us-east-1",
        resources: [],
        source: "bench",
        "detail-type": "Bench",
        detail: { n },
    };
}


function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
