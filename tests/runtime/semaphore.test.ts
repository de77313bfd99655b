import { strict as assert } from "node:assert";
import {
    DescribeExecutionCommand,
    ExecutionDoesNotExist,
    InvalidToken,
    SendTaskHeartbeatCommand,
    SendTaskSuccessCommand,
    SFNClient,
    TaskDoesNotExist,
    TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { createLogger } from "../../runtime/log";
import {
    createAcquireHandler,
    createCleanupHandler,
    createReleaseHandler,
    createSweeperHandler,
    digest,
    Holder,
    HINT_GROUP_SIZE,
    hintGroupCount,
    MAX_SEMAPHORE_LIMIT,
    planRelease,
    roomChanged,
    roomyShards,
    Semaphore,
    SHARD_CAPACITY,
    shardCapacity,
    shardCount,
    ShardState,
} from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { ConfigurationError } from "../../contracts/errors";
import { Metrics } from "../../runtime/metrics";
import { SemaphoreError, SemaphoreEventError, SemaphoreTokenMismatchError } from "../../runtime/semaphore";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";

const TABLE = "semaphores";
const silent = createLogger({ write: () => undefined });
const quietMetrics = () => new Metrics({ write: () => undefined });
const arn = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:protected:${name}`;
const tokenOf = (name: string) => `token-${name}`;

/** The Step Functions side: which tokens were woken (in order), which are dead, which executions run. */
class FakeStepFunctions {
    readonly woken: string[] = [];
    readonly heartbeats: string[] = [];
    readonly dead = new Map<string, Error>();
    readonly status = new Map<string, string>();
    failNextSuccess?: Error;
    private readonly mock = mockClient(SFNClient);

    constructor() {
        this.mock.on(SendTaskSuccessCommand).callsFake(({ taskToken }) => {
            const failure = this.failNextSuccess ?? this.dead.get(taskToken);
            this.failNextSuccess = undefined;
            if (failure) throw failure;
            this.woken.push(taskToken);
            this.dead.set(taskToken, new TaskTimedOut({ message: "Task already completed", $metadata: {} }));
            return {};
        });
        this.mock.on(SendTaskHeartbeatCommand).callsFake(({ taskToken }) => {
            const failure = this.dead.get(taskToken);
            if (failure) throw failure;
            this.heartbeats.push(taskToken);
            return {};
        });
        this.mock.on(DescribeExecutionCommand).callsFake(({ executionArn }) => {
            const status = this.status.get(executionArn);
            if (!status) throw new ExecutionDoesNotExist({ message: "no such execution", $metadata: {} });
            return { status };
        });
    }

    restore(): void {
        this.mock.restore();
    }
}

function holder(name: string): Holder {
    return { executionArn: arn(name), grantId: "g", grantedAt: 0, leaseUntil: 1 };
}

function shard(count: number, holders: string[]): ShardState {
    return { version: 7, count, holders: new Map(holders.map((h) => [h, holder(h)])) };
}

describe("semaphore plans (pure)", () => {
    const cases: [string, ShardState, string, number, string | undefined, ReturnType<typeof planRelease>][] = [
        ["not a holder", shard(1, ["a"]), "x", 1, "b", { kind: "notHeld" }],
        ["nobody queued: give back", shard(1, ["a"]), "a", 1, undefined, { kind: "giveBack" }],
        ["queued: hand straight to the head", shard(2, ["a", "b"]), "a", 2, "c", { kind: "handOff", to: "c" }],
        ["shard over a lowered capacity: give back even with waiters", shard(3, ["a", "b", "c"]), "a", 2, "d", { kind: "giveBack" }],
        ["at a lowered capacity exactly: hand off", shard(2, ["a", "b"]), "a", 2, "d", { kind: "handOff", to: "d" }],
    ];
    for (const [title, s, id, capacity, head, expected] of cases) {
        it(`planRelease: ${title}`, () => assert.deepEqual(planRelease(s, id, capacity, head), expected));
    }

    it(`shards: ${SHARD_CAPACITY} permits each, the rest on the last, none beyond the limit`, () => {
        assert.deepEqual([shardCount(1), shardCount(SHARD_CAPACITY), shardCount(SHARD_CAPACITY + 1), shardCount(MAX_SEMAPHORE_LIMIT)], [1, 1, 2, MAX_SEMAPHORE_LIMIT / SHARD_CAPACITY]);
        const limit = 2 * SHARD_CAPACITY + 1;
        assert.deepEqual([0, 1, 2, 3].map((k) => shardCapacity(k, limit)), [SHARD_CAPACITY, SHARD_CAPACITY, 1, 0]);
        assert.equal(hintGroupCount(HINT_GROUP_SIZE * SHARD_CAPACITY + 1), 2);
    });

    it("roomyShards: shards of the group with room by their hints (no hint = empty), from a random start", () => {
        const limit = 3 * SHARD_CAPACITY;
        const hints = new Map([[0, { version: 4, count: SHARD_CAPACITY }], [2, { version: 9, count: SHARD_CAPACITY - 1 }]]);
        assert.deepEqual(roomyShards(0, hints, limit, () => 0), [1, 2]);
        assert.deepEqual(roomyShards(0, hints, limit, () => 0.99), [2, 1]);
        assert.deepEqual(roomyShards(1, hints, limit, () => 0), [], "no shard of group 1 under this limit");
    });

    it("roomChanged: only a write that fills a shard or frees its first permit changes its hint", () => {
        assert.deepEqual([roomChanged(3, 4, 4), roomChanged(4, 3, 4), roomChanged(2, 3, 4), roomChanged(5, 4, 4)], [true, true, false, false]);
    });
});

describe("Semaphore on dynalite", () => {
    let db: LocalDynamo;
    let sfn: FakeStepFunctions;
    let clock: number;
    let name = 0;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "pk", "sk");
    });
    after(() => db.stop());
    beforeEach(() => {
        sfn = new FakeStepFunctions();
        clock = 1_000_000;
        name++;
    });
    afterEach(() => sfn.restore());

    const semaphore = (limit: number, leaseSeconds = 60) =>
        new Semaphore({ tableName: TABLE, name: `sem-${name}`, limit, leaseSeconds, dynamo: db.client, now: () => clock, logger: silent, metrics: quietMetrics() });
    const store = () => new SemaphoreStore(db.client, TABLE, `sem-${name}`);
    const acquire = (s: Semaphore, who: string) => s.acquire({ executionArn: arn(who), token: tokenOf(who) });
    const acquireInTurn = async (s: Semaphore, who: string[]) => {
        const outcomes: string[] = [];
        for (const w of who) outcomes.push(await acquire(s, w));
        return outcomes;
    };
    const state = async () => {
        const s = await store().read();
        return { inUse: s.inUse, queue: s.queue, holders: [...s.holders.values()].map((h) => h.executionArn).sort() };
    };

    it("places free grants where its random source says (a seeded source makes the placement reproducible)", async () => {
        const permitsByShard = async (random: () => number) => {
            name++;
            const s = new Semaphore({ tableName: TABLE, name: `sem-${name}`, limit: 40, leaseSeconds: 60, dynamo: db.client, now: () => clock, logger: silent, metrics: quietMetrics(), random });
            // (executions of their own: a task token already woken is answered "dead" and its permit given back)
            for (const who of ["a", "b", "c"]) assert.equal(await acquire(s, `${who}-${name}`), "granted");
            const counts: number[] = [];
            for (let shard = 0; shard < 10; shard++) counts.push((await store().readShard(shard)).count);
            return counts;
        };
        // 40 permits are 10 shards of 4: the first shard looked at is the one the random number picks
        assert.deepEqual(await permitsByShard(() => 0), [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert.deepEqual(await permitsByShard(() => 0.95), [0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    });

    it("grants a free permit at once through SendTaskSuccess", async () => {
        assert.equal(await acquire(semaphore(2), "a"), "granted");
        assert.deepEqual(sfn.woken, [tokenOf("a")]);
        assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("a")] });
    });

    it("is idempotent per execution: a duplicate acquire with the recorded token wakes it again, without a second permit", async () => {
        const s = semaphore(2);
        await acquire(s, "a");
        assert.equal(await acquire(s, "a"), "alreadyHeld");
        assert.deepEqual(sfn.woken, [tokenOf("a")], "the second SendTaskSuccess to a completed task is answered 'dead' and ignored");
        assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("a")] });
    });

    it("never wakes another token for the holder's execution: the acquire is refused, the message redacts both tokens", async () => {
        const s = semaphore(2);
        await acquire(s, "a");
        const forged = "forged-token-of-another-task";
        await assert.rejects(s.acquire({ executionArn: arn("a"), token: forged }), (error: Error) => {
            assert.ok(error instanceof SemaphoreTokenMismatchError && error instanceof SemaphoreError, String(error));
            assert.match(error.message, /already holding a permit under task token <task token, 7 chars, sha256 [0-9a-f]{8}>; the acquire with task token <task token, 28 chars/);
            assert.ok(!error.message.includes(forged) && !error.message.includes(tokenOf("a")), error.message);
            return true;
        });
        assert.deepEqual(sfn.woken, [tokenOf("a")]);
        assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("a")] });
    });

    it("refuses a second token for a queued execution whose recorded token is alive", async () => {
        const s = semaphore(1);
        await acquire(s, "a");
        await acquire(s, "b");
        await assert.rejects(s.acquire({ executionArn: arn("b"), token: "other" }), SemaphoreTokenMismatchError);
        await s.release(arn("a"));
        assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
    });

    it("lets a retried acquire task (new token) take the queue place of its dead first attempt", async () => {
        const s = semaphore(1);
        await acquire(s, "a");
        await acquire(s, "b");
        await acquire(s, "c");
        sfn.dead.set(tokenOf("b"), new TaskTimedOut({ message: "attempt failed", $metadata: {} }));
        assert.equal(await s.acquire({ executionArn: arn("b"), token: "b-attempt-2" }), "queued");
        assert.deepEqual((await state()).queue, [digest(arn("b")), digest(arn("c"))], "b keeps its place");
        await s.release(arn("a"));
        assert.deepEqual(sfn.woken, [tokenOf("a"), "b-attempt-2"]);
    });

    it("queues when full and hands each release straight to the oldest waiter (FIFO)", async () => {
        const s = semaphore(1);
        for (const who of ["a", "b", "c"]) await acquire(s, who);
        assert.deepEqual(sfn.woken, [tokenOf("a")]);
        assert.deepEqual((await state()).queue, [digest(arn("b")), digest(arn("c"))]);
        await s.release(arn("a"));
        assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
        assert.deepEqual(await state(), { inUse: 1, queue: [digest(arn("c"))], holders: [arn("b")] });
        await s.release(arn("b"));
        await s.release(arn("c"));
        assert.deepEqual(sfn.woken, ["a", "b", "c"].map(tokenOf));
        assert.deepEqual(await state(), { inUse: 0, queue: [], holders: [] });
    });

    it("does not let a new acquire overtake queued waiters", async () => {
        const s = semaphore(1);
        await acquire(s, "a");
        await acquire(s, "b");
        await s.release(arn("a"));
        assert.equal(await acquire(s, "c"), "queued");
        await s.release(arn("b"));
        assert.deepEqual(sfn.woken, ["a", "b", "c"].map(tokenOf));
    });

    for (const DeadError of [TaskDoesNotExist, TaskTimedOut, InvalidToken]) {
        it(`drops a waiter whose token is dead (${DeadError.name}) and hands the permit to the next`, async () => {
            const s = semaphore(1);
            assert.deepEqual(await acquireInTurn(s, ["a", "b", "c"]), ["granted", "queued", "queued"]);
            sfn.dead.set(tokenOf("b"), new DeadError({ message: "gone", $metadata: {} }));
            await s.release(arn("a"));
            assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("c")]);
            assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("c")] });
        });
    }

    it("gives the permit back when the token of a free grant is dead and its execution ended, and says the acquire was abandoned", async () => {
        sfn.dead.set(tokenOf("a"), new TaskTimedOut({ message: "late", $metadata: {} }));
        assert.equal(await acquire(semaphore(1), "a"), "abandoned");
        assert.deepEqual(await state(), { inUse: 0, queue: [], holders: [] });
    });

    it("keeps the free grant of a dead token while its execution runs (an earlier delivery may have woken it): the acquire says granted", async () => {
        sfn.dead.set(tokenOf("a"), new TaskTimedOut({ message: "already woken", $metadata: {} }));
        sfn.status.set(arn("a"), "RUNNING");
        assert.equal(await acquire(semaphore(1), "a"), "granted");
        assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("a")] });
    });

    it("never over-grants after the limit is lowered; the count drains to the new limit", async () => {
        const wide = semaphore(3);
        for (const who of ["a", "b", "c"]) await acquire(wide, who);
        const narrow = semaphore(1);
        assert.equal(await acquire(narrow, "d"), "queued");
        await narrow.release(arn("a"));
        assert.deepEqual(await state(), { inUse: 2, queue: [digest(arn("d"))], holders: [arn("b"), arn("c")] });
        await narrow.release(arn("b"));
        assert.equal((await state()).inUse, 1);
        assert.deepEqual(sfn.woken, ["a", "b", "c"].map(tokenOf));
        await narrow.release(arn("c"));
        assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("d")] });
    });

    it("release drops the execution's own waiter and is idempotent", async () => {
        const s = semaphore(1);
        await acquire(s, "a");
        await acquire(s, "b");
        assert.deepEqual(await s.release(arn("b")), { released: false, droppedWaiter: true });
        assert.deepEqual(await s.release(arn("a")), { released: true, droppedWaiter: false });
        assert.deepEqual(await s.release(arn("a")), { released: false, droppedWaiter: false });
        assert.deepEqual(sfn.woken, [tokenOf("a")]);
        assert.deepEqual(await state(), { inUse: 0, queue: [], holders: [] });
        assert.deepEqual(await store().listWaiters(), []);
    });

    it("fails loudly on an acquire without a token or an execution ARN, writing nothing", async () => {
        const s = semaphore(1);
        await assert.rejects(s.acquire({ executionArn: arn("a"), token: "" }), /needs \{ token, executionArn \}.*token ""/);
        await assert.rejects(s.acquire({ token: "t" } as never), /executionArn undefined/);
        assert.deepEqual(await state(), { inUse: 0, queue: [], holders: [] });
    });

    it("emits the dashboard's metrics: grants with wait time, releases, and per sweep permits in use, waiters and reclaims", async () => {
        const lines: string[] = [];
        const metrics = new Metrics({ worker: `sem-${name}`, write: (line) => lines.push(line) });
        const s = new Semaphore({ tableName: TABLE, name: `sem-${name}`, limit: 1, leaseSeconds: 60, dynamo: db.client, now: () => clock, logger: silent, metrics });
        await acquire(s, "a");
        await acquire(s, "b");
        clock += 5_000;
        await s.release(arn("a"));
        sfn.status.set(arn("b"), "FAILED");
        clock += 61_000;
        await s.sweep();
        const values = (metric: string) => lines.map((l) => JSON.parse(l)).flatMap((m) => (m[metric] === undefined ? [] : [[m.Worker, ...m[metric]]]));
        assert.deepEqual(values("SemaphoreGrants"), [[`sem-${name}`, 1], [`sem-${name}`, 1]]);
        assert.deepEqual(values("SemaphoreWaitTime"), [[`sem-${name}`, 0], [`sem-${name}`, 5000]], "b waited 5 s in the queue");
        assert.deepEqual(values("SemaphoreReleases"), [[`sem-${name}`, 1], [`sem-${name}`, 1]], "a's release and the sweeper's reclaim of b");
        assert.deepEqual(values("SemaphoreReclaims"), [[`sem-${name}`, 1]]);
        assert.deepEqual([values("SemaphorePermitsInUse"), values("SemaphoreWaiters")], [[[`sem-${name}`, 0]], [[`sem-${name}`, 0]]]);
    });

    describe("sweeper", () => {
        it("reclaims a holder whose lease expired and whose execution is no longer running, for the next waiter", async () => {
            const s = semaphore(1, 60);
            await acquire(s, "a");
            await acquire(s, "b");
            sfn.status.set(arn("a"), "FAILED");
            sfn.status.set(arn("b"), "RUNNING");
            assert.equal((await s.sweep()).reclaimed, 0, "lease not expired yet");
            clock += 61_000;
            const report = await s.sweep();
            assert.equal(report.reclaimed, 1);
            assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
            assert.deepEqual(await state(), { inUse: 1, queue: [], holders: [arn("b")] });
        });

        it("keeps an expired holder whose execution is still running; reclaims one that does not exist", async () => {
            const s = semaphore(2, 60);
            await acquire(s, "a");
            await acquire(s, "b");
            sfn.status.set(arn("a"), "RUNNING");
            clock += 61_000;
            assert.equal((await s.sweep()).reclaimed, 1);
            assert.deepEqual((await state()).holders, [arn("a")]);
        });

        it("heartbeats live waiters and drops dead ones", async () => {
            const s = semaphore(1);
            assert.deepEqual(await acquireInTurn(s, ["a", "b", "c"]), ["granted", "queued", "queued"]);
            sfn.dead.set(tokenOf("b"), new TaskDoesNotExist({ message: "gone", $metadata: {} }));
            const report = await s.sweep();
            assert.deepEqual({ dropped: report.dropped, heartbeats: report.heartbeats }, { dropped: 1, heartbeats: 1 });
            assert.deepEqual(sfn.heartbeats, [tokenOf("c")]);
            assert.deepEqual((await state()).queue, [digest(arn("c"))]);
        });

        it("queues again a live waiter whose acquire crashed between writing it and queueing it", async () => {
            const s = semaphore(1);
            await acquire(s, "a");
            await store().putWaiter({ id: digest(arn("b")), executionArn: arn("b"), token: tokenOf("b"), enqueuedAt: clock });
            assert.equal((await s.sweep()).requeued, 1);
            await s.release(arn("a"));
            assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
        });

        it("redelivers a grant whose wake-up failed", async () => {
            const s = semaphore(1);
            await acquire(s, "a");
            await acquire(s, "b");
            sfn.failNextSuccess = Object.assign(new Error("slow down"), { name: "ThrottlingException" });
            await assert.rejects(s.release(arn("a")), /slow down/);
            assert.deepEqual((await state()).holders, [arn("b")]);
            assert.equal((await s.sweep()).redelivered, 1);
            assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
            assert.deepEqual((await store().listWaiters()).map((w) => [w.executionArn, w.delivered]), [[arn("b"), true]], "b's record stays until its release");
            await s.release(arn("b"));
            assert.deepEqual(await store().listWaiters(), []);
        });

        it("wakes queued waiters when the limit was raised", async () => {
            const s = semaphore(1);
            assert.deepEqual(await acquireInTurn(s, ["a", "b", "c"]), ["granted", "queued", "queued"]);
            assert.equal((await semaphore(2).sweep()).woken, 1);
            assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
            assert.deepEqual(await state(), { inUse: 2, queue: [digest(arn("c"))], holders: [arn("a"), arn("b")] });
        });
    });

    describe("handlers", () => {
        const env = () => ({ SEMAPHORE_TABLE_NAME: TABLE, SEMAPHORE_NAME: `sem-${name}`, SEMAPHORE_LIMIT: "1" });
        const options = () => ({ env: env(), dynamo: db.client, logger: silent, metrics: quietMetrics() });

        it("acquire, release and cleanup work from the environment; cleanup ignores non-failure statuses", async () => {
            const acquireHandler = createAcquireHandler(options());
            assert.deepEqual(await acquireHandler({ executionArn: arn("a"), token: tokenOf("a") }), { outcome: "granted" });
            assert.deepEqual(await acquireHandler({ executionArn: arn("b"), token: tokenOf("b") }), { outcome: "queued" });
            const cleanup = createCleanupHandler(options());
            assert.deepEqual(await cleanup({ detail: { executionArn: arn("a"), status: "SUCCEEDED" } }), { ignored: "SUCCEEDED" });
            assert.deepEqual(await cleanup({ detail: { executionArn: arn("a"), status: "ABORTED" } }), { released: true, droppedWaiter: false });
            assert.deepEqual(await createReleaseHandler(options())({ executionArn: arn("b") }), { released: true, droppedWaiter: false });
            assert.deepEqual(sfn.woken, [tokenOf("a"), tokenOf("b")]);
            assert.deepEqual(await createSweeperHandler(options())(), { reclaimed: 0, dropped: 0, heartbeats: 0, requeued: 0, redelivered: 0, woken: 0 });
        });

        it("the cleanup refuses an event without detail, executionArn or status: an error line, a metric, a SemaphoreEventError", async () => {
            const lines: string[] = [];
            const metricLines: string[] = [];
            const cleanup = createCleanupHandler({
                ...options(),
                logger: createLogger({ write: (line) => lines.push(line) }),
                metrics: new Metrics({ worker: `sem-${name}`, write: (line) => metricLines.push(line) }),
            });
            const cases: [unknown, RegExp][] = [
                [{}, /the event has no detail object \(keys: none\)/],
                [{ detail: {} }, /detail.executionArn is undefined, not an execution ARN/],
                [{ detail: { executionArn: arn("a") } }, /detail.status is undefined/],
                [null, /the event is null/],
            ];
            for (const [event, message] of cases) {
                await assert.rejects(cleanup(event as never), (error: Error) => error instanceof SemaphoreEventError && message.test(error.message));
            }
            assert.equal(lines.filter((l) => JSON.parse(l).message === "semaphore cleanup event rejected").length, cases.length);
            const rejected = metricLines.map((l) => JSON.parse(l)).filter((m) => m.SemaphoreRejectedEvents !== undefined);
            assert.deepEqual(rejected.map((m) => [m.Worker, m.SemaphoreRejectedEvents]), cases.map(() => [`sem-${name}`, [1]]));
        });

        it("the acquire handler rejects a payload without a token", async () => {
            await assert.rejects(createAcquireHandler(options())({ executionArn: arn("a") } as never), /needs \{ token, executionArn \}/);
        });

        it("names the missing or invalid environment variable", () => {
            assert.throws(() => createAcquireHandler({ env: { ...env(), SEMAPHORE_NAME: "" } }), /SEMAPHORE_NAME is required/);
            for (const [variable, value, message] of [
                ["SEMAPHORE_LIMIT", "0", /SEMAPHORE_LIMIT must be an integer ≥ 1; received "0"/],
                ["SEMAPHORE_LIMIT", "abc", /SEMAPHORE_LIMIT must be an integer ≥ 1; received "abc"/],
                ["SEMAPHORE_LIMIT", "0x1", /SEMAPHORE_LIMIT must be an integer ≥ 1; received "0x1"/],
                ["SEMAPHORE_LIMIT", " ", /SEMAPHORE_LIMIT must be an integer ≥ 1; received " "/],
                ["SEMAPHORE_LEASE_SECONDS", "-5", /SEMAPHORE_LEASE_SECONDS must be an integer in \[1, 31536000\]; received "-5"/],
                ["SEMAPHORE_TABLE_NAME", " ", /SEMAPHORE_TABLE_NAME is required/],
            ] as const) {
                for (const create of [createAcquireHandler, createReleaseHandler, createCleanupHandler, createSweeperHandler]) {
                    assert.throws(() => create({ env: { ...env(), [variable]: value } }), (error: Error) => error instanceof ConfigurationError && message.test(error.message));
                }
            }
        });
    });
});
