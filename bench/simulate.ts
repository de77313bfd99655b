/**
 * `npm run simulate -- --scenario NAME [--seed N] [--json] [--out file.svg]`
 *
 * Runs the controller (default tuning) and the baselines through one simulated scenario with the world of
 * one seed (see bench/simulator; default seed 101, the first held-out one), prints a summary table — or,
 * with `--json`, exactly one JSON object `{ scenario, seed, results: [{ strategy, goodputRatio, errorRate,
 * changesPer100 }] }` — and writes an SVG chart to `--out` (default `.tmp/simulate-NAME.svg` in the
 * repository). Exit code 2 on bad arguments or an unknown scenario.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { runScenario, scenario, SCENARIO_NAMES, ScenarioRun, UnknownScenarioError } from "./simulator";
import { renderChart } from "./simulator/chart";
import { markdownTable } from "./runner";
import { simulationResult, SUMMARY_HEADINGS, summaryRows } from "./simulator/report";

/** Parsed command line. */
export interface SimulateOptions {
    /** Scenario name, one of SCENARIO_NAMES. */
    scenario: string;
    /** Seed that draws the world. */
    seed: number;
    /** Print only the JSON result. */
    json: boolean;
    /** Where the SVG chart goes. */
    out: string;
}

/** Where output lines go (stdout and stderr in the CLI; arrays in tests). */
export interface CliOutput {
    /** Receives the result. */
    out(text: string): void;
    /** Receives errors. */
    err(text: string): void;
}

const USAGE = `Usage: npm run simulate -- --scenario NAME [--seed N] [--json] [--out file.svg]\nScenarios: ${SCENARIO_NAMES.join(", ")}`;

/** Bad command-line arguments; the message says what is wrong. */
export class UsageError extends Error {}

/**
 * Parses the arguments after `--`.
 * @param argv the arguments, without node and the script
 * @throws UsageError for a missing scenario, a flag without its value or an unknown flag
 * @example parseSimulateArgs(["--scenario", "steady", "--json"])
 */
export function parseSimulateArgs(argv: string[]): SimulateOptions {
    const options: Partial<SimulateOptions> = { json: false, seed: DEFAULT_SEED };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        if (flag === "--json") options.json = true;
        else if (flag === "--seed") options.seed = seedOf(valueOf(argv, ++i, flag));
        else if (flag === "--scenario" || flag === "--out") options[flag === "--scenario" ? "scenario" : "out"] = valueOf(argv, ++i, flag);
        else throw new UsageError(`Unknown argument "${flag}".`);
    }
    if (!options.scenario) throw new UsageError("Missing --scenario.");
    return { scenario: options.scenario, seed: options.seed ?? DEFAULT_SEED, json: options.json ?? false, out: options.out ?? defaultChartPath(options.scenario) };
}

/** The first held-out seed. */
const DEFAULT_SEED = 101;

function seedOf(text: string): number {
    const seed = Number(text);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed needs an integer; received "${text}".`);
    return seed;
}

/**
 * Runs the CLI and returns its exit code: 0, or 2 for bad arguments or an unknown scenario.
 * @param argv the arguments, without node and the script
 * @param output where the result and errors go
 * @example process.exitCode = runSimulate(process.argv.slice(2), { out: console.log, err: console.error });
 */
export function runSimulate(argv: string[], output: CliOutput): number {
    try {
        const options = parseSimulateArgs(argv);
        const run = runScenario(scenario(options.scenario, options.seed));
        writeChart(options.out, run);
        output.out(options.json ? JSON.stringify(simulationResult(run)) : summary(run, options.out));
        return 0;
    } catch (error) {
        if (!(error instanceof UsageError || error instanceof UnknownScenarioError)) throw error;
        output.err(`${error.message}\n${USAGE}`);
        return 2;
    }
}

function valueOf(argv: string[], index: number, flag: string): string {
    const value = argv[index];
    if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value.`);
    return value;
}

function defaultChartPath(name: string): string {
    return path.join(__dirname, "..", ".tmp", `simulate-${name}.svg`);
}

function writeChart(file: string, run: ScenarioRun): void {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileSync(file, renderChart(run));
}

function summary(run: ScenarioRun, chartPath: string): string {
    const { scenario: s } = run;
    return [
        `Scenario ${s.name}: ${s.description} (${s.intervals} control intervals of ${s.intervalMs / 1000} s, seed ${s.seed}).`,
        `World: normal capacity ${s.normal.capacity} in flight at ${s.normal.latencyAtCapacityMs} ms; adaptive strategies start at ${s.initialLimit}; the controller gets its bounds only (${s.bounds.min}–${s.bounds.max}).`,
        "",
        markdownTable(SUMMARY_HEADINGS, summaryRows(run)),
        "",
        `Chart: ${path.relative(process.cwd(), path.resolve(chartPath)) || chartPath}`,
    ].join("\n");
}

if (require.main === module) {
    process.exitCode = runSimulate(process.argv.slice(2), {
        out: (text) => process.stdout.write(`${text}\n`),
        err: (text) => process.stderr.write(`${text}\n`),
    });
}
