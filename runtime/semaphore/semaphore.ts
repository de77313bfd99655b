/**
 * A counting semaphore for Step Functions (Standard) executions: acquire waits on `.waitForTaskToken`
 * in a FIFO queue without polling, release hands the permit straight to the oldest live waiter, and
 * cleanup plus a periodic sweep make a leaked permit impossible to keep.
 *
 * Protocol (all permit changes are single-item conditional writes, see {@link SemaphoreStore}):
 * - acquire: take a free permit if nobody is queued (then SendTaskSuccess at once); otherwise write the
 *   waiter (token), append its id to the queue and wake the head while a permit is free, so a release
 *   that ran between the failed grant and the append is never lost. Idempotent per execution.
 * - release: drop the execution's waiter, then move its permit to the queue's head (or give it back);
 *   a head whose token is dead (`TaskDoesNotExist`, `TaskTimedOut`, `InvalidToken`) has its grant undone,
 *   which hands the permit on to the next.
 * - sweep: reclaim holders whose lease expired and whose execution is no longer RUNNING, heartbeat
 *   live waiters (drop dead ones, re-queue orphans), redeliver undelivered grants, wake the head.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
    DescribeExecutionCommand,
    SendTaskHeartbeatCommand,
    SendTaskSuccessCommand,
    SFNClient,
} from "@aws-sdk/client-sfn";
import { createLogger, Logger } from "../log";
import { Holder, planRelease, planWake, SemaphoreSnapshot } from "./plan";
import { digest, SemaphoreStore, Waiter } from "./store";

/** Errors of SendTaskSuccess/SendTaskHeartbeat meaning the waiting task is gone: its waiter is dropped. */
export const DEAD_TOKEN_ERRORS: readonly string[] = ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"];

/** Conditional writes in a row that may lose to concurrent writers before an operation gives up. */
const MAX_ATTEMPTS = 50;

/** Options of {@link Semaphore}. */
export interface SemaphoreOptions {
    /**
     * The semaphore table (string keys `pk` and `sk`, see {@link SEMAPHORE_TABLE_KEYS}).
     * @example process.env.SEMAPHORE_TABLE_NAME
     */
    tableName: string;
    /**
     * The semaphore's name; several semaphores can share one table.
     * @example "payments-api"
     */
    name: string;
    /**
     * Permits: at most this many executions hold the semaphore at once. Lowering it never over-grants:
     * holders above the new limit finish and give their permits back.
     * @example 5
     */
    limit: number;
    /**
     * A holder's lease in seconds: after it the sweeper may reclaim the permit of an execution that is no
     * longer running. Use at least the longest time an execution holds the semaphore.
     * @default 900
     * @example 3600
     */
    leaseSeconds?: number;
    /**
     * DynamoDB client.
     * @default new DynamoDBClient({}) — the SDK's default configuration
     * @example new DynamoDBClient({ maxAttempts: 5 })
     */
    dynamo?: DynamoDBClient;
    /**
     * Step Functions client (SendTaskSuccess, SendTaskHeartbeat, DescribeExecution).
     * @default new SFNClient({})
     * @example new SFNClient({ maxAttempts: 5 })
     */
    sfn?: SFNClient;
    /**
     * Clock, epoch milliseconds (tests inject one to expire leases).
     * @default Date.now
     * @example () => fakeClock.now
     */
    now?: () => number;
    /**
     * Structured logger for grants, hand-offs, drops and reclaims.
     * @default createLogger({ fields: { semaphore: name } })
     * @example createLogger({ level: "WARN" })
     */
    logger?: Logger;
}

/** An acquire request, as the acquire state's payload carries it. */
export interface AcquireRequest {
    /** `$$.Execution.Id` of the acquiring execution. */
    executionArn: string;
    /** `$$.Task.Token` of its `.waitForTaskToken` acquire state. */
    token: string;
}

/**
 * Outcome of {@link Semaphore.acquire}: `granted` (a free permit, woken at once), `alreadyHeld` (this
 * execution holds a permit already; woken at once) or `queued` (woken later by a release or the sweeper).
 */
export type AcquireOutcome = "granted" | "alreadyHeld" | "queued";

/** Outcome of {@link Semaphore.release}. */
export interface ReleaseOutcome {
    /** The execution held a permit, which went to the next waiter or back to the pool. */
    released: boolean;
    /** The execution was queued and is no longer. */
    droppedWaiter: boolean;
}

/** What one {@link Semaphore.sweep} did. */
export interface SweepReport {
    /** Permits taken back from executions that are no longer running, after their lease. */
    reclaimed: number;
    /** Waiters dropped because their token is dead. */
    dropped: number;
    /** Live waiters heartbeated. */
    heartbeats: number;
    /** Live waiters found outside the queue (an acquire that crashed half-way) and queued again. */
    requeued: number;
    /** Grants whose wake-up had not been confirmed, sent again. */
    redelivered: number;
    /** Waiters granted a free permit. */
    woken: number;
}

/**
 * The semaphore runtime behind the acquire, release, cleanup and sweeper functions.
 * @example
 * const semaphore = new Semaphore({ tableName: "semaphores", name: "payments-api", limit: 5 });
 * await semaphore.acquire({ executionArn, token });   // from the acquire state's payload
 * await semaphore.release(executionArn);              // from the release state or the cleanup rule
 */
export class Semaphore {
    private readonly store: SemaphoreStore;
    private readonly sfn: SFNClient;
    private readonly limit: number;
    private readonly leaseMs: number;
    private readonly now: () => number;
    private readonly log: Logger;

    /** @param options see {@link SemaphoreOptions} */
    constructor(private readonly options: SemaphoreOptions) {
        this.limit = positiveInteger("limit", options.limit);
        this.leaseMs = positiveInteger("leaseSeconds", options.leaseSeconds ?? 900) * 1000;
        nonEmpty("tableName", options.tableName);
        nonEmpty("name", options.name);
        this.store = new SemaphoreStore(options.dynamo ?? new DynamoDBClient({}), options.tableName, options.name);
        this.sfn = options.sfn ?? new SFNClient({});
        this.now = options.now ?? Date.now;
        this.log = options.logger ?? createLogger({ fields: { semaphore: options.name } });
    }

    /**
     * Grants a permit at once or queues the execution; see {@link AcquireOutcome}. Idempotent per execution.
     * Throws when the token or the execution ARN is missing.
     */
    async acquire(request: AcquireRequest): Promise<AcquireOutcome> {
        const { executionArn, token } = validRequest(request);
        const id = digest(executionArn);
        const grantId = randomUUID();
        if (await this.store.grantFree(id, this.holder(executionArn, grantId), this.limit)) {
            this.log.info("semaphore granted", { executionArn, via: "free permit" });
            if (!(await this.sendSuccess(token))) await this.undoGrant(id, executionArn, grantId);
            return "granted";
        }
        await this.store.putWaiter({ id, executionArn, token, enqueuedAt: this.now() });
        return this.settle(`acquire ${executionArn}`, async () => {
            const snapshot = await this.store.read();
            if (snapshot.holders.has(id) && (await this.redeliver(id, token))) return "alreadyHeld";
            const queued = snapshot.queue.includes(id) ? snapshot : await this.store.enqueue(id);
            if (!queued) return undefined;
            this.log.info("semaphore queued", { executionArn });
            await this.wake(queued);
            return "queued";
        });
    }

    /**
     * Drops the execution's waiter and releases its permit (to the oldest live waiter, or back to the
     * pool). Idempotent: the release state, the cleanup rule and the sweeper may all call it.
     */
    async release(executionArn: string): Promise<ReleaseOutcome> {
        nonEmpty("executionArn", executionArn);
        const id = digest(executionArn);
        const snapshot = await this.store.read();
        const droppedWaiter = snapshot.queue.includes(id) && (await this.dropWaiter(id));
        const released = await this.releasePermit(id, undefined, droppedWaiter ? undefined : snapshot);
        if (released || droppedWaiter) this.log.info("semaphore released", { executionArn, released, droppedWaiter });
        return { released, droppedWaiter };
    }

    /** One pass of the sweeper; see {@link SweepReport}. */
    async sweep(): Promise<SweepReport> {
        const report: SweepReport = { reclaimed: 0, dropped: 0, heartbeats: 0, requeued: 0, redelivered: 0, woken: 0 };
        report.reclaimed = await this.reclaimExpired();
        const waiters = await this.store.listWaiters();
        const snapshot = await this.store.read();
        for (const waiter of waiters) {
            if (snapshot.holders.has(waiter.id)) {
                if (await this.redeliver(waiter.id, waiter.token)) report.redelivered++;
            } else if (!(await this.heartbeat(waiter.token))) {
                this.log.info("semaphore waiter dropped", { executionArn: waiter.executionArn, reason: "dead token" });
                await this.dropWaiter(waiter.id, waiter.token);
                report.dropped++;
            } else {
                report.heartbeats++;
                if (!snapshot.queue.includes(waiter.id) && (await this.store.enqueue(waiter.id))) report.requeued++;
            }
        }
        report.woken = await this.wake();
        return report;
    }

    /**
     * Grants free permits to the queue's head until none is free or the queue is empty; returns how many.
     * `first` is a snapshot just read or written (saves a read).
     */
    private async wake(first?: SemaphoreSnapshot): Promise<number> {
        let woken = 0;
        let known = first;
        await this.settle("wake", async () => {
            const plan = planWake(known ?? (await this.store.read()), this.limit);
            known = undefined;
            if (plan.kind === "idle") return woken;
            const waiter = await this.headWaiter(plan.to);
            const grantId = randomUUID();
            if (waiter && (await this.store.grantHead(waiter.id, this.holder(waiter.executionArn, grantId), this.limit))) {
                this.log.info("semaphore granted", { executionArn: waiter.executionArn, via: "free permit to waiter" });
                await this.deliver(waiter, grantId);
                woken++;
            }
            return undefined;
        });
        return woken;
    }

    /**
     * Releases `id`'s permit; with `grantId`, only while the grant still has that id (undoing a dead
     * delivery). `first` is a snapshot just read (saves a read).
     */
    private releasePermit(id: string, grantId?: string, first?: SemaphoreSnapshot): Promise<boolean> {
        let known = first;
        return this.settle("release", async () => {
            const snapshot = known ?? (await this.store.read());
            known = undefined;
            const plan = planRelease(snapshot, id, this.limit);
            if (plan.kind === "notHeld" || (grantId && snapshot.holders.get(id)?.grantId !== grantId)) return false;
            if (plan.kind === "decrement") return (await this.store.giveBack(id, this.limit, grantId)) || undefined;
            const waiter = await this.headWaiter(plan.to);
            const nextGrant = randomUUID();
            if (!waiter || !(await this.store.handOff(id, waiter.id, this.holder(waiter.executionArn, nextGrant), this.limit, grantId))) {
                return undefined;
            }
            this.log.info("semaphore granted", { executionArn: waiter.executionArn, via: "hand-off" });
            await this.deliver(waiter, nextGrant);
            return true;
        });
    }

    /** Wakes the queued `waiter`, whose grant `grantId` was just written; a dead token undoes the grant. */
    private async deliver(waiter: Waiter, grantId: string): Promise<void> {
        const woken = await this.sendSuccess(waiter.token);
        await this.store.deleteWaiter(waiter.id, waiter.token);
        if (!woken) await this.undoGrant(waiter.id, waiter.executionArn, grantId);
    }

    /** Releases a grant whose token turned out dead, handing the permit on, unless it was redelivered since. */
    private async undoGrant(id: string, executionArn: string, grantId: string): Promise<void> {
        this.log.info("semaphore waiter dropped", { executionArn, reason: "dead token" });
        await this.releasePermit(id, grantId);
    }

    /**
     * Sends the grant of an existing holder `id` again, to `token`, under a new grant id. A dead token is
     * not undone here: it may mean the execution was woken already. Returns false if `id` holds nothing.
     */
    private async redeliver(id: string, token: string): Promise<boolean> {
        if (!(await this.store.rebind(id, randomUUID()))) return false;
        await this.sendSuccess(token);
        await this.store.deleteWaiter(id, token);
        return true;
    }

    /** The waiter item of the queue's head; a head without one is removed from the queue (undefined). */
    private async headWaiter(id: string): Promise<Waiter | undefined> {
        const waiter = await this.store.getWaiter(id);
        if (!waiter) await this.store.dequeue(id, 0);
        return waiter;
    }

    /**
     * Removes `id` from the queue and deletes its waiter item (with `token`, only while it carries that
     * token); true if it was still queued.
     */
    private async dropWaiter(id: string, token?: string): Promise<boolean> {
        const dropped = await this.settle("drop waiter", async () => {
            const index = (await this.store.read()).queue.indexOf(id);
            if (index < 0) return false;
            return (await this.store.dequeue(id, index)) || undefined;
        });
        await this.store.deleteWaiter(id, token);
        return dropped;
    }

    /** Releases every holder whose lease has expired and whose execution is no longer running. */
    private async reclaimExpired(): Promise<number> {
        let reclaimed = 0;
        const now = this.now();
        for (const holder of (await this.store.read()).holders.values()) {
            if (holder.leaseUntil > now || (await this.isRunning(holder.executionArn))) continue;
            this.log.warn("semaphore permit reclaimed", { executionArn: holder.executionArn, leaseUntil: holder.leaseUntil });
            if ((await this.release(holder.executionArn)).released) reclaimed++;
        }
        return reclaimed;
    }

    private holder(executionArn: string, grantId: string): Holder {
        const grantedAt = this.now();
        return { executionArn, grantId, grantedAt, leaseUntil: grantedAt + this.leaseMs };
    }

    /** SendTaskSuccess; false when the token is dead. */
    private async sendSuccess(token: string): Promise<boolean> {
        const output = JSON.stringify({ semaphore: this.options.name });
        return deadTokenIsFalse(() => this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output })));
    }

    /** SendTaskHeartbeat; false when the token is dead. */
    private heartbeat(token: string): Promise<boolean> {
        return deadTokenIsFalse(() => this.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token })));
    }

    private async isRunning(executionArn: string): Promise<boolean> {
        try {
            const { status } = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
            return status === "RUNNING";
        } catch (error) {
            if (errorName(error) === "ExecutionDoesNotExist") return false;
            throw error;
        }
    }

    /** Runs `step` until it returns a value (undefined = a condition lost to a concurrent writer; try again). */
    private async settle<T>(operation: string, step: () => Promise<T | undefined>): Promise<T> {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            const result = await step();
            if (result !== undefined) return result;
        }
        throw new Error(`Semaphore "${this.options.name}": ${operation} lost ${MAX_ATTEMPTS} conditional writes in a row; try again.`);
    }
}

async function deadTokenIsFalse(call: () => Promise<unknown>): Promise<boolean> {
    try {
        await call();
        return true;
    } catch (error) {
        if (DEAD_TOKEN_ERRORS.includes(errorName(error))) return false;
        throw error;
    }
}

function validRequest(request: Partial<AcquireRequest> | undefined): AcquireRequest {
    const token = request?.token;
    const executionArn = request?.executionArn;
    if (typeof token !== "string" || token === "" || typeof executionArn !== "string" || executionArn === "") {
        const payload = "the acquire state's payload: token.$ = $$.Task.Token, executionArn.$ = $$.Execution.Id";
        const received = `token ${JSON.stringify(token)}, executionArn ${JSON.stringify(executionArn)}`;
        throw new Error(`Semaphore acquire needs { token, executionArn } (${payload}); received ${received}.`);
    }
    return { token, executionArn };
}

function errorName(error: unknown): string {
    return String((error as { name?: unknown } | null)?.name ?? "");
}

function positiveInteger(name: string, value: number): number {
    if (!Number.isInteger(value) || value < 1) throw new Error(`Semaphore ${name} must be a positive integer; received ${value}.`);
    return value;
}

function nonEmpty(name: string, value: string): void {
    if (typeof value !== "string" || value === "") throw new Error(`Semaphore ${name} must be a non-empty string; received ${JSON.stringify(value)}.`);
}
