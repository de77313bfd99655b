/**
 * The three ways of setting the limit that a simulation compares, all behind the interface a driver
 * uses: one new limit per control interval, from that interval's signals.
 */
import { ControllerParams, ControllerState, ControlSignals, decideConcurrency } from "../../runtime/controller";

/** Strategy names, in the order results are reported. */
export const STRATEGY_NAMES = ["adaptive", "static", "aimd"] as const;

/** One of {@link STRATEGY_NAMES}. */
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Sets the limit once per control interval. */
export interface LimitStrategy {
    /** Which strategy this is. */
    readonly name: StrategyName;
    /** The limit during the first interval. */
    readonly initialLimit: number;
    /**
     * The limit for the next interval.
     * @param signals what the interval that just ended showed
     */
    next(signals: ControlSignals): number;
}

/**
 * The package's controller: `decideConcurrency`, fed its own previous decision each interval.
 * @param params the controller's bounds and targets
 * @param initialLimit the limit before the first decision
 * @example adaptiveStrategy({ min: 2, max: 1000, latencyTargetMs: 115 }, 100)
 */
export function adaptiveStrategy(params: ControllerParams, initialLimit: number): LimitStrategy {
    let state: ControllerState = { limit: initialLimit };
    return {
        name: "adaptive",
        initialLimit,
        next(signals) {
            state = decideConcurrency(params, state, signals);
            return state.limit;
        },
    };
}

/**
 * A fixed limit, e.g. reserved concurrency sized once for the capacity seen at deploy time.
 * @param limit the limit in every interval
 * @example staticStrategy(100)
 */
export function staticStrategy(limit: number): LimitStrategy {
    return { name: "static", initialLimit: limit, next: () => limit };
}

/**
 * Plain AIMD as in Netflix concurrency-limits (`AIMDLimit`): any drop (error or timeout) in the window
 * multiplies the limit by 0.9, otherwise it grows by 1 when at least half of it was in use; clamped
 * to [min, max]. It does not look at latency below the timeout, nor at demand.
 * @param bounds the same bounds the adaptive controller gets
 * @param initialLimit the limit before the first decision
 * @example aimdStrategy({ min: 2, max: 1000 }, 100)
 */
export function aimdStrategy(bounds: { min: number; max: number }, initialLimit: number): LimitStrategy {
    let limit = initialLimit;
    return {
        name: "aimd",
        initialLimit,
        next(signals) {
            if (signals.errorRate > 0) limit = Math.floor(limit * 0.9);
            else if (signals.inUse * 2 >= limit) limit += 1;
            limit = Math.min(bounds.max, Math.max(bounds.min, limit));
            return limit;
        },
    };
}
