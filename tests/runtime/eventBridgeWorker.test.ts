import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ConfigurationError } from "../../contracts/errors";
import type { EventBridgeEvent } from "aws-lambda";
import {
    EventBridgeWorkerOptions,
    eventBridgeWorker,
    EventBridgeWorkerFunction,
    IdempotencyInProgressError,
    IdempotencyKeyError,
    IdempotencyOwnershipLostError,
    IdempotencyPayloadMismatchError,
    registerInvocationObserver,
    UnhashablePayloadError,
    WorkerContext,
} from "../../runtime";
import { countingClient, startDynalite, LocalDynamo } from "../helpers/dynalite";
import { injectFaults } from "../helpers/faults";
import { fakeLambdaContext, lineSink, LineSink } from "../helpers/lambdaContext";

type OrderEvent = EventBridgeEvent<"OrderPlaced", { orderId: string; amount: number }>;

const TABLE = "worker-idempotency";

function orderEvent(id: string = randomUUID(), amount = 10): OrderEvent {
    return {
        id,
        version: "0",
        account: "123456789012",
        time: "2026-01-01T00:00:00Z",
        region: "us-east-1",
        resources: [],
        source: "shop",
        "detail-type": "OrderPlaced",
        detail: { orderId: "o-1", amount },
    };
}

/** A promise plus its resolver, to hold a function in flight until the test lets it go. */
function gate(): { opened: Promise<void>; open: () => void } {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
}

const metricSum = (sink: LineSink, name: string) =>
    sink
        .json()
        .filter((l) => l._aws && l[name])
        .reduce((sum, l) => sum + (l[name] as number[]).reduce((a, b) => a + b, 0), 0);

describe("eventBridgeWorker on dynalite", () => {
    let db: LocalDynamo;
    let sink: LineSink;
    const worker = <R>(fn: EventBridgeWorkerFunction<OrderEvent, R>, options: EventBridgeWorkerOptions = {}) =>
        eventBridgeWorker<OrderEvent, R>(fn, { tableName: TABLE, client: db.client, write: sink.write, ...options });

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());
    beforeEach(() => {
        sink = lineSink();
    });

    it("50 concurrent deliveries run fn once; the others fail fast with the retryable error, then get the stored result", async () => {
        const event = orderEvent();
        const release = gate();
        let runs = 0;
        let rejections = 0;
        const handler = worker(async (e) => {
            runs++;
            await release.opened;
            return { charged: e.detail.amount };
        });
        const deliveries = Array.from({ length: 50 }, (_, i) =>
            handler(event, fakeLambdaContext(`req-${i}`)).catch((error: unknown) => {
                rejections++;
                if (rejections === 49) release.open();
                throw error;
            }),
        );
        const outcomes = await Promise.allSettled(deliveries);

        assert.equal(runs, 1);
        const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
        assert.deepEqual(fulfilled.map((o) => (o as PromiseFulfilledResult<unknown>).value), [{ charged: 10 }]);
        // The 49 rejections all happened while fn was still held: nobody waited for it.
        for (const o of outcomes.filter((o) => o.status === "rejected")) {
            const reason = (o as PromiseRejectedResult).reason;
            assert.ok(reason instanceof IdempotencyInProgressError && reason.retryable);
        }
        assert.equal(metricSum(sink, "InFlightDuplicates"), 49);

        const retries = await Promise.all(Array.from({ length: 49 }, () => handler(event, fakeLambdaContext())));
        assert.ok(retries.every((r) => r.charged === 10));
        assert.equal(runs, 1);
        assert.equal(metricSum(sink, "DuplicatesSkipped"), 49);
    });

    it("takes over an expired lease; the stale owner's completion is rejected and does not overwrite", async () => {
        const clock = { now: 1_800_000_000_000 };
        const event = orderEvent();
        const staleHeld = gate();
        let run = 0;
        const handler = worker(
            async () => {
                const mine = ++run;
                if (mine === 1) await staleHeld.opened;
                return `result of run ${mine}`;
            },
            { leaseSeconds: 60, now: () => clock.now },
        );
        const stale = handler(event, fakeLambdaContext("stale"));
        await until(() => run === 1);
        clock.now += 60_000;
        assert.equal(await handler(event, fakeLambdaContext("takeover")), "result of run 2");
        staleHeld.open();
        await assert.rejects(stale, IdempotencyOwnershipLostError);
        assert.equal(metricSum(sink, "OwnershipLost"), 1);
        assert.equal(await handler(event, fakeLambdaContext("later")), "result of run 2");
        assert.equal(run, 2);
    });

    it("reports a payload mismatch under the same event id", async () => {
        const id = randomUUID();
        const handler = worker(async () => "ok");
        await handler(orderEvent(id, 10), fakeLambdaContext());
        await assert.rejects(handler(orderEvent(id, 99), fakeLambdaContext()), IdempotencyPayloadMismatchError);
        assert.equal(metricSum(sink, "PayloadMismatches"), 1);
        assert.ok(sink.json().some((l) => l.level === "ERROR" && l.eventId === id && /different payload/.test(l.message)));
    });

    it("treats an archive replay (same id plus replay-name) as a duplicate, not a payload mismatch", async () => {
        const event = orderEvent();
        let runs = 0;
        const handler = worker(async () => `run ${++runs}`);
        assert.equal(await handler(event, fakeLambdaContext()), "run 1");
        assert.equal(await handler({ ...event, "replay-name": "after-fix" }, fakeLambdaContext()), "run 1");
        assert.equal(runs, 1);
        assert.equal(metricSum(sink, "PayloadMismatches"), 0);
    });

    it("releases the claim when fn fails, so the retry runs fn again", async () => {
        const event = orderEvent();
        let runs = 0;
        const boom = new Error("downstream down");
        const handler = worker(async () => {
            runs++;
            if (runs === 1) throw boom;
            return "recovered";
        });
        await assert.rejects(handler(event, fakeLambdaContext()), (e) => e === boom);
        assert.equal(await handler(event, fakeLambdaContext()), "recovered");
        assert.equal(runs, 2);
    });

    it("rejects an event without a string id and never runs fn", async () => {
        let runs = 0;
        const handler = worker(async () => void runs++);
        for (const id of [undefined, 42, ""]) {
            const event = { ...orderEvent(), id } as unknown as OrderEvent;
            await assert.rejects(handler(event, fakeLambdaContext()), (e: unknown) => e instanceof IdempotencyKeyError && /no string `id`/.test(e.message));
        }
        assert.equal(runs, 0);
        assert.equal(sink.json().filter((l) => l.level === "ERROR").length, 3);
    });

    it("with idempotency: false runs every delivery and sends no DynamoDB request", async () => {
        const client = new DynamoDBClient({ endpoint: "http://127.0.0.1:9", region: "us-east-1" });
        let requests = 0;
        client.middlewareStack.add((next) => async (args) => (requests++, next(args)), { step: "initialize" });
        let runs = 0;
        const handler = eventBridgeWorker(async () => ++runs, { idempotency: false, client, write: sink.write });
        const event = orderEvent();
        await handler(event, fakeLambdaContext());
        await handler(event, fakeLambdaContext());
        await handler({ ...event, id: undefined } as unknown as OrderEvent, fakeLambdaContext());
        assert.deepEqual([runs, requests], [3, 0]);
        client.destroy();
    });

    it("gives fn a ctx whose downstream is measured, and calls observers once per invocation even on failure", async () => {
        const seen: string[] = [];
        const unregister = registerInvocationObserver(async (samples, lambda) => {
            seen.push(`${lambda.awsRequestId}:${samples.map((s) => `${s.name}=${s.ok}`).join(",")}`);
        });
        try {
            const handler = worker(async (e, ctx: WorkerContext) => {
                await ctx.downstream("payments", async () => "paid");
                if (e.detail.amount < 0) await ctx.downstream("refunds", () => Promise.reject(new Error("no")));
                return "done";
            });
            await handler(orderEvent(), fakeLambdaContext("a"));
            await assert.rejects(handler(orderEvent(randomUUID(), -1), fakeLambdaContext("b")));
        } finally {
            unregister();
        }
        assert.deepEqual(seen, ["a:payments=true", "b:payments=true,refunds=false"]);
        const latency = sink.json().filter((l) => l._aws && l.Downstream === "payments");
        assert.equal(latency.length, 2);
    });

    describe("bad input and faults", () => {
        const nested = (depth: number) => {
            let detail: Record<string, unknown> = {};
            for (let i = 0; i < depth; i++) detail = { inner: detail };
            return detail;
        };

        it("a detail nested 20,000 levels: a clear UnhashablePayloadError before any write, no stack overflow", async () => {
            const { client, counts } = countingClient(db.endpoint);
            let runs = 0;
            const handler = worker(async () => void runs++, { client });
            const event = { ...orderEvent(), detail: nested(20_000) } as unknown as OrderEvent;
            await assert.rejects(
                handler(event, fakeLambdaContext()),
                (e: unknown) => e instanceof UnhashablePayloadError && e.key === event.id && /nests deeper than 1000 levels/.test(e.message),
            );
            assert.deepEqual([runs, counts], [0, {}]);
            assert.ok(sink.json().some((l) => l.level === "ERROR" && /rejected before any write/.test(l.message)));
            const shallow = { ...orderEvent(), detail: nested(900) } as unknown as OrderEvent;
            await handler(shallow, fakeLambdaContext());
            assert.equal(runs, 1);
            client.destroy();
        });

        it("an id over 2,048 bytes: a clear IdempotencyKeyError before any write", async () => {
            const { client, counts } = countingClient(db.endpoint);
            let runs = 0;
            const handler = worker(async () => void runs++, { client });
            await assert.rejects(
                handler(orderEvent("e".repeat(2049)), fakeLambdaContext()),
                (e: unknown) => e instanceof IdempotencyKeyError && /idempotency key is 2049 bytes; DynamoDB keys must be 1 to 2048 bytes/.test(e.message),
            );
            assert.deepEqual([runs, counts], [0, {}]);
            client.destroy();
        });

        it("a claim whose response was lost (the SDK re-sent it) runs the event once instead of refusing it as in progress", async () => {
            const event = orderEvent();
            let runs = 0;
            const handler = worker(async () => `run ${++runs}`);
            const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "after", times: 1 }]);
            try {
                assert.equal(await handler(event, fakeLambdaContext()), "run 1");
            } finally {
                faults.restore();
            }
            assert.equal(await handler(event, fakeLambdaContext()), "run 1");
            assert.equal(runs, 1);
        });

        it("a completion whose response was lost: no OwnershipLost, no metric, the result is stored", async () => {
            const event = orderEvent();
            let runs = 0;
            const handler = worker(async () => `run ${++runs}`);
            const faults = injectFaults(db.client, [{ command: "UpdateItemCommand", fault: "after", times: 1 }]);
            try {
                assert.equal(await handler(event, fakeLambdaContext()), "run 1");
            } finally {
                faults.restore();
            }
            assert.equal(metricSum(sink, "OwnershipLost"), 0);
            assert.equal(await handler(event, fakeLambdaContext()), "run 1");
            assert.equal(runs, 1);
        });

        it("a result over the limit is returned to this caller, counted as ResultsNotStored; a duplicate is skipped and gets undefined", async () => {
            const event = orderEvent();
            let runs = 0;
            const handler = worker(async () => (runs++, { receipt: "r".repeat(2000) }), { maxStoredResultBytes: 1000 });
            assert.equal((await handler(event, fakeLambdaContext()))?.receipt.length, 2000);
            assert.equal(metricSum(sink, "ResultsNotStored"), 1);
            assert.ok(sink.json().some((l) => l.level === "WARN" && l.reason === "TooLarge" && l.eventId === event.id));
            assert.equal(await handler(event, fakeLambdaContext()), undefined);
            assert.ok(sink.json().some((l) => l.message === "duplicate event skipped; its result was not stored"));
            assert.equal(runs, 1);
        });
    });

    describe("configuration from the environment", () => {
        const saved = { ...process.env };
        afterEach(() => {
            for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
            Object.assign(process.env, saved);
        });

        it("uses IDEMPOTENCY_TABLE_NAME and the SDK default client (AWS_ENDPOINT_URL_DYNAMODB)", async () => {
            process.env.IDEMPOTENCY_TABLE_NAME = TABLE;
            process.env.AWS_ENDPOINT_URL_DYNAMODB = db.endpoint;
            let runs = 0;
            const handler = eventBridgeWorker(async () => ++runs, { write: sink.write });
            const event = orderEvent();
            assert.equal(await handler(event, fakeLambdaContext()), 1);
            assert.equal(await handler(event, fakeLambdaContext()), 1);
            assert.equal(runs, 1);
        });

        it("fails at creation without a table, or with a malformed setting", () => {
            delete process.env.IDEMPOTENCY_TABLE_NAME;
            assert.throws(() => eventBridgeWorker(async () => 1), (e: unknown) => e instanceof ConfigurationError && /eventBridgeWorker: idempotency is on but no table is configured.*IDEMPOTENCY_TABLE_NAME/.test(e.message));
            process.env.IDEMPOTENCY_TABLE_NAME = TABLE;
            const refused = (message: string) =>
                assert.throws(() => eventBridgeWorker(async () => 1), (e: unknown) => e instanceof ConfigurationError && e.message === message);
            for (const [value, shown] of [["ten", '"ten"'], ["0", '"0"'], [" ", '" "'], ["0x10", '"0x10"'], ["1.5", '"1.5"']]) {
                process.env.IDEMPOTENCY_LEASE_SECONDS = value;
                refused(`environment variable IDEMPOTENCY_LEASE_SECONDS must be an integer ≥ 1; received ${shown}`);
            }
            delete process.env.IDEMPOTENCY_LEASE_SECONDS;
            process.env.IDEMPOTENCY_EXPIRY_SECONDS = "60";
            process.env.IDEMPOTENCY_LEASE_SECONDS = "90";
            refused("IdempotencyStore: expirySeconds (60) must be at least leaseSeconds (90); a record that expires before its lease lets a second invocation take over a live claim");
            delete process.env.IDEMPOTENCY_EXPIRY_SECONDS;
            delete process.env.IDEMPOTENCY_LEASE_SECONDS;
            process.env.IDEMPOTENCY_LOCAL_CACHE_SIZE = "-1";
            refused('environment variable IDEMPOTENCY_LOCAL_CACHE_SIZE must be an integer ≥ 0; received "-1"');
            delete process.env.IDEMPOTENCY_LOCAL_CACHE_SIZE;
            process.env.IDEMPOTENCY_MAX_STORED_RESULT_BYTES = "500000";
            refused('environment variable IDEMPOTENCY_MAX_STORED_RESULT_BYTES must be an integer in [0, 393216]; received "500000"');
            delete process.env.IDEMPOTENCY_MAX_STORED_RESULT_BYTES;
            process.env.IDEMPOTENCY_ENABLED = "no";
            refused('environment variable IDEMPOTENCY_ENABLED must be "true" or "false"; received "no"');
        });

        it("IDEMPOTENCY_ENABLED=false needs no table", async () => {
            delete process.env.IDEMPOTENCY_TABLE_NAME;
            process.env.IDEMPOTENCY_ENABLED = "false";
            const handler = eventBridgeWorker(async () => "ran", { write: sink.write });
            assert.equal(await handler(orderEvent(), fakeLambdaContext()), "ran");
        });
    });
});

async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
