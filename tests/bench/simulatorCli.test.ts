import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseSimulateArgs, runSimulate } from "../../bench/simulate";
import { evaluationMarkdown, seedRanges } from "../../bench/simulator/report";
import type { Evaluation } from "../../bench/simulator/evaluation";
import { parseMarkdown } from "../../bench/runner";

const REPO = path.join(__dirname, "..", "..");

/** Runs the CLI in process and collects what it prints. */
function cli(argv: string[]): { code: number; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const code = runSimulate(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out, err };
}

describe("npm run simulate", () => {
    let dir: string;
    before(() => {
        dir = mkdtempSync(path.join(tmpdir(), "simulate-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("prints exactly one JSON object of the documented shape with --json", () => {
        const { code, out, err } = cli(["--scenario", "capacity-drop", "--seed", "7", "--json", "--out", path.join(dir, "c.svg")]);
        assert.equal(code, 0);
        assert.deepEqual(err, []);
        assert.equal(out.length, 1);
        const result = JSON.parse(out[0]);
        assert.deepEqual(Object.keys(result), ["scenario", "seed", "results"]);
        assert.deepEqual([result.scenario, result.seed], ["capacity-drop", 7]);
        assert.deepEqual(result.results.map((r: { strategy: string }) => r.strategy), [
            "adaptive (default tuning)",
            "static (normal case)",
            "static (worst case)",
            "AIMD (×0.7, +1, drop > 1 %)",
            "Gradient2-like",
            "Vegas-like",
        ]);
        for (const r of result.results) {
            assert.deepEqual(Object.keys(r), ["strategy", "goodputRatio", "errorRate", "changesPer100"]);
            assert.ok([r.goodputRatio, r.errorRate, r.changesPer100].every(Number.isFinite));
        }
    });

    it("prints a summary table and writes the SVG chart to --out", () => {
        const file = path.join(dir, "nested", "chart.svg");
        const { code, out } = cli(["--scenario", "steady", "--out", file]);
        assert.equal(code, 0);
        assert.match(out[0], /\| adaptive \(default tuning\) \|.*\n\| static \(normal case\) \|/);
        const svg = readFileSync(file, "utf8");
        assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>/);
        assert.match(svg, /<\/svg>\n$/);
        // capacity + 6 limits + 6 in-flight, 6 latencies, 6 error rates
        assert.equal(svg.match(/<polyline /g)?.length, 25);
    });

    it("defaults the chart to .tmp/ in the repository", () => {
        assert.equal(parseSimulateArgs(["--scenario", "steady"]).out, path.join(REPO, ".tmp", "simulate-steady.svg"));
    });

    const usageErrors: [string, string[], RegExp][] = [
        ["an unknown scenario", ["--scenario", "nope"], /Unknown scenario "nope"\. Scenarios: steady, capacity-drop, slower-downstream, demand-ramp, load-spike, random-mix\./],
        ["a seed that is not an integer", ["--scenario", "steady", "--seed", "x"], /--seed needs an integer; received "x"/],
        ["a missing scenario", ["--json"], /Missing --scenario/],
        ["a flag without its value", ["--scenario"], /--scenario needs a value/],
        ["an unknown flag", ["--scenario", "steady", "--fast"], /Unknown argument "--fast"/],
    ];
    for (const [name, argv, message] of usageErrors) {
        it(`exits with 2 and says why for ${name}`, () => {
            const { code, out, err } = cli(argv);
            assert.equal(code, 2);
            assert.deepEqual(out, []);
            assert.match(err.join("\n"), message);
            assert.match(err.join("\n"), /Usage: npm run simulate -- --scenario NAME/);
        });
    }

    it("sets the process exit code to 2 for an unknown scenario", () => {
        const run = spawnSync(process.execPath, ["-r", "ts-node/register", "bench/simulate.ts", "--scenario", "nope"], {
            cwd: REPO,
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
            encoding: "utf8",
        });
        assert.equal(run.status, 2);
        assert.equal(run.stdout, "");
        assert.match(run.stderr, /Scenarios: steady, capacity-drop, slower-downstream/);
    });
});

describe("bench/simulator/tune.ts --trace", () => {
    const refusals: [string, string[], RegExp][] = [
        ["a held-out seed", ["steady", "101"], /^seed 101 is held out \(101–112 and 401–500\): trace a tuning or development seed\./],
        ["a seed of the later held-out range", ["random-mix", "450"], /^seed 450 is held out \(101–112 and 401–500\): trace a tuning or development seed\./],
        ["a seed that is not an integer", ["steady", "x"], /^--trace needs a seed, a positive integer; received "x"\./],
        ["an unknown scenario", ["nope", "5"], /^--trace needs a scenario, one of steady, capacity-drop, slower-downstream, demand-ramp, load-spike, random-mix; received "nope"\./],
    ];
    for (const [name, argv, message] of refusals) {
        it(`exits with 2 and traces nothing for ${name}`, () => {
            const run = spawnSync(process.execPath, ["-r", "ts-node/register", "bench/simulator/tune.ts", "--trace", ...argv], {
                cwd: REPO,
                env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
                encoding: "utf8",
            });
            assert.equal(run.status, 2);
            assert.equal(run.stdout, "");
            assert.match(run.stderr, message);
        });
    }
});

describe("bench/controller.bench report", () => {
    const row = (strategy: string, goodput: number) => ({ strategy, goodputMean: goodput, goodputMin: goodput - 0.05, errorMean: 0.001, errorMax: 0.004, changesMean: 8, changesMax: 12 });
    const evaluation: Evaluation = {
        tuningSeeds: [1, 2],
        developmentSeeds: [11, 12],
        heldOutSeeds: [101, 102, 103],
        aimdSweep: [{ tuning: { backoffRatio: 0.7, increase: 1, dropErrorRate: 0.01 }, score: 0.81 }],
        aimdBest: { backoffRatio: 0.7, increase: 1, dropErrorRate: 0.01 },
        scenarios: [{ scenario: "steady", description: "d", strategies: [row("adaptive (default tuning)", 0.93), row("static (normal case)", 1)], oracle: row("oracle (told the true capacity; upper reference)", 0.99), measuringOracle: row("measuring oracle (told the true capacity one round trip late; reference)", 0.97) }],
        criteria: { goodputEveryScenario: true, errorsEveryScenario: true, steadyChanges: false, aheadOnMix: false },
    };

    it("says so in the caveat when the oracle itself stays under the goodput criterion in capacity-drop or random-mix", () => {
        const low = { ...evaluation, scenarios: [{ ...evaluation.scenarios[0], scenario: "capacity-drop" as const, oracle: row("oracle", 0.92) }] };
        const text = parseMarkdown(evaluationMarkdown(low)).notes.join("\n");
        assert.match(text, /The oracle stays under 90.0 % on at least one held-out seed in: capacity-drop \(mean 92.0 %, worst seed 87.0 %\)\. Caveat: in capacity-drop even the oracle/);
    });

    it("says where even the measuring oracle stays under the goodput criterion on some seed", () => {
        const mix = { ...evaluation, scenarios: [{ ...evaluation.scenarios[0], scenario: "random-mix" as const, measuringOracle: row("measuring oracle", 0.9) }] };
        const text = parseMarkdown(evaluationMarkdown(mix)).notes.join("\n");
        assert.match(text, /The measuring oracle is told the same true capacity two intervals late/);
        assert.match(text, /It stays under 90.0 % on at least one held-out seed in: random-mix \(mean 90.0 %, worst seed 85.0 %\); there the criterion on every seed asks more/);
        assert.match(parseMarkdown(evaluationMarkdown(evaluation)).notes.join("\n"), /The measuring oracle .* It reaches ≥ 90.0 % on every held-out seed of every scenario\./);
    });

    it("says where the references themselves go over the errors criterion, and when neither does", () => {
        const withErrors = (errorMax: number) => ({ ...row("reference", 0.95), errorMax });
        const mix = { ...evaluation, scenarios: [{ ...evaluation.scenarios[0], scenario: "random-mix" as const, oracle: withErrors(0.015), measuringOracle: withErrors(0.0364) }] };
        const text = parseMarkdown(evaluationMarkdown(mix)).notes.join("\n");
        assert.match(text, /Errors are calls that hit the client timeout \(fixed for the run\)\. A limit over the capacity causes them/);
        assert.match(text, /The oracle stays at or under 2.0 % on every held-out seed of every scenario\. The measuring oracle goes over it in: random-mix \(worst seed 3.64 %\); there a controller that measures/);
        const both = { ...evaluation, scenarios: [{ ...mix.scenarios[0], oracle: withErrors(0.0201) }] };
        assert.match(parseMarkdown(evaluationMarkdown(both)).notes.join("\n"), /The oracle goes over 2.0 % on at least one held-out seed in: random-mix \(worst seed 2.01 %\)\./);
        assert.match(parseMarkdown(evaluationMarkdown(evaluation)).notes.join("\n"), /The measuring oracle stays at or under it on every held-out seed of every scenario\./);
    });

    it("names seeds by their runs of consecutive numbers, so that the held-out gap between development seeds shows", () => {
        assert.equal(seedRanges([11, 12, 13, 113, 114]), "11–13 and 113–114");
        assert.equal(seedRanges([7]), "7");
        assert.equal(seedRanges([1, 3, 4]), "1 and 3–4");
    });

    it("tabulates every scenario and strategy, the sweep, the seeds and the verdict per criterion", () => {
        const { tables, notes } = parseMarkdown(evaluationMarkdown(evaluation));
        assert.equal(tables.length, 4);
        assert.deepEqual(tables[0].rows[0], {
            scenario: "steady",
            strategy: "adaptive (default tuning)",
            "goodput mean": "93.0 %",
            "goodput worst seed": "88.0 %",
            "errors mean": "0.10 %",
            "errors worst seed": "0.40 %",
            "limit changes / 100 (mean)": "8.0",
            "limit changes / 100 (worst)": "12",
        });
        // The oracle is a table of its own next to the controller, never a row among the baselines.
        assert.deepEqual(tables[1].rows[0], {
            scenario: "steady",
            "adaptive goodput mean": "93.0 %",
            "oracle goodput mean": "99.0 %",
            "adaptive worst seed": "88.0 %",
            "oracle worst seed": "94.0 %",
            "lost to the constraints (100 % − oracle mean)": "1.0 %",
            "lost by the controller (oracle − adaptive, mean)": "6.0 %",
            "measuring oracle mean": "97.0 %",
            "measuring oracle worst seed": "92.0 %",
        });
        assert.deepEqual(tables[2].rows[0], {
            scenario: "steady",
            "adaptive errors mean": "0.10 %",
            "adaptive errors worst seed": "0.40 %",
            "oracle errors mean": "0.10 %",
            "oracle errors worst seed": "0.40 %",
            "measuring oracle errors mean": "0.10 %",
            "measuring oracle errors worst seed": "0.40 %",
        });
        assert.ok(!tables[0].rows.some((r) => r.strategy.includes("oracle")));
        assert.equal(tables[3].rows[0]["AIMD backoff"], "0.7");
        const text = notes.join("\n");
        assert.match(text, /Held-out seeds 101–103 \(3 per scenario\); the controller's constants and the AIMD sweep were tuned on seeds 1–2, and the constants also checked on seeds 11–12, only/);
        assert.match(text, /upper reference, not a competitor.*reachable under these constraints, with the least room in steady \(4.0 % above it/);
        assert.match(text, /goodput ≥ 90.0 % in every scenario — met; errors ≤ 2.0 % — met; steady ≤ 10 limit changes per 100 intervals — NOT met; ahead of every baseline on random-mix goodput — NOT met/);
    });
});
