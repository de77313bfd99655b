/**
 * The simulator's entry point: the strategies side by side through one scenario.
 */
import type { ControllerParams } from "../../runtime/controller";
import { IntervalRecord, simulate } from "./engine";
import { conditionAt, Scenario } from "./scenarios";
import { RunScores, score } from "./scoring";
import { adaptiveStrategy, AimdTuning, aimdStrategy, gradient2Strategy, LimitStrategy, MEASURING_ORACLE_NAME, oracleStrategy, staticStrategy, vegasStrategy } from "./strategies";

export * from "./scenarios";
export * from "./scoring";
export * from "./strategies";
export * from "./engine";
export * from "./downstream";

/** One strategy's run through a scenario. */
export interface StrategyRun extends RunScores {
    /** Which strategy. */
    strategy: string;
    /** What happened in each control interval. */
    records: IntervalRecord[];
}

/** The strategies' runs through one scenario. */
export interface ScenarioRun {
    /** The scenario that was run. */
    scenario: Scenario;
    /** One run per strategy, in {@link strategiesFor} order. */
    runs: StrategyRun[];
}

/**
 * The AIMD tuning the bench's sweep picks on the tuning seeds (`sweepAimd` in bench/simulator/evaluation.ts;
 * a test keeps the two equal), so `npm run simulate` runs the AIMD the bench reports without the sweep.
 */
export const DEFAULT_AIMD: AimdTuning = { backoffRatio: 0.7, increase: 1, dropErrorRate: 0.01 };

/**
 * The strategies compared in every scenario: the controller with default tuning (bounds only, no latency
 * target), static limits sized for the normal and for the worst case, AIMD, Gradient2-like, Vegas-like.
 * @param s gives the bounds, the start and the normal and worst cases
 * @param aimd the AIMD tuning to run
 * @param adaptive the controller's parameters (default: the bounds only)
 * @example strategiesFor(scenario("steady", 101)).map((x) => x.name)
 */
export function strategiesFor(s: Scenario, aimd: AimdTuning = DEFAULT_AIMD, adaptive: ControllerParams = s.bounds): LimitStrategy[] {
    return [
        adaptiveStrategy(adaptive, s.initialLimit),
        staticStrategy(Math.round(s.normal.capacity), "static (normal case)"),
        staticStrategy(worstCaseLimit(s), "static (worst case)"),
        aimdStrategy(s.bounds, s.initialLimit, aimd),
        gradient2Strategy(s.bounds, s.initialLimit),
        vegasStrategy(s.bounds, s.initialLimit),
    ];
}

/**
 * The upper reference for `s`: {@link oracleStrategy} told this scenario's true capacity at every interval.
 * Not in {@link strategiesFor}: it is no competitor, the reports show it apart.
 * @param s the scenario
 * @example runScenario(s, [oracleFor(s)]).runs[0].goodputRatio
 */
export function oracleFor(s: Scenario): LimitStrategy {
    return oracleStrategy((interval) => conditionAt(s, interval).capacity, s.bounds, s.initialLimit);
}

/**
 * Intervals a controller needs to learn what a change of the downstream was by measuring it: a change it
 * decides on the window that showed the event lands one interval later and is measured in the window after.
 */
export const MEASUREMENT_ROUND_TRIP_INTERVALS = 2;

/**
 * The second reference for `s`: {@link oracleStrategy} told this scenario's true capacity
 * {@link MEASUREMENT_ROUND_TRIP_INTERVALS} intervals late: what measuring costs a controller that must see
 * the effect of one change before it knows the capacity (a capacity that rose shows only through a probe,
 * and a slower downstream looks like an overloaded one until a cut is measured). A reference, not a strict
 * bound (where one window tells what happened, a controller can do better), and not in
 * {@link strategiesFor}: no competitor, no criterion compares against it.
 * @param s the scenario
 * @example runScenario(s, [measuringOracleFor(s)]).runs[0].goodputRatio
 */
export function measuringOracleFor(s: Scenario): LimitStrategy {
    const capacityAt = (interval: number) => conditionAt(s, Math.max(0, interval - MEASUREMENT_ROUND_TRIP_INTERVALS)).capacity;
    return oracleStrategy(capacityAt, s.bounds, s.initialLimit, MEASURING_ORACLE_NAME);
}

/**
 * The static limit that never overloads the downstream in `s`: the lowest capacity the scenario reaches.
 * @param s the scenario
 * @example worstCaseLimit(scenario("capacity-drop", 101)) // half the normal capacity
 */
export function worstCaseLimit(s: Scenario): number {
    const capacities = Array.from({ length: s.intervals }, (_, i) => conditionAt(s, i).capacity);
    return Math.max(s.bounds.min, Math.round(Math.min(...capacities)));
}

/**
 * Runs every strategy through `s` (each with the scenario's seed) and scores them.
 * @param s the scenario
 * @param strategies defaults to {@link strategiesFor}
 * @example const { runs } = runScenario(scenario("capacity-drop", 101));
 */
export function runScenario(s: Scenario, strategies: LimitStrategy[] = strategiesFor(s)): ScenarioRun {
    const runs = strategies.map((strategy) => {
        const records = simulate(s, strategy);
        return { strategy: strategy.name, records, ...score(records) };
    });
    return { scenario: s, runs };
}
