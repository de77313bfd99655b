/**
 * Seeded randomness for the simulator, so every run of a scenario is identical.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * Mulberry32: a small, fast 32-bit generator; the same seed always gives the same sequence.
 * @param seed any integer
 * @example const random = seededRandom(42); random(); // 0.6011…
 */
export function seededRandom(seed: number): Random {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/**
 * An exponentially distributed wait, e.g. the gap between Poisson arrivals.
 * @param random the source of uniform numbers
 * @param mean the mean wait
 * @example const gapMs = exponential(random, 1000 / ratePerSecond);
 */
export function exponential(random: Random, mean: number): number {
    return -mean * Math.log(1 - random());
}

/**
 * A log-normal factor with mean 1: multiplies a mean latency into one call's latency.
 * @param random the source of uniform numbers
 * @param sigma spread of the underlying normal; 0 gives exactly 1
 * @example const latencyMs = 100 * lognormalFactor(random, 0.1);
 */
export function lognormalFactor(random: Random, sigma: number): number {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.exp(sigma * normal - (sigma * sigma) / 2);
}

/**
 * A Poisson-distributed count: exact (Knuth) for small means, normal approximation above 50.
 * @param random the source of uniform numbers
 * @param mean the expected count, ≥ 0
 * @example const arrivals = poisson(random, 120); // events in one simulated second
 */
export function poisson(random: Random, mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * standardNormal(random)));
    const limit = Math.exp(-mean);
    let count = 0;
    for (let product = random(); product > limit; product *= random()) count += 1;
    return count;
}

/**
 * A standard normal draw (Box–Muller).
 * @param random the source of uniform numbers
 * @example const noise = 1 + 0.05 * standardNormal(random);
 */
export function standardNormal(random: Random): number {
    return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * A uniform draw in [low, high).
 * @param random the source of uniform numbers
 * @param low the smallest value
 * @param high the bound above the largest value
 * @example const queueing = uniform(random, 0.1, 0.3);
 */
export function uniform(random: Random, low: number, high: number): number {
    return low + (high - low) * random();
}
