/**
 * Downstream statistics of a control interval and the per-execution-environment buffer that collects
 * them. Pure: the control loop writes what {@link StatisticsBuffer.due} and {@link StatisticsBuffer.pending}
 * say, and tells the buffer when a write succeeded.
 *
 * An environment adds every invocation's calls to its totals in memory and writes its totals of an
 * interval (replacing the previous write) when the flush period has passed since its last write, and
 * on its first invocation after the interval ended. Both checks run at the end of an invocation, the
 * only time a Lambda environment runs code: an environment frozen or killed after an invocation loses at
 * most the calls of one flush period (those since its last write).
 */

/** Latency histogram buckets grow by this factor: a percentile is exact to within ±2.5 %. */
const BUCKET_GROWTH = 1.05;

/** One downstream call, as far as statistics go. */
export interface CallSample {
    /** Duration in milliseconds. */
    latencyMs: number;
    /** Whether the call succeeded. */
    ok: boolean;
}

/** The statistics of one control interval. */
export interface WindowStats {
    /** Calls recorded. */
    calls: number;
    /** Of those, failed calls. */
    errors: number;
    /** Latency histogram: bucket index → calls (bucket i holds latencies in [1.05^i, 1.05^(i+1)) ms). */
    buckets: Map<number, number>;
}

/**
 * Adds calls to statistics in place.
 * @param stats the totals to add to
 * @param samples the calls
 * @example addSamples(stats, [{ latencyMs: 12, ok: true }]);
 */
export function addSamples(stats: WindowStats, samples: readonly CallSample[]): void {
    for (const sample of samples) {
        stats.calls += 1;
        if (!sample.ok) stats.errors += 1;
        const bucket = bucketOf(sample.latencyMs);
        stats.buckets.set(bucket, (stats.buckets.get(bucket) ?? 0) + 1);
    }
}

/** Empty statistics. */
export function emptyStats(): WindowStats {
    return { calls: 0, errors: 0, buckets: new Map() };
}

/**
 * The `p` percentile (0 < p ≤ 1) of a window's latency histogram, at the middle of its bucket; `NaN`
 * for an empty histogram.
 * @param buckets bucket index → calls, as in {@link WindowStats}
 * @param p the percentile as a fraction, e.g. 0.9
 * @example histogramPercentile(stats.buckets, 0.9) // 118.3
 */
export function histogramPercentile(buckets: Map<number, number>, p: number): number {
    const total = [...buckets.values()].reduce((a, b) => a + b, 0);
    let seen = 0;
    for (const index of [...buckets.keys()].sort((a, b) => a - b)) {
        seen += buckets.get(index) ?? 0;
        if (seen >= Math.ceil(p * total)) return BUCKET_GROWTH ** (index + 0.5);
    }
    return NaN;
}

/** Histogram bucket of a latency; latencies under 1 ms share bucket 0. */
function bucketOf(latencyMs: number): number {
    return latencyMs < 1 ? 0 : Math.floor(Math.log(latencyMs) / Math.log(BUCKET_GROWTH));
}

/** One interval's totals waiting to be written. */
export interface PendingStatistics {
    /** The interval. */
    interval: number;
    /** This environment's totals of it so far. */
    stats: WindowStats;
}

/**
 * One execution environment's running totals per interval.
 * @example
 * const buffer = new StatisticsBuffer(10_000, Date.now());
 * buffer.add(interval, samples);
 * if (buffer.due(interval, Date.now())) for (const p of buffer.pending()) { await write(p); buffer.written(p.interval, Date.now()); }
 */
export class StatisticsBuffer {
    private readonly totals = new Map<number, WindowStats>();
    private readonly dirty = new Set<number>();

    /**
     * @param flushMs the longest time totals wait before they are written; 0 writes after every invocation
     * @param lastWriteAt epoch ms the first flush period counts from
     */
    constructor(
        private readonly flushMs: number,
        private lastWriteAt: number,
    ) {}

    /**
     * Adds one invocation's calls to the totals of `interval`.
     * @param interval the interval the calls ended in
     * @param samples the calls (none: nothing changes)
     */
    add(interval: number, samples: readonly CallSample[]): void {
        if (samples.length === 0) return;
        const stats = this.totals.get(interval) ?? emptyStats();
        addSamples(stats, samples);
        this.totals.set(interval, stats);
        this.dirty.add(interval);
    }

    /**
     * Whether totals should be written now: an earlier interval has unwritten totals (it ended), or the
     * flush period has passed with unwritten totals.
     * @param interval the current interval
     * @param now epoch ms
     */
    due(interval: number, now: number): boolean {
        if (this.dirty.size === 0) return false;
        return this.flushMs === 0 || [...this.dirty].some((i) => i < interval) || now - this.lastWriteAt >= this.flushMs;
    }

    /** The unwritten totals, oldest interval first. */
    pending(): PendingStatistics[] {
        return [...this.dirty].sort((a, b) => a - b).map((interval) => ({ interval, stats: this.totals.get(interval)! }));
    }

    /**
     * Marks `interval`'s totals written; totals of intervals before the current one are then forgotten.
     * @param interval the interval written
     * @param current the current interval
     * @param now epoch ms, the start of the next flush period
     */
    written(interval: number, current: number, now: number): void {
        this.dirty.delete(interval);
        this.lastWriteAt = now;
        for (const known of this.totals.keys()) if (known < current && !this.dirty.has(known)) this.totals.delete(known);
    }
}
