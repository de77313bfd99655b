/**
 * Scores of a simulated run: goodput against the ideal, error rate, and how fast the limit settles
 * after each capacity step.
 */
import { IntervalRecord } from "./engine";

/** How close the limit must stay to the capacity to count as settled (±10 %). */
export const SETTLE_TOLERANCE = 0.1;

/** The scores of one strategy in one scenario. */
export interface RunScores {
    /** Successful calls ÷ the ideal min(load, capacity throughput) summed over the run. */
    goodputRatio: number;
    /** Timed-out calls ÷ all calls that ended. */
    errorRate: number;
    /** The slowest of {@link settlePerStep}: intervals until the limit stays within ±10 % of the capacity. */
    settleIntervals: number;
    /** For the start and each capacity step: intervals until the limit stays within ±10 % of the capacity. */
    settlePerStep: number[];
}

/**
 * Scores a run.
 * @param records one per control interval, as {@link simulate} returns them
 * @example const { goodputRatio } = score(simulate(scenario("steady"), staticStrategy(100)));
 */
export function score(records: IntervalRecord[]): RunScores {
    const total = (pick: (r: IntervalRecord) => number) => records.reduce((sum, r) => sum + pick(r), 0);
    const calls = total((r) => r.calls);
    const settlePerStep = capacitySegments(records).map(settleIntervals);
    return {
        goodputRatio: total((r) => r.successes) / total((r) => r.idealCalls),
        errorRate: calls > 0 ? total((r) => r.errors) / calls : 0,
        settleIntervals: Math.max(...settlePerStep),
        settlePerStep,
    };
}

/**
 * Control intervals after a capacity step until the limit stays within ±10 % of the capacity to the end
 * of the segment: 0 when it is within from the first interval on, the segment's length when it never
 * settles.
 * @param segment the records from one capacity step to the next (same capacity throughout)
 * @example settleIntervals(records.slice(15, 30))
 */
export function settleIntervals(segment: IntervalRecord[]): number {
    const settled = (r: IntervalRecord) => Math.abs(r.limit - r.capacity) <= SETTLE_TOLERANCE * r.capacity;
    let firstOfFinalRun = segment.length;
    while (firstOfFinalRun > 0 && settled(segment[firstOfFinalRun - 1])) firstOfFinalRun -= 1;
    return firstOfFinalRun;
}

/**
 * Splits the records where the capacity changes; the first segment starts at interval 0.
 * @param records one per control interval
 * @example capacitySegments(records).map((segment) => segment[0].capacity) // [100, 50, 100]
 */
export function capacitySegments(records: IntervalRecord[]): IntervalRecord[][] {
    const segments: IntervalRecord[][] = [];
    for (const record of records) {
        const current = segments.at(-1);
        if (current && current[0].capacity === record.capacity) current.push(record);
        else segments.push([record]);
    }
    return segments;
}
