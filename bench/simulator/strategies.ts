/**
 * The ways of setting the limit that a simulation compares, all behind the interface a driver uses: one
 * new limit per control interval, from that interval's signals (the same delayed, noisy signals for all).
 */
import { ControllerParams, ControllerState, ControlSignals, decideConcurrency } from "../../runtime/controller";

/** Sets the limit once per control interval. */
export interface LimitStrategy {
    /** Label in the reports, e.g. "adaptive (default tuning)". */
    readonly name: string;
    /** The limit during the first interval. */
    readonly initialLimit: number;
    /**
     * The limit for the interval after next (decisions land one interval late).
     * @param signals what the interval that just ended showed
     */
    next(signals: ControlSignals): number;
}

/** Bounds every adaptive strategy respects. */
export interface Bounds {
    /** Lowest limit. */
    min: number;
    /** Highest limit. */
    max: number;
}

/**
 * The package's controller: `decideConcurrency`, fed its own previous decision each interval.
 * @param params the controller's bounds and targets (the headline row passes the bounds only: default tuning)
 * @param initialLimit the limit before the first decision
 * @example adaptiveStrategy({ min: 1, max: 1000 }, 100)
 */
export function adaptiveStrategy(params: ControllerParams, initialLimit: number, name = "adaptive (default tuning)"): LimitStrategy {
    let state: ControllerState = { limit: initialLimit };
    return {
        name,
        initialLimit,
        next(signals) {
            state = decideConcurrency(params, state, signals);
            return state.limit;
        },
    };
}

/**
 * A fixed limit, e.g. reserved concurrency sized once.
 * @param limit the limit in every interval
 * @param name what it was sized for
 * @example staticStrategy(100, "static (normal case)")
 */
export function staticStrategy(limit: number, name = "static"): LimitStrategy {
    return { name, initialLimit: limit, next: () => limit };
}

/**
 * The upper reference, not a competitor: a limiter that is told the downstream's true capacity (the
 * concurrency at which its throughput peaks) of the interval that just ended, and sets the limit to it.
 * It lives under every constraint the others do — it starts from the same limit, its decision lands one
 * interval late (so it acts on a world two intervals on and cannot foresee a change), new environments
 * cold-start, demand is Poisson — so what it loses against the ideal is what the constraints cost; what
 * a real strategy loses beyond it is the strategy's own.
 * @param capacityAt the true capacity during a 0-based control interval
 * @param bounds the bounds the adaptive controller gets
 * @param initialLimit the limit before the first decision
 * @param name its label in the reports
 * @example oracleStrategy((i) => conditionAt(s, i).capacity, s.bounds, s.initialLimit)
 */
export function oracleStrategy(capacityAt: (interval: number) => number, bounds: Bounds, initialLimit: number, name = ORACLE_NAME): LimitStrategy {
    let interval = 0;
    return {
        name,
        initialLimit,
        next() {
            const limit = clamp(Math.round(capacityAt(interval)), bounds.min, bounds.max);
            interval += 1;
            return limit;
        },
    };
}

/** The oracle's label in every report. */
export const ORACLE_NAME = "oracle (told the true capacity; upper reference)";

/** The measuring oracle's label in every report. */
export const MEASURING_ORACLE_NAME = "measuring oracle (told the true capacity one round trip late; reference)";

/** AIMD tuning: the sweep in the bench varies all three. */
export interface AimdTuning {
    /** Multiplier on a window with drops (errors over `dropErrorRate`). */
    backoffRatio: number;
    /** Additive growth per window. */
    increase: number;
    /** Error rate above which a window counts as dropping. */
    dropErrorRate: number;
}

/**
 * AIMD as in Netflix concurrency-limits (`AIMDLimit`), per window: a window with drops multiplies the
 * limit by `backoffRatio`; otherwise it grows by `increase` when at least half of it was in use.
 * @param bounds the bounds the adaptive controller gets
 * @param initialLimit the limit before the first decision
 * @param tuning backoff, step and drop threshold
 * @example aimdStrategy({ min: 1, max: 1000 }, 100, { backoffRatio: 0.9, increase: 1, dropErrorRate: 0 })
 */
export function aimdStrategy(bounds: Bounds, initialLimit: number, tuning: AimdTuning): LimitStrategy {
    let limit = initialLimit;
    return {
        name: `AIMD (×${tuning.backoffRatio}, +${tuning.increase}, drop > ${tuning.dropErrorRate * 100} %)`,
        initialLimit,
        next(signals) {
            if (signals.samples > 0 && signals.errorRate > tuning.dropErrorRate) limit = Math.floor(limit * tuning.backoffRatio);
            else if (signals.inUse * 2 >= limit) limit += tuning.increase;
            limit = clamp(limit, bounds.min, bounds.max);
            return limit;
        },
    };
}

/**
 * Netflix `Gradient2Limit`, one update per window with the window's latency percentile as the RTT:
 * long RTT an exponential average over 600 updates (after a 10-update warm-up average); gradient =
 * clamp(1.5 × long / short, 0.5, 1); new = limit × gradient + 4 (queue size); smoothing 0.2; no change
 * while less than half the limit is in use; the long RTT decays by 5 % when it is over twice the short.
 * It ignores drops, as the original does.
 * @param bounds the bounds the adaptive controller gets
 * @param initialLimit the limit before the first decision
 * @example gradient2Strategy({ min: 1, max: 1000 }, 100)
 */
export function gradient2Strategy(bounds: Bounds, initialLimit: number): LimitStrategy {
    let limit = initialLimit;
    const longRtt = new ExponentialAverage(600, 10);
    return {
        name: "Gradient2-like",
        initialLimit,
        next(signals) {
            if (!(signals.samples > 0) || !Number.isFinite(signals.latencyMs)) return Math.round(limit);
            const shortRtt = signals.latencyMs;
            let long = longRtt.add(shortRtt);
            if (long / shortRtt > 2) long = longRtt.scale(0.95);
            if (signals.inUse < limit / 2) return Math.round(limit);
            const gradient = clamp((1.5 * long) / shortRtt, 0.5, 1);
            const proposed = limit * gradient + 4;
            limit = clamp(limit * 0.8 + proposed * 0.2, bounds.min, bounds.max);
            return Math.round(limit);
        },
    };
}

/**
 * Netflix `VegasLimit`, one update per window: no-load RTT the least window latency, re-probed (reset to
 * the current one) every 30 × limit × jitter updates (jitter 0.5–0.95), as the original counts updates; queue = ceil(limit × (1 − noLoad / rtt)); with log = max(1,
 * floor(log10 limit)): drop → −log; less than half in use → hold; queue ≤ log → +6·log; queue < 3·log →
 * +log; queue > 6·log → −log.
 * @param bounds the bounds the adaptive controller gets
 * @param initialLimit the limit before the first decision
 * @example vegasStrategy({ min: 1, max: 1000 }, 100)
 */
export function vegasStrategy(bounds: Bounds, initialLimit: number): LimitStrategy {
    let limit = initialLimit;
    let noLoadRtt = Infinity;
    let probeJitter = 0.5;
    let updatesToProbe = 30 * initialLimit * probeJitter;
    return {
        name: "Vegas-like",
        initialLimit,
        next(signals) {
            if (!(signals.samples > 0) || !Number.isFinite(signals.latencyMs)) return limit;
            const rtt = signals.latencyMs;
            updatesToProbe -= 1;
            if (updatesToProbe <= 0) {
                probeJitter = probeJitter >= 0.95 ? 0.5 : probeJitter + 0.05;
                updatesToProbe = 30 * limit * probeJitter;
                noLoadRtt = rtt;
                return limit;
            }
            noLoadRtt = Math.min(noLoadRtt, rtt);
            const log = Math.max(1, Math.floor(Math.log10(limit)));
            if (signals.errorRate > 0) limit -= log;
            else if (signals.inUse * 2 >= limit) {
                const queue = Math.ceil(limit * (1 - noLoadRtt / rtt));
                if (queue <= log) limit += 6 * log;
                else if (queue < 3 * log) limit += log;
                else if (queue > 6 * log) limit -= log;
            }
            limit = clamp(limit, bounds.min, bounds.max);
            return limit;
        },
    };
}

/** Netflix `ExpAvgMeasurement`: a plain average for the first `warmup` values, then an EMA with factor 2 / (window + 1). */
class ExponentialAverage {
    private value = 0;
    private count = 0;

    constructor(
        private readonly window: number,
        private readonly warmup: number,
    ) {}

    add(sample: number): number {
        if (this.count < this.warmup) {
            this.count += 1;
            this.value += (sample - this.value) / this.count;
        } else {
            const factor = 2 / (this.window + 1);
            this.value = this.value * (1 - factor) + sample * factor;
        }
        return this.value;
    }

    scale(by: number): number {
        this.value *= by;
        return this.value;
    }
}

function clamp(value: number, low: number, high: number): number {
    return Math.min(high, Math.max(low, value));
}
