/**
 * Every DynamoDB path of the idempotency store (claim, complete, release, read) through the fault
 * helper: `before` (nothing applied, error), `after` (applied, response lost; `retry`: the SDK re-sent
 * the same command, `throw`: the SDK gave up), `throttle` (refused). Each test names the outcome the
 * README's "What happens when…" table documents.
 */
import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
    COMPLETION_ATTEMPTS,
    IdempotencyInProgressError,
    IdempotencyKeyError,
    IdempotencyOwnershipLostError,
    IdempotencyStore,
    IdempotencyStoreOptions,
    MAX_KEY_BYTES,
    payloadHash,
    runIdempotently,
} from "../../runtime/idempotency";
import { createLogger } from "../../runtime/log";
import { countingClient, LocalDynamo, startDynalite } from "../helpers/dynalite";
import { FaultRule, injectFaults, seededRandom, THROTTLE_ERRORS } from "../helpers/faults";
import { lineSink } from "../helpers/lambdaContext";

const TABLE = "idempotency-faults";
const T0 = 1_800_000_000_000;
const LEASE_SECONDS = 10;
/** What an injected fault raises when it reaches the caller. */
const INJECTED_ERRORS = ["ECONNRESET", "InternalServerError", THROTTLE_ERRORS.dynamodb];

describe("idempotency store under injected faults (dynalite)", () => {
    let db: LocalDynamo;
    let clock: { now: number };
    const store = (extra: Partial<IdempotencyStoreOptions> = {}) =>
        new IdempotencyStore({ tableName: TABLE, client: db.client, expirySeconds: 3600, leaseSeconds: LEASE_SECONDS, now: () => clock.now, ...extra });
    const rawItem = async (key: string) =>
        (await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: key } }, ConsistentRead: true }))).Item;
    /** Runs `action` with `rules` injected into the shared client, and returns what was injected. */
    const withFaults = async <T>(rules: FaultRule[], action: () => Promise<T>): Promise<{ value: T; injected: string[] }> => {
        const faults = injectFaults(db.client, rules);
        try {
            const value = await action();
            return { value, injected: faults.injected.map((f) => `${f.command}:${f.fault}`) };
        } finally {
            faults.restore();
        }
    };
    const claimed = async (s: IdempotencyStore, key: string, hash = "h") => {
        const claim = await s.claim(key, hash);
        if (claim.status !== "claimed") assert.fail(`expected a claim, got ${JSON.stringify(claim)}`);
        return claim.ownerToken;
    };

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());
    beforeEach(() => {
        clock = { now: T0 };
    });

    describe("claim (PutItem)", () => {
        it("before: the error reaches the caller and nothing is written, so the redelivery claims normally", async () => {
            const key = randomUUID();
            await assert.rejects(withFaults([{ command: "PutItemCommand", fault: "before", times: 1 }], () => store().claim(key, "h")), { name: "ECONNRESET" });
            assert.equal(await rawItem(key), undefined);
            await claimed(store(), key);
        });

        it("after, SDK retried: the retry fails its condition against the claim itself, and the owner recognises its token", async () => {
            const key = randomUUID();
            const s = store();
            const { value: claim, injected } = await withFaults([{ command: "PutItemCommand", fault: "after", times: 1 }], () => s.claim(key, "h"));
            assert.deepEqual(injected, ["PutItemCommand:after"]);
            if (claim.status !== "claimed") assert.fail("the owner was refused its own claim");
            assert.equal((await rawItem(key))?.owner.S, claim.ownerToken);
            assert.deepEqual(await s.complete(key, claim.ownerToken, "done"), { resultStored: true });
            assert.deepEqual(await store().claim(key, "h"), { status: "completed", result: "done" });
        });

        it("after, SDK retried, on DynamoDB (the old item comes back with the failed condition): recognised without a GetItem", async () => {
            const { client, counts } = countingClient(db.endpoint);
            client.middlewareStack.add(
                (next, context) => async (args) => {
                    if (context.commandName !== "PutItemCommand") return next(args);
                    await next(args); // applied; the re-sent command then fails against it, as DynamoDB answers
                    const item = (args.input as { Item: Record<string, unknown> }).Item;
                    throw Object.assign(new Error("The conditional request failed"), { name: "ConditionalCheckFailedException", Item: item });
                },
                { step: "initialize", name: "lostResponseOnDynamoDB" },
            );
            const key = randomUUID();
            const claim = await store({ client }).claim(key, "h");
            assert.equal(claim.status, "claimed");
            assert.equal((await rawItem(key))?.owner.S, claim.status === "claimed" ? claim.ownerToken : "");
            assert.deepEqual(counts, { PutItemCommand: 1 });
            client.destroy();
        });

        it("after, SDK gave up (500): the store reads the item back, finds its token and proceeds as owner", async () => {
            const key = randomUUID();
            const { value: claim } = await withFaults([{ command: "PutItemCommand", fault: "after", then: "throw", times: 1 }], () => store().claim(key, "h"));
            assert.equal(claim.status, "claimed");
            assert.equal((await rawItem(key))?.owner.S, claim.status === "claimed" ? claim.ownerToken : "");
        });

        it("after (500) and the read back fails too: the write's error reaches the caller; the claim blocks the key until its lease passes", async () => {
            const key = randomUUID();
            const rules: FaultRule[] = [
                { command: "PutItemCommand", fault: "after", then: "throw", times: 1 },
                { command: "GetItemCommand", fault: "before", times: 1 },
            ];
            await assert.rejects(withFaults(rules, () => store().claim(key, "h")), { name: "InternalServerError" });
            await assert.rejects(store().claim(key, "h"), IdempotencyInProgressError);
            clock.now += LEASE_SECONDS * 1000;
            await claimed(store(), key);
        });

        it("throttle: the throttling error reaches the caller (retryable) and nothing is written", async () => {
            const key = randomUUID();
            const rule: FaultRule = { command: "PutItemCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 };
            await assert.rejects(withFaults([rule], () => store().claim(key, "h")), { name: "ProvisionedThroughputExceededException" });
            assert.equal(await rawItem(key), undefined);
        });
    });

    describe("read (GetItem after a failed condition, where ALL_OLD is not returned)", () => {
        it("before or throttle on a duplicate's read: the error reaches the caller, the stored record is untouched", async () => {
            const key = randomUUID();
            const s = store();
            await s.complete(key, await claimed(s, key), "r");
            for (const rule of [{ command: "GetItemCommand", fault: "before" }, { command: "GetItemCommand", fault: "throttle" }] as FaultRule[]) {
                await assert.rejects(withFaults([{ ...rule, times: 1 }], () => store().claim(key, "h")), /injected: GetItemCommand/);
            }
            assert.deepEqual(await store().claim(key, "h"), { status: "completed", result: "r" });
        });

        it("after: a read is idempotent, so the SDK's re-sent read gives the same answer", async () => {
            const key = randomUUID();
            const s = store();
            await s.complete(key, await claimed(s, key), "r");
            const { value, injected } = await withFaults([{ command: "GetItemCommand", fault: "after", times: 1 }], () => store().claim(key, "h"));
            assert.deepEqual(injected, ["GetItemCommand:after"]);
            assert.deepEqual(value, { status: "completed", result: "r" });
        });
    });

    describe("complete (UpdateItem)", () => {
        it("after, SDK retried: the owner recognises its own completion: no OwnershipLost, result stored", async () => {
            const key = randomUUID();
            const s = store();
            const token = await claimed(s, key);
            const { value: report } = await withFaults([{ command: "UpdateItemCommand", fault: "after", times: 1 }], () => s.complete(key, token, { n: 1 }));
            assert.deepEqual(report, { resultStored: true });
            assert.deepEqual(await store().claim(key, "h"), { status: "completed", result: { n: 1 } });
        });

        it("after, SDK gave up (500): recognised the same way", async () => {
            const key = randomUUID();
            const s = store();
            const token = await claimed(s, key);
            const { value: report } = await withFaults([{ command: "UpdateItemCommand", fault: "after", then: "throw", times: 1 }], () => s.complete(key, token, 2));
            assert.deepEqual(report, { resultStored: true });
            assert.equal((await rawItem(key))?.status.S, "COMPLETED");
        });

        it("a completion that was taken over is still OwnershipLost, also when its response is lost", async () => {
            const key = randomUUID();
            const s = store();
            const stale = await claimed(s, key);
            clock.now += LEASE_SECONDS * 1000;
            const fresh = await claimed(s, key);
            await assert.rejects(withFaults([{ command: "UpdateItemCommand", fault: "after", times: 1 }], () => s.complete(key, stale, "stale")), IdempotencyOwnershipLostError);
            assert.equal((await rawItem(key))?.owner.S, fresh);
        });

        it("before or throttle once: runIdempotently re-sends the completion and it is stored", async () => {
            for (const fault of ["before", "throttle"] as const) {
                const key = randomUUID();
                const { value: outcome, injected } = await withFaults([{ command: "UpdateItemCommand", fault, times: 1 }], () => runIdempotently(store(), key, {}, async () => "r"));
                assert.deepEqual(injected, [`UpdateItemCommand:${fault}`]);
                assert.deepEqual(outcome, { result: "r", duplicate: false, resultStored: true, completed: true });
                assert.equal((await rawItem(key))?.status.S, "COMPLETED");
            }
        });

        it("before or throttle on every attempt: store.complete rejects and the claim stays INPROGRESS; runIdempotently logs it, returns the result and reports completed: false", async () => {
            for (const fault of ["before", "throttle"] as const) {
                const key = randomUUID();
                const s = store();
                const token = await claimed(s, key);
                await assert.rejects(withFaults([{ command: "UpdateItemCommand", fault, times: 1 }], () => s.complete(key, token, 1)), /injected: UpdateItemCommand/);
                assert.equal((await rawItem(key))?.status.S, "INPROGRESS");

                const other = randomUUID();
                const sink = lineSink();
                let runs = 0;
                const { value: outcome } = await withFaults([{ command: "UpdateItemCommand", fault, times: COMPLETION_ATTEMPTS }], () =>
                    runIdempotently(store(), other, {}, async () => ++runs, { log: createLogger({ write: sink.write }) }),
                );
                assert.deepEqual(outcome, { result: 1, duplicate: false, resultStored: false, completed: false });
                assert.match(sink.json()[0].message, /storing the completion failed; this delivery succeeds/);
                assert.equal(sink.json()[0].level, "ERROR");
                await assert.rejects(runIdempotently(store(), other, {}, async () => ++runs), IdempotencyInProgressError);
                assert.equal(runs, 1);
            }
        });
    });

    describe("release (DeleteItem)", () => {
        it("after, SDK retried or gave up: the claim is gone and release reports true (not 'taken over')", async () => {
            for (const then of ["retry", "throw"] as const) {
                const key = randomUUID();
                const s = store();
                const token = await claimed(s, key);
                const { value } = await withFaults([{ command: "DeleteItemCommand", fault: "after", then, times: 1 }], () => s.release(key, token));
                assert.equal(value, true);
                assert.equal(await rawItem(key), undefined);
            }
        });

        it("before or throttle: release rejects and the claim stays until its lease; runIdempotently still rethrows the function's own error", async () => {
            for (const fault of ["before", "throttle"] as const) {
                const key = randomUUID();
                const boom = new Error("downstream down");
                const sink = lineSink();
                await assert.rejects(
                    withFaults([{ command: "DeleteItemCommand", fault, times: 1 }], () =>
                        runIdempotently(store(), key, {}, () => Promise.reject(boom), { log: createLogger({ write: sink.write }) }),
                    ),
                    (e) => e === boom,
                );
                assert.match(sink.json()[0].message, /releasing the claim failed; a redelivery runs again once the lease passes/);
                assert.equal((await rawItem(key))?.status.S, "INPROGRESS");
                clock.now += LEASE_SECONDS * 1000;
                assert.equal((await runIdempotently(store(), key, {}, async () => "second try")).result, "second try");
            }
        });
    });

    describe("results that cannot be stored: never a second run", () => {
        it("a result over the largest stored result: completed with the TooLarge marker, returned to this caller, a warning line; a duplicate gets undefined", async () => {
            const key = randomUUID();
            const sink = lineSink();
            let runs = 0;
            const big = "x".repeat(500_000);
            const fn = async () => (runs++, big);
            const first = await runIdempotently(store(), key, {}, fn, { log: createLogger({ write: sink.write }) });
            assert.deepEqual(first, { result: big, duplicate: false, resultStored: false, completed: true });
            const warning = sink.json()[0];
            assert.deepEqual([warning.level, warning.reason, warning.idempotencyKey], ["WARN", "TooLarge", key]);
            assert.equal(warning.detail, "the result is 500002 bytes of JSON, over the largest stored result of 393216 bytes");
            const item = await rawItem(key);
            assert.deepEqual([item?.status.S, item?.resultNotStored.S, item?.result.NULL], ["COMPLETED", "TooLarge", true]);

            clock.now += LEASE_SECONDS * 1000 * 5;
            assert.deepEqual(await runIdempotently(store(), key, {}, fn), { result: undefined, duplicate: true, resultStored: false, completed: true });
            assert.deepEqual(await store().claim(key, payloadHash({})), { status: "completed", result: undefined, resultNotStored: "TooLarge" });
            assert.equal(runs, 1);
        });

        it("the limit is configurable: a 20-byte limit leaves a 21-byte result out", async () => {
            const key = randomUUID();
            const outcome = await runIdempotently(store({ maxStoredResultBytes: 20 }), key, {}, async () => "x".repeat(19), { log: createLogger({ write: () => undefined }) });
            assert.equal(outcome.resultStored, false);
            const fits = await runIdempotently(store({ maxStoredResultBytes: 21 }), randomUUID(), {}, async () => "x".repeat(19));
            assert.equal(fits.resultStored, true);
        });

        it("a circular result: completed with the Unserializable marker, returned to this caller", async () => {
            const key = randomUUID();
            let runs = 0;
            const circular: Record<string, unknown> = {};
            circular.self = circular;
            const fn = async () => (runs++, circular);
            const sink = lineSink();
            const first = await runIdempotently(store(), key, {}, fn, { log: createLogger({ write: sink.write }) });
            assert.equal(first.result, circular);
            assert.equal(sink.json()[0].reason, "Unserializable");
            clock.now += LEASE_SECONDS * 1000 * 5;
            assert.deepEqual(await runIdempotently(store(), key, {}, fn), { result: undefined, duplicate: true, resultStored: false, completed: true });
            assert.equal(runs, 1);
        });

        it("a ValidationException on complete (DynamoDB's own 400 KB item limit): completed again without the result, marker Rejected", async () => {
            const key = randomUUID();
            let runs = 0;
            const fn = async () => (runs++, "y".repeat(450_000));
            const sink = lineSink();
            const first = await runIdempotently(store({ maxStoredResultBytes: 1_000_000 }), key, {}, fn, { log: createLogger({ write: sink.write }) });
            assert.deepEqual([first.resultStored, first.completed], [false, true]);
            assert.equal(sink.json()[0].reason, "Rejected");
            assert.match(sink.json()[0].detail, /DynamoDB refused the item with the result \(Item size to update has exceeded the maximum allowed size\)/);
            assert.equal((await rawItem(key))?.resultNotStored.S, "Rejected");
            clock.now += LEASE_SECONDS * 1000 * 5;
            assert.equal((await runIdempotently(store(), key, {}, fn)).duplicate, true);
            assert.equal(runs, 1);
        });

        it("any deterministic ValidationException on complete is handled the same way", async () => {
            const key = randomUUID();
            const s = store();
            const token = await claimed(s, key);
            const rule: FaultRule = { command: "UpdateItemCommand", fault: "throttle", errorName: "ValidationException", times: 1 };
            const { value: report } = await withFaults([rule], () => s.complete(key, token, "small"));
            assert.deepEqual(report, { resultStored: false, reason: "Rejected", detail: "DynamoDB refused the item with the result (injected: UpdateItemCommand throttled)" });
        });
    });

    it("a key over 2,048 bytes is refused with IdempotencyKeyError before any request", async () => {
        const { client, counts } = countingClient(db.endpoint);
        const s = store({ client });
        await assert.rejects(
            s.claim("k".repeat(MAX_KEY_BYTES + 1), "h"),
            (e: unknown) => e instanceof IdempotencyKeyError && e.message === "idempotency key is 2049 bytes; DynamoDB keys must be 1 to 2048 bytes, so it is rejected before any write",
        );
        assert.deepEqual(counts, {});
        await claimed(s, "é".repeat(MAX_KEY_BYTES / 2));
        client.destroy();
    });

    describe("concurrent duplicates with random faults on 10 % of DynamoDB calls", function () {
        this.timeout(120_000);
        const DUPLICATES = 30;
        const ROUNDS = 12;
        /**
         * One draw per DynamoDB call (the helper applies the first matching rule, so the mix is decided
         * here): 10 % of calls get a fault, 3 % before, 2 % after with the SDK's retry, 2 % after with the
         * SDK giving up, 3 % throttled.
         */
        const faultMix = (random: () => number): FaultRule[] => {
            const drawn = new WeakMap<object, number>();
            const draw = (command: object) => drawn.get(command) ?? (drawn.set(command, random()), drawn.get(command)!);
            const between = (low: number, high: number) => (command: object) => /Item/.test(command.constructor.name) && draw(command) >= low && draw(command) < high;
            return [
                { command: between(0, 0.03), fault: "before" },
                { command: between(0.03, 0.05), fault: "after", then: "retry" },
                { command: between(0.05, 0.07), fault: "after", then: "throw" },
                { command: between(0.07, 0.1), fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb },
            ];
        };

        it("run the body at most once per key; a key whose claim was stranded by a fault runs once after its lease, never twice", async () => {
            const paths = { completed: 0, completionFailed: 0, strandedClaim: 0 };
            let injectedTotal = 0;
            for (let round = 0; round < ROUNDS; round++) {
                const key = randomUUID();
                const roundClock = { now: T0 };
                const s = () => store({ now: () => roundClock.now });
                let runs = 0;
                const fn = async () => {
                    runs++;
                    await new Promise((resolve) => setImmediate(resolve));
                    return { key };
                };
                const faults = injectFaults(db.client, faultMix(seededRandom(1000 + round)));
                const outcomes = await Promise.allSettled(
                    Array.from({ length: DUPLICATES }, () => runIdempotently(s(), key, { key }, fn, { log: createLogger({ write: () => undefined }) })),
                );
                faults.restore();
                injectedTotal += faults.injected.length;
                assert.ok(runs <= 1, `round ${round}: the body ran ${runs} times`);
                for (const o of outcomes) {
                    if (o.status === "fulfilled") assert.deepEqual(o.value.result, { key });
                    else assert.ok(o.reason instanceof IdempotencyInProgressError || INJECTED_ERRORS.includes(o.reason.name), `unexpected ${o.reason}`);
                }

                const item = await rawItem(key);
                if (item?.status.S === "COMPLETED") {
                    paths.completed++;
                    assert.equal(runs, 1);
                    assert.deepEqual(await runIdempotently(s(), key, { key }, fn), { result: { key }, duplicate: true, resultStored: true, completed: true });
                } else if (runs === 1) {
                    paths.completionFailed++; // ran, then every completion write failed: the claim holds the key, duplicates are refused
                    await assert.rejects(runIdempotently(s(), key, { key }, fn), IdempotencyInProgressError);
                } else {
                    paths.strandedClaim++; // nothing ran: a claim was applied but its owner never learned it
                    if (item) roundClock.now += LEASE_SECONDS * 1000;
                    assert.deepEqual((await runIdempotently(s(), key, { key }, fn)).result, { key });
                }
                assert.equal(runs, 1, `round ${round}: the body ran ${runs} times in all`);
            }
            const calls = ROUNDS * DUPLICATES * 2;
            assert.ok(injectedTotal > calls * 0.05, `only ${injectedTotal} faults were injected in about ${calls} calls`);
            assert.ok(paths.completed >= ROUNDS - 2, `paths: ${JSON.stringify(paths)}`);
        });
    });
});
