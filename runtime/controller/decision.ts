/**
 * The adaptive-concurrency decision: a pure function from the current limit and one control window of
 * signals to the next limit and the reason for it. Both drivers (the scheduled `ConcurrencyController`
 * and the self-tuning worker) and the simulator in `bench/` call it the same way: once per control
 * interval, passing the previous decision back as `current`.
 *
 * The algorithm is a drop-aware gradient (Netflix Gradient2/AIMD, Envoy's gradient controller):
 * - errors and timeouts over the threshold cut the limit multiplicatively (by the failing share, at least
 *   by `backoffRatio`, at most by half) — failures never count as fast, healthy samples;
 * - latency over the target scales the limit down by `target / latency`, clamped to [0.5, 1];
 * - growth is additive and needs demand (throttles, a growing or an old backlog) and real use of the
 *   current limit; its step follows the latency headroom under the target, at least 1, at most
 *   `maxIncreaseRatio` of the limit;
 * - hysteresis: between `target × (1 − hysteresis)` and the target (and likewise for the error rate) the
 *   limit holds, so it does not flap around the set point;
 * - a window with too few samples, or with unusable signals, holds;
 * - the result always lies in [min, max].
 *
 * Without a latency target the target is a learned baseline × `latencyTolerance`; the baseline is a
 * slowly decaying minimum of the windows' latencies, kept in the state.
 */

/** Why a decision changed or kept the limit. */
export const DECISION_REASONS = [
    /** The current limit was not an integer in [min, max] (e.g. the bounds changed); it moved to the nearest one. */
    "out-of-bounds",
    /** Fewer samples than `minSamples` in the window: not enough evidence, hold. */
    "too-few-samples",
    /** A signal was missing or not a finite number in range (e.g. no latency percentile): hold. */
    "missing-signals",
    /** Error rate over the threshold: multiplicative cut. */
    "errors",
    /** Latency over the target: cut by the clamped gradient. */
    "latency",
    /** Demand and real use of the limit, latency and errors under the hysteresis band: additive growth. */
    "demand",
    /** Latency or error rate inside the hysteresis band under the threshold: hold. */
    "hysteresis",
    /** No throttles and no growing or old backlog: hold. */
    "no-demand",
    /** Demand, but the peak concurrency in use stayed under `minUtilisation` of the limit: hold. */
    "underused",
    /** Growth was due but the limit is already at `max`. */
    "at-max",
    /** A cut was due but the limit is already at `min`. */
    "at-min",
] as const;

/** One of {@link DECISION_REASONS}. */
export type DecisionReason = (typeof DECISION_REASONS)[number];

/** Bounds and targets of the controlled limit, plus optional tuning (defaults in {@link DEFAULT_TUNING}). */
export interface ControllerParams {
    /**
     * Lowest limit ever returned; an integer ≥ 1.
     * @example 2
     */
    min: number;
    /**
     * Highest limit ever returned; an integer ≥ `min`.
     * @example 200
     */
    max: number;
    /**
     * Downstream latency (the percentile the signals carry) above which the limit is cut.
     * @default a learned baseline × `latencyTolerance`
     * @example 250
     */
    latencyTargetMs?: number;
    /**
     * Error rate (0–1) above which the limit is cut.
     * @default 0.05
     * @example 0.02
     */
    errorRateThreshold?: number;
    /**
     * Fewest samples (downstream calls) in a window for it to count.
     * @default 20
     * @example 50
     */
    minSamples?: number;
    /**
     * Without `latencyTargetMs`, the target is the learned baseline times this.
     * @default 1.25
     * @example 1.5
     */
    latencyTolerance?: number;
    /**
     * How fast the learned baseline follows latencies above it: the share of the gap closed per window
     * (0–1). Latencies below the baseline replace it at once.
     * @default 0.05
     * @example 0.1
     */
    baselineDecay?: number;
    /**
     * Width of the hold band under each threshold, as a share of the threshold (0–1): growth only when
     * latency ≤ target × (1 − hysteresis) and error rate ≤ threshold × (1 − hysteresis).
     * @default 0.05
     * @example 0.1
     */
    hysteresis?: number;
    /**
     * The mildest multiplicative cut on errors (0.5–1): the limit becomes
     * `limit × clamp(1 − errorRate, 0.5, backoffRatio)`.
     * @default 0.9
     * @example 0.8
     */
    backoffRatio?: number;
    /**
     * Size of a growth step relative to the latency headroom: step = limit × growthGain ×
     * (target × (1 − hysteresis) / latency − 1), at least 1.
     * @default 2
     * @example 1
     */
    growthGain?: number;
    /**
     * Largest growth step as a share of the limit (the step is at least 1 regardless).
     * @default 0.5
     * @example 0.25
     */
    maxIncreaseRatio?: number;
    /**
     * Growth needs the window's peak concurrency in use to reach this share of the limit (0–1).
     * @default 0.9
     * @example 0.8
     */
    minUtilisation?: number;
    /**
     * If set, a backlog older than this counts as demand even when it is not growing.
     * @default undefined (only throttles and a growing backlog count)
     * @example 60000
     */
    backlogAgeTargetMs?: number;
}

/** The tuning defaults of {@link ControllerParams}. */
export const DEFAULT_TUNING = {
    errorRateThreshold: 0.05,
    minSamples: 20,
    latencyTolerance: 1.25,
    baselineDecay: 0.05,
    hysteresis: 0.05,
    backoffRatio: 0.9,
    growthGain: 2,
    maxIncreaseRatio: 0.5,
    minUtilisation: 0.9,
} as const;

/** What the decision keeps between calls: pass the previous {@link ConcurrencyDecision} back as-is. */
export interface ControllerState {
    /**
     * The limit in effect during the window.
     * @example 40
     */
    limit: number;
    /**
     * Learned latency baseline (a slowly decaying minimum of window latencies); absent until the first
     * counted window.
     * @example 84.5
     */
    baselineLatencyMs?: number;
}

/** One control window's signals; a driver builds this from stats and CloudWatch. */
export interface ControlSignals {
    /**
     * Downstream latency percentile over the window, in milliseconds (e.g. p90 of `ctx.downstream` calls).
     * @example 120
     */
    latencyMs: number;
    /**
     * Share of downstream calls that failed or timed out in the window, 0–1.
     * @example 0.01
     */
    errorRate: number;
    /**
     * Number of downstream calls in the window.
     * @example 1800
     */
    samples: number;
    /**
     * Throttled invocations in the window (Lambda `Throttles`).
     * @example 0
     */
    throttles: number;
    /**
     * Peak concurrency in use during the window (Lambda `ConcurrentExecutions`, maximum).
     * @example 38
     */
    inUse: number;
    /**
     * Age of the oldest waiting event at the end of the window, in milliseconds (`AsyncEventAge`,
     * `IteratorAge` or `ApproximateAgeOfOldestMessage`); 0 when nothing waits.
     * @example 4000
     */
    backlogAgeMs: number;
    /**
     * Whether the backlog grew over the window.
     * @example true
     */
    backlogGrowing: boolean;
}

/** The next state and why; pass it as `current` to the next call. */
export interface ConcurrencyDecision extends ControllerState {
    /** Why the limit changed or held. */
    reason: DecisionReason;
    /**
     * The latency target this window was compared against (configured or learned); absent when the
     * window was not evaluated.
     * @example 105
     */
    latencyTargetMs?: number;
}

type Tuning = Required<Omit<ControllerParams, "latencyTargetMs" | "backlogAgeTargetMs">> &
    Pick<ControllerParams, "latencyTargetMs" | "backlogAgeTargetMs">;

/**
 * Decides the next concurrency limit from one control window.
 *
 * @param params bounds, targets and optional tuning; throws a `RangeError` naming the first invalid field
 * @param current the previous decision (or `{ limit }` at the start)
 * @param signals the window's downstream latency, error rate, sample count, throttles, peak use and backlog
 * @returns the next state: `limit` within [min, max], the `reason`, and the learned baseline
 * @example
 * let state: ControllerState = { limit: 20 };
 * state = decideConcurrency({ min: 2, max: 100, latencyTargetMs: 200 }, state, {
 *     latencyMs: 120, errorRate: 0, samples: 900, throttles: 14, inUse: 20, backlogAgeMs: 3000, backlogGrowing: true,
 * }); // → { limit: 30, reason: "demand", … }: +50 % at most in one step
 */
export function decideConcurrency(params: ControllerParams, current: ControllerState, signals: ControlSignals): ConcurrencyDecision {
    const tuning = resolveTuning(params);
    const limit = Number.isFinite(current.limit) ? clamp(Math.round(current.limit), tuning.min, tuning.max) : tuning.min;
    const held = { limit, baselineLatencyMs: current.baselineLatencyMs };
    if (limit !== current.limit) return { ...held, reason: "out-of-bounds" };
    if (!(signals.samples >= tuning.minSamples)) return { ...held, reason: "too-few-samples" };
    if (!signalsUsable(signals)) return { ...held, reason: "missing-signals" };
    const baselineLatencyMs = learnBaseline(current.baselineLatencyMs, signals.latencyMs, tuning.baselineDecay);
    const latencyTargetMs = tuning.latencyTargetMs ?? baselineLatencyMs * tuning.latencyTolerance;
    const next = nextLimit(tuning, limit, latencyTargetMs, signals);
    return { limit: next.limit, reason: next.reason, baselineLatencyMs, latencyTargetMs };
}

function nextLimit(tuning: Tuning, limit: number, latencyTargetMs: number, signals: ControlSignals): { limit: number; reason: DecisionReason } {
    const cut = cutFactor(tuning, latencyTargetMs, signals);
    if (cut) return bounded(tuning, limit, Math.floor(limit * cut.factor), cut.reason);
    const hold = growthBlocker(tuning, limit, latencyTargetMs, signals);
    if (hold) return { limit, reason: hold };
    return bounded(tuning, limit, limit + growthStep(tuning, limit, latencyTargetMs, signals.latencyMs), "demand");
}

/** The multiplicative cut due to errors and/or latency (the deeper of the two), if any. */
function cutFactor(tuning: Tuning, latencyTargetMs: number, signals: ControlSignals): { factor: number; reason: DecisionReason } | undefined {
    const gradient = clamp(latencyTargetMs / signals.latencyMs, 0.5, 1);
    if (signals.errorRate > tuning.errorRateThreshold) {
        return { factor: Math.min(clamp(1 - signals.errorRate, 0.5, tuning.backoffRatio), gradient), reason: "errors" };
    }
    return signals.latencyMs > latencyTargetMs ? { factor: gradient, reason: "latency" } : undefined;
}

/** Why the limit may not grow this window, or nothing when it may. */
function growthBlocker(tuning: Tuning, limit: number, latencyTargetMs: number, signals: ControlSignals): DecisionReason | undefined {
    const calm = 1 - tuning.hysteresis;
    if (signals.latencyMs > latencyTargetMs * calm || signals.errorRate > tuning.errorRateThreshold * calm) return "hysteresis";
    if (!hasDemand(tuning, signals)) return "no-demand";
    if (signals.inUse < limit * tuning.minUtilisation) return "underused";
    return undefined;
}

function hasDemand(tuning: Tuning, signals: ControlSignals): boolean {
    const oldBacklog = tuning.backlogAgeTargetMs !== undefined && signals.backlogAgeMs > tuning.backlogAgeTargetMs;
    return signals.throttles > 0 || signals.backlogGrowing || oldBacklog;
}

/** Additive step sized by the latency headroom under the hold band: at least 1, at most maxIncreaseRatio × limit. */
function growthStep(tuning: Tuning, limit: number, latencyTargetMs: number, latencyMs: number): number {
    const headroom = (latencyTargetMs * (1 - tuning.hysteresis)) / latencyMs - 1;
    const largest = Math.max(1, Math.floor(limit * tuning.maxIncreaseRatio));
    return clamp(Math.round(limit * tuning.growthGain * headroom), 1, largest);
}

/** Clamps a proposed limit to [min, max] and names a change the bounds prevented. */
function bounded(tuning: Tuning, limit: number, proposed: number, reason: DecisionReason): { limit: number; reason: DecisionReason } {
    const next = clamp(proposed, tuning.min, tuning.max);
    if (next === limit && proposed > limit) return { limit, reason: "at-max" };
    if (next === limit && proposed < limit) return { limit, reason: "at-min" };
    return { limit: next, reason };
}

/** A slowly decaying minimum: lower latencies replace it, higher ones pull it up by `decay` of the gap. */
function learnBaseline(baselineMs: number | undefined, latencyMs: number, decay: number): number {
    if (baselineMs === undefined || !(baselineMs > 0) || latencyMs <= baselineMs) return latencyMs;
    return baselineMs + (latencyMs - baselineMs) * decay;
}

function signalsUsable(s: ControlSignals): boolean {
    const finite = [s.latencyMs, s.errorRate, s.throttles, s.inUse, s.backlogAgeMs].every(Number.isFinite);
    return finite && s.latencyMs > 0 && s.errorRate >= 0 && s.errorRate <= 1;
}

function resolveTuning(params: ControllerParams): Tuning {
    const tuning: Tuning = { ...DEFAULT_TUNING, ...definedFields(params) };
    const problem = tuningProblem(tuning);
    if (problem) throw new RangeError(`decideConcurrency: ${problem}`);
    return tuning;
}

/** Drops `undefined` fields so they do not override the defaults. */
function definedFields(params: ControllerParams): ControllerParams {
    return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as unknown as ControllerParams;
}

function tuningProblem(t: Tuning): string | undefined {
    const checks: [boolean, string][] = [
        [Number.isInteger(t.min) && t.min >= 1, `min must be an integer ≥ 1; received ${t.min}.`],
        [Number.isInteger(t.max) && t.max >= t.min, `max must be an integer ≥ min (${t.min}); received ${t.max}.`],
        [t.latencyTargetMs === undefined || t.latencyTargetMs > 0, `latencyTargetMs must be > 0; received ${t.latencyTargetMs}.`],
        [t.errorRateThreshold >= 0 && t.errorRateThreshold < 1, `errorRateThreshold must be in [0, 1); received ${t.errorRateThreshold}.`],
        [t.minSamples >= 0, `minSamples must be ≥ 0; received ${t.minSamples}.`],
        [t.latencyTolerance >= 1, `latencyTolerance must be ≥ 1; received ${t.latencyTolerance}.`],
        [t.baselineDecay >= 0 && t.baselineDecay < 1, `baselineDecay must be in [0, 1); received ${t.baselineDecay}.`],
        [t.hysteresis >= 0 && t.hysteresis < 1, `hysteresis must be in [0, 1); received ${t.hysteresis}.`],
        [t.backoffRatio >= 0.5 && t.backoffRatio < 1, `backoffRatio must be in [0.5, 1); received ${t.backoffRatio}.`],
        [t.growthGain > 0, `growthGain must be > 0; received ${t.growthGain}.`],
        [t.maxIncreaseRatio > 0, `maxIncreaseRatio must be > 0; received ${t.maxIncreaseRatio}.`],
        [t.minUtilisation >= 0 && t.minUtilisation <= 1, `minUtilisation must be in [0, 1]; received ${t.minUtilisation}.`],
    ];
    return checks.find(([ok]) => !ok)?.[1];
}

function clamp(value: number, low: number, high: number): number {
    return Math.min(high, Math.max(low, value));
}
