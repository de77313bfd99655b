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
