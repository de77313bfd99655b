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

/** Column headings of the upper-reference table. */
export const ORACLE_HEADINGS = [
    "scenario",
    "adaptive goodput mean",
    "oracle goodput mean",
    "adaptive worst seed",
    "oracle worst seed",
    "lost to the constraints (100 % − oracle mean)",
    "lost by the controller (oracle − adaptive, mean)",
    "measuring oracle mean",
    "measuring oracle worst seed",
];

/** Column headings of the errors-against-the-references table. */
export const ORACLE_ERROR_HEADINGS = ["scenario", "adaptive errors mean", "adaptive errors worst seed", "oracle errors mean", "oracle errors worst seed", "measuring oracle errors mean", "measuring oracle errors worst seed"];

/** Scenarios whose oracle the README caveat must name when it stays under the goodput criterion. */
const ORACLE_WATCHED: ScenarioName[] = ["capacity-drop", "random-mix"];

/**
 * The upper-reference lines: where the oracle itself stays under the goodput criterion (mean or worst
 * seed), said plainly for capacity-drop and random-mix and for any other scenario where it happens.
 * @param e from `evaluate()`
 * @example oracleCaveat(evaluate())
 */
export function oracleCaveat(e: Evaluation): string {
    const under = e.scenarios.filter((s) => s.oracle.goodputMin < CRITERIA.goodputRatio);
    const intro = `The oracle columns are an upper reference, not a competitor: it is told the downstream's true capacity of the interval that just ended and sets the limit to it, under the same constraints as every strategy (same starting limit, its decision in effect one interval late, cold starts, Poisson demand), so it cannot foresee a change; 100 % minus its goodput is what those constraints cost, and the rest of the controller's gap is the controller's.`;
    if (under.length === 0) {
        const thinnest = e.scenarios.reduce((a, b) => (b.oracle.goodputMin < a.oracle.goodputMin ? b : a));
        return `${intro} It reaches ≥ ${percent(CRITERIA.goodputRatio)} on every held-out seed of every scenario (capacity-drop worst seed ${oracleMin(e, "capacity-drop")}, random-mix worst seed ${oracleMin(e, "random-mix")}): the goodput criterion is reachable under these constraints, with the least room in ${thinnest.scenario} (${percent(thinnest.oracle.goodputMin - CRITERIA.goodputRatio)} above it on the worst seed).`;
    }
    const named = under.map((s) => `${s.scenario} (mean ${percent(s.oracle.goodputMean)}, worst seed ${percent(s.oracle.goodputMin)})`).join("; ");
    const watched = ORACLE_WATCHED.filter((n) => under.some((s) => s.scenario === n));
    const warn = watched.length ? ` Caveat: in ${watched.join(" and ")} even the oracle does not reach the criterion on every seed, so there the ≥ ${percent(CRITERIA.goodputRatio)} criterion asks more than the constraints allow.` : "";
    return `${intro} The oracle stays under ${percent(CRITERIA.goodputRatio)} on at least one held-out seed in: ${named}.${warn}`;
}

/**
 * The measuring-oracle line: what it is, and where even it stays under the goodput criterion on some seed.
 * @param e from `evaluate()`
 * @example measuringOracleCaveat(evaluate())
 */
export function measuringOracleCaveat(e: Evaluation): string {
    const intro = `The measuring oracle is told the same true capacity two intervals late: the time a controller needs to measure what an event was (the change it decides on the window that showed the event lands one interval later and is measured in the window after; a capacity that rose shows only through a probe, a slower downstream looks like an overloaded one until a cut is measured). It is a reference for what that measuring costs, not a competitor and not a strict bound: where one window already tells a controller what happened (a capacity drop, whose latency rise sizes the cut) it can do better.`;
    const under = e.scenarios.filter((s) => s.measuringOracle.goodputMin < CRITERIA.goodputRatio);
    if (under.length === 0) return `${intro} It reaches ≥ ${percent(CRITERIA.goodputRatio)} on every held-out seed of every scenario.`;
    const named = under.map((s) => `${s.scenario} (mean ${percent(s.measuringOracle.goodputMean)}, worst seed ${percent(s.measuringOracle.goodputMin)})`).join("; ");
    return `${intro} It stays under ${percent(CRITERIA.goodputRatio)} on at least one held-out seed in: ${named}; there the criterion on every seed asks more than a controller that measures each event before it knows it can be expected to give.`;
}

/**
 * The errors line: where the references themselves go over the errors criterion on some held-out seed.
 * @param e from `evaluate()`
 * @example errorsCaveat(evaluate())
 */
export function errorsCaveat(e: Evaluation): string {
    const over = (pick: (s: Evaluation["scenarios"][number]) => number) =>
        e.scenarios.filter((s) => pick(s) > CRITERIA.errorRate).map((s) => `${s.scenario} (worst seed ${percent(pick(s), 2)})`);
    const oracle = over((s) => s.oracle.errorMax);
    const measuring = over((s) => s.measuringOracle.errorMax);
    const intro = `Errors are calls that hit the client timeout (fixed for the run). A limit over the capacity causes them (contention raises every call's latency), so a capacity drop causes them in the intervals before any limit change can land, the oracle's included; a slower downstream adds a few at any concurrency.`;
    const oracleLine = oracle.length ? ` The oracle goes over ${percent(CRITERIA.errorRate)} on at least one held-out seed in: ${oracle.join("; ")}.` : ` The oracle stays at or under ${percent(CRITERIA.errorRate)} on every held-out seed of every scenario.`;
    const measuringLine = measuring.length
        ? ` The measuring oracle goes over it in: ${measuring.join("; ")}; there a controller that measures each event before it knows it can be expected to miss the errors criterion on some seed.`
        : ` The measuring oracle stays at or under it on every held-out seed of every scenario.`;
    return intro + oracleLine + measuringLine;
}

function oracleMin(e: Evaluation, name: ScenarioName): string {
    const s = e.scenarios.find((x) => x.scenario === name);
    return s ? percent(s.oracle.goodputMin) : "n/a";
}

/**
 * The bench's Markdown: the held-out table, the oracle (upper reference) next to the controller for goodput and for errors, the AIMD sweep, the verdict against the criteria, caveats.
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
    const oracleRows = e.scenarios.map((s) => {
        const adaptive = s.strategies[0];
        return [
            s.scenario,
            percent(adaptive.goodputMean),
            percent(s.oracle.goodputMean),
            percent(adaptive.goodputMin),
            percent(s.oracle.goodputMin),
            percent(Math.max(0, 1 - s.oracle.goodputMean)),
            percent(s.oracle.goodputMean - adaptive.goodputMean),
            percent(s.measuringOracle.goodputMean),
            percent(s.measuringOracle.goodputMin),
        ];
    });
    const errorRows = e.scenarios.map((s) => {
        const adaptive = s.strategies[0];
        return [s.scenario, ...[adaptive, s.oracle, s.measuringOracle].flatMap((r) => [percent(r.errorMean, 2), percent(r.errorMax, 2)])];
    });
    const sweep = e.aimdSweep.map((r) => [String(r.tuning.backoffRatio), String(r.tuning.increase), percent(r.tuning.dropErrorRate), r.score.toFixed(3)]);
    const c = e.criteria;
    return [
        markdownTable(EVALUATION_HEADINGS, rows),
        "",
        markdownTable(ORACLE_HEADINGS, oracleRows),
        "",
        markdownTable(ORACLE_ERROR_HEADINGS, errorRows),
        "",
        markdownTable(["AIMD backoff", "AIMD step", "drop when errors >", "score on tuning seeds (goodput − 10 × errors)"], sweep),
        "",
        `Held-out seeds ${seedRanges(e.heldOutSeeds)} (${e.heldOutSeeds.length} per scenario); the controller's constants and the AIMD sweep were tuned on seeds ${seedRanges(e.tuningSeeds)}, and the constants also checked on seeds ${seedRanges(e.developmentSeeds)}, only. Each seed draws its own world: normal capacity 20–300 calls in flight, latency at capacity 20–200 ms, queueing 0.1–0.3, jitter σ 0.1–0.4, client timeout 4–8 × latency, cold start 0.2–1.5 s plus 5 slower first calls, starting limit 0.5–1.5 × capacity.`,
        "Every strategy gets the same signals: 60-s intervals, its decision in effect one interval late, CloudWatch signals (throttles, concurrency in use, backlog) 1–2 intervals old, 5 % log-normal noise on the latency percentile and the concurrency; the controller row uses default tuning (bounds 1–1000 only, no latency target).",
        "Static rows are sized with hindsight from the scenario's own capacity (normal case; lowest capacity of the run).",
        oracleCaveat(e),
        measuringOracleCaveat(e),
        errorsCaveat(e),
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

/**
 * Seeds as their runs of consecutive numbers.
 * @example seedRanges([11, 12, 13, 113, 114]) // "11–13 and 113–114"
 */
export function seedRanges(seeds: readonly number[]): string {
    const runs: [number, number][] = [];
    for (const seed of seeds) {
        const last = runs.at(-1);
        if (last && seed === last[1] + 1) last[1] = seed;
        else runs.push([seed, seed]);
    }
    return runs.map(([from, to]) => (from === to ? `${from}` : `${from}–${to}`)).join(" and ");
}
