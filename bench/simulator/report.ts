/**
 * What `npm run simulate` and `npm run bench` print about the simulator: Markdown tables and the
 * `--json` result of one run.
 */
import { markdownTable } from "../runner";
import type { Evaluation } from "./evaluation";
import { CRITERIA } from "./evaluation";
import type { ScenarioRun } from "./index";
import type { ScenarioName } from "./scenarios";

/** The `npm run simulate -- --json` output: exactly this object. */
export interface SimulationResult {
    /** The scenario that was run. */
    scenario: ScenarioName;
    /** The seed that drew its world. */
    seed: number;
    /** One entry per strategy, the controller first. */
    results: {
        /** Which strategy. */
        strategy: string;
        /** Successful calls ÷ ideal min(load, capacity) over the run. */
        goodputRatio: number;
        /** Failed calls ÷ all calls. */
        errorRate: number;
        /** Limit changes per 100 intervals after the warm-up. */
        changesPer100: number;
    }[];
}

/**
 * The `--json` result of a run, ratios rounded to 4 decimals.
 * @param run the strategies' runs through one scenario
 * @example JSON.stringify(simulationResult(runScenario(scenario("steady", 101))))
 */
export function simulationResult(run: ScenarioRun): SimulationResult {
    return {
        scenario: run.scenario.name,
        seed: run.scenario.seed,
        results: run.runs.map((r) => ({ strategy: r.strategy, goodputRatio: round4(r.goodputRatio), errorRate: round4(r.errorRate), changesPer100: round4(r.changesPer100) })),
    };
}

/** Column headings of {@link summaryRows}. */
export const SUMMARY_HEADINGS = ["strategy", "goodput", "error rate", "limit changes / 100 intervals"];

/**
 * One row per strategy of one run.
 * @param run the strategies' runs through one scenario
 * @example markdownTable(SUMMARY_HEADINGS, summaryRows(run))
 */
export function summaryRows(run: ScenarioRun): string[][] {
    return run.runs.map((r) => [r.strategy, percent(r.goodputRatio), percent(r.errorRate, 2), r.changesPer100.toFixed(0)]);
}

/** Column headings of the evaluation table. */
export const EVALUATION_HEADINGS = ["scenario", "strategy", "goodput mean", "goodput worst seed", "errors mean", "errors worst seed", "limit changes / 100 (mean)", "limit changes / 100 (worst)"];

/**
 * The bench's Markdown: the held-out table, the AIMD sweep, the verdict against the criteria, caveats.
 * @param e from `evaluate()`
 * @example evaluationMarkdown(evaluate())
 */
export function evaluationMarkdown(e: Evaluation): string {
    const rows = e.scenarios.flatMap((s) =>
        s.strategies.map((r) => [
            s.scenario,
            r.strategy,
            percent(r.goodputMean),
            percent(r.goodputMin),
            percent(r.errorMean, 2),
            percent(r.errorMax, 2),
            r.changesMean.toFixed(1),
            r.changesMax.toFixed(0),
        ]),
    );
    const sweep = e.aimdSweep.map((r) => [String(r.tuning.backoffRatio), String(r.tuning.increase), percent(r.tuning.dropErrorRate), r.score.toFixed(3)]);
    const c = e.criteria;
    return [
        markdownTable(EVALUATION_HEADINGS, rows),
        "",
        markdownTable(["AIMD backoff", "AIMD step", "drop when errors >", "score on tuning seeds (goodput − 10 × errors)"], sweep),
        "",
        `Held-out seeds ${e.heldOutSeeds[0]}–${e.heldOutSeeds.at(-1)} (${e.heldOutSeeds.length} per scenario); the controller's constants and the AIMD sweep were tuned on seeds ${e.tuningSeeds[0]}–${e.tuningSeeds.at(-1)} only. Each seed draws its own world: normal capacity 20–300 calls in flight, latency at capacity 20–200 ms, queueing 0.1–0.3, jitter σ 0.1–0.4, client timeout 4–8 × latency, cold start 0.2–1.5 s plus 5 slower first calls, starting limit 0.5–1.5 × capacity.`,
        "Every strategy gets the same signals: 60-s intervals, its decision in effect one interval late, CloudWatch signals (throttles, concurrency in use, backlog) 1–2 intervals old, 5 % log-normal noise on the latency percentile and the concurrency; the controller row uses default tuning (bounds 1–1000 only, no latency target).",
        "Static rows are oracles: sized from the scenario's own capacity (normal case; lowest capacity of the run).",
        `Criteria (headline row, every held-out seed): goodput ≥ ${percent(CRITERIA.goodputRatio)} in every scenario — ${yesNo(c.goodputEveryScenario)}; errors ≤ ${percent(CRITERIA.errorRate)} — ${yesNo(c.errorsEveryScenario)}; steady ≤ ${CRITERIA.steadyChangesPer100} limit changes per 100 intervals — ${yesNo(c.steadyChanges)}; ahead of every baseline on random-mix goodput — ${yesNo(c.aheadOnMix)}.`,
    ].join("\n");
}

function yesNo(met: boolean): string {
    return met ? "met" : "NOT met";
}

function percent(ratio: number, digits = 1): string {
    return `${(100 * ratio).toFixed(digits)} %`;
}

function round4(value: number): number {
    return Math.round(value * 10000) / 10000;
}
