/**
 * The simulated downstream: a system that serves `capacity` calls in flight at full speed.
 *
 * - Up to capacity, latency rises gently as utilisation ρ = inFlight / capacity approaches 1 (queueing):
 *   mean latency = latencyAtCapacity × (1 + queueing × ρ⁴) / (1 + queueing).
 * - Above capacity, calls contend (locks, connection churn): mean latency = latencyAtCapacity × ρ², so
 *   throughput falls as ρ grows — the congestion collapse concurrency control exists to prevent.
 * - Each call's latency is that mean times a log-normal factor (mean 1, spread `jitter`); a call that would
 *   take longer than `timeoutMs` fails at the timeout. Errors therefore appear once the downstream is
 *   well over capacity.
 *
 * Throughput peaks at exactly `capacity` calls in flight (for queueing ≤ 1/3), at capacity /
 * latencyAtCapacity calls per millisecond: that is the ideal the goodput is measured against.
 */
import { lognormalFactor, Random } from "./random";

/** Shape of the downstream's latency and failures. */
export interface DownstreamModel {
    /**
     * Mean latency with exactly `capacity` calls in flight, in milliseconds.
     * @example 100
     */
    latencyAtCapacityMs: number;
    /**
     * Extra latency at capacity relative to an idle downstream (0.2 = idle calls take 1/1.2 of it); at most 1/3.
     * @example 0.2
     */
    queueing: number;
    /**
     * Spread (σ) of the per-call log-normal latency factor.
     * @example 0.1
     */
    jitter: number;
    /**
     * Client timeout: a call that would take longer fails after this many milliseconds.
     * @example 250
     */
    timeoutMs: number;
}

/** How one call went. */
export interface CallOutcome {
    /** How long the call occupied its worker, in milliseconds. */
    latencyMs: number;
    /** `false` when the call timed out. */
    ok: boolean;
}

/**
 * Mean latency with `inFlight` calls against `capacity`, in milliseconds.
 * @param model the downstream's shape
 * @param inFlight calls in flight, the new one included
 * @param capacity calls in flight the downstream serves at full speed
 * @example meanLatencyMs(model, 50, 100) // ≈ 0.84 × model.latencyAtCapacityMs
 */
export function meanLatencyMs(model: DownstreamModel, inFlight: number, capacity: number): number {
    const utilisation = inFlight / capacity;
    const factor = utilisation <= 1 ? (1 + model.queueing * utilisation ** 4) / (1 + model.queueing) : utilisation ** 2;
    return model.latencyAtCapacityMs * factor;
}

/**
 * Draws the outcome of a call that starts with `inFlight` calls in flight (itself included).
 * @param model the downstream's shape
 * @param inFlight calls in flight, this one included
 * @param capacity calls in flight the downstream serves at full speed
 * @param random the run's random numbers
 * @example const { latencyMs, ok } = callOutcome(model, 101, 100, random);
 */
export function callOutcome(model: DownstreamModel, inFlight: number, capacity: number, random: Random): CallOutcome {
    const latencyMs = meanLatencyMs(model, inFlight, capacity) * lognormalFactor(random, model.jitter);
    return latencyMs > model.timeoutMs ? { latencyMs: model.timeoutMs, ok: false } : { latencyMs, ok: true };
}

/**
 * Calls per millisecond the downstream completes at best (with exactly `capacity` in flight).
 * @param model the downstream's shape
 * @param capacity calls in flight the downstream serves at full speed
 * @example idealThroughputPerMs(model, 100) // 1 with latencyAtCapacityMs 100
 */
export function idealThroughputPerMs(model: DownstreamModel, capacity: number): number {
    return capacity / model.latencyAtCapacityMs;
}
