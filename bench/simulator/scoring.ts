/**
 * Scores of a simulated run: goodput against the ideal, error rate, and how often the limit changed.
 */
import type { IntervalRecord } from "./engine";

/** Intervals at the start of a run not counted in {@link RunScores.changesPer100}: the controllers start away from the knee. */
export const WARM_UP_INTERVALS = 10;

/** The scores of one strategy in one run. */
export interface RunScores {
    /** Successful calls ÷ the ideal min(load, capacity throughput) summed over the run. */
    goodputRatio: number;
    /** Timed-out calls ÷ all calls that ended. */
    errorRate: number;
    /** Decisions that changed the limit, per 100 intervals, after the first {@link WARM_UP_INTERVALS}. */
    changesPer100: number;
}

/**
 * Scores a run.
 * @param records one per control interval, as {@link simulate} returns them
 * @example const { goodputRatio } = score(simulate(scenario("steady", 101), staticStrategy(100)));
 */
export function score(records: IntervalRecord[]): RunScores {
    const total = (pick: (r: IntervalRecord) => number) => records.reduce((sum, r) => sum + pick(r), 0);
    const calls = total((r) => r.calls);
    const counted = records.slice(WARM_UP_INTERVALS);
    const changes = counted.filter((r, i) => r.decided !== (i === 0 ? records[WARM_UP_INTERVALS - 1]?.decided ?? r.decided : counted[i - 1].decided)).length;
    return {
        goodputRatio: total((r) => r.successes) / total((r) => r.idealCalls),
        errorRate: calls > 0 ? total((r) => r.errors) / calls : 0,
        changesPer100: counted.length > 0 ? (100 * changes) / counted.length : 0,
    };
}
