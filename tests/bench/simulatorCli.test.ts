import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseSimulateArgs, runSimulate } from "../../bench/simulate";
import * as controllerBench from "../../bench/controller.bench";

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
        const { code, out, err } = cli(["--scenario", "capacity-drop", "--json", "--out", path.join(dir, "c.svg")]);
        assert.equal(code, 0);
        assert.deepEqual(err, []);
        assert.equal(out.length, 1);
        const result = JSON.parse(out[0]);
        assert.deepEqual(Object.keys(result), ["scenario", "results"]);
        assert.equal(result.scenario, "capacity-drop");
        assert.deepEqual(result.results.map((r: { strategy: string }) => r.strategy), ["adaptive", "static", "aimd"]);
        for (const r of result.results) {
            assert.deepEqual(Object.keys(r), ["strategy", "goodputRatio", "errorRate", "settleIntervals"]);
            assert.ok([r.goodputRatio, r.errorRate, r.settleIntervals].every(Number.isFinite));
        }
    });

    it("prints a summary table and writes the SVG chart to --out", () => {
        const file = path.join(dir, "nested", "chart.svg");
        const { code, out } = cli(["--scenario", "steady", "--out", file]);
        assert.equal(code, 0);
        assert.match(out[0], /\| adaptive \|.*\n\| static \|.*\n\| aimd \|/);
        const svg = readFileSync(file, "utf8");
        assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>/);
        assert.match(svg, /<\/svg>\n$/);
        // capacity + 3 limits + 3 in-flight, 3 latencies + the target, 3 error rates
        assert.equal(svg.match(/<polyline /g)?.length, 14);
    });

    it("defaults the chart to .tmp/ in the repository", () => {
        assert.equal(parseSimulateArgs(["--scenario", "steady"]).out, path.join(REPO, ".tmp", "simulate-steady.svg"));
    });

    const usageErrors: [string, string[], RegExp][] = [
        ["an unknown scenario", ["--scenario", "nope"], /Unknown scenario "nope"\. Scenarios: steady, capacity-drop, load-spike\./],
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
        assert.match(run.stderr, /Scenarios: steady, capacity-drop, load-spike/);
    });
});

describe("bench/controller.bench", () => {
    it("tabulates every scenario with the three strategies side by side", async () => {
        const table = await controllerBench.run();
        const rows = table.split("\n").filter((line) => /^\| (steady|capacity-drop|load-spike) \|/.test(line));
        assert.equal(rows.length, 9);
        assert.match(table, /^\| scenario \| strategy \| goodput \| error rate \|/);
        assert.ok(controllerBench.title.length > 0);
    });
});
