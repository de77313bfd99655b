/**
 * The simulator's entry point: runs the three strategies through one scenario, side by side.
 */
import { IntervalRecord, simulate } from "./engine";
import { Scenario, INITIAL_CAPACITY } from "./scenarios";
import { RunScores, score } from "./scoring";
import { adaptiveStrategy, aimdStrategy, LimitStrategy, staticStrategy, StrategyName } from "./strategies";

export * from "./scenarios";
export * from "./scoring";
export * from "./strategies";
export * from "./engine";
export * from "./downstream";

/** One strategy's run through a scenario. */
export interface StrategyRun extends RunScores {
    /** Which strategy. */
    strategy: StrategyName;
    /** What happened in each control interval. */
    records: IntervalRecord[];
}

/** The three strategies' runs through one scenario. */
export interface ScenarioRun {
    /** The scenario that was run. */
    scenario: Scenario;
    /** Adaptive, static and AIMD, in that order. */
    runs: StrategyRun[];
}

/**
 * The strategies compared in every scenario: the adaptive controller, a static limit at the initial
 * capacity and plain AIMD, all starting at the initial capacity.
 * @param scenario gives the adaptive controller's parameters and the bounds
 * @example strategiesFor(scenario("steady")).map((s) => s.name) // ["adaptive", "static", "aimd"]
 */
export function strategiesFor(scenario: Scenario): LimitStrategy[] {
    return [
        adaptiveStrategy(scenario.controller, INITIAL_CAPACITY),
        staticStrategy(INITIAL_CAPACITY),
        aimdStrategy(scenario.controller, INITIAL_CAPACITY),
    ];
}

/**
 * Runs every strategy through `scenario` (each with the scenario's seed, so they see the same arrivals
 * as far as their limits allow) and scores them.
 * @param scenario the scenario to run
 * @example const { runs } = runScenario(scenario("capacity-drop"));
 */
export function runScenario(scenario: Scenario): ScenarioRun {
    const runs = strategiesFor(scenario).map((strategy) => {
        const records = simulate(scenario, strategy);
        return { strategy: strategy.name, records, ...score(records) };
    });
    return { scenario, runs };
}
