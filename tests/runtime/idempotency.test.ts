import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import * as fc from "fast-check";
import { ConfigurationError } from "../../contracts/errors";
import {
    canonicalJson,
    InMemoryIdempotencyStore,
    IdempotencyInProgressError,
    IdempotencyOwnershipLostError,
    IdempotencyPayloadMismatchError,
    IdempotencyPersistence,
    IdempotencyStore,
    IdempotencyStoreOptions,
    MAX_PAYLOAD_DEPTH,
    payloadHash,
    runIdempotently,
    UnhashablePayloadError,
} from "../../runtime/idempotency";
import { createLogger } from "../../runtime/log";
import { countingClient, startDynalite, LocalDynamo } from "../helpers/dynalite";
import { lineSink } from "../helpers/lambdaContext";

const TABLE = "idempotency";
const T0 = 1_800_000_000_000;


describe("idempotency store on dynalite", () => {
    let db: LocalDynamo;
    let clock: { now: number };
    const store = (extra: Partial<IdempotencyStoreOptions> = {}) =>
        new IdempotencyStore({ tableName: TABLE, client: db.client, expirySeconds: 3600, leaseSeconds: 10, now: () => clock.now, ...extra });
    const rawItem = async (key: string) =>
        (await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: key } }, ConsistentRead: true }))).Item;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());
    beforeEach(() => {
        clock = { now: T0 };
    });

    it("writes the claim item with owner, lease (ms) and TTL expiry (s)", async () => {
        const key = randomUUID();
        const claim = await store().claim(key, "h1");
        assert.equal(claim.status, "claimed");
        const item = await rawItem(key);
        assert.deepEqual(item, {
            id: { S: key },
            status: { S: "INPROGRESS" },
            owner: { S: claim.status === "claimed" ? claim.ownerToken : "" },
            leaseExpiresAt: { N: String(T0 + 10_000) },
            expiresAt: { N: String(T0 / 1000 + 3600) },
            payloadHash: { S: "h1" },
        });
    });

    it("returns the stored result for a completed key, JSON round-tripped", async () => {
        const key = randomUUID();
        const s = store();
        const claim = await s.claim(key, "h");
        assert.equal(claim.status, "claimed");
        if (claim.status !== "claimed") return;
        await s.complete(key, claim.ownerToken, { total: 3, at: new Date(0) });
        assert.deepEqual(await s.claim(key, "h"), { status: "completed", result: { total: 3, at: "1970-01-01T00:00:00.000Z" } });
        const item = await rawItem(key);
        assert.equal(item?.status.S, "COMPLETED");
    });

    it("stores an undefined result as NULL and returns undefined", async () => {
        const key = randomUUID();
        const s = store();
        const claim = await s.claim(key, "h");
        if (claim.status !== "claimed") assert.fail("not claimed");
        await s.complete(key, claim.ownerToken, undefined);
        assert.deepEqual(await s.claim(key, "h"), { status: "completed", result: undefined });
    });

    it("rejects an in-flight duplicate at once with the retryable error and the lease's rest, until the lease passes", async () => {
        const key = randomUUID();
        await store().claim(key, "h");
        clock.now = T0 + 9_999;
        await assert.rejects(store().claim(key, "h"), (e: unknown) => e instanceof IdempotencyInProgressError && e.retryable && e.key === key && e.leaseRemainingMs === 1);
        clock.now = T0 + 10_000;
        assert.equal((await store().claim(key, "h")).status, "claimed");
    });

    it("fences a stale owner after takeover: its completion is rejected and overwrites nothing", async () => {
        const key = randomUUID();
        const s = store();
        const stale = await s.claim(key, "h");
        clock.now = T0 + 10_001;
        const fresh = await s.claim(key, "h");
        if (stale.status !== "claimed" || fresh.status !== "claimed") assert.fail("both claims should succeed");
        assert.notEqual(fresh.ownerToken, stale.ownerToken);

        await assert.rejects(s.complete(key, stale.ownerToken, "stale result"), IdempotencyOwnershipLostError);
        assert.equal(await s.release(key, stale.ownerToken), false);
        const item = await rawItem(key);
        assert.equal(item?.status.S, "INPROGRESS");
        assert.equal(item?.owner.S, fresh.ownerToken);
        assert.equal(item?.result, undefined);

        await s.complete(key, fresh.ownerToken, "fresh result");
        await assert.rejects(s.complete(key, stale.ownerToken, "stale again"), IdempotencyOwnershipLostError);
        assert.deepEqual(await s.claim(key, "h"), { status: "completed", result: "fresh result" });
    });

    it("reports a payload mismatch under the same key, completed or in progress, even after the lease", async () => {
        const s = store();
        const done = randomUUID();
        const claim = await s.claim(done, "h1");
        if (claim.status !== "claimed") assert.fail("not claimed");
        await s.complete(done, claim.ownerToken, 1);
        await assert.rejects(s.claim(done, "h2"), (e: unknown) => e instanceof IdempotencyPayloadMismatchError && !e.retryable);

        const running = randomUUID();
        await s.claim(running, "h1");
        await assert.rejects(s.claim(running, "h2"), IdempotencyPayloadMismatchError);
        clock.now = T0 + 60_000;
        await assert.rejects(s.claim(running, "h2"), IdempotencyPayloadMismatchError);
    });

    it("treats a record whose expiresAt has passed as absent (TTL deletion is lazy)", async () => {
        const key = randomUUID();
        const s = store();
        const claim = await s.claim(key, "old");
        if (claim.status !== "claimed") assert.fail("not claimed");
        await s.complete(key, claim.ownerToken, "old result");
        clock.now = T0 + 3_600_000;
        assert.equal((await s.claim(key, "new payload")).status, "claimed");
    });

    it("release deletes only its own claim, so the next claim succeeds", async () => {
        const key = randomUUID();
        const s = store();
        const claim = await s.claim(key, "h");
        if (claim.status !== "claimed") assert.fail("not claimed");
        assert.equal(await s.release(key, randomUUID()), false);
        assert.ok(await rawItem(key));
        assert.equal(await s.release(key, claim.ownerToken), true);
        assert.equal(await rawItem(key), undefined);
        assert.equal((await s.claim(key, "h")).status, "claimed");
    });

    it("asks for ALL_OLD and falls back to one consistent GetItem when the old item is not returned", async () => {
        const key = randomUUID();
        await store().claim(key, "h");
        const { client, counts } = countingClient(db.endpoint);
        const sent: PutItemCommand["input"][] = [];
        client.middlewareStack.add(
            (next, context) => async (args) => {
                if (context.commandName === "PutItemCommand") sent.push(args.input as PutItemCommand["input"]);
                return next(args);
            },
            { step: "initialize", name: "capture" },
        );
        await assert.rejects(store({ client }).claim(key, "h"), IdempotencyInProgressError);
        assert.equal(sent[0].ReturnValuesOnConditionCheckFailure, "ALL_OLD");
        assert.deepEqual(counts, { PutItemCommand: 1, GetItemCommand: 1 });
        client.destroy();
    });

    it("uses the old item from the condition failure when present (real AWS), without a GetItem", async () => {
        const { client, counts } = countingClient(db.endpoint);
        client.middlewareStack.add(
            () => async () => {
                throw Object.assign(new Error("conditional check failed"), {
                    name: "ConditionalCheckFailedException",
                    Item: {
                        status: { S: "COMPLETED" },
                        expiresAt: { N: String(T0 / 1000 + 100) },
                        leaseExpiresAt: { N: "0" },
                        payloadHash: { S: "h" },
                        result: { S: '{"from":"ALL_OLD"}' },
                    },
                });
            },
            { step: "build", name: "fakeConditionFailure" },
        );
        assert.deepEqual(await store({ client }).claim(randomUUID(), "h"), { status: "completed", result: { from: "ALL_OLD" } });
        assert.deepEqual(counts, { PutItemCommand: 1 });
        client.destroy();
    });

    it("claims again when the conflicting item has vanished before the fallback read", async () => {
        const { client } = countingClient(db.endpoint);
        let failFirstPut = true;
        client.middlewareStack.add(
            (next, context) => async (args) => {
                if (context.commandName === "PutItemCommand" && failFirstPut) {
                    failFirstPut = false;
                    throw Object.assign(new Error("conditional check failed"), { name: "ConditionalCheckFailedException" });
                }
                return next(args);
            },
            { step: "initialize", name: "failFirstPut" },
        );
        assert.equal((await store({ client }).claim(randomUUID(), "h")).status, "claimed");
        client.destroy();
    });

    it("answers repeated duplicates from the local cache without requests, mismatch included", async () => {
        const { client, counts } = countingClient(db.endpoint);
        const s = store({ client, localCacheSize: 2 });
        const key = randomUUID();
        const claim = await s.claim(key, "h");
        if (claim.status !== "claimed") assert.fail("not claimed");
        await s.complete(key, claim.ownerToken, "r");
        const before = { ...counts };
        assert.deepEqual(await s.claim(key, "h"), { status: "completed", result: "r" });
        await assert.rejects(s.claim(key, "other"), IdempotencyPayloadMismatchError);
        assert.deepEqual(counts, before);
        clock.now = T0 + 3_600_000;
        assert.equal((await s.claim(key, "h")).status, "claimed");
        client.destroy();
    });

    it("validates its options with a ConfigurationError naming the setting", () => {
        const refused = (options: Partial<IdempotencyStoreOptions>, message: RegExp) =>
            assert.throws(() => store(options), (e: unknown) => e instanceof ConfigurationError && message.test(e.message));
        refused({ tableName: "" }, /^IdempotencyStore: tableName is required$/);
        refused({ expirySeconds: 0 }, /expirySeconds must be an integer ≥ 1; received 0/);
        refused({ leaseSeconds: 1.5 }, /leaseSeconds must be an integer ≥ 1; received 1.5/);
        refused({ localCacheSize: -1 }, /localCacheSize must be an integer ≥ 0; received -1/);
        refused({ maxStoredResultBytes: -1 }, /maxStoredResultBytes must be an integer ≥ 0; received -1/);
    });

    it("refuses an expiry shorter than the lease (a second claimer could take a live claim once the record expired)", () => {
        assert.throws(
            () => store({ expirySeconds: 9, leaseSeconds: 10 }),
            (e: unknown) =>
                e instanceof ConfigurationError &&
                e.message === "IdempotencyStore: expirySeconds (9) must be at least leaseSeconds (10); a record that expires before its lease lets a second invocation take over a live claim",
        );
        assert.ok(store({ expirySeconds: 10, leaseSeconds: 10 }));
        assert.throws(() => new InMemoryIdempotencyStore({ expirySeconds: 9, leaseSeconds: 10 }), ConfigurationError);
    });

    describe("runIdempotently", () => {
        it("runs fn once; a duplicate gets the stored result without running it", async () => {
            let runs = 0;
            const key = randomUUID();
            const fn = async () => ({ run: ++runs });
            assert.deepEqual(await runIdempotently(store(), key, { a: 1, b: 2 }, fn), { result: { run: 1 }, duplicate: false, resultStored: true, completed: true });
            assert.deepEqual(await runIdempotently(store(), key, { b: 2, a: 1 }, fn), { result: { run: 1 }, duplicate: true, resultStored: true, completed: true });
            assert.equal(runs, 1);
        });

        it("releases the claim on failure and rethrows the same error, so a retry runs fn again", async () => {
            const key = randomUUID();
            const boom = new Error("downstream down");
            await assert.rejects(runIdempotently(store(), key, {}, () => Promise.reject(boom)), (e) => e === boom);
            assert.equal(await rawItem(key), undefined);
            assert.deepEqual(await runIdempotently(store(), key, {}, async () => "second try"), { result: "second try", duplicate: false, resultStored: true, completed: true });
        });

        it("rethrows the function's error even when the release fails, and logs the release failure", async () => {
            const s = store();
            s.release = () => Promise.reject(new Error("dynamodb unavailable"));
            const sink = lineSink();
            const boom = new Error("fn failed");
            await assert.rejects(
                runIdempotently(s, randomUUID(), {}, () => Promise.reject(boom), { log: createLogger({ write: sink.write }) }),
                (e) => e === boom,
            );
            assert.match(sink.json()[0].message, /releasing the claim failed/);
        });

        it("property: concurrent duplicates run fn exactly once; the others fail fast or get the stored result", async () => {
            await fc.assert(
                fc.asyncProperty(fc.array(fc.nat(3), { minLength: 2, maxLength: 25 }), fc.nat(5), async (delays, work) => {
                    const key = randomUUID();
                    let runs = 0;
                    const fn = async () => {
                        runs++;
                        await ticks(work);
                        return { value: key };
                    };
                    const attempt = async (delay: number) => {
                        await ticks(delay);
                        return runIdempotently(store(), key, { key }, fn);
                    };
                    const outcomes = await Promise.allSettled(delays.map(attempt));
                    const ran = outcomes.filter((o) => o.status === "fulfilled" && !o.value.duplicate);
                    const rejected = outcomes.filter((o) => o.status === "rejected");
                    assert.equal(runs, 1);
                    assert.equal(ran.length, 1);
                    for (const o of rejected) assert.ok((o as PromiseRejectedResult).reason instanceof IdempotencyInProgressError);
                    for (const o of outcomes) if (o.status === "fulfilled") assert.deepEqual(o.value.result, { value: key });
                    const retries = await Promise.all(rejected.map(() => runIdempotently(store(), key, { key }, fn)));
                    assert.ok(retries.every((r) => r.duplicate && r.result.value === key));
                    assert.equal(runs, 1);
                }),
                { numRuns: 25 },
            );
        });
    });
});

describe("the idempotency persistence port: the same contract for every implementation", () => {
    let db: LocalDynamo;
    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());

    type Factory = (clock: { now: number }, extra?: { maxStoredResultBytes?: number }) => IdempotencyPersistence;
    const implementations: [string, Factory][] = [
        ["IdempotencyStore (DynamoDB)", (clock, extra) => new IdempotencyStore({ tableName: TABLE, client: db.client, expirySeconds: 3600, leaseSeconds: 10, now: () => clock.now, ...extra })],
        ["InMemoryIdempotencyStore", (clock, extra) => new InMemoryIdempotencyStore({ expirySeconds: 3600, leaseSeconds: 10, now: () => clock.now, ...extra })],
    ];

    for (const [name, create] of implementations) {
        describe(name, () => {
            let clock: { now: number };
            let store: IdempotencyPersistence;
            beforeEach(() => {
                clock = { now: T0 };
                store = create(clock);
            });
            const claimed = async (key: string, hash = "h") => {
                const claim = await store.claim(key, hash);
                if (claim.status !== "claimed") assert.fail(`expected a claim, got ${JSON.stringify(claim)}`);
                return claim.ownerToken;
            };

            it("claims, completes, and answers a duplicate with the JSON round-tripped result", async () => {
                const key = randomUUID();
                assert.deepEqual(await store.complete(key, await claimed(key), { at: new Date(0) }), { resultStored: true });
                assert.deepEqual(await store.claim(key, "h"), { status: "completed", result: { at: "1970-01-01T00:00:00.000Z" } });
                const nothing = randomUUID();
                await store.complete(nothing, await claimed(nothing), undefined);
                assert.deepEqual(await store.claim(nothing, "h"), { status: "completed", result: undefined });
            });

            it("refuses a live claim of another owner until its lease passes, then hands it over and fences the old owner", async () => {
                const key = randomUUID();
                const stale = await claimed(key);
                clock.now += 9_999;
                await assert.rejects(store.claim(key, "h"), IdempotencyInProgressError);
                clock.now += 1;
                const fresh = await claimed(key);
                await assert.rejects(store.complete(key, stale, "stale"), IdempotencyOwnershipLostError);
                assert.equal(await store.release(key, stale), false);
                await store.complete(key, fresh, "fresh");
                assert.deepEqual(await store.claim(key, "h"), { status: "completed", result: "fresh" });
            });

            it("reports a payload mismatch, completed or in progress", async () => {
                const done = randomUUID();
                await store.complete(done, await claimed(done, "h1"), 1);
                await assert.rejects(store.claim(done, "h2"), IdempotencyPayloadMismatchError);
                const running = randomUUID();
                await claimed(running, "h1");
                await assert.rejects(store.claim(running, "h2"), IdempotencyPayloadMismatchError);
            });

            it("release frees the key for the next claim; an expired record counts as absent", async () => {
                const key = randomUUID();
                assert.equal(await store.release(key, await claimed(key)), true);
                await claimed(key);
                const old = randomUUID();
                await store.complete(old, await claimed(old, "old"), "r");
                clock.now += 3_600_000;
                await claimed(old, "new payload");
            });

            it("completes a key whose result cannot be stored with a marker; the duplicate learns why", async () => {
                const limited = create(clock, { maxStoredResultBytes: 10 });
                const big = randomUUID();
                const bigClaim = await limited.claim(big, "h");
                if (bigClaim.status !== "claimed") assert.fail("not claimed");
                assert.deepEqual(await limited.complete(big, bigClaim.ownerToken, "x".repeat(20)), {
                    resultStored: false,
                    reason: "TooLarge",
                    detail: "the result is 22 bytes of JSON, over the largest stored result of 10 bytes",
                });
                assert.deepEqual(await limited.claim(big, "h"), { status: "completed", result: undefined, resultNotStored: "TooLarge" });
                const circular: Record<string, unknown> = {};
                circular.self = circular;
                const key = randomUUID();
                const report = await store.complete(key, await claimed(key), circular);
                assert.equal(report.resultStored === false && report.reason, "Unserializable");
                assert.deepEqual(await store.claim(key, "h"), { status: "completed", result: undefined, resultNotStored: "Unserializable" });
            });
        });
    }
});

describe("payload hashing", () => {
    it("is canonical: key order does not matter, content does", () => {
        assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }], u: undefined }), '{"a":[{"c":3,"d":2}],"b":1}');
        assert.equal(payloadHash({ a: 1, b: { c: 2, d: 3 } }), payloadHash({ b: { d: 3, c: 2 }, a: 1 }));
        assert.notEqual(payloadHash({ a: 1 }), payloadHash({ a: 2 }));
        assert.match(payloadHash(undefined), /^[0-9a-f]{64}$/);
        assert.equal(payloadHash(undefined), payloadHash(null));
    });

    it("refuses a payload nested deeper than 1000 levels, a circular one and a BigInt with UnhashablePayloadError, without recursion", () => {
        const nested = (depth: number) => {
            let value: unknown = 1;
            for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { v: value };
            return value;
        };
        assert.match(payloadHash(nested(MAX_PAYLOAD_DEPTH)), /^[0-9a-f]{64}$/);
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        for (const [payload, reason] of [
            [nested(MAX_PAYLOAD_DEPTH + 1), /nests deeper than 1000 levels/],
            [nested(20_000), /nests deeper than 1000 levels/],
            [circular, /nests deeper than 1000 levels \(or is circular\)/],
            [{ amount: 1n }, /cannot be serialised as JSON \(Do not know how to serialize a BigInt\)/],
        ] as const) {
            assert.throws(() => payloadHash(payload), (e: unknown) => e instanceof UnhashablePayloadError && reason.test(e.message) && !e.retryable);
        }
    });

    it("property: equal for any permutation of an object's keys", () => {
        fc.assert(
            fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
                const reversed = Object.fromEntries(Object.entries(object).reverse());
                assert.equal(payloadHash(reversed), payloadHash(object));
            }),
        );
    });
});

async function ticks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}
