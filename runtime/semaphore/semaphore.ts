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
import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeExecutionCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { ConfigurationError } from "../../contracts/errors";
import { createLogger, Logger } from "../log";
import { MetricName, Metrics } from "../metrics";
import { redactToken, scrubTokens, SemaphoreError, SemaphoreRequestError, SemaphoreTokenMismatchError, SemaphoreUnavailableError } from "./errors";
import { MAX_SEMAPHORE_LIMIT } from "../../contracts/semaphore";
import { HINT_GROUP_SIZE, hintGroupCount, Holder, planRelease, roomChanged, roomyShards, shardCapacity, shardCount } from "./plan";
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
     * Random numbers in [0, 1): where a free grant starts looking (the hint group, then the shard in it), so that
     * concurrent acquires spread over the shards. A seeded one makes the placement reproducible (benchmarks, tests).
     * @default Math.random
     * @example seededRandom(42)
     */
    random?: () => number;
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
 * execution holds a permit already; its recorded token is woken again), `queued` (woken later by a
 * release or the sweeper) or `abandoned` (a free permit was taken, but SendTaskSuccess answered "dead token"
 * and the execution is no longer running — the task timed out or the execution stopped before the acquire
 * ran: the grant was undone and the permit went on to the next waiter or back to the pool).
 */
export type AcquireOutcome = "granted" | "alreadyHeld" | "queued" | "abandoned";

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
    /** Waiters granted a free permit and woken (a grant undone for a dead token is not counted; the permit it passed on is a hand-off). */
    woken: number;
}

/** A grant this process wrote: whom to, on which shard, under which id, and how (for the log). */
interface PendingGrant {
    waiter: Waiter;
    shard: number;
    grantId: string;
    via: string;
}

/**
 * Outcome of granting a permit: granted and delivered (or kept for a running execution whose token was already
 * used), no room, the execution was granted elsewhere or is gone (the grant undone), or delivered to a dead
 * token of an execution no longer running (the grant undone and the permit passed on).
 */
type GrantOutcome = "granted" | "full" | "elsewhere" | "missing" | "undone";

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
    private readonly random: () => number;
    private readonly log: Logger;
    private readonly metrics: Metrics;
    private layoutNoted: Promise<void> | undefined;

    /** @param options see {@link SemaphoreOptions} */
    constructor(private readonly options: SemaphoreOptions) {
        this.limit = positiveInteger("limit", options.limit);
        if (this.limit > MAX_SEMAPHORE_LIMIT) throw new ConfigurationError(`Semaphore limit must be at most ${MAX_SEMAPHORE_LIMIT}; received ${options.limit}.`);
        this.leaseMs = positiveInteger("leaseSeconds", options.leaseSeconds ?? 900) * 1000;
        nonEmpty("tableName", options.tableName);
        nonEmpty("name", options.name);
        this.store = new SemaphoreStore(options.dynamo ?? new DynamoDBClient({}), options.tableName, options.name);
        this.sfn = options.sfn ?? new SFNClient({});
        this.now = options.now ?? Date.now;
        this.random = options.random ?? Math.random;
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
            await this.noteLayout();
            const id = digest(executionArn);
            const recorded = { id, executionArn, token, enqueuedAt: this.now() };
            const waiter = (await this.store.recordWaiter(recorded)) ?? (await this.adoptToken(recorded));
            if (waiter.shard !== undefined) {
                if (!(await this.holds(waiter))) throw this.recordChanged(executionArn);
                await this.redeliver(waiter);
                return "alreadyHeld";
            }
            if (waiter.ticket === undefined && !(await this.store.head())) {
                const outcome = await this.grantFree(waiter, "free permit");
                if (outcome === "granted") return "granted";
                if (outcome === "undone") return "abandoned";
                if (outcome !== "full") {
                    await this.wake();
                    if (outcome === "missing") throw this.recordChanged(executionArn);
                    return "alreadyHeld";
                }
            }
            await this.enqueue(waiter);
            await this.wake();
            return "queued";
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
            await this.noteLayout();
            const report: SweepReport = { reclaimed: 0, dropped: 0, heartbeats: 0, requeued: 0, redelivered: 0, woken: 0 };
            await this.sweepShards(report);
            const queued = await this.sweepQueue(report);
            await this.sweepExecutions(queued, report);
            report.woken = await this.wake();
            await this.warnOfLegacyLayout();
            const after = await this.store.read();
            this.metrics.add(MetricName.SemaphorePermitsInUse, "Count", after.inUse);
            this.metrics.add(MetricName.SemaphoreWaiters, "Count", after.queue.length);
            return report;
        });
    }

    /** Records, once per instance, how many shards this limit uses (the sweeper reads every shard ever used). */
    private noteLayout(): Promise<void> {
        this.layoutNoted ??= this.store.noteShards(shardCount(this.limit)).catch((error) => {
            this.layoutNoted = undefined;
            throw error;
        });
        return this.layoutNoted;
    }

    /** Gives the waiter a ticket (unless it has one) and its place in the queue. */
    private async enqueue(waiter: Waiter): Promise<void> {
        const ticket = waiter.ticket ?? (await this.store.takeTicket(waiter.id, waiter.token, await this.store.nextTicket()));
        if (ticket === undefined) throw this.recordChanged(waiter.executionArn);
        await this.store.putPlace({ ticket, id: waiter.id });
        if (waiter.ticket === undefined) this.log.info("semaphore queued", { executionArn: waiter.executionArn });
    }

    /** {@link release} once its argument is checked. */
    private async releaseExecution(executionArn: string): Promise<ReleaseOutcome> {
        const id = digest(executionArn);
        const waiter = await this.store.getWaiter(id);
        const released = waiter?.shard !== undefined && (await this.releasePermit(waiter.shard, id));
        const droppedWaiter = waiter?.shard === undefined && waiter?.ticket !== undefined;
        if (droppedWaiter) await this.store.removePlace(waiter.ticket!);
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
    private async adoptToken(request: Pick<Waiter, "id" | "executionArn" | "token">): Promise<Waiter> {
        const recorded = await this.store.getWaiter(request.id);
        if (!recorded) throw this.recordChanged(request.executionArn);
        const holding = recorded.shard !== undefined && (await this.holds(recorded));
        if (holding && !recorded.delivered) await this.redeliver(recorded);
        const replaceable = recorded.shard === undefined && !recorded.delivered && !(await this.heartbeat(recorded.token));
        if (replaceable && (await this.store.replaceToken(request.id, recorded.token, request.token))) {
            this.log.info("semaphore waiter token replaced", { executionArn: request.executionArn, reason: "recorded token dead" });
            return { ...recorded, token: request.token };
        }
        throw new SemaphoreTokenMismatchError(
            `Semaphore "${this.options.name}": execution ${request.executionArn} is already ${holding ? "holding a permit" : "queued"} under task token ` +
                `${redactToken(recorded.token)}; the acquire with task token ${redactToken(request.token)} is refused and nothing is woken for it.`,
        );
    }

    /**
     * Grants free permits to the queue's head, in ticket order, until none is free or the queue is empty;
     * returns how many were granted.
     */
    private async wake(): Promise<number> {
        let woken = 0;
        let lost = 0;
        for (;;) {
            const waiter = await this.nextWaiter();
            if (!waiter) return woken;
            const outcome = await this.grantFree(waiter, "free permit to waiter");
            if (outcome === "full") return woken;
            if (outcome === "granted") woken++;
            // (An undone delivery dropped its waiter, so the queue moved on: no lost race.)
            else if (outcome !== "undone" && ++lost >= MAX_ATTEMPTS) throw this.contended("wake");
        }
    }

    /** The oldest queued execution not granted yet; places of granted or vanished executions are removed on the way. */
    private async nextWaiter(): Promise<Waiter | undefined> {
        for (;;) {
            const place = await this.store.head();
            if (!place) return undefined;
            const waiter = await this.store.getWaiter(place.id);
            if (waiter && waiter.ticket === place.ticket && waiter.shard === undefined) return waiter;
            await this.store.removePlace(place.ticket);
        }
    }

    /**
     * Takes a free permit for `waiter` on a shard the room hints say has one, records it and delivers it.
     * Hints are only a guide: a shard found full has its hint corrected and the next one is tried.
     */
    private async grantFree(waiter: Waiter, via: string): Promise<GrantOutcome> {
        const groups = hintGroupCount(this.limit);
        const start = Math.floor(this.random() * groups);
        for (let i = 0; i < groups; i++) {
            const group = (start + i) % groups;
            for (const shard of roomyShards(group, await this.store.readHints(group), this.limit, this.random)) {
                const grantId = await this.takePermit(shard, waiter);
                if (grantId !== undefined) return this.completeGrant({ waiter, shard, grantId, via });
            }
        }
        return "full";
    }

    /**
     * Takes a permit of `shard` for `waiter`: the grant's id, or undefined when the shard is full. A grant for
     * `waiter` found there already (this write applied with its response lost, or a writer that died before
     * recording it) is adopted.
     */
    private async takePermit(shard: number, waiter: Waiter): Promise<string | undefined> {
        const capacity = shardCapacity(shard, this.limit);
        const grantId = newGrantId();
        const after = await this.store.grantIn(shard, waiter.id, this.holder(waiter.executionArn, grantId), capacity);
        if (after) {
            if (roomChanged(after.count - 1, after.count, capacity)) await this.store.writeHint(shard, after);
            return grantId;
        }
        const state = await this.store.readShard(shard);
        const existing = state.holders.get(waiter.id);
        if (existing) return existing.grantId;
        await this.store.writeHint(shard, state);
        return undefined;
    }

    /**
     * Records a grant just written on its shard (the first record wins: a grant on another shard is undone)
     * and delivers it.
     */
    private async completeGrant(pending: PendingGrant): Promise<GrantOutcome> {
        const { waiter, shard, grantId } = pending;
        const record = await this.store.recordGrant(waiter.id, shard);
        if (record !== "recorded") {
            await this.undoGrant(shard, waiter.id, grantId);
            return record;
        }
        if (waiter.ticket !== undefined) await this.store.removePlace(waiter.ticket);
        return (await this.deliver(pending)) === "undone" ? "undone" : "granted";
    }

    /** Gives back a grant that must not count (a duplicate, or its execution is gone); the caller wakes the queue. */
    private async undoGrant(shard: number, id: string, grantId: string): Promise<void> {
        const after = await this.store.giveBack(shard, id, grantId);
        if (!after) await this.store.writeHint(shard, await this.store.readShard(shard)); // applied with its response lost, or done by another
        else if (roomChanged(after.count + 1, after.count, shardCapacity(shard, this.limit))) await this.store.writeHint(shard, after);
    }

    /**
     * Releases `id`'s permit on `shard`: hands it to the oldest waiter, or gives it back and wakes the queue.
     * With `grantId`, only while the grant still has that id (undoing a dead delivery). A hand-off whose
     * write was applied but reported as failed (its response lost, the SDK's retry refused) is recognised on
     * the next read by its grant id. True when the permit left `id`.
     */
    private async releasePermit(shard: number, id: string, grantId?: string): Promise<boolean> {
        const capacity = shardCapacity(shard, this.limit);
        let pending: PendingGrant | undefined;
        let tried = false;
        const outcome = await this.settle("release", async () => {
            const state = await this.store.readShard(shard);
            if (pending && state.holders.get(pending.waiter.id)?.grantId === pending.grantId) return "handedOff" as const;
            pending = undefined;
            const held = state.holders.get(id);
            if (!held || (grantId !== undefined && held.grantId !== grantId)) {
                if (!tried) return "notHeld" as const;
                // Our give-back was applied with its response lost: its hint was not written.
                await this.store.writeHint(shard, state);
                return "freed" as const;
            }
            const next = state.count > capacity ? undefined : await this.nextWaiter();
            const unrecorded = next && state.holders.get(next.id);
            if (unrecorded) {
                // The head already has a grant on this shard that its writer died before recording: finish it, plan again.
                await this.completeGrant({ waiter: next, shard, grantId: unrecorded.grantId, via: "repair" });
                return undefined;
            }
            const plan = planRelease(state, id, capacity, next?.id);
            tried = true;
            if (plan.kind === "giveBack") {
                const after = await this.store.giveBack(shard, id, grantId);
                if (after && roomChanged(after.count + 1, after.count, capacity)) await this.store.writeHint(shard, after);
                return after ? ("freed" as const) : undefined;
            }
            pending = { waiter: next!, shard, grantId: newGrantId(), via: "hand-off" };
            const after = await this.store.handOff(shard, id, next!.id, this.holder(next!.executionArn, pending.grantId), capacity, grantId);
            return after ? ("handedOff" as const) : undefined;
        });
        if (outcome === "notHeld") return false;
        // (An undone delivery has passed the permit on already.)
        const granted = outcome === "freed" ? undefined : await this.completeGrant(pending!);
        if (outcome === "freed" || (granted !== "granted" && granted !== "undone")) await this.wake();
        return true;
    }

    /**
     * Wakes the waiter of a grant just recorded. A dead token undoes the grant only when the execution is no
     * longer running ("undone"); a running one keeps it (its release takes it back).
     */
    private async deliver(pending: PendingGrant): Promise<"delivered" | "undone" | "kept"> {
        const { waiter, via } = pending;
        if (await this.sendSuccess(waiter.token)) {
            await this.store.markDelivered(waiter.id, waiter.token);
            this.log.info("semaphore granted", { executionArn: waiter.executionArn, via });
            this.metrics.add(MetricName.SemaphoreGrants, "Count", 1);
            this.metrics.add(MetricName.SemaphoreWaitTime, "Milliseconds", Math.max(0, this.now() - waiter.enqueuedAt));
            return "delivered";
        }
        return this.settleDeadDelivery(pending);
    }

    /**
     * A delivery answered "dead token": a running execution whose record still carries the token keeps the
     * grant, marked delivered and left to its own release, since an earlier SendTaskSuccess whose response
     * was lost may have woken it. Otherwise (the execution ended, or released meanwhile) the grant is undone
     * and the permit goes on.
     */
    private async settleDeadDelivery({ waiter, shard, grantId }: PendingGrant): Promise<"undone" | "kept"> {
        if ((await this.isRunning(waiter.executionArn)) && (await this.store.markDelivered(waiter.id, waiter.token))) {
            this.log.warn("semaphore grant unconfirmed", { executionArn: waiter.executionArn, reason: "dead token, execution running: its release frees the permit" });
            return "kept";
        }
        this.log.info("semaphore waiter dropped", { executionArn: waiter.executionArn, reason: "dead token, execution ended" });
        this.metrics.add(MetricName.SemaphoreDeadWaiters, "Count", 1);
        await this.releasePermit(shard, waiter.id, grantId);
        await this.store.deleteWaiter(waiter.id, waiter.token);
        return "undone";
    }

    /** Sends the grant of holder `waiter` again to its recorded token, under a new grant id. */
    private async redeliver(waiter: Waiter): Promise<"woken" | "dead" | "notHeld"> {
        if (!(await this.store.rebind(waiter.shard!, waiter.id, newGrantId()))) return "notHeld";
        if (!(await this.sendSuccess(waiter.token))) return "dead";
        await this.store.markDelivered(waiter.id, waiter.token);
        return "woken";
    }

    // Sweeper ----------------------------------------------------------------------------------------------

    /** Every shard ever used: hints refreshed, and each holder checked (see {@link sweepHolder}). */
    private async sweepShards(report: SweepReport): Promise<void> {
        const shards = Math.max(shardCount(this.limit), await this.store.knownShards());
        const now = this.now();
        for (let group = 0; group * HINT_GROUP_SIZE < shards; group++) {
            const hints = await this.store.readHints(group);
            for (let shard = group * HINT_GROUP_SIZE; shard < Math.min(shards, (group + 1) * HINT_GROUP_SIZE); shard++) {
                const state = await this.store.readShard(shard);
                const hint = hints.get(shard);
                if (hint?.version !== state.version && state.version > 0) await this.store.writeHint(shard, state);
                for (const [id, holder] of state.holders) await this.sweepHolder(shard, id, holder, now, report);
            }
        }
    }

    /**
     * One holder: an undelivered grant is delivered (or reclaimed if its execution ended); an expired lease
     * of an execution no longer running is reclaimed; a duplicate of a grant recorded on another shard is
     * undone; a grant never recorded (its writer died in between) is completed for a waiting execution, or
     * reclaimed like an expired lease when the execution is gone.
     */
    private async sweepHolder(shard: number, id: string, holder: Holder, now: number, report: SweepReport): Promise<void> {
        const waiter = await this.store.getWaiter(id);
        const expiredAndEnded = async () => holder.leaseUntil <= now && !(await this.isRunning(holder.executionArn));
        if (waiter?.shard === shard) {
            if (!waiter.delivered) return this.repairUndelivered(waiter, report);
            if (!(await expiredAndEnded())) return;
            this.log.warn("semaphore permit reclaimed", { executionArn: holder.executionArn, leaseUntil: holder.leaseUntil });
            if ((await this.releaseExecution(holder.executionArn)).released) this.countReclaim(report);
        } else if (waiter?.shard !== undefined) {
            this.log.warn("semaphore duplicate grant undone", { executionArn: holder.executionArn });
            await this.undoGrant(shard, id, holder.grantId);
            this.countReclaim(report);
        } else if (waiter) {
            await this.completeGrant({ waiter, shard, grantId: holder.grantId, via: "sweeper repair" });
        } else if (await expiredAndEnded()) {
            this.log.warn("semaphore permit reclaimed", { executionArn: holder.executionArn, leaseUntil: holder.leaseUntil, reason: "no execution record" });
            await this.undoGrant(shard, id, holder.grantId);
            this.countReclaim(report);
        }
    }

    /** The queue: places of granted or vanished executions removed, live waiters heartbeated, dead ones dropped; the ids still queued. */
    private async sweepQueue(report: SweepReport): Promise<Set<string>> {
        const queued = new Set<string>();
        for (const place of await this.store.queue()) {
            const waiter = await this.store.getWaiter(place.id);
            if (!waiter || waiter.ticket !== place.ticket || waiter.shard !== undefined) {
                await this.store.removePlace(place.ticket);
            } else if (await this.heartbeat(waiter.token)) {
                report.heartbeats++;
                queued.add(waiter.id);
            } else {
                this.dropDead(waiter, report);
                await this.store.removePlace(place.ticket);
                await this.store.deleteWaiter(waiter.id, waiter.token);
            }
        }
        return queued;
    }

    /**
     * Execution items neither holding nor queued: a released execution's record left by a release that died
     * is deleted; a live waiter whose acquire died between recording it and queueing it is queued again.
     */
    private async sweepExecutions(queued: Set<string>, report: SweepReport): Promise<void> {
        for (const waiter of await this.store.listWaiters()) {
            if (waiter.shard !== undefined) {
                if (!(await this.holds(waiter))) await this.store.deleteWaiter(waiter.id, waiter.token);
            } else if (!queued.has(waiter.id)) {
                if (!(await this.heartbeat(waiter.token))) {
                    this.dropDead(waiter, report);
                    await this.store.deleteWaiter(waiter.id, waiter.token);
                } else {
                    await this.enqueue(waiter);
                    report.requeued++;
                }
            }
        }
    }

    /** The sweeper's repair of a grant recorded but never delivered: deliver it now, or reclaim it. */
    private async repairUndelivered(waiter: Waiter, report: SweepReport): Promise<void> {
        const grantId = newGrantId();
        if (!(await this.store.rebind(waiter.shard!, waiter.id, grantId))) return;
        if (await this.sendSuccess(waiter.token)) {
            await this.store.markDelivered(waiter.id, waiter.token);
            this.log.warn("semaphore grant redelivered", { executionArn: waiter.executionArn });
            this.metrics.add(MetricName.SemaphoreRedeliveries, "Count", 1);
            report.redelivered++;
        } else if ((await this.settleDeadDelivery({ waiter, shard: waiter.shard!, grantId, via: "redelivery" })) === "undone") {
            this.countReclaim(report);
        }
    }

    /** Warns while permits or waiters are still recorded in the layout before issue 13 (README: migrating). */
    private async warnOfLegacyLayout(): Promise<void> {
        const legacy = await this.store.legacyInUse();
        if (legacy.inUse > 0 || legacy.waiters > 0) {
            this.log.warn("semaphore legacy layout in use", { ...legacy, action: "these permits are not counted: drain the old deployment or move to a new semaphore name" });
        }
    }

    private dropDead(waiter: Waiter, report: SweepReport): void {
        this.log.info("semaphore waiter dropped", { executionArn: waiter.executionArn, reason: "dead token" });
        this.metrics.add(MetricName.SemaphoreDeadWaiters, "Count", 1);
        report.dropped++;
    }

    private countReclaim(report: SweepReport): void {
        this.metrics.add(MetricName.SemaphoreReclaims, "Count", 1);
        report.reclaimed++;
    }

    // Plumbing -----------------------------------------------------------------------------------------------

    /** Whether the execution's recorded shard holds its permit. */
    private async holds(waiter: Waiter): Promise<boolean> {
        return waiter.shard !== undefined && (await this.store.readShard(waiter.shard)).holders.has(waiter.id);
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
        throw this.contended(operation);
    }

    private contended(operation: string): SemaphoreUnavailableError {
        return new SemaphoreUnavailableError(`Semaphore "${this.options.name}": ${operation} lost ${MAX_ATTEMPTS} conditional writes in a row; try again.`);
    }

    private recordChanged(executionArn: string): SemaphoreUnavailableError {
        return new SemaphoreUnavailableError(`Semaphore "${this.options.name}": the record of ${executionArn} changed during acquire (a release or the sweeper ran meanwhile); try again.`);
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

/** A short random id for one delivery of a grant. */
function newGrantId(): string {
    return randomBytes(9).toString("base64url");
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
