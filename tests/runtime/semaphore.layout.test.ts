/**
 * The semaphore's sharded layout (issue 13) on dynalite with a client-mocked Step Functions: the capacity
 * of a write does not grow with the permits held, grants stay FIFO across shards, the room hints converge
 * and the sweeper repairs what an interrupted step leaves (a duplicate grant, a grant never recorded, a
 * stale hint). The protocol's general behaviour is in semaphore.test.ts, faults in semaphore.faults.test.ts
 * and the randomised model in semaphore.model.test.ts.
 */
import { strict as assert } from "node:assert";
import { ConsumedCapacity, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeExecutionCommand, ExecutionDoesNotExist, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from "@aws-sdk/client-sfn";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { ConfigurationError } from "../../contracts/errors";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { digest, MAX_SEMAPHORE_LIMIT, Semaphore, SHARD_CAPACITY } from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";

const TABLE = "semaphore-layout";
const arn = (who: string) => `arn:aws:states:us-east-1:123456789012:execution:protected:${who}`;
const tokenOf = (who: string) => `token-${who}`.padEnd(800, "t");

/** Capacity each write reported, by the partition key it wrote. */
function meterWrites(client: DynamoDBClient): Array<{ pk: string; wcu: number }> {
    const writes: Array<{ pk: string; wcu: number }> = [];
    client.middlewareStack.add(
        (next, context) => async (args) => {
            const input = args.input as { ReturnConsumedCapacity?: string; Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } };
            input.ReturnConsumedCapacity = "TOTAL";
            const result = await next(args);
            if (/^(Put|Update|Delete)Item/.test(context.commandName ?? "")) {
                const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity }).ConsumedCapacity;
                writes.push({ pk: input.Key?.pk?.S ?? input.Item?.pk?.S ?? "?", wcu: consumed?.CapacityUnits ?? 0 });
            }
            return result;
        },
        { step: "initialize", name: "meterWrites" },
    );
    return writes;
}

describe("Semaphore layout: shards, room hints and the sweeper's repairs", () => {
    let db: LocalDynamo;
    let sfn: AwsClientStub<SFNClient>;
    let woken: string[];
    let dead: Set<string>;
    let running: Set<string>;
    let logLines: string[];
    let run = 0;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "pk", "sk");
        sfn = mockClient(SFNClient);
    });
    after(async () => {
        sfn.restore();
        await db.stop();
    });
    beforeEach(() => {
        run++;
        woken = [];
        dead = new Set();
        running = new Set();
        logLines = [];
        sfn.reset();
        sfn.on(SendTaskSuccessCommand).callsFake(({ taskToken }) => {
            if (dead.has(taskToken)) throw new TaskTimedOut({ message: "gone", $metadata: {} });
            dead.add(taskToken);
            woken.push(taskToken);
            return {};
        });
        sfn.on(SendTaskHeartbeatCommand).callsFake(({ taskToken }) => {
            if (dead.has(taskToken) && !woken.includes(taskToken)) throw new TaskTimedOut({ message: "gone", $metadata: {} });
            return {};
        });
        sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }) => {
            if (!running.has(executionArn)) throw new ExecutionDoesNotExist({ message: "no such execution", $metadata: {} });
            return { status: "RUNNING" };
        });
    });

    const name = () => `layout-${run}`;
    const semaphore = (limit: number, client: DynamoDBClient = db.client) =>
        new Semaphore({ tableName: TABLE, name: name(), limit, leaseSeconds: 60, dynamo: client, sfn: new SFNClient({ region: "us-east-1" }), logger: createLogger({ write: (l) => logLines.push(l) }), metrics: new Metrics({ write: () => undefined }) });
    const store = () => new SemaphoreStore(db.client, TABLE, name());
    const acquire = (s: Semaphore, who: string) => {
        running.add(arn(who));
        return s.acquire({ executionArn: arn(who), token: tokenOf(who) });
    };
    const whoWasWoken = () => woken.map((t) => t.slice("token-".length).replace(/t+$/, ""));

    it("the writes of an acquire + release do not grow with the permits held: 1 WCU on each shard, hint and counters item", async () => {
        const kinds: string[][] = [];
        for (const held of [2 * SHARD_CAPACITY, 50 * SHARD_CAPACITY]) {
            run++;
            const client = new DynamoDBClient({ endpoint: db.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
            const writes = meterWrites(client);
            const s = semaphore(held + SHARD_CAPACITY, client);
            for (let i = 0; i < held; i++) await acquire(s, `h${i}`);
            writes.length = 0;
            await acquire(s, "measured");
            await s.release(arn("measured"));
            const small = writes.filter((w) => !w.pk.includes("#exec#"));
            assert.ok(small.every((w) => w.wcu === 1), `at ${held} held: ${JSON.stringify(small)}`);
            const hints = writes.filter((w) => w.pk.includes("#rooms#"));
            assert.ok(hints.length <= 2, "a hint is written only when the pair fills a shard and frees it again");
            kinds.push(writes.filter((w) => !hints.includes(w)).map((w) => `${w.pk.replace(/^layout-\d+/, "").replace(/#\d+$/, "")} ${w.wcu}`));
        }
        assert.deepEqual(kinds[0], kinds[1], "the same writes of the same size at both sizes (room hints aside)");
        assert.deepEqual(kinds[0].filter((k) => k.startsWith("#shard")), ["#shard 1", "#shard 1"], "one grant and one give-back on a shard item");
    });

    it("grants in ticket order whichever shard frees a permit (limit over two shards)", async () => {
        const limit = SHARD_CAPACITY + 2;
        const s = semaphore(limit);
        for (let i = 0; i < limit; i++) await acquire(s, `h${i}`);
        for (const who of ["a", "b", "c", "d"]) assert.equal(await acquire(s, who), "queued");
        const shardOf = async (who: string) => (await store().getWaiter(digest(arn(who))))?.shard;
        const holders = Array.from({ length: limit }, (_, i) => `h${i}`);
        const shards = await Promise.all(holders.map(shardOf));
        const onShard = (k: number) => holders.filter((_, i) => shards[i] === k);
        assert.deepEqual([onShard(0).length, onShard(1).length], [SHARD_CAPACITY, 2]);
        await s.release(arn(onShard(1)[0]));
        await s.release(arn(onShard(0)[0]));
        await s.release(arn("a"));
        await s.release(arn(onShard(0)[1]));
        assert.deepEqual(whoWasWoken().slice(limit), ["a", "b", "c", "d"]);
        const snapshot = await store().read();
        assert.deepEqual([snapshot.inUse, snapshot.queue], [limit, []]);
    });

    it("a stale 'room' hint costs one failed write and is corrected; a stale 'full' hint is corrected by the sweeper, which wakes the waiter", async () => {
        const s = semaphore(1);
        await acquire(s, "a");
        await store().writeHint(0, { version: 0, count: 0 }); // older than the shard: refused
        assert.deepEqual((await store().readHints(0)).get(0)?.count, 1, "a hint never goes back to an older version");
        // Age the hint by hand: the shard says full, the hint says room.
        await db.client.send(
            new PutItemCommand({ TableName: TABLE, Item: { pk: { S: `${name()}#rooms#0` }, sk: { S: "rooms" }, s0: { N: "0" } } }),
        );
        assert.equal(await acquire(s, "b"), "queued", "the failed attempt on the full shard queues b");
        assert.equal((await store().readHints(0)).get(0)?.count, 1, "and corrects the hint");
        // Now the opposite: the hint says full (a newer version than the shard has), the shard has room.
        await s.release(arn("a"));
        assert.deepEqual(whoWasWoken(), ["a", "b"]);
        await s.release(arn("b"));
        await acquire(s, "c");
        await s.release(arn("c"));
        const shard = await store().readShard(0);
        await db.client.send(
            new PutItemCommand({ TableName: TABLE, Item: { pk: { S: `${name()}#rooms#0` }, sk: { S: "rooms" }, s0: { N: String((shard.version - 1) * 1024 + 1) } } }),
        );
        assert.equal(await acquire(s, "d"), "queued", "the hint hides the free permit");
        assert.equal((await s.sweep()).woken, 1);
        assert.deepEqual(whoWasWoken(), ["a", "b", "c", "d"]);
    });

    it("the sweeper undoes a duplicate grant on another shard and completes a grant whose writer died before recording it", async () => {
        const s = semaphore(2 * SHARD_CAPACITY);
        await acquire(s, "a");
        const a = (await store().getWaiter(digest(arn("a"))))!;
        const other = a.shard === 0 ? 1 : 0;
        const holder = (who: string) => ({ executionArn: arn(who), grantId: `dup-${who}`, grantedAt: 0, leaseUntil: Date.now() + 60_000 });
        // A second waker granted a on another shard and died before it could see the record and undo it.
        assert.ok(await store().grantIn(other, a.id, holder("a"), SHARD_CAPACITY));
        // b's acquire recorded it, then its writer died between the grant and the record.
        running.add(arn("b"));
        await store().recordWaiter({ id: digest(arn("b")), executionArn: arn("b"), token: tokenOf("b"), enqueuedAt: 0 });
        assert.ok(await store().grantIn(other, digest(arn("b")), holder("b"), SHARD_CAPACITY));
        assert.equal((await store().read()).inUse, 3);
        const report = await s.sweep();
        assert.equal(report.reclaimed, 1, "a's duplicate");
        assert.deepEqual(whoWasWoken(), ["a", "b"], "b's grant completed and delivered");
        const after = await store().read();
        assert.deepEqual([after.inUse, [...after.holders.keys()].sort()], [2, [a.id, digest(arn("b"))].sort()]);
        assert.equal((await store().getWaiter(digest(arn("b"))))?.shard, other);
    });

    it("a release whose queue head already has an unrecorded grant on the same shard finishes that grant instead of handing off on top of it", async () => {
        const s = semaphore(2);
        await acquire(s, "a");
        await acquire(s, "x");
        assert.equal(await acquire(s, "b"), "queued");
        // x's release handed its permit to b and died before recording it; its retry finds nothing left to release.
        assert.ok(await store().handOff(0, digest(arn("x")), digest(arn("b")), { executionArn: arn("b"), grantId: "unrecorded", grantedAt: 0, leaseUntil: Date.now() }, 2));
        assert.deepEqual(await s.release(arn("x")), { released: false, droppedWaiter: false });
        assert.deepEqual(whoWasWoken(), ["a", "x"], "b's grant is written, not recorded, not delivered");
        assert.deepEqual(await s.release(arn("a")), { released: true, droppedWaiter: false });
        assert.deepEqual(whoWasWoken(), ["a", "x", "b"]);
        const after = await store().read();
        assert.deepEqual([after.inUse, [...after.holders.keys()], after.queue], [1, [digest(arn("b"))], []]);
    });

    it("the sweeper warns while the layout before issue 13 still holds permits", async () => {
        await db.client.send(
            new PutItemCommand({ TableName: TABLE, Item: { pk: { S: name() }, sk: { S: "semaphore" }, inUse: { N: "2" }, queue: { L: [{ S: "x" }] } } }),
        );
        await semaphore(2).sweep();
        const warning = logLines.map((l) => JSON.parse(l)).find((l) => l.message === "semaphore legacy layout in use");
        assert.deepEqual([warning?.level, warning?.inUse, warning?.waiters], ["WARN", 2, 1]);
    });

    it(`refuses a limit over ${MAX_SEMAPHORE_LIMIT} with a ConfigurationError`, () => {
        assert.throws(() => semaphore(MAX_SEMAPHORE_LIMIT + 1), (error: Error) => error instanceof ConfigurationError && error.message === `Semaphore limit must be at most ${MAX_SEMAPHORE_LIMIT}; received ${MAX_SEMAPHORE_LIMIT + 1}.`);
        assert.doesNotThrow(() => semaphore(MAX_SEMAPHORE_LIMIT));
    });
});
