/**
 * What `npm run simulate` and `npm run bench` print: the JSON result and Markdown tables.
 */
import { percentile } from "./engine";
import type { ScenarioRun, StrategyRun } from "./index";
import type { ScenarioName } from "./scenarios";
import type { StrategyName } from "./strategies";

/** The `--json` output: exactly this object. */
export interface SimulationResult {
    /** The scenario that was run. */
    scenario: ScenarioName;
    /** One entry per strategy: adaptive, static, aimd. */
    results: {
        /** Which strategy. */
        strategy: StrategyName;
        /** Successful calls ÷ ideal min(load, capacity) over the run. */
        goodputRatio: number;
        /** Failed calls ÷ all calls. */
        errorRate: number;
        /** Control intervals until the limit stays within ±10 % of the capacity, slowest capacity step. */
        settleIntervals: number;
    }[];
}

/**
 * The `--json` result of a run, ratios rounded to 4 decimals.
 * @param run the three strategies' runs through one scenario
 * @example JSON.stringify(simulationResult(runScenario(scenario("steady"))))
 */
export function simulationResult(run: ScenarioRun): SimulationResult {
    return {
        scenario: run.scenario.name,
        results: run.runs.map((r) => ({
            strategy: r.strategy,
            goodputRatio: round4(r.goodputRatio),
            errorRate: round4(r.errorRate),
            settleIntervals: r.settleIntervals,
        })),
    };
}

/** Column headings of {@link summaryRows}. */
export const SUMMARY_HEADINGS = ["strategy", "goodput", "error rate", "settle (worst)", "settle per capacity step", "median p90 latency"];

/**
 * One row per strategy: goodput and error rate in %, settle intervals, median of the windows' p90 latency.
 * @param run the three strategies' runs through one scenario
 * @example markdownTable(SUMMARY_HEADINGS, summaryRows(run))
 */
export function summaryRows(run: ScenarioRun): string[][] {
    return run.runs.map((r: StrategyRun) => [
        r.strategy,
        percent(r.goodputRatio),
        percent(r.errorRate),
        String(r.settleIntervals),
        r.settlePerStep.join(" / "),
        `${Math.round(percentile(r.records.map((x) => x.p90LatencyMs).filter(Number.isFinite), 0.5))} ms`,
    ]);
}

/**
 * A Markdown table.
 * @param headings the column headings
 * @param rows the cells, one array per row
 * @example markdownTable(["a", "b"], [["1", "2"]]) // "| a | b |\n|---|---|\n| 1 | 2 |"
 */
export function markdownTable(headings: string[], rows: string[][]): string {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(headings), `|${headings.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

function percent(ratio: number): string {
    return `${(100 * ratio).toFixed(1)} %`;
}

function round4(value: number): number {
    return Math.round(value * 10000) / 10000;
}
