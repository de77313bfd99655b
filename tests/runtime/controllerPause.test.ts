import { strict as assert } from "node:assert";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { injectFaults, THROTTLE_ERRORS } from "../helpers/faults";
import { GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { ControllerPause, ControllerPauseStore, holdWhilePaused, isPaused, PAUSE_SORT_KEY, pauseVerdict } from "../../runtime/controller/pause";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ConcurrencyActuator, ControllerStore, targetKey } from "../../runtime/controller";
import { addSamples, emptyStats } from "../../runtime/controller/statistics";
import { createLogger } from "../../runtime/log";

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

        it("resume(expected) removes only the pause it read: a newer one is kept; one written without pausedBy is removed", async () => {
            await store.pause(PAUSE);
            const read = (await store.read())!;
            await store.pause({ ...PAUSE, pausedAt: PAUSE.pausedAt + 1_000, reason: "a newer pause" });
            assert.equal(await store.resume(read), "replaced");
            assert.equal((await store.read())?.reason, "a newer pause");
            await db.client.send(
                new PutItemCommand({ TableName: TABLE, Item: { pk: { S: KEY }, sk: { S: PAUSE_SORT_KEY }, pausedAt: { N: String(PAUSE.pausedAt) }, reason: { S: "by hand" } } }),
            );
            const byHand = (await store.read())!;
            assert.equal(byHand.pausedBy, "");
            assert.equal(await store.resume(byHand), "resumed");
            assert.equal(await store.read(), undefined);
            assert.equal(await store.resume(byHand), "resumed", "a pause already gone counts as resumed");
        });

        it("resume(expected) says gone when the replacing pause is itself resumed between the refused delete and the read", async () => {
            await store.pause(PAUSE);
            const read = (await store.read())!;
            await store.pause({ ...PAUSE, pausedAt: PAUSE.pausedAt + 1_000, reason: "a newer pause" });
            const send = db.client.send.bind(db.client) as (command: unknown) => Promise<unknown>;
            (db.client as { send: unknown }).send = async (command: { constructor: { name: string } }) => {
                if (command.constructor.name === "GetItemCommand") await new ControllerPauseStore(db.client, TABLE, KEY).resume();
                return send(command);
            };
            try {
                assert.equal(await store.resume(read), "gone");
            } finally {
                delete (db.client as { send?: unknown }).send;
            }
            assert.equal(await store.read(), undefined);
        });

        it("is one item beside the lease: claiming intervals and recording statistics neither see nor disturb it", async () => {
            const controller = new ControllerStore(db.client, TABLE, KEY);
            await store.pause({ ...PAUSE, pinnedLimit: 4 });
            assert.ok(await controller.claimInterval(100, "owner", 1000));
            await controller.saveDecision(100, "owner", { limit: 7, reason: "demand" });
            const stats = emptyStats();
            addSamples(stats, [{ latencyMs: 10, ok: true }]);
            await controller.writeStatistics(100, "env-1", stats, 1000);
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

    describe("holdWhilePaused: the drivers' step", () => {
        let db: LocalDynamo;
        let pauses: ControllerPauseStore;
        const lambda = new LambdaClient({ region: "us-east-1" });
        const lambdaMock = mockClient(lambda);
        const target = { kind: "ReservedConcurrency" as const, functionName: "orders-fn" };
        before(async () => {
            db = await startDynalite();
            await db.createTable(TABLE, "pk", "sk");
            pauses = new ControllerPauseStore(db.client, TABLE, KEY);
        });
        after(async () => {
            lambdaMock.restore();
            await db.stop();
        });
        beforeEach(async () => {
            lambdaMock.reset();
            await pauses.resume();
        });

        function step(lines: string[], dryRun = false) {
            const write = (line: string) => void lines.push(line);
            return { pauses, actuator: new ConcurrencyActuator({ client: lambda, sleep: async () => undefined }), target, interval: 42, worker: "orders", log: createLogger({ write }), write, dryRun };
        }

        it("not paused: carries on, reading nothing but the pause item, writing no line", async () => {
            const lines: string[] = [];
            assert.equal(await holdWhilePaused(step(lines)), undefined);
            assert.deepEqual(lines, []);
            assert.equal(lambdaMock.calls().length, 0);
        });

        it("paused: holds without touching the setting, one log line and ControllerPaused = 1", async () => {
            await pauses.pause(PAUSE);
            const lines: string[] = [];
            assert.deepEqual(await holdWhilePaused(step(lines)), { pause: PAUSE, setting: undefined, applied: undefined });
            assert.equal(lambdaMock.calls().length, 0, "no control-plane call while held");
            const [log, metric] = lines.map((line) => JSON.parse(line));
            assert.equal(log.message, "controller paused");
            assert.deepEqual({ interval: log.interval, pausedBy: log.pausedBy, reason: log.reason, restored: log.restored }, { interval: 42, pausedBy: PAUSE.pausedBy, reason: "erp maintenance", restored: false });
            assert.deepEqual(metric.ControllerPaused, [1]);
            assert.deepEqual(metric._aws.CloudWatchMetrics[0].Dimensions, [["Worker"]]);
            assert.equal(metric.Worker, "orders");
        });

        it("pinned: a setting something moved is set back to the pin; at the pin nothing is sent", async () => {
            await pauses.pause({ ...PAUSE, pinnedLimit: 5 });
            lambdaMock.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 8 });
            lambdaMock.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 5 });
            const moved = await holdWhilePaused(step([]));
            assert.deepEqual(moved?.applied, { previous: 8, applied: 5, changed: true });
            assert.deepEqual(lambdaMock.commandCalls(PutFunctionConcurrencyCommand).map((c) => c.args[0].input), [{ FunctionName: "orders-fn", ReservedConcurrentExecutions: 5 }]);

            lambdaMock.reset();
            lambdaMock.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 5 });
            const held = await holdWhilePaused(step([]));
            assert.deepEqual({ setting: held?.setting, applied: held?.applied }, { setting: 5, applied: undefined });
            assert.equal(lambdaMock.commandCalls(PutFunctionConcurrencyCommand).length, 0);
        });

        it("pinned in a dry run: logged, not applied", async () => {
            await pauses.pause({ ...PAUSE, pinnedLimit: 5 });
            lambdaMock.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 8 });
            const lines: string[] = [];
            assert.equal((await holdWhilePaused(step(lines, true)))?.applied, undefined);
            assert.equal(lambdaMock.commandCalls(PutFunctionConcurrencyCommand).length, 0);
            assert.equal(JSON.parse(lines[0]).dryRun, true);
        });

        it("an unreadable pause item fails the step: the driver changes nothing this interval", async () => {
            await pauses.pause(PAUSE);
            const faults = injectFaults(db.client, [{ command: "GetItemCommand", fault: "before", times: 1 }]);
            await assert.rejects(holdWhilePaused(step([])), { name: "ECONNRESET" });
            faults.restore();
            assert.equal(lambdaMock.calls().length, 0);
        });
    });
});
