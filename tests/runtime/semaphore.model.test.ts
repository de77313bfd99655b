/**
 * Model test of the semaphore on dynalite with a client-mocked Step Functions: random interleavings of
 * acquire, release, crash (with or without the cleanup event), acquire timeout, silently dead tokens,
 * duplicate acquires and sweeps, in bursts of up to three concurrent operations.
 */
import { strict as assert } from "node:assert";
import {
    DescribeExecutionCommand,
    InvalidToken,
    SendTaskHeartbeatCommand,
    SendTaskSuccessCommand,
    SFNClient,
    TaskDoesNotExist,
    TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { Semaphore, SHARD_CAPACITY } from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { injectFaults, seededRandom } from "../helpers/faults";

const TABLE = "semaphore-model";
const LEASE_SECONDS = 60;
const RUNS = 40;
const silent = createLogger({ write: () => undefined });

type Action =
    | { kind: "start" }
    | { kind: "release"; pick: number }
    | { kind: "crash"; pick: number; notify: boolean }
    | { kind: "timeout"; pick: number; notify: boolean }
    | { kind: "deadToken"; pick: number }
    | { kind: "duplicate"; pick: number }
    | { kind: "sweep"; expire: boolean };

interface Execution {
    arn: string;
    token: string;
    state: "idle" | "waiting" | "holding" | "finished";
    status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";
    startStep: number;
    tokenDead: boolean;
    killedWhileWaiting: boolean;
    woken: number;
}

const pick = fc.nat({ max: 100 });
const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: "start" as const }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("release" as const), pick }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("crash" as const), pick, notify: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("timeout" as const), pick, notify: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("deadToken" as const), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("sweep" as const), expire: fc.boolean() }) },
);
const scenarioArbitrary = fc.record({
    limit: fc.integer({ min: 1, max: 2 * SHARD_CAPACITY + 1 }),
    executions: fc.integer({ min: 20, max: 26 }),
    steps: fc.array(fc.array(actionArbitrary, { minLength: 1, maxLength: 3 }), { minLength: 30, maxLength: 60 }),
});

const DEAD_ERRORS = [TaskDoesNotExist, TaskTimedOut, InvalidToken];

/** One run: the executions, the clock, the semaphore under test and every invariant violation seen. */
class World {
    readonly executions: Execution[];
    readonly violations: string[] = [];
    readonly semaphore: Semaphore;
    readonly store: SemaphoreStore;
    clock = 1_000_000;
    step = 0;

    constructor(db: LocalDynamo, sfn: SFNClient, name: string, readonly limit: number, count: number) {
        this.executions = Array.from({ length: count }, (_, i) => ({
            arn: `arn:aws:states:us-east-1:123456789012:execution:protected:${name}-${i}`,
            token: `token-${name}-${i}`,
            state: "idle",
            status: "RUNNING",
            startStep: -1,
            tokenDead: false,
            killedWhileWaiting: false,
            woken: 0,
        }));
        const options = { tableName: TABLE, name, limit, leaseSeconds: LEASE_SECONDS, dynamo: db.client, logger: silent, metrics: new Metrics({ write: () => undefined }) };
        this.semaphore = new Semaphore({ ...options, sfn, now: () => this.clock });
        this.store = new SemaphoreStore(db.client, TABLE, name);
    }

    /** SendTaskSuccess as Step Functions answers it, checking the limit and FIFO at the moment of the grant. */
    wake(token: string): void {
        const execution = this.byToken(token);
        if (execution.tokenDead || execution.woken > 0) {
            const DeadError = DEAD_ERRORS[execution.arn.length % DEAD_ERRORS.length];
            throw new DeadError({ message: "task is gone", $metadata: {} });
        }
        execution.woken++;
        execution.state = "holding";
        const holding = this.live("holding").length;
        if (holding > this.limit) this.violations.push(`${holding} executions hold a limit of ${this.limit}`);
        const overtaken = this.live("waiting").filter((e) => e.startStep < execution.startStep);
        if (overtaken.length > 0) this.violations.push(`${execution.arn} was granted before older live waiters ${overtaken.map((e) => e.arn)}`);
    }

    heartbeat(token: string): void {
        if (this.byToken(token).tokenDead) throw new TaskTimedOut({ message: "task is gone", $metadata: {} });
    }

    status(arn: string): string {
        return this.executions.find((e) => e.arn === arn)?.status ?? "SUCCEEDED";
    }

    live(state: Execution["state"]): Execution[] {
        return this.executions.filter((e) => e.state === state && !e.tokenDead);
    }

    /** Runs one burst: picks distinct targets and marks deaths first, then runs the operations concurrently. */
    async burst(actions: Action[]): Promise<void> {
        this.step++;
        const taken = new Set<Execution>();
        const operations = actions.map((action) => this.prepare(action, taken));
        await Promise.all(operations.map((operation) => operation?.()));
        await this.checkStore();
    }

    /**
     * Holders on the table never exceed the limit, every live holder has its permit recorded, and no live
     * waiter waits while a permit is free (no lost wake-up).
     */
    async checkStore(): Promise<void> {
        const snapshot = await this.store.read();
        const holders = new Set([...snapshot.holders.values()].map((h) => h.executionArn));
        if (snapshot.inUse !== holders.size) this.violations.push(`inUse ${snapshot.inUse} but ${holders.size} holders`);
        if (holders.size > this.limit) this.violations.push(`${holders.size} holders on the table, limit ${this.limit}`);
        for (const e of this.live("holding")) if (!holders.has(e.arn)) this.violations.push(`${e.arn} runs without a permit`);
        const waiting = this.live("waiting").length;
        if (holders.size < this.limit && waiting > 0) this.violations.push(`${waiting} live waiters while a permit is free`);
    }

    private prepare(action: Action, taken: Set<Execution>): (() => Promise<unknown>) | undefined {
        const choose = (candidates: Execution[], index: number) => {
            const free = candidates.filter((e) => !taken.has(e));
            const chosen = free.length > 0 ? free[index % free.length] : undefined;
            if (chosen) taken.add(chosen);
            return chosen;
        };
        const running = () => [...this.live("waiting"), ...this.live("holding")];
        switch (action.kind) {
            case "start": {
                const e = choose(this.executions.filter((x) => x.state === "idle"), 0);
                return e && this.start(e);
            }
            case "release": {
                const e = choose(this.live("holding"), action.pick);
                return e && this.finish(e, "SUCCEEDED", () => this.semaphore.release(e.arn));
            }
            case "crash": {
                const e = choose(running(), action.pick);
                return e && this.finish(e, "ABORTED", () => (action.notify ? this.semaphore.release(e.arn) : Promise.resolve()));
            }
            case "timeout": {
                const e = choose(this.live("waiting"), action.pick);
                const releaseTwice = async () => {
                    await this.semaphore.release(e!.arn);
                    if (action.notify) await this.semaphore.release(e!.arn);
                };
                return e && this.finish(e, "FAILED", releaseTwice);
            }
            case "deadToken": {
                const e = choose(this.live("waiting"), action.pick);
                return e && this.finish(e, "TIMED_OUT", () => Promise.resolve());
            }
            case "duplicate": {
                const e = choose(running(), action.pick);
                return e && (() => this.semaphore.acquire({ executionArn: e.arn, token: e.token }));
            }
            case "sweep":
                if (action.expire) this.clock += LEASE_SECONDS * 1000 + 1;
                return () => this.semaphore.sweep();
        }
    }

    private start(e: Execution): () => Promise<unknown> {
        e.state = "waiting";
        e.startStep = this.step;
        return () => this.semaphore.acquire({ executionArn: e.arn, token: e.token });
    }

    private finish(e: Execution, status: Execution["status"], after: () => Promise<unknown>): () => Promise<unknown> {
        if (e.state === "waiting") e.killedWhileWaiting = status !== "SUCCEEDED";
        e.tokenDead = e.tokenDead || status !== "SUCCEEDED";
        e.state = "finished";
        e.status = status;
        return after;
    }

    private byToken(token: string): Execution {
        const execution = this.executions.find((e) => e.token === token);
        assert.ok(execution, `unknown token ${token}`);
        return execution;
    }
}

describe("Semaphore model (fast-check, dynalite, mocked Step Functions)", () => {
    let db: LocalDynamo;
    let world: World;
    let sfn: AwsClientStub<SFNClient>;
    let sfnClient: SFNClient;
    let runs = 0;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "pk", "sk");
        sfn = mockClient(SFNClient);
        sfn.on(SendTaskSuccessCommand).callsFake(({ taskToken }) => (world.wake(taskToken), {}));
        sfn.on(SendTaskHeartbeatCommand).callsFake(({ taskToken }) => (world.heartbeat(taskToken), {}));
        sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }) => ({ status: world.status(executionArn) }));
        sfnClient = new SFNClient({ region: "us-east-1" });
    });
    after(async () => {
        sfn.restore();
        await db.stop();
    });

    /** Lets every live holder finish (and sweeps when only crashed holders are left) until nobody is waiting. */
    async function drain(): Promise<void> {
        const idle = world.executions.filter((x) => x.state === "idle").length;
        for (let i = 0; i < idle; i++) await world.burst([{ kind: "start" }]);
        for (let round = 0; round < 4 * world.executions.length; round++) {
            const holders = world.live("holding");
            if (holders.length === 0 && world.live("waiting").length === 0) return;
            if (holders.length === 0) await world.burst([{ kind: "sweep", expire: true }]);
            for (let i = 0; i < holders.length; i++) await world.burst([{ kind: "release", pick: 0 }]);
        }
    }

    it("never exceeds the limit, grants FIFO among live waiters, wakes every live waiter and leaks no permit", async function () {
        this.timeout(120_000);
        await checkModel();
    });

    it("holds the same with 10 % of DynamoDB and Step Functions calls applied with their response lost and retried by the SDK", async function () {
        this.timeout(180_000);
        const random = seededRandom(20261202);
        const appliedResponseLost = { command: /Command$/, fault: "after" as const, then: "retry" as const, probability: 0.1 };
        const dynamoFaults = injectFaults(db.client, [appliedResponseLost], { random });
        const sfnFaults = injectFaults(sfnClient, [appliedResponseLost], { random });
        try {
            await checkModel();
        } finally {
            dynamoFaults.restore();
            sfnFaults.restore();
        }
        assert.ok(dynamoFaults.injected.length > 100 && sfnFaults.injected.length > 10, `${dynamoFaults.injected.length} / ${sfnFaults.injected.length} faults injected`);
    });

    async function checkModel(): Promise<void> {
        await fc.assert(
            fc.asyncProperty(scenarioArbitrary, async ({ limit, executions, steps }) => {
                world = new World(db, sfnClient, `model-${++runs}`, limit, executions);
                for (const actions of steps) {
                    await world.burst(actions);
                    assert.deepEqual(world.violations, []);
                }
                await drain();
                await world.burst([{ kind: "sweep", expire: true }]);
                assert.deepEqual(world.violations, []);
                for (const e of world.executions) {
                    assert.equal(e.woken, e.killedWhileWaiting ? 0 : 1, `${e.arn} woken ${e.woken} times`);
                }
                const final = await world.store.read();
                assert.deepEqual({ inUse: final.inUse, holders: final.holders.size, queue: final.queue }, { inUse: 0, holders: 0, queue: [] });
                assert.deepEqual(await world.store.listWaiters(), []);
            }),
            { numRuns: RUNS },
        );
    }
});
