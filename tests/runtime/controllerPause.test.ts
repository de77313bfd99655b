import { strict as assert } from "node:assert";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { injectFaults, THROTTLE_ERRORS } from "../helpers/faults";
import { ControllerPause, ControllerPauseStore, isPaused, pauseVerdict } from "../../runtime/controller/pause";
import { ControllerStore, targetKey } from "../../runtime/controller";

const TABLE = "controller";
const KEY = targetKey({ kind: "ReservedConcurrency", functionName: "orders-fn" });
const PAUSE: ControllerPause = { pausedAt: 1_767_225_600_000, pausedBy: "arn:aws:sts::123456789012:assumed-role/oncall/jane", reason: "erp maintenance" };

describe("controller pause (runtime/controller/pause.ts)", () => {
    describe("pauseVerdict (pure)", () => {
        it("runs when there is no pause", () => {
            assert.deepEqual(pauseVerdict(undefined, 8), { action: "run" });
            assert.equal(isPaused(undefined), false);
        });
        it("holds whatever the setting is when paused without a pinned limit", () => {
            assert.deepEqual(pauseVerdict(PAUSE, 8), { action: "hold", pause: PAUSE });
            assert.deepEqual(pauseVerdict(PAUSE, undefined), { action: "hold", pause: PAUSE });
            assert.equal(isPaused(PAUSE), true);
        });
        it("pins: brings a moved setting back to the pinned limit, holds once it is there", () => {
            const pinned = { ...PAUSE, pinnedLimit: 5 };
            assert.deepEqual(pauseVerdict(pinned, 8), { action: "pin", limit: 5, pause: pinned });
            assert.deepEqual(pauseVerdict(pinned, undefined), { action: "pin", limit: 5, pause: pinned });
            assert.deepEqual(pauseVerdict(pinned, 5), { action: "hold", pause: pinned });
        });
    });

    describe("ControllerPauseStore on dynalite", () => {
        let db: LocalDynamo;
        let store: ControllerPauseStore;
        before(async () => {
            db = await startDynalite();
            await db.createTable(TABLE, "pk", "sk");
        });
        after(() => db.stop());
        beforeEach(async () => {
            store = new ControllerPauseStore(db.client, TABLE, KEY);
            await store.resume();
        });

        it("round-trips a pause with and without a pinned limit; resume removes it", async () => {
            assert.equal(await store.read(), undefined);
            await store.pause(PAUSE);
            assert.deepEqual(await store.read(), PAUSE);
            await store.pause({ ...PAUSE, pinnedLimit: 3 });
            assert.deepEqual(await store.read(), { ...PAUSE, pinnedLimit: 3 }, "a second pause replaces the first");
            await store.resume();
            assert.equal(await store.read(), undefined);
            await store.resume();
            assert.equal(await store.read(), undefined, "resuming twice is harmless");
        });

        it("is one item beside the lease: claiming intervals and recording statistics neither see nor disturb it", async () => {
            const controller = new ControllerStore(db.client, TABLE, KEY);
            await store.pause({ ...PAUSE, pinnedLimit: 4 });
            assert.ok(await controller.claimInterval(100, "owner", 1000));
            await controller.saveDecision(100, "owner", { limit: 7, reason: "demand" });
            await controller.recordCalls(100, [{ latencyMs: 10, ok: true }], 1000);
            assert.deepEqual(await store.read(), { ...PAUSE, pinnedLimit: 4 });
            const other = new ControllerPauseStore(db.client, TABLE, targetKey({ kind: "ReservedConcurrency", functionName: "other-fn" }));
            assert.equal(await other.read(), undefined, "a pause is per target");
        });

        it("refuses a pinned limit that is not a positive integer, writing nothing", async () => {
            await assert.rejects(store.pause({ ...PAUSE, pinnedLimit: 0 }), { name: "ConfigurationError", message: "a pinned limit must be a positive integer; received 0" });
            await assert.rejects(store.pause({ ...PAUSE, pinnedLimit: 2.5 }), { name: "ConfigurationError" });
            assert.equal(await store.read(), undefined);
        });

        it("a pause whose response was lost and was re-sent by the SDK is stored once, as sent", async () => {
            const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "after", times: 1 }]);
            await store.pause({ ...PAUSE, pinnedLimit: 6 });
            faults.restore();
            assert.deepEqual(faults.injected, [{ command: "PutItemCommand", fault: "after" }]);
            assert.deepEqual(await store.read(), { ...PAUSE, pinnedLimit: 6 });
        });

        it("a resume whose response was lost and was re-sent leaves the target resumed", async () => {
            await store.pause(PAUSE);
            const faults = injectFaults(db.client, [{ command: "DeleteItemCommand", fault: "after", times: 1 }]);
            await store.resume();
            faults.restore();
            assert.equal(await store.read(), undefined);
        });

        it("a pause that failed before it was sent reports the error and leaves the target running", async () => {
            const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "before", times: 1 }]);
            await assert.rejects(store.pause(PAUSE), { name: "ECONNRESET" });
            faults.restore();
            assert.equal(await store.read(), undefined);
        });

        it("a throttled read is an error for the driver, never a silent 'not paused'", async () => {
            await store.pause(PAUSE);
            const faults = injectFaults(db.client, [{ command: "GetItemCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
            await assert.rejects(store.read(), { name: THROTTLE_ERRORS.dynamodb });
            faults.restore();
            assert.deepEqual(await store.read(), PAUSE);
        });
    });
});
