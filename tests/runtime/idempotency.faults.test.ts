import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { IdempotencyStore, IdempotencyStoreOptions, runIdempotently } from "../../runtime/idempotency";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { injectFaults } from "../helpers/faults";

const TABLE = "idempotency-faults";
const T0 = 1_800_000_000_000;

describe("idempotency store under injected faults (probe)", () => {
    let db: LocalDynamo;
    const clock = { now: T0 };
    const store = (extra: Partial<IdempotencyStoreOptions> = {}) =>
        new IdempotencyStore({ tableName: TABLE, client: db.client, expirySeconds: 3600, leaseSeconds: 10, now: () => clock.now, ...extra });
    const rawItem = async (key: string) =>
        (await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: key } }, ConsistentRead: true }))).Item;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(() => db.stop());

    it("claim applied, response lost, SDK retried: the owner recognises its own claim", async () => {
        const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "after", times: 1 }]);
        try {
            const claim = await store().claim(randomUUID(), "h");
            assert.equal(claim.status, "claimed");
        } finally {
            faults.restore();
        }
    });

    it("completion applied, response lost, SDK retried: no OwnershipLost", async () => {
        const key = randomUUID();
        const s = store();
        const claim = await s.claim(key, "h");
        if (claim.status !== "claimed") assert.fail("not claimed");
        const faults = injectFaults(db.client, [{ command: "UpdateItemCommand", fault: "after", times: 1 }]);
        try {
            await s.complete(key, claim.ownerToken, "r");
        } finally {
            faults.restore();
        }
    });

    it("a result over 400 KB: never a second run", async () => {
        const key = randomUUID();
        let runs = 0;
        const fn = async () => (runs++, "x".repeat(500_000));
        await runIdempotently(store(), key, {}, fn).catch(() => undefined);
        clock.now += 20_000;
        await runIdempotently(store(), key, {}, fn).catch(() => undefined);
        assert.equal(runs, 1);
        assert.equal((await rawItem(key))?.status.S, "COMPLETED");
    });

    it("a circular result: never a second run", async () => {
        const key = randomUUID();
        let runs = 0;
        const fn = async () => {
            runs++;
            const result: Record<string, unknown> = {};
            result.self = result;
            return result;
        };
        await runIdempotently(store(), key, {}, fn).catch(() => undefined);
        clock.now += 20_000;
        await runIdempotently(store(), key, {}, fn).catch(() => undefined);
        assert.equal(runs, 1);
    });

    it("refuses an expiry shorter than the lease", () => {
        assert.throws(() => store({ expirySeconds: 5, leaseSeconds: 10 }), /expirySeconds/);
    });
});
