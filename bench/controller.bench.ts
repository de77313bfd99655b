/**
 * Adaptive concurrency in the simulator: every scenario, the adaptive controller next to a static limit
 * at the initial capacity and plain AIMD, all from the same run (see bench/simulator).
 */
import { runScenario, scenario, SCENARIO_NAMES } from "./simulator";
import { markdownTable, SUMMARY_HEADINGS, summaryRows } from "./simulator/report";

/** Heading printed by `npm run bench`. */
export const title = "Adaptive concurrency: simulated downstream, three strategies side by side";

/** Runs every scenario and returns one Markdown table with a row per scenario and strategy. */
export async function run(): Promise<string> {
    const rows = SCENARIO_NAMES.flatMap((name) => summaryRows(runScenario(scenario(name))).map((row) => [name, ...row]));
    const notes = [
        "",
        "Goodput: successful calls ÷ ideal min(load, capacity); settle: control intervals until the limit stays",
        "within ±10 % of the capacity, after the start and after each capacity step (`npm run simulate -- --scenario NAME` draws the chart).",
    ];
    return [markdownTable(["scenario", ...SUMMARY_HEADINGS], rows), ...notes].join("\n");
}
