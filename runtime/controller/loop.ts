/**
 * One control interval, as both drivers run it:
 *
 * claim the interval's lease (losers stop there) → read the previous interval's statistics (DynamoDB),
 * the CloudWatch signals and the target's current setting → decide → store the decision while still
 * holding the lease (fence before acting; a caller that lost the lease by then changes nothing) → apply a
 * changed limit (unless dry run) → re-read the lease (fence after acting): when a later interval's
 * leader took over while this apply was in flight, apply that leader's stored decision again, so the
 * setting in effect is always the current leader's → one structured log line and EMF metrics.
 *
 * Why this is enough: a leader stores its decision before it applies, so when a superseded apply lands
 * late, either the new leader's decision is already stored (the late one restores it) or the new leader
 * has not started applying yet (its apply lands after the late one).
 *
 * Missing statistics or metrics hold (the log line lists what was missing); an API failure is rethrown
 * after the actuator's retries, and the interval stays claimed, so a target never changes twice in one
 * interval. The driver reports a failed interval once ({@link reportFailure}: one ERROR line and the
 * `ControllerFailures` metric), whichever step threw.
 */
import { randomUUID } from "node:crypto";
import { LineWriter, Logger } from "../log";
import { ENV, optionalString } from "../../contracts/environment";
import { Metrics, workerName } from "../metrics";
import { ApplyResult, ConcurrencyActuatorPort } from "./actuator";
import { ControllerPauseStore, holdWhilePaused, PausedInterval } from "./pause";
import { MetricSignals, MetricSource } from "./cloudwatch";
import { ConcurrencyDecision, ControllerParams, ControlSignals, decideConcurrency, DecisionReason } from "./decision";
import { CONTROLLER_METRICS } from "./metrics";
import { histogramPercentile, StatisticsBuffer, WindowStats } from "./statistics";
import { ControllerStorePort, ControlRecord, IntervalClaim } from "./store";
import { ControlledTarget } from "./targets";

/** The decision function a loop calls; `decideConcurrency` unless injected. */
export type DecideConcurrency = typeof decideConcurrency;

/** What one run of the loop did. */
export type ControlOutcome =
    | { status: "not-leader"; interval: number }
    /** An operator paused the target: the interval was held (a moved pinned limit set back), nothing decided. */
    | ({ status: "paused"; interval: number } & PausedInterval)
    /** The lease passed to interval `by` before this caller stored its decision: nothing was changed. */
    | { status: "superseded"; interval: number; by: number }
    | {
          status: "decided";
          interval: number;
          previousLimit: number;
          decision: ConcurrencyDecision;
          applied?: ApplyResult;
          dryRun: boolean;
          /** Set when a later leader took over while the change was applied; `restored` is the limit put back. */
          superseded?: { by: number; restored?: number };
      }
    /**
     * Only from a controller group (`runControlIntervals`): this target's interval failed — its claim, pause
     * read, statistics, metrics, setting read or change threw `error` — while the group's other targets ran.
     * The one-target drivers reject instead.
     */
    | { status: "failed"; interval: number; error: unknown };

/** The parts of the configuration one interval reads (see `ControlLoopConfig`). */
export interface IntervalConfig {
    target: ControlledTarget;
    params: ControllerParams;
    metrics: MetricSource;
    latencyPercentile?: number;
    executionsPerUnit?: number;
    downstream?: string;
    dryRun?: boolean;
}

/** A control loop's resolved dependencies and timing. */
export interface Loop {
    store: ControllerStorePort;
    /** The target's operator pause (read by the lease winner before it decides). */
    pauses: ControllerPauseStore;
    actuator: ConcurrencyActuatorPort;
    decide: DecideConcurrency;
    clock: () => number;
    sleep: (ms: number) => Promise<void>;
    random: () => number;
    /** This decider's name; each claim adds a random suffix, so a retried invocation never claims twice. */
    owner: string;
    /** This execution environment's statistics item. */
    environmentId: string;
    buffer: StatisticsBuffer;
    log: Logger;
    write?: LineWriter;
    intervalMs: number;
    metricsDelayMs: number;
    /** Decisions wait this long after an interval ends, so environments have flushed its statistics. */
    settleMs: number;
    /** Claims and scheduled decisions spread over this window after the settle time. */
    spreadMs: number;
    /** The target's key. */
    key: string;
}

/** How a loop gets the CloudWatch signals of a window (one call, or its share of a batched call). */
export type MetricReader = (window: { start: Date; end: Date }) => Promise<MetricSignals>;

/** Rounds of "a later leader took over, restore its decision" before the loop stops chasing. */
const MAX_RESTORE_ROUNDS = 3;

/**
 * The interval `now` falls in.
 * @param loop the loop (its interval length)
 * @example currentInterval(loop) // 28_333_333
 */
export function currentInterval(loop: Loop): number {
    return Math.floor(loop.clock() / loop.intervalMs);
}

/**
 * Claims the current interval with a fresh owner token; `undefined` when another caller has it.
 * @param loop the loop
 */
export async function claimCurrent(loop: Loop): Promise<{ claim: IntervalClaim; token: string } | { interval: number; claim: undefined }> {
    const interval = currentInterval(loop);
    const token = `${loop.owner}#${randomUUID()}`;
    const claim = await loop.store.claimInterval(interval, token, loop.clock());
    return claim ? { claim, token } : { interval, claim: undefined };
}

/**
 * Runs the rest of an interval after winning its claim; see the module comment.
 * @param loop the loop
 * @param config target, bounds and metrics
 * @param won the claim and its owner token
 * @param readMetrics how the CloudWatch signals are read
 */
export async function decideAndApply(loop: Loop, config: IntervalConfig, won: { claim: IntervalClaim; token: string }, readMetrics: MetricReader): Promise<ControlOutcome> {
    const { claim, token } = won;
    const interval = claim.interval;
    const [stats, metrics, setting] = await Promise.all([
        loop.store.readWindow(interval - 1),
        readMetrics(metricsWindow(loop, interval)),
        loop.actuator.read(config.target),
    ]);
    const previousLimit = setting ?? claim.previous?.limit ?? config.params.max;
    const signals = controlSignals(stats, metrics, config);
    // The previous decision's learned state (baseline, a change awaiting its effect, the knee, the limit the downstream served) carries over;
    // the limit is the setting in force.
    const previous = claim.previous;
    const state = { limit: previousLimit, baselineLatencyMs: previous?.baselineLatencyMs, pendingChange: previous?.pendingChange, knee: previous?.knee, servedLimit: previous?.servedLimit };
    const decided = loop.decide(config.params, state, signals);
    if (!(await loop.store.saveDecision(interval, token, decided))) {
        const by = (await loop.store.readControl(true)).interval;
        loop.log.warn("control interval superseded before applying; nothing changed", { interval, by, limit: decided.limit });
        return { status: "superseded", interval, by };
    }
    const applied = await applyDecision(loop, config, previousLimit, decided, setting);
    const decision = applied?.limitedBy ? { ...decided, limit: applied.applied ?? previousLimit } : decided;
    if (decision !== decided) await loop.store.saveDecision(interval, token, decision);
    const superseded = applied?.changed ? await fenceAfterApply(loop, config, interval, token, decision.limit) : undefined;
    report(loop, config, { interval, previousLimit, decision, signals, missing: missingSignals(stats, metrics), applied, superseded });
    return { status: "decided", interval, previousLimit, decision, applied, dryRun: config.dryRun ?? false, superseded };
}

/**
 * After a change landed: if a later leader holds the lease, put its stored decision back in effect. A
 * failed restore rejects as it is, noted with the restore as its change (reason `superseded`).
 * @param changedTo the limit this caller's change put in force
 * @returns undefined when this caller still leads
 */
async function fenceAfterApply(loop: Loop, config: IntervalConfig, interval: number, token: string, changedTo: number): Promise<{ by: number; restored?: number } | undefined> {
    let control = await loop.store.readControl(true);
    if (control.interval === interval && control.owner === token) return undefined;
    const by = control.interval;
    let restored: number | undefined;
    let inForce = changedTo;
    for (let round = 0; round < MAX_RESTORE_ROUNDS; round++) {
        const leader = leaderDecision(control);
        if (!leader) break;
        const result = await attempting({ from: inForce, to: leader.limit, reason: "superseded" }, () => loop.actuator.apply(config.target, leader.limit));
        restored = leader.limit;
        inForce = result.applied ?? leader.limit;
        const after = await loop.store.readControl(true);
        if (after.interval === control.interval && after.owner === control.owner && leaderDecision(after)?.limit === leader.limit) break;
        control = after;
    }
    loop.log.warn("a later leader took over while this change was applied; its decision is in effect", { interval, by, restored });
    const metrics = new Metrics({ write: loop.write });
    metrics.add(CONTROLLER_METRICS.ControllerSuperseded, "Count", 1);
    metrics.flush();
    return { by, restored };
}

/** The current leader's decision, if it has stored one for its own interval yet. */
function leaderDecision(control: ControlRecord): ConcurrencyDecision | undefined {
    return control.decidedInterval === control.interval ? control.decision : undefined;
}

/** The CloudWatch window of the interval before `interval`, shifted back by the metrics delay. */
function metricsWindow(loop: Loop, interval: number): { start: Date; end: Date } {
    const end = interval * loop.intervalMs - loop.metricsDelayMs;
    return { start: new Date(end - loop.intervalMs), end: new Date(end) };
}

function controlSignals(stats: WindowStats, metrics: MetricSignals, config: IntervalConfig): ControlSignals {
    return {
        latencyMs: histogramPercentile(stats.buckets, config.latencyPercentile ?? 0.9),
        errorRate: stats.calls > 0 ? stats.errors / stats.calls : 0,
        samples: stats.calls,
        throttles: metrics.throttles,
        inUse: (metrics.inUse ?? 0) / (config.executionsPerUnit ?? 1),
        backlogAgeMs: metrics.backlogAgeMs ?? 0,
        backlogGrowing: metrics.backlogGrowing,
    };
}

function missingSignals(stats: WindowStats, metrics: MetricSignals): string[] {
    const missing: [boolean, string][] = [
        [stats.calls === 0, "downstream statistics"],
        [metrics.inUse === undefined, "ConcurrentExecutions"],
    ];
    return missing.filter(([absent]) => absent).map(([, name]) => name);
}

/** The change a failed apply attempted: the setting before, the decided limit and its reason. */
interface AttemptedChange {
    /**
     * The limit in force before it: the setting, or without one the last decision's limit (else the maximum);
     * for a restore, the limit this caller's change (or its previous restore) put in force.
     */
    from: number;
    /** The limit the decision set; for a restore, the later leader's stored limit. */
    to: number;
    /** The decision's reason; `superseded` for a restore of a later leader's decision ({@link fenceAfterApply}). */
    reason: DecisionReason | "superseded";
}

/** The change each failed apply attempted, by the error it threw (for {@link reportFailure}'s ERROR line). */
const attemptedChanges = new WeakMap<object, AttemptedChange>();

/**
 * Applies a changed limit (unless dry run); a failure rejects as it is, for the driver to report once, with the
 * change it attempted noted for that report.
 */
async function applyDecision(loop: Loop, config: IntervalConfig, previousLimit: number, decision: ConcurrencyDecision, setting: number | undefined): Promise<ApplyResult | undefined> {
    if (config.dryRun || decision.limit === previousLimit) return undefined;
    return attempting({ from: previousLimit, to: decision.limit, reason: decision.reason }, () => loop.actuator.apply(config.target, decision.limit, { current: setting }));
}

/** Runs `apply`; a failure rejects as it is, with `change` noted for {@link reportFailure}'s ERROR line. */
async function attempting<T>(change: AttemptedChange, apply: () => Promise<T>): Promise<T> {
    try {
        return await apply();
    } catch (error) {
        if (typeof error === "object" && error !== null) attemptedChanges.set(error, change);
        throw error;
    }
}

/**
 * Reports a target's failed control interval, once, whichever step threw: one ERROR line `message` with
 * the target, its function (the target's key without one), the interval, the change when applying it, or
 * restoring a later leader's decision after it, failed (`change`: {@link AttemptedChange}) and the error, and the EMF metric
 * `ControllerFailures` (1, dimension `Worker` as for `ControllerDecisions`).
 * @param loop the target's loop (its logger, the `controller` field, and its writer)
 * @param config the target's configuration
 * @param interval the interval that failed
 * @param error what the step threw
 * @param message the log line's message, naming what happens next
 * @example reportFailure(loop, config, interval, error, "control interval failed; the next interval reads the setting again");
 */
export function reportFailure(loop: Loop, config: IntervalConfig, interval: number, error: unknown, message: string): void {
    const change = typeof error === "object" && error !== null ? attemptedChanges.get(error) : undefined;
    // (Read once: an error object thrown again later, before any change, must not carry this one.)
    if (change) attemptedChanges.delete(error as object);
    loop.log.error(message, { target: config.target, functionName: config.metrics.functionName ?? loop.key, interval, ...(change ? { change } : {}), error });
    const metrics = new Metrics({ worker: metricsWorker(config), write: loop.write });
    metrics.add(CONTROLLER_METRICS.ControllerFailures, "Count", 1);
    metrics.flush();
}

interface DecisionReport {
    interval: number;
    previousLimit: number;
    decision: ConcurrencyDecision;
    signals: ControlSignals;
    missing: string[];
    applied?: ApplyResult;
    superseded?: { by: number; restored?: number };
}

function report(loop: Loop, config: IntervalConfig, r: DecisionReport): void {
    loop.log.info("concurrency decision", {
        target: config.target,
        interval: r.interval,
        previousLimit: r.previousLimit,
        limit: r.decision.limit,
        reason: r.decision.reason,
        latencyTargetMs: r.decision.latencyTargetMs,
        signals: r.signals,
        missing: r.missing,
        changed: r.applied?.changed ?? false,
        limitedBy: r.applied?.limitedBy,
        supersededBy: r.superseded?.by,
        dryRun: config.dryRun ?? false,
    });
    // `WORKER_NAME` (set by the components) puts decisions on the worker's dashboard; else the function name.
    const metrics = new Metrics({ worker: metricsWorker(config), properties: { dryRun: config.dryRun ?? false }, write: loop.write });
    metrics.add(CONTROLLER_METRICS.ConcurrencyLimit, "Count", r.decision.limit);
    metrics.add(CONTROLLER_METRICS.ControllerDecisions, "Count", 1, { Reason: r.decision.reason });
    metrics.flush();
}

/**
 * Adds an invocation's calls to the environment's totals and writes them when due (see `statistics.ts`).
 * A failed write rejects and keeps the totals for the next one.
 * @param loop the loop
 * @param samples the calls to count
 */
export async function recordStatistics(loop: Loop, samples: readonly { latencyMs: number; ok: boolean }[]): Promise<void> {
    const now = loop.clock();
    const interval = Math.floor(now / loop.intervalMs);
    loop.buffer.add(interval, samples);
    if (!loop.buffer.due(interval, now)) return;
    for (const pending of loop.buffer.pending()) {
        await loop.store.writeStatistics(pending.interval, loop.environmentId, pending.stats, now);
        loop.buffer.written(pending.interval, interval, now);
    }
}

/**
 * Where in an interval a target's decisions start: after the settle time, at an offset in the first half
 * of the spread window that depends only on the target (so targets of an account do not all call the
 * control plane in the same second).
 * @param loop the loop (settle, spread and the target's key)
 */
export function targetOffsetMs(loop: Loop): number {
    let hash = 0;
    for (let i = 0; i < loop.key.length; i++) hash = (Math.imul(hash, 31) + loop.key.charCodeAt(i)) >>> 0;
    const half = Math.floor(loop.spreadMs / 2);
    return loop.settleMs + (half > 0 ? hash % half : 0);
}

/**
 * The lease winner's pause step: `undefined` when the target is not paused; otherwise the interval's
 * "paused" outcome (see `holdWhilePaused`: one log line, the `ControllerPaused` metric, a moved pin set back).
 * @example const held = await pausedOutcome(loop, config, won.claim.interval); if (held) return held;
 */
export async function pausedOutcome(loop: Loop, config: IntervalConfig, interval: number): Promise<ControlOutcome | undefined> {
    const held = await holdWhilePaused({ pauses: loop.pauses, actuator: loop.actuator, target: config.target, interval, worker: metricsWorker(config), log: loop.log, write: loop.write, dryRun: config.dryRun });
    return held && { status: "paused", interval, ...held };
}

/** The `Worker` dimension of a loop's metrics: `WORKER_NAME`, else the target's function name, else `workerName()`. */
function metricsWorker(config: IntervalConfig): string {
    return optionalString(process.env, ENV.workerName) ?? config.metrics.functionName ?? workerName();
}
