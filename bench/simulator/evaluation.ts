/**
 * The simulator's verdict, as `npm run bench` reports it: every scenario over held-out seeds, the
 * controller with default tuning next to every baseline, AIMD tuned by a sweep.
 *
 * Honesty rules: the controller's own constants were tuned on {@link TUNING_SEEDS} and checked on
 * {@link DEVELOPMENT_SEEDS} only, and the AIMD sweep picks its best on the tuning seeds; every reported
 * figure comes from {@link HELD_OUT_SEEDS}, whose
 * worlds (capacity, latency, queueing, jitter, timeout, cold starts, start, random-mix events) neither saw.
 */
import { measuringOracleFor, oracleFor, runScenario, StrategyRun, strategiesFor } from "./index";
import { AimdTuning, aimdStrategy } from "./strategies";
import { scenario, SCENARIO_NAMES, ScenarioName } from "./scenarios";

/** Seeds the algorithm's constants and the AIMD sweep were tuned on. */
export const TUNING_SEEDS = Array.from({ length: 10 }, (_, i) => i + 1);
/**
 * More seeds the controller's constants were checked on during development, for cases the ten tuning seeds
 * do not draw (e.g. a capacity that comes back while the latency under the knee stays flat; 113–400 for the rare
 * steady-state runs with more limit changes than the criterion allows). Never reported,
 * and not used by the AIMD sweep (`bench/simulator/tune.ts --dev` shows them).
 */
export const DEVELOPMENT_SEEDS = [...Array.from({ length: 90 }, (_, i) => i + 11), ...Array.from({ length: 288 }, (_, i) => i + 113)];
/**
 * Seeds every reported figure comes from: 101–112, and 401–500, which no development run looked at either (added so
 * that a mean and a worst seed rest on 112 worlds per scenario rather than 12).
 */
export const HELD_OUT_SEEDS = [...Array.from({ length: 12 }, (_, i) => i + 101), ...Array.from({ length: 100 }, (_, i) => i + 401)];

/** The done-when criteria of the headline row. */
export const CRITERIA = { goodputRatio: 0.9, errorRate: 0.02, steadyChangesPer100: 10 } as const;

/** AIMD tunings the sweep tries: backoff × step × drop threshold. */
export const AIMD_SWEEP: AimdTuning[] = [0.5, 0.7, 0.9].flatMap((backoffRatio) =>
    [1, 5].flatMap((increase) => [0.01, 0.05].map((dropErrorRate) => ({ backoffRatio, increase, dropErrorRate }))),
);

/** One strategy's figures in one scenario, over the held-out seeds. */
export interface StrategySummary {
    /** Strategy label. */
    strategy: string;
    /** Mean goodput ÷ ideal. */
    goodputMean: number;
    /** Worst seed's goodput ÷ ideal. */
    goodputMin: number;
    /** Mean error rate. */
    errorMean: number;
    /** Worst seed's error rate. */
    errorMax: number;
    /** Mean limit changes per 100 intervals (after the warm-up). */
    changesMean: number;
    /** Worst seed's limit changes per 100 intervals. */
    changesMax: number;
}

/** One scenario's rows. */
export interface ScenarioSummary {
    /** Scenario name. */
    scenario: ScenarioName;
    /** What happens in it. */
    description: string;
    /** The controller first, then the baselines. */
    strategies: StrategySummary[];
    /**
     * The upper reference ({@link oracleFor}): told the true capacity, under the same constraints. Not a
     * baseline: no criterion compares against it.
     */
    oracle: StrategySummary;
    /**
     * The second reference ({@link measuringOracleFor}): told the true capacity one measurement round trip
     * (two intervals) late, at best what a controller that must measure a change before it knows it loses.
     */
    measuringOracle: StrategySummary;
}

/** One AIMD tuning's score on the tuning seeds. */
export interface SweepRow {
    /** The tuning. */
    tuning: AimdTuning;
    /** Mean goodput over every scenario and tuning seed, less 10× the mean error rate. */
    score: number;
}

/** Everything the bench prints about the simulator. */
export interface Evaluation {
    /** Seeds tuned on (the controller's constants and the AIMD sweep). */
    tuningSeeds: number[];
    /** Seeds the controller's constants were also checked on; never reported. */
    developmentSeeds: number[];
    /** Seeds reported. */
    heldOutSeeds: number[];
    /** The AIMD sweep, best first. */
    aimdSweep: SweepRow[];
    /** The AIMD tuning the held-out rows use. */
    aimdBest: AimdTuning;
    /** One entry per scenario. */
    scenarios: ScenarioSummary[];
    /** Whether the headline row meets each criterion, over the held-out seeds. */
    criteria: { goodputEveryScenario: boolean; errorsEveryScenario: boolean; steadyChanges: boolean; aheadOnMix: boolean };
}

/**
 * Runs the sweep on the tuning seeds, then every scenario on the held-out seeds.
 * @example const { scenarios, criteria } = evaluate();
 */
export function evaluate(): Evaluation {
    const aimdSweep = sweepAimd();
    const aimdBest = aimdSweep[0].tuning;
    const scenarios = SCENARIO_NAMES.map((name) => summarise(name, aimdBest));
    return { tuningSeeds: TUNING_SEEDS, developmentSeeds: DEVELOPMENT_SEEDS, heldOutSeeds: HELD_OUT_SEEDS, aimdSweep, aimdBest, scenarios, criteria: criteriaOf(scenarios) };
}

/**
 * Every AIMD tuning of {@link AIMD_SWEEP} over every scenario and tuning seed, best first.
 * @example sweepAimd()[0].tuning // the tuning the bench uses
 */
export function sweepAimd(): SweepRow[] {
    const rows = AIMD_SWEEP.map((tuning) => {
        const runs = SCENARIO_NAMES.flatMap((name) =>
            TUNING_SEEDS.map((seed) => {
                const s = scenario(name, seed);
                return runScenario(s, [aimdStrategy(s.bounds, s.initialLimit, tuning)]).runs[0];
            }),
        );
        return { tuning, score: mean(runs.map((r) => r.goodputRatio)) - 10 * mean(runs.map((r) => r.errorRate)) };
    });
    return rows.sort((a, b) => b.score - a.score);
}

function summarise(name: ScenarioName, aimd: AimdTuning): ScenarioSummary {
    const perSeed = HELD_OUT_SEEDS.map((seed) => {
        const s = scenario(name, seed);
        const [oracle, measuringOracle] = runScenario(s, [oracleFor(s), measuringOracleFor(s)]).runs;
        return { runs: runScenario(s, strategiesFor(s, aimd)).runs, oracle, measuringOracle };
    });
    const strategies = perSeed[0].runs.map((_, i) => summaryOf(perSeed.map((seedRuns) => seedRuns.runs[i])));
    return {
        scenario: name,
        description: scenario(name).description,
        strategies,
        oracle: summaryOf(perSeed.map((seedRuns) => seedRuns.oracle)),
        measuringOracle: summaryOf(perSeed.map((seedRuns) => seedRuns.measuringOracle)),
    };
}

function summaryOf(runs: StrategyRun[]): StrategySummary {
    return {
        strategy: runs[0].strategy,
        goodputMean: mean(runs.map((r) => r.goodputRatio)),
        goodputMin: Math.min(...runs.map((r) => r.goodputRatio)),
        errorMean: mean(runs.map((r) => r.errorRate)),
        errorMax: Math.max(...runs.map((r) => r.errorRate)),
        changesMean: mean(runs.map((r) => r.changesPer100)),
        changesMax: Math.max(...runs.map((r) => r.changesPer100)),
    };
}

function criteriaOf(scenarios: ScenarioSummary[]): Evaluation["criteria"] {
    const headline = scenarios.map((s) => s.strategies[0]);
    const steady = scenarios.find((s) => s.scenario === "steady")?.strategies[0];
    const mix = scenarios.find((s) => s.scenario === "random-mix");
    return {
        goodputEveryScenario: headline.every((h) => h.goodputMin >= CRITERIA.goodputRatio),
        errorsEveryScenario: headline.every((h) => h.errorMax <= CRITERIA.errorRate),
        steadyChanges: (steady?.changesMax ?? Infinity) <= CRITERIA.steadyChangesPer100,
        aheadOnMix: mix !== undefined && mix.strategies.slice(1).every((b) => mix.strategies[0].goodputMean > b.goodputMean),
    };
}

function mean(values: number[]): number {
    return values.reduce((a, b) => a + b, 0) / values.length;
}
