/**
 * The semaphore under injected faults (tests/helpers/faults.ts) on dynalite and a client-mocked Step
 * Functions: the writer of a grant dying before SendTaskSuccess, SendTaskSuccess applied with its response
 * lost, DynamoDB writes applied with their response lost, throttles; and a matrix over every command the
 * store and the protocol send, each fault at each of its first calls, run with Step Functions' own retry
 * semantics (the acquire and release states retry SemaphoreUnavailableError; a retried acquire task has a
 * new token; a refused acquire goes through the Catch to release).
 */
import { strict as assert } from "node:assert";
import {
    DescribeExecutionCommand,
    ExecutionDoesNotExist,
    SendTaskHeartbeatCommand,
    SendTaskSuccessCommand,
    SFNClient,
    TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { Semaphore, SemaphoreTokenMismatchError, SemaphoreUnavailableError } from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { FaultKind, FaultRule, injectFaults, sdkError, THROTTLE_ERRORS } from "../helpers/faults";

const TABLE = "semaphore-faults";
const silent = createLogger({ write: () => undefined });
const arn = (who: string) => `arn:aws:states:us-east-1:123456789012:execution:protected:${who}`;

/** One execution as Step Functions sees it. */
interface Execution {
    who: string;
    token: string;
    attempts: number;
    phase: "idle" | "waiting" | "holding" | "released" | "failed";
    woken: number;
}

/**
 * Step Functions for these tests: a token can be resumed once (then it is dead, as after a success, a
 * failed attempt or the end of the execution); DescribeExecution says RUNNING until the execution ends.
 */
class World {
    readonly executions = new Map<string, Execution>();
    readonly violations: string[] = [];
    readonly sfnClient: SFNClient;
    readonly semaphore: Semaphore;
    readonly store: SemaphoreStore;
    readonly logLines: string[] = [];
    private readonly deadTokens = new Set<string>();
    clock = 1_000_000;

    constructor(db: LocalDynamo, sfn: AwsClientStub<SFNClient>, readonly name: string, public limit: number) {
        sfn.reset();
        sfn.on(SendTaskSuccessCommand).callsFake(({ taskToken }) => this.resume(taskToken));
        sfn.on(SendTaskHeartbeatCommand).callsFake(({ taskToken }) => {
            if (this.deadTokens.has(taskToken)) throw new TaskTimedOut({ message: "gone", $metadata: {} });
            return {};
        });
        sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }) => {
            const execution = [...this.executions.values()].find((e) => arn(e.who) === executionArn);
            if (!execution) throw new ExecutionDoesNotExist({ message: "no such execution", $metadata: {} });
            return { status: execution.phase === "released" ? "SUCCEEDED" : execution.phase === "failed" ? "FAILED" : "RUNNING" };
        });
        this.sfnClient = new SFNClient({ region: "us-east-1" });
        const logger = createLogger({ write: (line) => this.logLines.push(line) });
        this.semaphore = new Semaphore({
            tableName: TABLE,
            name,
            limit,
            leaseSeconds: 60,
            dynamo: db.client,
            sfn: this.sfnClient,
            now: () => this.clock,
            logger,
            metrics: new Metrics({ write: () => undefined }),
        });
        this.store = new SemaphoreStore(db.client, TABLE, name);
        for (const who of ["a", "b", "c"]) this.executions.set(who, { who, token: `${who}-token-1`, attempts: 1, phase: "idle", woken: 0 });
    }

    get(who: string): Execution {
        return this.executions.get(who)!;
    }

    holding(): Execution[] {
        return [...this.executions.values()].filter((e) => e.phase === "holding");
    }

    /** The acquire state: retried with a new token on SemaphoreUnavailableError, Catch → release otherwise. */
    async acquire(who: string): Promise<void> {
        const e = this.get(who);
        e.phase = "waiting";
        for (;;) {
            try {
                await this.semaphore.acquire({ executionArn: arn(who), token: e.token });
                return;
            } catch (error) {
                if ((e.phase as Execution["phase"]) === "holding") return; // the task was resumed before the function failed: its failure no longer matters
                this.deadTokens.add(e.token);
                if (error instanceof SemaphoreUnavailableError && e.attempts < 6) {
                    e.attempts++;
                    e.token = `${who}-token-${e.attempts}`;
                    continue;
                }
                e.phase = "failed";
                await this.retried(() => this.semaphore.release(arn(who)));
                return;
            }
        }
    }

    /** The release state (retried on SemaphoreUnavailableError). */
    async release(who: string): Promise<void> {
        this.get(who).phase = "released";
        await this.retried(() => this.semaphore.release(arn(who)));
    }

    /** The execution ends without running its release (aborted; the cleanup event is lost): its token dies. */
    abort(who: string): void {
        const e = this.get(who);
        e.phase = "failed";
        this.deadTokens.add(e.token);
    }

    async sweep(): Promise<void> {
        await this.retried(() => this.semaphore.sweep());
    }

    private async retried(operation: () => Promise<unknown>): Promise<void> {
        for (let attempt = 1; ; attempt++) {
            try {
                await operation();
                return;
            } catch (error) {
                if (!(error instanceof SemaphoreUnavailableError) || attempt >= 6) throw error;
            }
        }
    }

    private resume(token: string): object {
        if (this.deadTokens.has(token)) throw new TaskTimedOut({ message: "Task Timed Out: the task no longer exists", $metadata: {} });
        const e = [...this.executions.values()].find((x) => x.token === token);
        assert.ok(e, "a token the test did not issue was resumed");
        this.deadTokens.add(token);
        if (e.phase !== "waiting") this.violations.push(`${e.who} resumed while ${e.phase}`);
        e.woken++;
        e.phase = "holding";
        if (this.holding().length > this.limit) this.violations.push(`${this.holding().length} executions hold a limit of ${this.limit}`);
        return {};
    }
}

describe("Semaphore under injected faults", () => {
    let db: LocalDynamo;
    let sfn: AwsClientStub<SFNClient>;
    let runs = 0;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "pk", "sk");
        sfn = mockClient(SFNClient);
    });
    after(async () => {
        sfn.restore();
        await db.stop();
    });

    const world = (limit = 1) => new World(db, sfn, `faults-${++runs}`, limit);
    const stored = async (w: World) => {
        const s = await w.store.read();
        return { inUse: s.inUse, queue: s.queue.length, holders: [...s.holders.values()].map((h) => h.executionArn).sort() };
    };

    describe("the writer of a grant dies between the grant write and SendTaskSuccess (issue 10, item 10)", () => {
        it("acquire's own free grant: the function fails, the retried task is refused, the Catch's release hands the permit on", async () => {
            const w = world();
            const faults = injectFaults(w.sfnClient, [{ command: "SendTaskSuccessCommand", fault: "before", times: 1 }]);
            await w.acquire("a");
            await w.acquire("b");
            faults.restore();
            assert.deepEqual(faults.injected, [{ command: "SendTaskSuccessCommand", fault: "before" }]);
            assert.equal(w.get("a").phase, "failed", "a second token for a granted execution is never woken");
            assert.equal(w.get("b").phase, "holding", "the Catch's release handed a's permit to b at once");
            assert.deepEqual(await stored(w), { inUse: 1, queue: 0, holders: [arn("b")] });
            assert.deepEqual(w.violations, []);
        });

        it("acquire's wake-up of another waiter: the waiter does not hang, the next sweep delivers the grant", async () => {
            const w = world(1);
            await w.acquire("a");
            await w.acquire("b");
            // A wider semaphore instance (the limit was raised) wakes b from c's acquire, and dies before SendTaskSuccess.
            w.limit = 2;
            const wider = new Semaphore({ tableName: TABLE, name: w.name, limit: 2, dynamo: db.client, sfn: w.sfnClient, logger: silent, metrics: new Metrics({ write: () => undefined }) });
            const faults = injectFaults(w.sfnClient, [{ command: "SendTaskSuccessCommand", fault: "before", times: 1 }]);
            await assert.rejects(wider.acquire({ executionArn: arn("c"), token: w.get("c").token }), SemaphoreUnavailableError);
            faults.restore();
            assert.equal(w.get("b").phase, "waiting");
            assert.deepEqual((await stored(w)).holders, [arn("a"), arn("b")], "b's grant is written, not delivered");
            const report = await wider.sweep();
            assert.equal(report.redelivered, 1);
            assert.equal(w.get("b").phase, "holding");
            assert.deepEqual(w.violations, []);
        });

        it("a release's hand-off: the sweeper reclaims the undelivered grant of a waiter that ended meanwhile, for the next", async () => {
            const w = world(1);
            for (const who of ["a", "b", "c"]) await w.acquire(who);
            const faults = injectFaults(w.sfnClient, [{ command: "SendTaskSuccessCommand", fault: "before", times: 1 }]);
            w.get("a").phase = "released";
            await assert.rejects(w.semaphore.release(arn("a")), SemaphoreUnavailableError);
            faults.restore();
            w.abort("b"); // b was aborted before anyone delivered its grant
            const report = await w.semaphore.sweep();
            assert.deepEqual({ reclaimed: report.reclaimed, redelivered: report.redelivered }, { reclaimed: 1, redelivered: 0 });
            assert.equal(w.get("c").phase, "holding");
            assert.deepEqual(await stored(w), { inUse: 1, queue: 0, holders: [arn("c")] });
        });
    });

    it("SendTaskSuccess applied, response lost, SDK retried ('dead token'): the running waiter keeps its permit (no over-grant)", async () => {
        const w = world(1);
        for (const who of ["a", "b", "c"]) await w.acquire(who);
        const faults = injectFaults(w.sfnClient, [{ command: "SendTaskSuccessCommand", fault: "after", then: "retry", times: 1 }]);
        await w.release("a");
        faults.restore();
        assert.deepEqual(faults.injected.length, 1);
        assert.equal(w.get("b").phase, "holding");
        assert.equal(w.get("c").phase, "waiting", "c must not get the permit b is running under");
        assert.deepEqual(await stored(w), { inUse: 1, queue: 1, holders: [arn("b")] });
        await w.release("b");
        assert.equal(w.get("c").phase, "holding");
        assert.deepEqual(w.violations, []);
    });

    it("a hand-off UpdateItem applied with its response lost (the SDK's retry fails its condition) is recognised and delivered at once", async () => {
        const w = world(1);
        await w.acquire("a");
        await w.acquire("b");
        const handOff = (command: { input: unknown; constructor: { name: string } }) =>
            command.constructor.name === "UpdateItemCommand" && String((command.input as { UpdateExpression?: string }).UpdateExpression).startsWith("REMOVE #from");
        const faults = injectFaults(db.client, [{ command: handOff, fault: "after", then: "retry", times: 1 }]);
        await w.release("a");
        faults.restore();
        assert.equal(faults.injected.length, 1);
        assert.equal(w.get("b").phase, "holding", "woken by the release itself, not by a later sweep");
    });

    it("DynamoDB throttled beyond the SDK's retries: SemaphoreUnavailableError naming the cause, the store unchanged; the retry succeeds", async () => {
        const w = world(1);
        const faults = injectFaults(db.client, [{ command: /Command$/, fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
        await assert.rejects(w.semaphore.acquire({ executionArn: arn("a"), token: "a-token-1" }), (error: Error) => {
            assert.ok(error instanceof SemaphoreUnavailableError);
            assert.match(error.message, /acquire failed \(ProvisionedThroughputExceededException: injected: UpdateItemCommand throttled\); the store is consistent, try again/);
            return true;
        });
        faults.restore();
        assert.deepEqual(await stored(w), { inUse: 0, queue: 0, holders: [] });
        await w.acquire("a");
        assert.equal(w.get("a").phase, "holding");
    });

    it("redacts the task token from errors and logs even when a service error echoes it", async () => {
        const w = world(1);
        const token = "AQCEAAAAKgAAAAMAAAAAAAAAAd0secret-task-token";
        sfn.on(SendTaskSuccessCommand).callsFake(() => {
            throw sdkError("ValidationException", `1 validation error detected: Value '${token}' at 'taskToken' failed`, 400, false);
        });
        await assert.rejects(w.semaphore.acquire({ executionArn: arn("a"), token }), (error: Error) => {
            assert.ok(error instanceof SemaphoreUnavailableError);
            assert.ok(!error.message.includes(token), error.message);
            assert.match(error.message, /Value '<task token, 44 chars, sha256 [0-9a-f]{8}>' at 'taskToken'/);
            return true;
        });
        assert.ok(w.logLines.length > 0);
        for (const line of w.logLines) assert.ok(!line.includes(token), line);
    });

    describe("fault matrix: every command × before / after (SDK retried) / after (gave up) / throttle × its k-th call", () => {
        const faults: { fault: FaultKind; then?: "retry" | "throw" }[] = [{ fault: "before" }, { fault: "after", then: "retry" }, { fault: "after", then: "throw" }, { fault: "throttle" }];
        const targets = [
            ...["GetItemCommand", "PutItemCommand", "UpdateItemCommand", "DeleteItemCommand", "QueryCommand"].map((command) => ({ client: "dynamo" as const, command, calls: 8 })),
            ...["SendTaskSuccessCommand", "SendTaskHeartbeatCommand", "DescribeExecutionCommand"].map((command) => ({ client: "sfn" as const, command, calls: 3 })),
        ];
        for (const target of targets) {
            for (const { fault, then } of faults) {
                it(`${target.command} ${fault}${then ? ` (${then})` : ""}: limit never crossed, every execution woken once or failed through its Catch, nothing leaks`, async function () {
                    this.timeout(60_000);
                    let injectedSomewhere = 0;
                    for (let k = 1; k <= target.calls; k++) {
                        const w = world(1);
                        let seen = 0;
                        const rule: FaultRule = { command: (c) => c.constructor.name === target.command && ++seen === k, fault, then, times: 1 };
                        const injection = injectFaults(target.client === "dynamo" ? db.client : w.sfnClient, [rule]);
                        await runScenario(w);
                        injectedSomewhere += injection.injected.length;
                        injection.restore();
                        await finish(w);
                        assert.deepEqual(w.violations, [], `k=${k}`);
                        for (const e of w.executions.values()) {
                            const outcome = e.phase === "failed" ? "failed" : `woken ${e.woken}`;
                            assert.ok(outcome === "woken 1" || (outcome === "failed" && e.woken === 0), `k=${k}: ${e.who} ${outcome}`);
                        }
                        assert.deepEqual(await stored(w), { inUse: 0, queue: 0, holders: [] }, `k=${k}`);
                        assert.deepEqual(await w.store.listWaiters(), [], `k=${k}`);
                    }
                    assert.ok(injectedSomewhere > 0, "the fault was injected at least once");
                });
            }
        }

        /**
         * a, b, c acquire a permit of one; a sweep heartbeats the waiters; c is aborted while waiting (its
         * cleanup event lost); each holder releases in turn; the sweeper runs when nobody holds.
         */
        async function runScenario(w: World): Promise<void> {
            for (const who of ["a", "b", "c"]) await tolerate(() => w.acquire(who));
            await tolerate(() => w.sweep());
            if (w.get("c").phase === "waiting") w.abort("c");
            for (let round = 0; round < 12; round++) {
                const holder = w.holding()[0];
                if (holder) await tolerate(() => w.release(holder.who));
                else if ([...w.executions.values()].some((e) => e.phase === "waiting")) await tolerate(() => w.sweep());
                else return;
            }
        }

        /** With the fault gone: sweeps (leases expired) until every waiter has been served, then the last release. */
        async function finish(w: World): Promise<void> {
            for (let round = 0; round < 6; round++) {
                for (const holder of w.holding()) await w.release(holder.who);
                if (![...w.executions.values()].some((e) => e.phase === "waiting" || e.phase === "holding")) break;
                w.clock += 61_000;
                await w.sweep();
            }
            w.clock += 61_000;
            await w.sweep();
        }

        /** An operation that failed after its own retries is left to the repair paths (the next steps and the sweeper). */
        async function tolerate(operation: () => Promise<void>): Promise<void> {
            try {
                await operation();
            } catch (error) {
                if (!(error instanceof SemaphoreUnavailableError) && !(error instanceof SemaphoreTokenMismatchError)) throw error;
            }
        }
    });
});
