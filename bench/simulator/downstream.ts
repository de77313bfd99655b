/**
 * The simulated downstream: a system that serves `capacity` calls in flight at full speed.
 *
 * - Up to capacity, latency rises gently as utilisation ρ = inFlight / capacity approaches 1 (queueing):
 *   mean latency = latencyAtCapacity × (1 + queueing × ρ⁴) / (1 + queueing).
 * - Above capacity, calls contend (locks, connection churn): mean latency = latencyAtCapacity × ρ², so
 *   throughput falls as ρ grows — the congestion collapse concurrency control exists to prevent.
 * - Each call's latency is that mean times a log-normal factor (mean 1, spread `jitter`); a call that would
 *   take longer than `timeoutMs` fails at the timeout (the client's timeout, fixed for the run).
 *
 * Throughput peaks at exactly `capacity` calls in flight (for queueing ≤ 1/3), at capacity /
 * latencyAtCapacity calls per millisecond: that is the ideal the goodput is measured against.
 */

/** The downstream's fixed traits, drawn once per seed. */
export interface DownstreamShape {
    /**
     * Extra latency at capacity relative to an idle downstream (0.2 = idle calls take 1/1.2 of it); at most 1/3.
     * @example 0.2
     */
    queueing: number;
    /**
     * Spread (σ) of the per-call log-normal latency factor.
     * @example 0.2
     */
    jitter: number;
    /**
     * Client timeout: a call that would take longer fails after this many milliseconds.
     * @example 250
     */
    timeoutMs: number;
}

/** What the downstream can do during one control interval. */
export interface DownstreamCondition {
    /**
     * Calls in flight it serves at full speed.
     * @example 100
     */
    capacity: number;
    /**
     * Mean latency with exactly `capacity` calls in flight, in milliseconds.
     * @example 40
     */
    latencyAtCapacityMs: number;
}

/**
 * Mean latency with `inFlight` calls, in milliseconds.
 * @param shape the downstream's traits
 * @param condition capacity and latency at capacity now
 * @param inFlight calls in flight
 * @example meanLatencyMs(shape, { capacity: 100, latencyAtCapacityMs: 40 }, 50) // ≈ 0.84 × 40 with queueing 0.2
 */
export function meanLatencyMs(shape: DownstreamShape, condition: DownstreamCondition, inFlight: number): number {
    const utilisation = inFlight / condition.capacity;
    const factor = utilisation <= 1 ? (1 + shape.queueing * utilisation ** 4) / (1 + shape.queueing) : utilisation ** 2;
    return condition.latencyAtCapacityMs * factor;
}

/**
 * Share of calls with mean latency `meanMs` that hit the timeout.
 * @param shape the downstream's traits (jitter, timeout)
 * @param meanMs the calls' mean latency
 * @example timeoutShare({ queueing: 0.2, jitter: 0.2, timeoutMs: 250 }, 250) // ≈ 0.54
 */
export function timeoutShare(shape: DownstreamShape, meanMs: number): number {
    if (shape.jitter <= 0) return meanMs > shape.timeoutMs ? 1 : 0;
    const z = (Math.log(shape.timeoutMs / meanMs) + (shape.jitter * shape.jitter) / 2) / shape.jitter;
    return 1 - normalCdf(z);
}

/**
 * Calls per millisecond the downstream completes at best (with exactly `capacity` in flight).
 * @param condition capacity and latency at capacity
 * @example idealThroughputPerMs({ capacity: 100, latencyAtCapacityMs: 40 }) // 2.5
 */
export function idealThroughputPerMs(condition: DownstreamCondition): number {
    return condition.capacity / condition.latencyAtCapacityMs;
}

/** Φ(z), the standard normal distribution function (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(z: number): number {
    const x = Math.abs(z) / Math.SQRT2;
    const t = 1 / (1 + 0.3275911 * x);
    const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    const erf = 1 - poly * Math.exp(-x * x);
    return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
