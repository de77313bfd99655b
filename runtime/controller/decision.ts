/**
 * The adaptive-concurrency decision: a pure function from the current limit and one control window of
 * signals to the next limit and the reason for it. Both drivers (the scheduled `ConcurrencyController`
 * and the self-tuning worker) and the simulator in `bench/` call it the same way: once per control
 * interval, passing the previous decision back as `current`.
 *
 * The algorithm is a drop-aware gradient (Netflix Gradient2/AIMD, Envoy's gradient controller):
 * - errors and timeouts over the threshold cut the limit multiplicatively (by the failing share, at least
 *   by `backoffRatio`, at most to a quarter: a window of mostly timeouts gives no throughput, and every
 *   other cut stops at half) — failures never count as fast, healthy samples;
 * - latency over the target scales the limit down by `target / latency` (against a learned target, that
 *   gradient to the power 0.7: a rise is as likely a downstream that got slower as overload), clamped to [0.5, 1];
 * - growth is additive and needs demand (throttles, a growing or an old backlog) and real use of the
 *   current limit; its step follows the latency headroom under the target, at least 1, at most
 *   `maxIncreaseRatio` of the limit; after a growth step whose throughput followed it in proportion
 *   (learned target) the next step may be twice that one, within the same cap (the knee is still well above);
 * - hysteresis: between `target × (1 − hysteresis)` and the target (and likewise for the error rate) the
 *   limit holds, so it does not flap around the set point — except right after growth whose throughput followed
 *   it in proportion (learned target: the knee is still well above), which goes on by that momentum; with a
 *   learned target it also holds up to `target × (1 + hysteresis)` (a percentile's noise over it), cutting only above;
 * - a window with too few samples, or with unusable signals, holds;
 * - the result always lies in [min, max].
 *
 * Without a latency target (the default) the target is a learned baseline × `latencyTolerance`; the
 * baseline is a slowly decaying minimum of the windows' latencies (only windows within the target pull it
 * up). A learned target alone cannot tell a downstream that got slower at every concurrency from one that
 * is overloaded, so every change is judged `changeEffectWindows` windows later (it may land one interval
 * late), with the window's concurrency estimated by Little's law (samples × latency):
 * - while demand exceeds what the limit lets through (throttles or a backlog) the window's throughput
 *   (its successful calls: failed ones are no throughput) is what the downstream gave at that limit, and it
 *   judges the change: under the knee it follows the limit, over it it falls as the limit rises
 *   (contention). Growth that raised it → "grown" (grow again); growth that did not → "knee" at
 *   √(r × from × to), r the throughput at the higher limit over that at the lower one; growth of ≥ 1 % that
 *   lowered it as fast as the limit rose (by more than a count's noise, 3 / √calls), with no knee known and no
 *   growth into that limit the throughput rose with just before (it showed that limit served), → the
 *   limit before was at or past the knee and
 *   nothing says at it: 0.75 × it (from a known knee, the knee) — errors in the growth's window are its own
 *   overload and do not preempt that step (it cuts at least as deep as they ask), unless most of its calls
 *   failed (a collapse, which the errors cut answers); the step is a cut from the
 *   limit before the growth, judged against that limit's window (the growth's own window would count undoing
 *   the growth as a cut still past the knee), and one that lowered the throughput as much says that limit was
 *   the knee while demand is unmet ("knee" between the two, not "rebaseline"); any other cut that lowered it as much →
 *   "rebaseline" (the latency was the downstream's, not overload; but not one that lowered it more than twice as
 *   fast as the limit fell: the capacity fell meanwhile, and nothing is judged), back to the limit before the cut times
 *   the latency's rise over the old baseline (Little's law: the same throughput at a higher latency needs
 *   that much more concurrency; at most twice); a cut that raised it as much
 *   as the limit fell → still past the knee, a milder cut again (the first one's ratio to the power 0.3), and
 *   one that lowered it as much after that says the limit before it was the knee ("knee" between the two, not
 *   "rebaseline": the overload just measured was no slower downstream); in between → "knee" at the same
 *   estimate. A knee estimated strictly between two measured limits, and the step back from a failed probe past a known knee, are not judged again (only a downstream that
 *   got slower meanwhile still shows); a knee step, like every cut but one on errors, at most halves the
 *   limit, and after a cut rises at most back to the limit before it;
 * - without that demand, the Little's-law checks: a latency cut that lowered the concurrency but not the
 *   latency → "rebaseline" (back to the limit before the cut); a cut after which latency fell much faster
 *   than the concurrency → a further, milder cut (as with demand); growth the workers used that raised the
 *   throughput less than 0.3 × as fast → "knee";
 * - growth stops at a knee for its hold (8 windows for a new knee, 16 for one the throughput brackets — it fell,
 *   beyond counting noise, on the knee's far side: past it after growth, under it after a second cut —, 4 for one well under an earlier knee
 *   — a capacity drop, which may pass; an earlier knee counts only if it held long enough to learn its
 *   latency — doubled after each failed probe, at most 32, and at most 8 well under an earlier knee: a capacity
 *   that dropped may come back at any time), then probes past it by 10 % (by up to 25 % toward an earlier
 *   knee it is well under), whatever the latency headroom; two windows in a
 *   row well under its usual latency, or two whose mean is under 0.88 × it (room again: a returned capacity
 *   lowers the latency at the same limit by only 10–20 %, about the noise of one window; at its limit with
 *   demand unmet, only when the throughput rose by 2 % or more too: else it is the percentile's noise), or two in a row at
 *   its limit with demand unmet whose throughput is over 1.05 × its usual one (each call served faster, by
 *   Little's law; a count of calls has none of a percentile's noise, and it shows a returned capacity where
 *   the latency stays nearly flat), make that probe due at once — at a knee well under an earlier one the step then
 *   goes up to that earlier knee at once (at most twice the limit: the capacity that dropped is back, in part at
 *   least); growth that raised the throughput past it in
 *   proportion forgets it, and the step after it is no probe (growth that raised it less moves the knee up to
 *   the new limit, its hold over: the next step probes again) — after a probe past a knee under an earlier one that
 *   the throughput followed (the capacity that dropped is back), that step goes up to the earlier knee at
 *   once (at most twice the limit), and there that knee holds again as a new one (8 windows, then probes);
 * - at a knee's own limit with demand unmet, latency over the target whose window's throughput held at
 *   0.98 × the knee's usual one or more holds ("throughput-held"): at a limit in full use, overload and a
 *   slower downstream both lower the throughput (Little's law); a percentile over the target that does not is
 *   noise or a slow tail (one low window lowers the learned baseline at once, and at the knee the p90 sits near
 *   the target);
 * - the first counted window (no baseline learned yet) says nothing about the knee: the baseline is that window's own
 *   latency, overloaded or not, so growth would be judged from a limit that may already be past the knee (a start at
 *   1.5 × the capacity grows by a third before the throughput shows it). Unless it fails, shows the limit unused (a
 *   peak in use under `minUtilisation` of it; 0 is no datapoint yet) or the step would exceed 20 % (a limit under 5),
 *   it steps the limit down by 10 % ("start-probe"). The window that judges the step says on which side of the knee
 *   the start was only with demand unmet and a throughput that moved beyond a count's noise (3 / √calls): one that
 *   rose at least 0.9 × as fast as the limit fell ("past-knee") → past it, a cut to 0.75 × the probe's limit (judged
 *   as a cut after a change that left the limit past the knee); one that moved less (rose slower, or fell under
 *   0.7 × as fast as the limit) → "knee" between the two; else (it fell with the limit, or the window cannot tell) →
 *   back to the start's limit, with the growth due there (judged against the start's window); a window over the
 *   target cuts as any other.
 *   A start under the knee so pays 10 % for `changeEffectWindows` windows and two limit changes, once per state;
 * - growth from a limit that growth raised the throughput into, and that has held since, starts from a limit the
 *   downstream served (`servedLimit`), as growth decided right after that growth does: a throughput that falls after
 *   it puts the knee between the two limits (from 0.9 × the lower one), not at 0.75 × it;
 * - until a change is judged the limit holds ("awaiting-effect"), also against errors when it was a cut,
 *   unless the window asks for a cut far deeper than the one on its way (measured from the limit this window
 *   still ran at — the limit before the cut, or for the step back under where growth started the growth's
 *   limit — and judged later against this window);
 * - a change made on a window in which most calls failed (a collapse) is not judged against it: that window's
 *   throughput is the timeouts', and a healthy window after it would read as a cut still far past the knee.
 *   The window that judges it, when it no longer fails, counts the limit as a knee whose short hold is over
 *   (well under the earlier knee, if one was known): growth from it probes (10 %, up to 25 % toward that
 *   earlier knee), judged against that window; when it still fails, the errors cut answers it as any other.
 *   (Mostly means more than half of the calls, and over the error threshold.)
 * The state carries what this needs (`pendingChange`, `knee`, `servedLimit`): pass the previous decision back whole.
 */

/** Why a decision changed or kept the limit. */
export const DECISION_REASONS = [
    /** The current limit was not an integer in [min, max] (e.g. the bounds changed); it moved to the nearest one. */
    "out-of-bounds",
    /** Fewer samples than `minSamples` in the window: not enough evidence, hold. */
    "too-few-samples",
    /** A signal was missing or not a finite number in range (e.g. no latency percentile): hold. */
    "missing-signals",
    /** Error rate over the threshold: multiplicative cut (by the failing share, to a quarter at most). */
    "errors",
    /** Latency over the target: cut by the clamped gradient (against a learned target, the gradient to the power 0.7). */
    "latency",
    /** Demand and real use of the limit, latency and errors under the hysteresis band: additive growth. */
    "demand",
    /**
     * Latency or error rate inside the hysteresis band under the threshold (with a learned target, latency also up to
     * `1 + hysteresis` times over it): hold.
     */
    "hysteresis",
    /** No throttles and no growing or old backlog: hold. */
    "no-demand",
    /** Demand, but the peak concurrency in use stayed under `minUtilisation` of the limit: hold. */
    "underused",
    /** Growth was due but the limit is already at `max`. */
    "at-max",
    /** A cut was due but the limit is already at `min`. */
    "at-min",
    /**
     * Learned target only: a latency cut lowered the throughput (or, without demand, the concurrency in use)
     * but not the latency, so the downstream got slower rather than overloaded; the baseline moves to the new
     * latency and the limit goes back to where it was before the cut — with demand unmet, times the latency's
     * rise (Little's law), at most twice.
     */
    "rebaseline",
    /** Learned target only: the last change has not yet shown in the window's concurrency (changes land late); hold. */
    "awaiting-effect",
    /**
     * Learned target only: a change showed where the throughput peaks — growth that bought none, or a cut
     * still past the knee — and the limit moves to the knee estimated from both windows (see the module comment).
     */
    "knee",
    /** Learned target only: growth was due but the limit is at a knee found in the last windows. */
    "at-knee",
    /**
     * Learned target only: latency over the target at a knee's own limit, with demand unmet, while its throughput
     * held at the knee's usual level: no overload (at a limit in full use, overload and a slower downstream both
     * lower the throughput, by Little's law), so a percentile's noise or a slow tail; hold.
     */
    "throughput-held",
    /**
     * Learned target only: the first counted window stepped the limit down by {@link START_PROBE_CUT} to learn on which
     * side of the knee it started; or that step showed no limit past the knee and the limit went back (with growth due
     * there, the reason is "demand").
     */
    "start-probe",
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
     * `limit × min(clamp(1 − errorRate, 0.25, backoffRatio), latency factor)`.
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
    /**
     * Learned target only: the window, counted from the change, in which the effect of a change is
     * judged (did a cut lower the latency, did growth raise the throughput). 2 allows for a change that
     * lands one interval late.
     * @default 2
     * @example 3
     */
    changeEffectWindows?: number;
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
    changeEffectWindows: 2,
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
    /**
     * Learned target only: the last change of the limit, kept until its effect shows in the windows'
     * concurrency (see "rebaseline" and "knee").
     * @example { fromLimit: 40, toLimit: 32, concurrency: 3600000, latencyMs: 150, samples: 24000, windows: 1 }
     */
    pendingChange?: PendingChange;
    /**
     * Learned target only: a limit above which growth bought no throughput, and the windows since.
     * @example { limit: 48, windows: 3 }
     */
    knee?: Knee;
    /**
     * Learned target only: the limit, while it holds, that growth raised the throughput into (the downstream served
     * it): growth from it that lowers the throughput puts the knee between the two limits (from 0.9 × this one),
     * not at 0.75 × it as for a start past the knee.
     * @example 120
     */
    servedLimit?: number;
}

/** A limit above which growth bought no throughput. */
export interface Knee {
    /**
     * The limit.
     * @example 48
     */
    limit: number;
    /**
     * Windows since it was found.
     * @example 3
     */
    windows: number;
    /**
     * Its usual latency: the mean of the windows from the third after it was found (the last
     * {@link KNEE_LATENCY_WINDOWS} of them), in milliseconds; absent before. A failed probe's knee keeps its predecessor's.
     * @example 130
     */
    latencyMs?: number;
    /**
     * Windows averaged into `latencyMs` (at most {@link KNEE_LATENCY_WINDOWS}); absent with `latencyMs` = that many.
     * @example 3
     */
    latencyWindows?: number;
    /**
     * Windows growth holds at it before probing past it; absent = {@link KNEE_HOLD_WINDOWS}. Short for a
     * knee well under an earlier one (a capacity drop, which may pass), doubled each time a probe past it fails
     * (up to {@link KNEE_HOLD_WINDOWS}; up to 8 well under an earlier knee).
     * @example 8
     */
    hold?: number;
    /**
     * The highest earlier knee this one replaced (one that held long enough to learn its latency), while
     * growth has not passed it since.
     * @example 96
     */
    high?: number;
    /**
     * Set, for the window that showed it only, when room showed at it with demand unmet (its latency or throughput, see
     * {@link decideConcurrency}) and made the probe due: at a knee well under an earlier one the step goes up to that
     * earlier knee at once (at most twice the limit).
     * @example true
     */
    roomShown?: boolean;
    /**
     * Consecutive windows whose latency fell well under its usual latency; at {@link KNEE_ROOM_WINDOWS}
     * the probe past it is due (one such window is as likely measurement noise as room).
     * @example 1
     */
    low?: number;
    /**
     * The latency of the last window after it settled, in milliseconds: with the next one it makes the
     * two-window mean the room check also reads.
     * @example 118
     */
    lastLatencyMs?: number;
    /**
     * Its usual throughput: the mean successful calls per window at its limit while demand was unmet, over the
     * same windows as `latencyMs` (at most {@link KNEE_LATENCY_WINDOWS}); absent before. A failed probe's knee keeps
     * its predecessor's.
     * @example 5400
     */
    goodput?: number;
    /**
     * Windows averaged into `goodput` (at most {@link KNEE_LATENCY_WINDOWS}).
     * @example 3
     */
    goodputWindows?: number;
    /**
     * The successful calls of the last window at its limit with demand unmet: with the next one it makes the two
     * windows in a row the throughput room check reads.
     * @example 5800
     */
    lastGoodput?: number;
}

/** A change of the limit whose effect the next windows check. */
export interface PendingChange {
    /**
     * The limit before the change.
     * @example 40
     */
    fromLimit: number;
    /**
     * The limit the change set.
     * @example 32
     */
    toLimit: number;
    /**
     * Concurrency of downstream calls in the window that led to the change, as all its calls (failed ones
     * too) × latency (Little's law, in call-milliseconds per window; only ratios of it are used).
     * @example 3600000
     */
    concurrency: number;
    /**
     * That window's latency, in milliseconds.
     * @example 150
     */
    latencyMs: number;
    /**
     * That window's successful downstream calls (its throughput: windows are of equal length; failed calls are none).
     * @example 24000
     */
    samples: number;
    /**
     * Windows evaluated since the change.
     * @example 1
     */
    windows: number;
    /**
     * Set on a step to a knee estimated between two measured limits: the windows until it lands hold,
     * and it is not judged again.
     * @example true
     */
    estimated?: boolean;
    /**
     * Set on the step back under the limit where growth that lowered the throughput started (no knee known):
     * it is judged against that limit's window, as a cut from it, and a throughput that fell with it (demand
     * unmet) places the knee between the two limits ("knee"), not a downstream that got slower.
     * @example true
     */
    startedPast?: boolean;
    /**
     * Set on the cut a "past-knee" verdict makes (the change before it left the limit past the knee: a cut whose
     * throughput rose, or growth whose throughput fell): a throughput that falls with it (demand unmet) says the
     * limit before it was at or under the knee ("knee" between the two), not a downstream that got slower.
     * @example true
     */
    pastKnee?: boolean;
    /**
     * The limit the window that led to the change ran at, when it was not `fromLimit` (the step back under where
     * growth started: that window ran at the growth's limit); a deeper cut replacing this one is measured from it.
     * @example 285
     */
    inForce?: number;
    /**
     * Set on growth from a limit that growth raised the throughput into (decided right after it, or while that limit
     * held since: `servedLimit`): the downstream served the limit it starts from, so a throughput that falls after it
     * puts the knee between the two limits, not under where it started (no "started past the knee" cut to 0.75 ×).
     * @example true
     */
    afterGrowth?: boolean;
    /**
     * Set when most calls of the window that led to the change failed (a collapsed downstream): its throughput
     * is the timeouts', not a point of the throughput-against-limit curve, so the change is not judged against it.
     * @example true
     */
    collapsed?: boolean;
    /**
     * Set on the first counted window's step down by {@link START_PROBE_CUT}: judged, it either finds the start past the
     * knee (the throughput rose as the limit fell) or the knee between the two limits, or goes back to `fromLimit`.
     * @example true
     */
    startProbe?: boolean;
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
    const held: ConcurrencyDecision = { ...learnedState(current), limit, reason: "out-of-bounds" };
    if (limit !== current.limit) return held;
    if (!(signals.samples >= tuning.minSamples)) return { ...held, reason: "too-few-samples" };
    if (!signalsUsable(signals)) return { ...held, reason: "missing-signals" };
    const baselineLatencyMs = learnBaseline(current.baselineLatencyMs, signals.latencyMs, tuning);
    if (tuning.latencyTargetMs !== undefined) {
        const next = nextLimit(tuning, limit, tuning.latencyTargetMs, signals);
        return { ...next, baselineLatencyMs, latencyTargetMs: tuning.latencyTargetMs };
    }
    return decideAgainstBaseline(tuning, { ...current, limit, baselineLatencyMs }, signals, current.baselineLatencyMs === undefined);
}

/** Windows growth stays at or under a knee it found, at most (a knee confirmed by failed probes). */
export const KNEE_HOLD_WINDOWS = 32;
/** Windows growth stays at a newly found knee before the first probe past it. */
const KNEE_FIRST_HOLD = 8;
/**
 * … and at a new knee the throughput brackets: it fell, by more than counting noise, on the knee's far side (past it
 * after growth, under it after the second cut of a limit left past it). Such a knee is measured, not guessed: a probe
 * past it as soon as past a guessed one would mostly find it again, two limit changes each time.
 */
const KNEE_BRACKETED_HOLD = 16;
/** … and at a knee well under an earlier one (capacity dropped; drops often pass, so probe soon). */
const KNEE_DROPPED_HOLD = 4;
/**
 * … and at most this long there however many probes failed (a capacity that dropped may come back at any
 * time, and the latency at a limit under the knee often does not show it).
 */
const KNEE_DROPPED_MAX_HOLD = 8;
/** A knee under this share of an earlier knee counts as "well under" it. */
const KNEE_DROPPED = 0.75;
/** Windows after a knee is found before its latency counts (the step back lands late). */
const KNEE_SETTLE_WINDOWS = 2;
/** A latency under this share of the knee's usual latency says the downstream may have room again … */
const KNEE_ROOM_LATENCY = 0.88;
/** … in this many windows in a row (a single low percentile is as likely noise): the probe past it is due at once. */
const KNEE_ROOM_WINDOWS = 2;
/** … or two windows in a row whose mean latency is under this share of it. */
const KNEE_ROOM_MEAN_LATENCY = 0.88;
/**
 * … or two windows in a row at its limit, with demand unmet, whose throughput is over this share of its usual one:
 * each call is served faster (Little's law). A count of calls carries none of a percentile's noise, and it shows a
 * capacity that came back where the latency under the knee stays nearly flat (a downstream with little queueing).
 */
const KNEE_ROOM_GOODPUT = 1.05;
/**
 * … while a latency well under its usual one, at its limit with demand unmet, counts as room only with a throughput
 * of at least this share of its usual one (by Little's law the throughput rises as the mean latency falls).
 */
const KNEE_LATENCY_ROOM_GOODPUT = 1.02;
/**
 * At a knee's limit with demand unmet, a throughput of at least this share of its usual one has held: a latency over
 * the target then is no overload ("throughput-held").
 */
const KNEE_HELD_GOODPUT = 0.98;
/** The knee's usual latency averages this many windows at most (a moving mean after that). */
const KNEE_LATENCY_WINDOWS = 8;
/** After growth that lowered the throughput, the limit before it was past the knee too: it drops by this factor. */
const PAST_KNEE_CUT = 0.9;
/**
 * After a cut, latency that fell this much faster than the concurrency (log ratio over log ratio) says the
 * limit is still past the knee, where latency grows with the square of the overload.
 */
const STILL_OVERLOADED = 1.5;
/**
 * A latency at most this much higher (log ratio, ≈ +22 %) counts as unchanged: right after a change of the
 * downstream a window's p90 still drifts by that much while the backlog and the environments settle.
 */
const SAME_LATENCY = 0.2;
/** Saturated: growth whose throughput rose at least this fast (log ratio over log ratio) was under the knee. */
const GROWN_ELASTICITY = 0.5;
/**
 * A second cut after a cut that left the limit past the knee is this power of the first one's ratio
 * (0.3: a halving is followed by −19 %): the first cut already took most of the way.
 */
const REPEATED_CUT_EXPONENT = 0.3;
/**
 * Learned target only: a latency cut is the gradient (target ÷ latency) to this power. Against a learned
 * baseline a rise in latency is as likely a downstream that got slower (no cut needed, and the
 * "rebaseline" check restores the limit) as overload (the full gradient): the cut hedges between them.
 */
const LEARNED_GRADIENT_EXPONENT = 0.7;
/**
 * Saturated: growth whose throughput rose at least this fast (log ratio over log ratio) was well under
 * the knee: the next step may be {@link MOMENTUM_GAIN} × this one (within `maxIncreaseRatio`).
 */
const FOLLOWED_ELASTICITY = 0.8;
/**
 * Learned target only: after a "rebaseline" with demand unmet, the limit goes back to the one before the cut
 * times the latency's rise over the old baseline (Little's law: the same throughput at a higher latency
 * needs that much more concurrency), at most this many times it.
 */
export const SLOWDOWN_RESTORE_MAX = 2;
/**
 * Saturated, no knee known: growth whose throughput fell at least this fast (log ratio over log ratio,
 * negated) started at or past the knee …
 */
const STARTED_PAST_KNEE_ELASTICITY = 0.9;
/**
 * … when it was a step of at least this share of the limit, and the throughput fell by more than
 * {@link COUNT_NOISE_SIGMAS} standard deviations of a count (1/√calls: a fall that size is no counting noise) …
 */
const STARTED_PAST_MIN_STEP = 0.01;
/** Standard deviations of a window's count of calls (Poisson: √calls) a fall of the throughput must exceed to count. */
const COUNT_NOISE_SIGMAS = 3;
/** … and the limit before it drops by this factor (how far past the knee it was is unknown: a wide step). */
const STARTED_PAST_KNEE_CUT = 0.75;
/** How much larger than the last growth step the next may be after throughput followed it. */
const MOMENTUM_GAIN = 2;
/** Saturated: a cut whose throughput fell at least this fast was under the knee. */
const UNDER_KNEE_ELASTICITY = 0.7;
/**
 * Saturated: a cut whose throughput fell more than this many times as fast as the limit says nothing about the cut
 * (under the knee the throughput follows the limit, elasticity ≈ 1): the downstream lost capacity meanwhile. Read as
 * "slower", its restore (up to twice the limit) would land on a downstream that just fell.
 */
export const SLOWER_MAX_ELASTICITY = 2;
/** Saturated: a cut whose throughput rose at least this fast (negated) is still past the knee. */
const STILL_PAST_KNEE_ELASTICITY = 0.9;
/** A knee estimate this close to the limit (share of it, at least 1) keeps the limit. */
const KNEE_DEADBAND = 0.04;
/**
 * The deepest cut on errors: the limit × (1 − error rate), at least this share of it. Deeper than the half
 * every other cut stops at: a window of mostly timeouts (a downstream that collapsed) gives no throughput at
 * all, and each halving costs two intervals.
 */
export const DEEPEST_ERROR_CUT = 0.25;
/** A cut on its way is replaced when the window asks for one deeper than this share of it. */
const DEEPER_CUT = 0.75;
/**
 * A window in which more than this share of the calls failed is a collapse: most calls timed out, so its
 * throughput is bounded by the client timeout, not by contention at the knee, and no change is judged against it.
 */
const COLLAPSED_ERROR_RATE = 0.5;
/**
 * The first counted window steps the limit down by this share of it, to learn on which side of the knee the start
 * was (a start past it gives more throughput at the lower limit). 10 %: a start under the knee loses little for the
 * windows it lasts, and with about 1,000 calls a window or more a throughput change that size is beyond a count's
 * noise (3 / √calls); with fewer the judging window often cannot tell, and the limit goes back.
 */
export const START_PROBE_CUT = 0.1;
/** A probe past a known knee, as a share of the limit … */
const KNEE_PROBE_STEP = 0.1;
/** … and past a knee well under an earlier one (the capacity that dropped may be back), at most up to that one. */
const KNEE_RETURN_PROBE_STEP = 0.25;
/**
 * After a probe past a knee under an earlier one that the throughput followed (the capacity that dropped is
 * back), the next step goes up to that earlier knee at once, at most this many times the limit.
 */
export const KNEE_RETURN_MAX = 2;

/**
 * The learned-target decision: the gradient against the baseline, plus two checks of what each change
 * did once it shows in the concurrency. After a latency cut the latency must fall with the concurrency,
 * or the downstream got slower rather than overloaded ("rebaseline": the baseline moves, the limit goes
 * back). After growth the throughput must rise with the concurrency, or the limit passed the knee
 * ("knee": back to where it was, and no growth past it for a while).
 */
function decideAgainstBaseline(tuning: Tuning, state: ControllerState & { baselineLatencyMs: number }, signals: ControlSignals, firstWindow: boolean): ConcurrencyDecision {
    const { limit } = state;
    // A change is judged only while it is still the limit in force (a driver passes the actual setting,
    // which an operator or another tool may have changed meanwhile).
    const pendingChange = state.pendingChange?.toLimit === limit ? state.pendingChange : undefined;
    // (The knee's usual throughput is learnt, and read, only at its own limit while demand is unmet.)
    const knee = ageKnee(state.knee, signals.latencyMs, state.knee?.limit === limit && hasDemand(tuning, signals) ? goodput(signals) : undefined);
    const concurrency = signals.samples * signals.latencyMs;
    const latencyTargetMs = state.baselineLatencyMs * tuning.latencyTolerance;
    const base = { baselineLatencyMs: state.baselineLatencyMs, latencyTargetMs, ...optional({ knee }) };
    const failing = signals.errorRate > tuning.errorRateThreshold;
    const cutPending = pendingChange !== undefined && pendingChange.toLimit < pendingChange.fromLimit;
    const judged = pendingChange ? changeVerdict(tuning, pendingChange, concurrency, signals) : "none";
    // Errors cut at once, unless a cut is still on its way (it would be cut twice).
    // Growth with no knee known whose throughput fell as fast as the limit rose started at or past the knee:
    // errors in its window are the overload it caused, so they do not preempt the step back under where it
    // started (the errors cut, measured from the limit the growth reached, would leave the limit past the knee).
    // A window in which most calls failed is no overload the growth caused but a collapse: the errors cut answers it.
    const collapsed = failing && signals.errorRate > COLLAPSED_ERROR_RATE;
    const startedPast = judged === "knee" && pendingChange !== undefined && state.knee === undefined && !pendingChange.afterGrowth && startedPastKnee(tuning, pendingChange, signals) && !collapsed;
    const verdict = failing ? (cutPending && judged === "waiting" ? "waiting" : startedPast ? judged : "none") : judged;
    if (firstWindow && !failing && state.pendingChange === undefined && state.knee === undefined) {
        const probe = startProbe(tuning, limit, signals);
        if (probe) return { ...base, limit: probe.toLimit, reason: "start-probe", pendingChange: probe };
    }
    if (verdict === "waiting" && pendingChange) {
        // A cut on its way that the window shows far too shallow (the downstream collapsed meanwhile) does not wait.
        // (Measured from the limit this window still ran at — the limit before the cut, or the growth's limit for the
        // step back under where growth started: cuts do not compound; and judged against this window, which shows
        // the downstream as it is now.)
        // (By the full gradient, not the hedged one: a second window far worse than the cut on its way allows is
        // an overload still growing, which a downstream that merely got slower would not show.)
        const deeperFactor = Math.min(clamp(latencyTargetMs / signals.latencyMs, 0.5, 1), failing ? clamp(1 - signals.errorRate, DEEPEST_ERROR_CUT, 1) : 1);
        const ranAt = Math.max(limit, pendingChange.inForce ?? pendingChange.fromLimit);
        const deeper = clamp(Math.floor(ranAt * deeperFactor), tuning.min, tuning.max);
        if (cutPending && deeper < pendingChange.toLimit * DEEPER_CUT) {
            const remeasured = { fromLimit: ranAt, toLimit: deeper, concurrency, latencyMs: signals.latencyMs, samples: goodput(signals), windows: 0, ...optional({ collapsed: collapsed || undefined }) };
            return { ...base, limit: deeper, reason: failing ? "errors" : "latency", pendingChange: remeasured };
        }
        return { ...base, limit, reason: "awaiting-effect", pendingChange: { ...pendingChange, windows: pendingChange.windows + 1 } };
    }
    const change = (toLimit: number): PendingChange | undefined =>
        toLimit === limit ? undefined : { fromLimit: limit, toLimit, concurrency, latencyMs: signals.latencyMs, samples: goodput(signals), windows: 0, ...optional({ collapsed: collapsed || undefined }) };
    // A start probe that found no limit past the knee (nor a knee between the two), or whose window cannot tell, goes
    // back, with the growth due there; a window over the target cuts as any other (the gradient below: the probe's
    // verdict, "knee" included, is not acted on).
    const probeFoundKnee = pendingChange?.startProbe === true && (verdict === "knee" || verdict === "past-knee") && probeTells(tuning, pendingChange, signals);
    const probeUnjudged = pendingChange?.startProbe === true && verdict !== "waiting" && verdict !== "none" && !probeFoundKnee;
    if (probeUnjudged && pendingChange && !cutFactor(tuning, latencyTargetMs, signals)) {
        return { ...base, ...probeUndone(tuning, pendingChange, latencyTargetMs, signals) };
    }
    const outcome = probeUnjudged ? "settled" : verdict;
    if (outcome === "slower" && pendingChange) {
        // Slower, not overloaded: with demand unmet the same throughput needs the concurrency × the latency's rise
        // (Little's law), at most twice the limit before the cut.
        const slowdown = hasDemand(tuning, signals) ? clamp(signals.latencyMs / state.baselineLatencyMs, 1, SLOWDOWN_RESTORE_MAX) : 1;
        const restored = clamp(Math.floor(Math.max(limit, pendingChange.fromLimit) * slowdown), tuning.min, tuning.max);
        const baselineLatencyMs = signals.latencyMs;
        return { limit: restored, reason: "rebaseline", baselineLatencyMs, latencyTargetMs: baselineLatencyMs * tuning.latencyTolerance, ...optional({ pendingChange: change(restored) }) };
    }
    if ((outcome === "knee" || outcome === "past-knee") && pendingChange) {
        const { fromLimit, toLimit } = pendingChange;
        const pastFrom = toLimit > fromLimit ? fromLimit : Math.min(limit, toLimit);
        // Still past the knee after a cut: a milder cut again (at least 10 %); after the start probe, as after growth
        // that started past the knee, a wide one (how far past it the start was is unknown).
        const pastCut = pendingChange.startProbe ? STARTED_PAST_KNEE_CUT : toLimit < fromLimit ? clamp((toLimit / fromLimit) ** REPEATED_CUT_EXPONENT, 0.5, PAST_KNEE_CUT) : PAST_KNEE_CUT;
        // Growth whose throughput fell as fast as the limit rose started at or past the knee; with no knee known
        // (the start of a run, or after a change the knee did not survive) nothing says it started at it.
        const estimate = startedPast ? Math.floor(fromLimit * STARTED_PAST_KNEE_CUT) : outcome === "knee" ? kneeBetween(pendingChange, goodput(signals)) : Math.floor(pastFrom * pastCut);
        // After growth the knee lies at or under the new limit; after a cut that went under it, between the two.
        // (At most halved, as every cut; after a cut it rises at most back to the limit the cut left.)
        // (With errors in the window, at least as deep as the errors cut.)
        const errorsCut = failing ? nextLimit(tuning, limit, latencyTargetMs, signals).limit : tuning.max;
        const proposed = Math.min(errorsCut, clamp(toLimit > fromLimit ? Math.min(limit, estimate) : estimate, Math.max(tuning.min, Math.floor(limit / 2)), tuning.max));
        // An estimate within a few per cent of the limit keeps it (each change costs a control-plane call and two windows).
        const back = Math.abs(proposed - limit) <= Math.max(1, limit * KNEE_DEADBAND) ? limit : proposed;
        // A knee estimated strictly between two measured limits is not judged again (its step back would be
        // measured against a limit past the knee); one at the edge of what the two windows can tell is.
        // (An estimate at the lower limit means the knee may lie under both.)
        const between = outcome === "knee" && estimate > Math.min(fromLimit, toLimit) * (1 + KNEE_DEADBAND) && estimate < Math.max(fromLimit, toLimit);
        // Nor is the step back from a failed probe past a known knee: the limit it returns to has been
        // measured for the knee's whole hold (judging it against the probe's contended window reads noise as
        // "still past the knee", and would reset the hold the failed probe just doubled).
        const probeBack = state.knee !== undefined && toLimit > fromLimit && fromLimit >= state.knee.limit;
        // The step back under where such growth started is a cut from that limit: it is judged against that
        // limit's window (against the growth's own, contended window, undoing the growth would count as a cut
        // that was still past the knee).
        const underStart: PendingChange | undefined = startedPast && back < fromLimit
            ? { fromLimit, toLimit: back, concurrency: pendingChange.concurrency, latencyMs: pendingChange.latencyMs, samples: pendingChange.samples, windows: 0, startedPast: true, inForce: limit }
            : undefined;
        // The throughput brackets the knee when it fell, beyond counting noise, on the far side: after growth past it,
        // or after the second cut of a limit that the first cut left past it (its throughput had risen).
        // (Not a knee guessed under both limits: a start past the knee, or a "past-knee" verdict.)
        const bracketed = outcome === "knee" && !startedPast && (toLimit > fromLimit || pendingChange.pastKnee === true) && fellBeyondNoise(pendingChange.samples, goodput(signals));
        return { ...base, limit: back, reason: "knee", knee: nextKnee(state.knee, pendingChange, back, bracketed), ...optional({ pendingChange: underStart ?? kneeStep(change(back), between || probeBack, outcome === "past-knee" && back < limit) }) };
    }
    const withinBand = signals.latencyMs <= latencyTargetMs * (1 + tuning.hysteresis) && signals.latencyMs > latencyTargetMs && !failing;
    // Growth past the knee that raised the throughput: when in proportion the knee is well above (forgotten, the
    // next step is no probe); when less, the knee moves up to the new limit, its hold over (the next step probes).
    const passedKnee = outcome === "grown" && pendingChange !== undefined && knee !== undefined && pendingChange.toLimit > Math.max(pendingChange.fromLimit, knee.limit);
    const followed = outcome === "grown" && pendingChange !== undefined && followedGrowth(tuning, pendingChange, signals);
    const momentum = followed ? MOMENTUM_GAIN * (pendingChange.toLimit - pendingChange.fromLimit) : 0;
    const kneeAfter = passedKnee ? (followed ? undefined : raisedKnee(knee, pendingChange.toLimit)) : knee;
    if (outcome === "recovered") {
        // The first window after a collapse that no longer fails: the knee is unknown (the capacity fell, and the
        // collapsed window measured none), so the limit counts as one whose hold is over — growth from it probes
        // (toward the highest earlier knee, the capacity that fell and may come back), judged against this window.
        const atLimit = recoveredKnee(knee, limit);
        const next = withinBand ? { limit, reason: "hysteresis" as const } : kneeCapped(tuning, nextLimit(tuning, limit, latencyTargetMs, signals), limit, atLimit);
        return { ...base, knee: atLimit, ...next, ...optional({ pendingChange: change(next.limit) }) };
    }
    const gradient = kneeCapped(tuning, nextLimit(tuning, limit, latencyTargetMs, signals, outcome === "grown" || kneeInUse(tuning, state.knee, limit, signals), momentum), limit, kneeAfter);
    const planned = withinBand ? { limit, reason: "hysteresis" as const } : gradient.reason === "latency" && throughputHeld(tuning, state.knee, limit, signals) ? { limit, reason: "throughput-held" as const } : gradient;
    // A probe past a knee under an earlier one that the throughput followed: the capacity that dropped is back,
    // so the next step goes up to that earlier knee at once (at most KNEE_RETURN_MAX × the limit).
    const earlierKnee = passedKnee && momentum > 0 && planned.reason === "demand" ? knee.high : undefined;
    const next = earlierKnee !== undefined && earlierKnee > planned.limit ? { limit: Math.min(tuning.max, earlierKnee, Math.floor(limit * KNEE_RETURN_MAX)), reason: "demand" as const } : planned;
    // Back at the earlier knee, that knee holds again (as a new one: the capacity that came back may differ).
    const backAtEarlier = earlierKnee !== undefined && next.limit === earlierKnee && next !== planned;
    const { knee: _, ...withoutKnee } = base;
    // (A limit growth raised the throughput into stays one the downstream served while it holds.)
    const served = outcome === "grown" || state.servedLimit === limit;
    const grownInto = served && next.limit > limit ? { afterGrowth: true } : {};
    const nextChange = change(next.limit);
    return { ...withoutKnee, ...optional({ servedLimit: served && next.limit === limit ? limit : undefined, knee: backAtEarlier ? { limit: earlierKnee, windows: 0, hold: KNEE_FIRST_HOLD } : kneeAfter }), ...next, ...optional({ pendingChange: nextChange && { ...nextChange, ...grownInto } }) };
}

/**
 * The change a "knee" verdict makes: marked `estimated` when it is not to be judged again, or `pastKnee` when it is
 * the cut after a change that left the limit past the knee.
 */
function kneeStep(change: PendingChange | undefined, estimated: boolean, pastKnee: boolean): PendingChange | undefined {
    if (!change) return undefined;
    if (estimated) return { ...change, estimated: true };
    return pastKnee ? { ...change, pastKnee: true } : change;
}

/**
 * The first counted window's step down by {@link START_PROBE_CUT}, judged against this window; none at `min`, none
 * that would exceed twice that share (a limit under 5), and none when the window shows the limit unused (its peak in
 * use under `minUtilisation` of it; 0 is no datapoint yet, as in a new target's first windows).
 */
function startProbe(tuning: Tuning, limit: number, signals: ControlSignals): PendingChange | undefined {
    const toLimit = clamp(Math.floor(limit * (1 - START_PROBE_CUT)), tuning.min, tuning.max);
    if (toLimit >= limit || toLimit < limit * (1 - 2 * START_PROBE_CUT)) return undefined;
    if (signals.inUse > 0 && signals.inUse < limit * tuning.minUtilisation) return undefined;
    return { fromLimit: limit, toLimit, concurrency: signals.samples * signals.latencyMs, latencyMs: signals.latencyMs, samples: goodput(signals), windows: 0, startProbe: true };
}

/**
 * Whether the window judging a start probe can tell a knee: demand unmet (its throughput is what the downstream gave
 * at the probe's limit) and a throughput that moved, either way, by more than a count's noise from the start's window.
 */
function probeTells(tuning: Tuning, probe: PendingChange, signals: ControlSignals): boolean {
    return hasDemand(tuning, signals) && Math.abs(goodput(signals) / probe.samples - 1) > COUNT_NOISE_SIGMAS / Math.sqrt(probe.samples);
}

/**
 * Back from a start probe that showed the start under the knee, or could not tell: to the limit it started from, plus the growth due
 * there (sized by this window's latency headroom; the limit's use is known, the probe's window used it). Growth is
 * judged against the start's window, at the limit it starts from; the step back alone against this window.
 */
function probeUndone(tuning: Tuning, probe: PendingChange, latencyTargetMs: number, signals: ControlSignals): Pick<ConcurrencyDecision, "limit" | "reason" | "pendingChange"> {
    // (Within the bounds in force now: they may have changed since the probe.)
    const start = clamp(probe.fromLimit, tuning.min, tuning.max);
    const growth = nextLimit(tuning, start, latencyTargetMs, signals, true);
    const limit = growth.reason === "demand" ? growth.limit : start;
    const { concurrency, latencyMs, samples } = probe;
    const judged = limit > start
        ? { fromLimit: start, toLimit: limit, concurrency, latencyMs, samples, windows: 0 }
        : { fromLimit: probe.toLimit, toLimit: start, concurrency: signals.samples * signals.latencyMs, latencyMs: signals.latencyMs, samples: goodput(signals), windows: 0 };
    return { limit, reason: limit > start ? "demand" : "start-probe", pendingChange: judged };
}

/**
 * The knee after a probe past it that raised the throughput less than in proportion: at the probe's limit, the
 * hold already over (the next step probes again), the earlier knee it was well under kept while still above.
 * (What was learnt at the old limit, its latency and throughput, is not this limit's.)
 */
function raisedKnee(knee: Knee, limit: number): Knee {
    const hold = knee.hold ?? KNEE_HOLD_WINDOWS;
    return { limit, windows: hold, hold, ...optional({ high: knee.high !== undefined && knee.high > limit ? knee.high : undefined }) };
}

/**
 * At the knee's own limit, whose usual throughput with demand unmet is learnt, while demand is still unmet: the limit is
 * in use (its windows showed it), whatever the delayed in-use metric reads (8 of 9 at a small limit is its noise).
 */
function kneeInUse(tuning: Tuning, knee: Knee | undefined, limit: number, signals: ControlSignals): boolean {
    return knee !== undefined && knee.limit === limit && goodputLearnt(knee) && hasDemand(tuning, signals);
}

/**
 * At the knee's own limit, with demand unmet and no errors, the window's throughput is at least
 * {@link KNEE_HELD_GOODPUT} × the knee's usual one (learnt over at least three windows before this one).
 */
function throughputHeld(tuning: Tuning, knee: Knee | undefined, limit: number, signals: ControlSignals): boolean {
    if (!knee || knee.limit !== limit || !goodputLearnt(knee) || signals.errorRate > tuning.errorRateThreshold || !hasDemand(tuning, signals)) return false;
    return goodput(signals) >= knee.goodput! * KNEE_HELD_GOODPUT;
}

/**
 * What a pending change did, judged `changeEffectWindows` windows after it against the window before it.
 * A cut that lowered the concurrency (samples × latency) but not the latency — latency fell less than half
 * as fast, proportionally, and did not rise either (a rise means something else changed meanwhile) —
 * means a slower downstream, not an overloaded one → "slower". Growth that the
 * workers used (the concurrency rose) but that raised the throughput (samples) by less than 0.3 of the
 * step → "knee" (the knee lies between the two limits); when the throughput even fell, the limit before was
 * past the knee already → "past-knee"; likewise after a cut whose latency fell much faster than the
 * concurrency (the square law above capacity: still past the knee). Growth that raised the throughput → "grown": the workers use the
 * limit, so the next growth need not wait for the (delayed) concurrency-in-use metric to catch up.
 */
function changeVerdict(tuning: Tuning, change: PendingChange, concurrency: number, signals: ControlSignals): "slower" | "knee" | "past-knee" | "grown" | "settled" | "waiting" | "recovered" {
    if (change.windows + 1 < tuning.changeEffectWindows) return "waiting";
    // Against a window in which most calls failed nothing is judged: its throughput is the timeouts'.
    if (change.collapsed) return "recovered";
    const verdict = measuredVerdict(tuning, change, concurrency, signals);
    // A step to an estimated knee is not judged as a knee again; a downstream that got slower meanwhile still shows.
    // A step back under where growth started past the knee, or a cut after a change that left it past the knee, that lowered
    // the throughput as much as the limit: the limit before it was the knee (the overload before it lowered the
    // throughput too), not a downstream that got slower.
    if ((change.startedPast || change.pastKnee) && verdict === "slower" && hasDemand(tuning, signals)) return "knee";
    return change.estimated && verdict !== "slower" ? "settled" : verdict;
}

/** A throughput that fell from `before` by more than {@link COUNT_NOISE_SIGMAS} standard deviations of a count. */
function fellBeyondNoise(before: number, now: number): boolean {
    return before > 0 && 1 - now / before > COUNT_NOISE_SIGMAS / Math.sqrt(before);
}

function measuredVerdict(tuning: Tuning, change: PendingChange, concurrency: number, signals: ControlSignals): "slower" | "knee" | "past-knee" | "grown" | "settled" {
    // Without successful calls on both sides there is no throughput to compare (possible only with minSamples 0).
    if (!(change.samples > 0 && goodput(signals) > 0 && change.concurrency > 0)) return "settled";
    const step = Math.log(change.toLimit / change.fromLimit);
    if (hasDemand(tuning, signals)) return saturatedVerdict(step, Math.log(goodput(signals) / change.samples), Math.log(signals.latencyMs / change.latencyMs));
    const moved = Math.log(concurrency / change.concurrency);
    const used = Math.sign(moved) === Math.sign(step) && Math.abs(moved) >= Math.abs(step) / 4;
    if (!used) return "settled";
    if (step < 0) {
        const latencyMoved = Math.log(signals.latencyMs / change.latencyMs);
        const latencyElasticity = latencyMoved / moved;
        if (latencyElasticity < 0.5 && latencyMoved <= SAME_LATENCY) return "slower";
        return latencyElasticity >= STILL_OVERLOADED ? "past-knee" : "settled";
    }
    const throughputElasticity = Math.log(goodput(signals) / change.samples) / step;
    if (throughputElasticity >= 0.3) return "grown";
    return throughputElasticity < -0.7 ? "past-knee" : "knee";
}

/**
 * What a change did while demand exceeded what the limit let through (throttles or a backlog), so that the
 * window's throughput is what the downstream gave at that limit: under the knee throughput follows the limit
 * (elasticity ≈ 1), over it falls as the limit rises (contention: ≈ −1). Growth that raised the throughput
 * → "grown"; growth that did not → "knee" (the knee estimated between the two limits). A cut that lowered
 * the throughput as much → the limit was under the knee: "slower" (the latency that led to it was the
 * downstream's, not overload), unless it fell more than {@link SLOWER_MAX_ELASTICITY} × as fast (the capacity
 * fell meanwhile: "settled", not judged); a cut that raised it → still past the knee; in between → the knee lies
 * between the two limits.
 */
function saturatedVerdict(step: number, throughputMoved: number, latencyMoved: number): "slower" | "knee" | "past-knee" | "grown" | "settled" {
    if (Math.abs(step) < 1e-9) return "settled";
    const elasticity = throughputMoved / step;
    if (step > 0) return elasticity >= GROWN_ELASTICITY ? "grown" : "knee";
    // (A latency that rose after the cut, or a throughput that fell far faster than the limit, says something else
    // changed meanwhile: not judged.)
    if (elasticity > SLOWER_MAX_ELASTICITY) return "settled";
    if (elasticity >= UNDER_KNEE_ELASTICITY) return latencyMoved <= SAME_LATENCY ? "slower" : "settled";
    return elasticity <= -STILL_PAST_KNEE_ELASTICITY ? "past-knee" : "knee";
}

/**
 * Growth of at least {@link STARTED_PAST_MIN_STEP} of the limit (so that the throughput's response is measurable) whose throughput —
 * its successful calls — fell at least as fast as the limit rose: the limit before it was at or past the knee.
 */
function startedPastKnee(tuning: Tuning, change: PendingChange, signals: ControlSignals): boolean {
    const { fromLimit, toLimit } = change;
    // (A growth step, at most +maxIncreaseRatio: the restore after a "rebaseline" is none.)
    const growthStep = toLimit >= fromLimit * (1 + STARTED_PAST_MIN_STEP) && toLimit <= fromLimit * (1 + tuning.maxIncreaseRatio);
    const measurable = 1 - goodput(signals) / change.samples > COUNT_NOISE_SIGMAS / Math.sqrt(change.samples);
    return growthStep && measurable && Math.log(goodput(signals) / change.samples) / Math.log(toLimit / fromLimit) <= -STARTED_PAST_KNEE_ELASTICITY;
}

/**
 * Ages the knee and learns its usual latency (the mean of the windows from the third after it was found,
 * once the step back has landed; of the last {@link KNEE_LATENCY_WINDOWS} once there are more). For its hold
 * growth stops at it, after that growth past it probes in small steps; {@link KNEE_ROOM_WINDOWS} windows in a
 * row well under its usual latency (the downstream may have room again; a single low window is as likely
 * measurement noise) make the probe due at once — the knee stays, so a probe that fails doubles the hold.
 */
function ageKnee(aged: Knee | undefined, latencyMs: number, saturatedGoodput: number | undefined): Knee | undefined {
    if (!aged) return undefined;
    // Room shown counts for the window that showed it only (a stale one must not send the limit up later).
    const { roomShown: _shown, ...knee } = aged;
    const windows = knee.windows + 1;
    if (knee.windows < KNEE_SETTLE_WINDOWS) return { ...knee, windows };
    const { low: _, lastLatencyMs: __, lastGoodput: ___, ...settled } = knee;
    const rest = { ...settled, ...learnGoodput(knee, saturatedGoodput) };
    const learnt = knee.latencyMs === undefined ? 0 : knee.latencyWindows ?? KNEE_LATENCY_WINDOWS;
    const known = knee.latencyMs !== undefined && learnt >= KNEE_SETTLE_WINDOWS + 1;
    // At its limit with demand unmet a lower latency serves more calls (Little's law): a latency room that the
    // throughput does not show (under KNEE_LATENCY_ROOM_GOODPUT × its usual one) is a percentile's noise.
    const unconfirmed = saturatedGoodput !== undefined && goodputLearnt(knee) && saturatedGoodput < knee.goodput! * KNEE_LATENCY_ROOM_GOODPUT;
    const room = known && !unconfirmed && latencyMs < knee.latencyMs! * KNEE_ROOM_LATENCY;
    // Two windows whose mean lies well under it say the same with less noise than two single windows in a row.
    const roomOverTwo = known && !unconfirmed && knee.lastLatencyMs !== undefined && (latencyMs + knee.lastLatencyMs) / 2 < knee.latencyMs! * KNEE_ROOM_MEAN_LATENCY;
    const { lastGoodput: ____, ...withoutLast } = rest;
    // (Only with demand unmet is room evidence enough to go up to an earlier knee at once.)
    const due = { ...withoutLast, windows: Math.max(windows, knee.hold ?? KNEE_HOLD_WINDOWS), lastLatencyMs: latencyMs, ...optional({ roomShown: saturatedGoodput !== undefined || undefined }) };
    if (roomOverTwo || goodputRoom(knee, saturatedGoodput)) return due;
    if (room) {
        // Room again: the probe past it is due now (it keeps the knee, so one that fails still doubles the hold).
        const low = (knee.low ?? 0) + 1;
        return low >= KNEE_ROOM_WINDOWS ? due : { ...rest, windows, low, lastLatencyMs: latencyMs };
    }
    // The mean of the windows since it settled (the last KNEE_LATENCY_WINDOWS of them once there are more).
    const n = Math.min(learnt + 1, KNEE_LATENCY_WINDOWS);
    return { ...rest, windows, latencyMs: knee.latencyMs === undefined ? latencyMs : knee.latencyMs + (latencyMs - knee.latencyMs) / n, latencyWindows: n, lastLatencyMs: latencyMs };
}

/**
 * The knee's usual throughput after this window: the mean of its windows at its limit with demand unmet (the last
 * {@link KNEE_LATENCY_WINDOWS} once there are more); a window without that (`saturatedGoodput` absent) leaves it.
 */
function learnGoodput(knee: Knee, saturatedGoodput: number | undefined): Pick<Knee, "goodput" | "goodputWindows" | "lastGoodput"> {
    if (saturatedGoodput === undefined) return optional({ goodput: knee.goodput, goodputWindows: knee.goodputWindows });
    const n = Math.min((knee.goodput === undefined ? 0 : knee.goodputWindows ?? KNEE_LATENCY_WINDOWS) + 1, KNEE_LATENCY_WINDOWS);
    const usual = knee.goodput === undefined ? saturatedGoodput : knee.goodput + (saturatedGoodput - knee.goodput) / n;
    return { goodput: usual, goodputWindows: n, lastGoodput: saturatedGoodput };
}

/**
 * Room shown by the throughput: this window and the last one at the knee's limit, both with demand unmet, each
 * over {@link KNEE_ROOM_GOODPUT} × its usual throughput (learnt over at least three windows).
 */
function goodputRoom(knee: Knee, saturatedGoodput: number | undefined): boolean {
    if (saturatedGoodput === undefined || knee.lastGoodput === undefined || !goodputLearnt(knee)) return false;
    return Math.min(saturatedGoodput, knee.lastGoodput) > knee.goodput! * KNEE_ROOM_GOODPUT;
}

/** Whether the knee's usual throughput is learnt, over at least three windows. */
function goodputLearnt(knee: Knee): boolean {
    return knee.goodput !== undefined && (knee.goodputWindows ?? KNEE_LATENCY_WINDOWS) >= KNEE_SETTLE_WINDOWS + 1;
}

/**
 * Where the knee lies between the two limits of growth that bought little throughput: below the knee the
 * throughput grows with the limit, above it falls with it (contention), so the throughput ratio r of the
 * two windows puts the knee at √(r × from × to), within [from, to] (after growth, from 0.9 × from).
 */
function kneeBetween(change: PendingChange, samples: number): number {
    const growth = change.toLimit > change.fromLimit;
    // The throughput at the higher limit over that at the lower one.
    const ratio = growth ? samples / change.samples : change.samples / samples;
    // After growth whose throughput fell as fast as the limit rose, the knee may lie under the old limit too.
    const low = growth ? change.fromLimit * PAST_KNEE_CUT : change.toLimit;
    const high = Math.max(change.fromLimit, change.toLimit);
    return Math.floor(clamp(Math.sqrt(ratio * change.fromLimit * change.toLimit), low, high));
}

/**
 * The knee a "knee" verdict sets, and how long growth holds at it: after a probe past the previous knee
 * failed, twice as long as that one held (at most {@link KNEE_HOLD_WINDOWS}, or {@link KNEE_DROPPED_MAX_HOLD}
 * under an earlier knee); for a knee well under an
 * earlier one, {@link KNEE_DROPPED_HOLD} (capacity dropped; probe soon for its return); for a knee the
 * throughput brackets (`bracketed`), {@link KNEE_BRACKETED_HOLD}; otherwise {@link KNEE_FIRST_HOLD}.
 */
function nextKnee(previous: Knee | undefined, change: PendingChange, limit: number, bracketed: boolean): Knee {
    // Only a knee that held long enough to learn its latency was a capacity the downstream had: one replaced
    // within its first windows (e.g. the first estimate when the run started above capacity) was not.
    const high = previous ? Math.max(previous.high ?? 0, previous.latencyMs !== undefined ? previous.limit : 0) || undefined : undefined;
    const probe = previous !== undefined && change.toLimit > change.fromLimit && change.fromLimit >= previous.limit;
    const dropped = high !== undefined && limit < high * KNEE_DROPPED;
    const hold = probe ? Math.min(dropped ? KNEE_DROPPED_MAX_HOLD : KNEE_HOLD_WINDOWS, 2 * (previous.hold ?? KNEE_HOLD_WINDOWS)) : dropped ? KNEE_DROPPED_HOLD : bracketed ? KNEE_BRACKETED_HOLD : KNEE_FIRST_HOLD;
    // A failed probe re-finds the same knee: it keeps the latency learnt at it (so that room shows at once).
    const learnt = probe
        ? { latencyMs: previous.latencyMs, latencyWindows: previous.latencyMs === undefined ? undefined : previous.latencyWindows, goodput: previous.goodput, goodputWindows: previous.goodput === undefined ? undefined : previous.goodputWindows }
        : {};
    return { limit, windows: 0, hold, ...optional({ high: high !== undefined && high > limit ? high : undefined, ...learnt }) };
}

/**
 * The knee after a collapse, at the limit the cut left: a knee well under an earlier one, whose short hold
 * ({@link KNEE_DROPPED_HOLD}) is already over; the highest earlier knee that learned its latency is its `high`.
 */
function recoveredKnee(previous: Knee | undefined, limit: number): Knee {
    const high = previous ? Math.max(previous.high ?? 0, previous.latencyMs !== undefined ? previous.limit : 0) : 0;
    return { limit, windows: KNEE_DROPPED_HOLD, hold: KNEE_DROPPED_HOLD, ...optional({ high: high > limit ? high : undefined }) };
}

/**
 * Growth stops at a knee while it holds, and probes past it afterwards: by {@link KNEE_PROBE_STEP} of the
 * limit, or by up to {@link KNEE_RETURN_PROBE_STEP} toward an earlier knee well above it.
 */
function kneeCapped(tuning: Tuning, next: { limit: number; reason: DecisionReason }, limit: number, knee: ControllerState["knee"]): { limit: number; reason: DecisionReason } {
    if (!knee || next.reason !== "demand" || next.limit <= knee.limit) return next;
    if (limit < knee.limit) return { limit: knee.limit, reason: "demand" };
    if (knee.windows < (knee.hold ?? KNEE_HOLD_WINDOWS)) return { limit, reason: "at-knee" };
    // A probe is sized by what it tests, not by the latency headroom (which at a knee is always small).
    const dropped = knee.high !== undefined && limit < knee.high * KNEE_DROPPED;
    // Room at a knee well under an earlier one: the capacity that dropped is back (in part at least), so the step goes
    // up to that earlier knee at once, as after a probe toward it that the throughput followed.
    if (dropped && knee.roomShown) return { limit: Math.min(tuning.max, knee.high!, Math.floor(limit * KNEE_RETURN_MAX)), reason: "demand" };
    const probeStep = dropped ? clamp(knee.high! / limit - 1, KNEE_PROBE_STEP, KNEE_RETURN_PROBE_STEP) : KNEE_PROBE_STEP;
    return { limit: Math.min(tuning.max, limit + Math.max(1, Math.floor(limit * Math.min(probeStep, tuning.maxIncreaseRatio)))), reason: "demand" };
}

/** The learned fields of a state, without `undefined` ones. */
function learnedState(state: ControllerState): Omit<ControllerState, "limit"> {
    return optional({ baselineLatencyMs: state.baselineLatencyMs, pendingChange: state.pendingChange, knee: state.knee, servedLimit: state.servedLimit });
}

/** Drops `undefined` fields. */
function optional<T extends object>(fields: T): Partial<T> {
    return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The gradient step: a cut on errors or latency over the target, else growth when nothing blocks it, by
 * the latency headroom or (`momentum`, after growth the throughput followed) the step earned so far.
 */
function nextLimit(tuning: Tuning, limit: number, latencyTargetMs: number, signals: ControlSignals, knownUsed = false, momentum = 0): { limit: number; reason: DecisionReason } {
    const cut = cutFactor(tuning, latencyTargetMs, signals);
    if (cut) return bounded(tuning, limit, Math.floor(limit * cut.factor), cut.reason);
    const hold = growthBlocker(tuning, limit, latencyTargetMs, signals, knownUsed);
    // Inside the band, growth the throughput just followed in proportion goes on by its momentum (the knee is well above).
    // (Momentum comes only from such growth while demand was unmet, so demand and the limit's use are known.)
    // (Latency over the target was cut above, so only the band under it is left.)
    const followedInBand = hold === "hysteresis" && momentum > 0 && signals.errorRate <= tuning.errorRateThreshold * (1 - tuning.hysteresis);
    if (hold && !followedInBand) return { limit, reason: hold };
    const step = Math.max(growthStep(tuning, limit, latencyTargetMs, signals.latencyMs), Math.min(Math.floor(limit * tuning.maxIncreaseRatio), momentum));
    return bounded(tuning, limit, limit + step, "demand");
}

/** The multiplicative cut due to errors and/or latency (the deeper of the two), if any. */
function cutFactor(tuning: Tuning, latencyTargetMs: number, signals: ControlSignals): { factor: number; reason: DecisionReason } | undefined {
    const exponent = tuning.latencyTargetMs === undefined ? LEARNED_GRADIENT_EXPONENT : 1;
    const gradient = clamp((latencyTargetMs / signals.latencyMs) ** exponent, 0.5, 1);
    if (signals.errorRate > tuning.errorRateThreshold) {
        return { factor: Math.min(clamp(1 - signals.errorRate, DEEPEST_ERROR_CUT, tuning.backoffRatio), gradient), reason: "errors" };
    }
    return signals.latencyMs > latencyTargetMs ? { factor: gradient, reason: "latency" } : undefined;
}

/** Why the limit may not grow this window, or nothing when it may. */
function growthBlocker(tuning: Tuning, limit: number, latencyTargetMs: number, signals: ControlSignals, knownUsed: boolean): DecisionReason | undefined {
    const calm = 1 - tuning.hysteresis;
    if (signals.latencyMs > latencyTargetMs * calm || signals.errorRate > tuning.errorRateThreshold * calm) return "hysteresis";
    if (!hasDemand(tuning, signals)) return "no-demand";
    if (!knownUsed && signals.inUse < limit * tuning.minUtilisation) return "underused";
    return undefined;
}

/**
 * Growth the throughput followed nearly in proportion while demand was unmet: the knee is still well above.
 * (A growth step, at most +`maxIncreaseRatio`: the restore after a "rebaseline" says nothing about the knee.)
 */
function followedGrowth(tuning: Tuning, change: PendingChange, signals: ControlSignals): boolean {
    const growthStep = change.toLimit > change.fromLimit && change.toLimit <= change.fromLimit * (1 + tuning.maxIncreaseRatio);
    if (!hasDemand(tuning, signals) || !growthStep) return false;
    return Math.log(goodput(signals) / change.samples) / Math.log(change.toLimit / change.fromLimit) >= FOLLOWED_ELASTICITY;
}

/** The window's successful downstream calls: its throughput (windows are of equal length); failed calls are no throughput. */
function goodput(signals: ControlSignals): number {
    return signals.samples * (1 - signals.errorRate);
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

/**
 * A slowly decaying minimum: lower latencies replace it; higher ones pull it up by `baselineDecay` of the
 * gap, but only from windows within the learned target — an overloaded window must not teach the
 * baseline that overload is normal (a downstream that got slower is found by the "rebaseline" check).
 */
function learnBaseline(baselineMs: number | undefined, latencyMs: number, tuning: Tuning): number {
    if (baselineMs === undefined || !(baselineMs > 0) || latencyMs <= baselineMs) return latencyMs;
    if (tuning.latencyTargetMs === undefined && latencyMs > baselineMs * tuning.latencyTolerance) return baselineMs;
    return baselineMs + (latencyMs - baselineMs) * tuning.baselineDecay;
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
        [Number.isInteger(t.changeEffectWindows) && t.changeEffectWindows >= 1, `changeEffectWindows must be an integer ≥ 1; received ${t.changeEffectWindows}.`],
    ];
    return checks.find(([ok]) => !ok)?.[1];
}

function clamp(value: number, low: number, high: number): number {
    return Math.min(high, Math.max(low, value));
}
