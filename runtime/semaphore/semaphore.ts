/**
 * A counting semaphore for Step Functions (Standard) executions: acquire waits on `.waitForTaskToken`
 * in a FIFO queue without polling, release hands the permit straight to the oldest live waiter, and
 * cleanup plus a periodic sweep make a leaked permit impossible to keep.
 *
 * Protocol (all permit changes are single-item conditional writes, see {@link SemaphoreStore}):
 * - acquire: record the execution with its task token (its waiter item, kept until its release), take a
 *   free permit if nobody is queued (then SendTaskSuccess at once); otherwise append it to the queue and
 *   wake the head while a permit is free, so a release that ran between the failed grant and the append
 *   is never lost. Idempotent per execution; a grant is only ever sent to the token recorded for its
 *   execution (an acquire with another token is refused, unless the execution is still queued and its
 *   recorded token is dead: then the new token takes its place in the queue).
 * - release: drop the execution's waiter, then move its permit to the queue's head (or give it back).
 *   A grant whose SendTaskSuccess answers "dead token" (`TaskDoesNotExist`, `TaskTimedOut`,
 *   `InvalidToken`) is undone, handing the permit on, only when the execution is no longer running: a
 *   running execution may have been woken by an earlier attempt whose response was lost, and its own
 *   release (Catch, cleanup rule or sweeper) takes the permit back.
 * - sweep: reclaim holders whose lease expired and whose execution is no longer RUNNING, redeliver grants
 *   written but never delivered (the process that wrote one died before SendTaskSuccess), heartbeat live
 *   waiters (drop dead ones, re-queue orphans), wake the head.
 *
 * Every failure of DynamoDB or Step Functions that the SDK's retries did not overcome leaves the store
 * consistent and surfaces as {@link SemaphoreUnavailableError} (the acquire and release states retry it);
 * task tokens never appear in an error message or a log line.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeExecutionCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { ConfigurationError } from "../../contracts/errors";
import { createLogger, Logger } from "../log";
import { MetricName, Metrics } from "../metrics";
import { redactToken, scrubTokens, SemaphoreError, SemaphoreRequestError, SemaphoreTokenMismatchError, SemaphoreUnavailableError } from "./errors";
import { Holder, planRelease, planWake, SemaphoreSnapshot } from "./plan";
import { digest, SemaphoreStore, Waiter } from "./store";

/** Errors of SendTaskSuccess/SendTaskHeartbeat meaning the waiting task is gone (or already resumed). */
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
     * The semaphore's name; several semaphores can share one table. Also the `Worker` dimension of its metrics.
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
     * Structured logger for grants, hand-offs, drops and reclaims (never with a task token).
     * @default createLogger({ fields: { semaphore: name } })
     * @example createLogger({ level: "WARN" })
     */
    logger?: Logger;
    /**
     * Where the semaphore's metrics go ({@link MetricName}`.Semaphore*`); flushed at the end of every operation.
     * @default new Metrics({ worker: name })
     * @example new Metrics({ worker: "payments-api", write: (line) => lines.push(line) })
     */
    metrics?: Metrics;
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
 * execution holds a permit already; its recorded token is woken again) or `queued` (woken later by a
 * release or the sweeper).
 */
export type AcquireOutcome = "granted" | "alreadyHeld" | "queued";

/** Outcome of {@link Semaphore.release}. */
export interface ReleaseOutcome {
    /**
     * The execution held a permit, which went to the next waiter or back to the pool. (If the write's
     * response was lost and the SDK's retry found the permit gone, this says false: the permit is free either way.)
     */
    released: boolean;
    /** The execution was queued and is no longer. */
    droppedWaiter: boolean;
}

/** What one {@link Semaphore.sweep} did. */
export interface SweepReport {
    /** Permits taken back: expired leases of executions no longer running, and undelivered grants of ended executions. */
    reclaimed: number;
    /** Waiters dropped because their token is dead. */
    dropped: number;
    /** Live waiters heartbeated. */
    heartbeats: number;
    /** Live waiters found outside the queue (an acquire that crashed half-way) and queued again. */
    requeued: number;
    /** Grants written but never delivered (their writer died before SendTaskSuccess), delivered now. */
    redelivered: number;
    /** Waiters granted a free permit. */
    woken: number;
}

/** A grant this process wrote: whom to, under which id, and how (for the log and the metric). */
interface PendingGrant {
    waiter: Waiter;
    grantId: string;
    via: string;
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
    private readonly metrics: Metrics;

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
        this.metrics = options.metrics ?? new Metrics({ worker: options.name });
    }

    /**
     * Grants a permit at once or queues the execution; see {@link AcquireOutcome}. Idempotent per execution.
     * @throws SemaphoreRequestError when the token or the execution ARN is missing
     * @throws SemaphoreTokenMismatchError when the execution is recorded under another live or granted token
     * @throws SemaphoreUnavailableError when DynamoDB or Step Functions failed (retry: it is idempotent)
     */
    async acquire(request: AcquireRequest): Promise<AcquireOutcome> {
        const { executionArn, token } = validRequest(request);
        return this.guard("acquire", [token], async () => {
            const id = digest(executionArn);
            const waiter: Waiter = { id, executionArn, token, enqueuedAt: this.now(), delivered: false };
            if ((await this.store.recordWaiter(waiter)) === "otherToken") await this.adoptToken(waiter);
            const grantId = randomUUID();
            if (await this.store.grantFree(id, this.holder(executionArn, grantId), this.limit)) {
                await this.deliver({ waiter, grantId, via: "free permit" });
                return "granted";
            }
            return this.settle("acquire", async () => {
                const snapshot = await this.store.read();
                if (snapshot.holders.has(id)) {
                    await this.redeliver(waiter);
                    return "alreadyHeld";
                }
                const queued = snapshot.queue.includes(id) ? snapshot : await this.store.enqueue(id);
                if (!queued) return undefined;
                this.log.info("semaphore queued", { executionArn });
                await this.wake(queued);
                return "queued";
            });
        });
    }

    /**
     * Drops the execution's waiter and releases its permit (to the oldest live waiter, or back to the
     * pool). Idempotent: the release state, the cleanup rule and the sweeper may all call it.
     * @throws SemaphoreRequestError when the execution ARN is missing
     * @throws SemaphoreUnavailableError when DynamoDB or Step Functions failed (retry: it is idempotent)
     */
    async release(executionArn: string): Promise<ReleaseOutcome> {
        if (typeof executionArn !== "string" || executionArn === "") {
            throw new SemaphoreRequestError(`Semaphore release needs { executionArn } (executionArn.$ = $$.Execution.Id); received ${JSON.stringify(executionArn)}.`);
        }
        return this.guard("release", [], () => this.releaseExecution(executionArn));
    }

    /** One pass of the sweeper; see {@link SweepReport}. */
    sweep(): Promise<SweepReport> {
        return this.guard("sweep", [], async () => {
            const report: SweepReport = { reclaimed: 0, dropped: 0, heartbeats: 0, requeued: 0, redelivered: 0, woken: 0 };
            report.reclaimed = await this.reclaimExpired();
            const waiters = await this.store.listWaiters();
            const snapshot = await this.store.read();
            for (const waiter of waiters) {
                if (snapshot.holders.has(waiter.id)) {
                    if (!waiter.delivered) await this.repairUndelivered(waiter, report);
                } else if (!(await this.heartbeat(waiter.token))) {
                    this.log.info("semaphore waiter dropped", { executionArn: waiter.executionArn, reason: "dead token" });
                    this.metrics.add(MetricName.SemaphoreDeadWaiters, "Count", 1);
                    await this.dropWaiter(waiter.id, waiter.token);
                    report.dropped++;
                } else {
                    report.heartbeats++;
                    if (!snapshot.queue.includes(waiter.id) && (await this.store.enqueue(waiter.id))) report.requeued++;
                }
            }
            report.woken = await this.wake();
            const after = await this.store.read();
            this.metrics.add(MetricName.SemaphorePermitsInUse, "Count", after.inUse);
            this.metrics.add(MetricName.SemaphoreWaiters, "Count", after.queue.length);
            return report;
        });
    }

    /** {@link release} once its argument is checked. */
    private async releaseExecution(executionArn: string): Promise<ReleaseOutcome> {
        const id = digest(executionArn);
        const snapshot = await this.store.read();
        const droppedWaiter = snapshot.queue.includes(id) && (await this.dropWaiter(id));
        const released = await this.releasePermit(id, undefined, droppedWaiter ? undefined : snapshot);
        await this.store.deleteWaiter(id);
        if (released) this.metrics.add(MetricName.SemaphoreReleases, "Count", 1);
        if (released || droppedWaiter) this.log.info("semaphore released", { executionArn, released, droppedWaiter });
        return { released, droppedWaiter };
    }

    /**
     * An acquire whose execution is recorded under another token: the new token takes the old one's place
     * only while the execution is queued (not granted) and its recorded token is dead (an earlier attempt
     * of the acquire task that failed). Otherwise nothing is woken and the acquire is refused; a pending
     * grant is first redelivered to the recorded token.
     */
    private async adoptToken(request: Waiter): Promise<void> {
        const recorded = await this.store.getWaiter(request.id);
        if (!recorded) throw new SemaphoreUnavailableError(`Semaphore "${this.options.name}": the record of ${request.executionArn} changed during acquire; try again.`);
        const holding = (await this.store.read()).holders.has(request.id);
        if (holding && !recorded.delivered) await this.redeliver(recorded);
        const replaceable = !holding && !recorded.delivered && !(await this.heartbeat(recorded.token));
        if (replaceable && (await this.store.replaceToken(request.id, recorded.token, request.token))) {
            this.log.info("semaphore waiter token replaced", { executionArn: request.executionArn, reason: "recorded token dead" });
            return;
        }
        throw new SemaphoreTokenMismatchError(
            `Semaphore "${this.options.name}": execution ${request.executionArn} is already ${holding ? "holding a permit" : "queued"} under task token ` +
                `${redactToken(recorded.token)}; the acquire with task token ${redactToken(request.token)} is refused and nothing is woken for it.`,
        );
    }

    /**
     * Grants free permits to the queue's head until none is free or the queue is empty; returns how many.
     * `first` is a snapshot just read or written (saves a read).
     */
    private async wake(first?: SemaphoreSnapshot): Promise<number> {
        let woken = 0;
        let known = first;
        let pending: PendingGrant | undefined;
        await this.settle("wake", async () => {
            const snapshot = known ?? (await this.store.read());
            known = undefined;
            if (pending && isApplied(snapshot, pending)) {
                await this.deliver(pending);
                woken++;
            }
            pending = undefined;
            const plan = planWake(snapshot, this.limit);
            if (plan.kind === "idle") return woken;
            const waiter = await this.headWaiter(plan.to);
            if (!waiter) return undefined;
            pending = { waiter, grantId: randomUUID(), via: "free permit to waiter" };
            if (!(await this.store.grantHead(waiter.id, this.holder(waiter.executionArn, pending.grantId), this.limit))) return undefined;
            await this.deliver(pending);
            pending = undefined;
            woken++;
            return undefined;
        });
        return woken;
    }

    /**
     * Releases `id`'s permit; with `grantId`, only while the grant still has that id (undoing a dead
     * delivery). `first` is a snapshot just read (saves a read). A hand-off whose write was applied but
     * reported as failed (its response lost, the SDK's retry refused) is recognised on the next read by its
     * grant id and delivered.
     */
    private releasePermit(id: string, grantId?: string, first?: SemaphoreSnapshot): Promise<boolean> {
        let known = first;
        let pending: PendingGrant | undefined;
        return this.settle("release", async () => {
            const snapshot = known ?? (await this.store.read());
            known = undefined;
            if (pending && isApplied(snapshot, pending)) {
                await this.deliver(pending);
                return true;
            }
            pending = undefined;
            const plan = planRelease(snapshot, id, this.limit);
            if (plan.kind === "notHeld" || (grantId && snapshot.holders.get(id)?.grantId !== grantId)) return false;
            if (plan.kind === "decrement") return (await this.store.giveBack(id, this.limit, grantId)) || undefined;
            const waiter = await this.headWaiter(plan.to);
            if (!waiter) return undefined;
            pending = { waiter, grantId: randomUUID(), via: "hand-off" };
            if (!(await this.store.handOff(id, waiter.id, this.holder(waiter.executionArn, pending.grantId), this.limit, grantId))) return undefined;
            await this.deliver(pending);
            return true;
        });
    }

    /**
     * Wakes the waiter of a grant just written. A dead token undoes the grant only when the execution is no
     * longer running; a running one keeps it (its release takes it back).
     */
    private async deliver({ waiter, grantId, via }: PendingGrant): Promise<void> {
        if (await this.sendSuccess(waiter.token)) {
            await this.store.markDelivered(waiter.id, waiter.token);
            this.log.info("semaphore granted", { executionArn: waiter.executionArn, via });
            this.metrics.add(MetricName.SemaphoreGrants, "Count", 1);
            this.metrics.add(MetricName.SemaphoreWaitTime, "Milliseconds", Math.max(0, this.now() - waiter.enqueuedAt));
            return;
        }
        await this.settleDeadDelivery(waiter, grantId);
    }

    /**
     * A delivery answered "dead token": an ended execution's grant is undone (the permit goes on); a running
     * execution's is marked delivered and left to its own release, since an earlier SendTaskSuccess whose
     * response was lost may have woken it.
     */
    private async settleDeadDelivery(waiter: Waiter, grantId: string): Promise<"undone" | "kept"> {
        if (await this.isRunning(waiter.executionArn)) {
            this.log.warn("semaphore grant unconfirmed", { executionArn: waiter.executionArn, reason: "dead token, execution running: its release frees the permit" });
            await this.store.markDelivered(waiter.id, waiter.token);
            return "kept";
        }
        this.log.info("semaphore waiter dropped", { executionArn: waiter.executionArn, reason: "dead token, execution ended" });
        this.metrics.add(MetricName.SemaphoreDeadWaiters, "Count", 1);
        await this.releasePermit(waiter.id, grantId);
        await this.store.deleteWaiter(waiter.id, waiter.token);
        return "undone";
    }

    /** Sends the grant of holder `waiter` again to its recorded token, under a new grant id. */
    private async redeliver(waiter: Waiter): Promise<"woken" | "dead" | "notHeld"> {
        const grantId = randomUUID();
        if (!(await this.store.rebind(waiter.id, grantId))) return "notHeld";
        if (!(await this.sendSuccess(waiter.token))) return "dead";
        await this.store.markDelivered(waiter.id, waiter.token);
        return "woken";
    }

    /** The sweeper's repair of a grant written but never delivered: deliver it now, or reclaim it. */
    private async repairUndelivered(waiter: Waiter, report: SweepReport): Promise<void> {
        const grantId = randomUUID();
        if (!(await this.store.rebind(waiter.id, grantId))) return;
        if (await this.sendSuccess(waiter.token)) {
            await this.store.markDelivered(waiter.id, waiter.token);
            this.log.warn("semaphore grant redelivered", { executionArn: waiter.executionArn });
            this.metrics.add(MetricName.SemaphoreRedeliveries, "Count", 1);
            report.redelivered++;
        } else if ((await this.settleDeadDelivery(waiter, grantId)) === "undone") {
            this.metrics.add(MetricName.SemaphoreReclaims, "Count", 1);
            report.reclaimed++;
        }
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
            if ((await this.releaseExecution(holder.executionArn)).released) {
                this.metrics.add(MetricName.SemaphoreReclaims, "Count", 1);
                reclaimed++;
            }
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
        throw new SemaphoreUnavailableError(`Semaphore "${this.options.name}": ${operation} lost ${MAX_ATTEMPTS} conditional writes in a row; try again.`);
    }

    /**
     * Runs a public operation: its metrics are flushed whatever happens, a {@link SemaphoreError} passes
     * through, and any other error (DynamoDB or Step Functions after the SDK's retries) becomes a
     * {@link SemaphoreUnavailableError} naming the operation and the cause, with every token redacted.
     */
    private async guard<T>(operation: string, tokens: string[], run: () => Promise<T>): Promise<T> {
        try {
            return await run();
        } catch (error) {
            if (error instanceof SemaphoreError) throw error;
            const cause = scrubTokens(`${errorName(error) || "Error"}: ${(error as Error)?.message ?? String(error)}`, tokens);
            this.log.error("semaphore operation failed", { operation, cause });
            throw new SemaphoreUnavailableError(`Semaphore "${this.options.name}": ${operation} failed (${cause}); the store is consistent, try again.`);
        } finally {
            this.metrics.flush();
        }
    }
}

/** Whether `pending`'s grant is on the item: its write was applied although it was reported as failed. */
function isApplied(snapshot: SemaphoreSnapshot, pending: PendingGrant): boolean {
    return snapshot.holders.get(pending.waiter.id)?.grantId === pending.grantId;
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
        const received = `token ${redactToken(token)}, executionArn ${JSON.stringify(executionArn)}`;
        throw new SemaphoreRequestError(`Semaphore acquire needs { token, executionArn } (${payload}); received ${received}.`);
    }
    return { token, executionArn };
}

function errorName(error: unknown): string {
    return String((error as { name?: unknown } | null)?.name ?? "");
}

function positiveInteger(name: string, value: number): number {
    if (!Number.isInteger(value) || value < 1) throw new ConfigurationError(`Semaphore ${name} must be a positive integer; received ${value}.`);
    return value;
}

function nonEmpty(name: string, value: string): void {
    if (typeof value !== "string" || value === "") throw new ConfigurationError(`Semaphore ${name} must be a non-empty string; received ${JSON.stringify(value)}.`);
}
