import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { benchNames, BenchUsageError, measureScale, parseBenchArgs, parseMarkdown, renderReport, runBenches, scaleTable } from "../../bench/runner";
import { PRICES_AS_OF } from "../../bench/prices";

const FIXTURES = path.join(__dirname, "fixtures");
const DIRS = { benches: path.join(FIXTURES, "benches"), scale: path.join(FIXTURES, "scale") };
const REPO = path.join(__dirname, "..", "..");

function collect() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, output: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

describe("npm run bench: runner", () => {
    it("parses --json and bench names, and rejects an unknown name listing the benches", () => {
        assert.deepEqual(parseBenchArgs(["--json", "scale"], ["alpha", "scale"]), { json: true, names: ["scale"] });
        assert.deepEqual(parseBenchArgs([], ["alpha", "scale"]), { json: false, names: [] });
        assert.throws(() => parseBenchArgs(["nope"], ["alpha", "scale"]), (e: Error) => e instanceof BenchUsageError && /Unknown bench or flag "nope"\. Benches: alpha, scale; flag: --json\./.test(e.message));
    });

    it("finds the benches by file name, scale last", () => {
        assert.deepEqual(benchNames(DIRS.benches), ["alpha", "scale"]);
        assert.deepEqual(benchNames(path.join(REPO, "bench")), ["controller", "cost", "idempotency", "ordered", "semaphore", "scale"]);
    });

    it("runs every scale module that exports measure, except types.ts", async () => {
        const rows = await measureScale(DIRS.scale);
        assert.deepEqual(rows.map((r) => r.layout), ["before", "after"]);
    });

    it("prints the scale rows as one table with the after ÷ before ceiling ratio and the notes", async () => {
        const table = scaleTable(await measureScale(DIRS.scale));
        const { tables, notes } = parseMarkdown(table);
        assert.deepEqual(tables[0].headings, ["pattern", "operation", "layout", "requests/op", "WCU/op", "binding limit", "ceiling/s", "after ÷ before", "$/million"]);
        assert.deepEqual(tables[0].rows[1], {
            pattern: "Fixture",
            operation: "one write",
            layout: "after",
            "requests/op": "1",
            "WCU/op": "1",
            "binding limit": "1,000 WCU/s on one item",
            "ceiling/s": "1,000",
            "after ÷ before": "2.0×",
            "$/million": "$1.25",
        });
        assert.equal(tables[0].rows[0]["after ÷ before"], "");
        assert.deepEqual(notes, ["- Fixture, one write (after): sharded by key"]);
    });

    it("with --json prints exactly one JSON document holding every bench's tables, notes and the raw scale rows", async () => {
        const { out, err, output } = collect();
        await runBenches({ json: true, names: [] }, DIRS, output);
        assert.equal(out.length, 1);
        const doc = JSON.parse(out[0]);
        assert.deepEqual(Object.keys(doc), ["generatedAt", "pricesAsOf", "benches"]);
        assert.equal(doc.pricesAsOf, PRICES_AS_OF);
        assert.deepEqual(Object.keys(doc.benches), ["alpha", "scale"]);
        assert.deepEqual(doc.benches.alpha.tables, [{ headings: ["case", "figure"], rows: [{ case: "one", figure: "1.5 ms" }, { case: "two", figure: "2" }] }]);
        assert.deepEqual(doc.benches.alpha.notes, ["Figures measured on nothing."]);
        assert.equal(doc.benches.scale.rows.length, 2);
        assert.equal(doc.benches.scale.tables[0].rows.length, 2);
        assert.match(err.join("\n"), /bench alpha: \d+\.\d s/);
    });

    it("without --json prints each bench's section; a name runs that bench alone", async () => {
        const { out, output } = collect();
        await runBenches({ json: false, names: ["scale"] }, DIRS, output);
        assert.equal(out.length, 1);
        assert.match(out[0], /^\n## Scale: .*\n\n\| pattern \| operation \|/);
    });

    it("renders a report back to the same Markdown tables", () => {
        const markdown = "| a | b |\n|---|---|\n| 1 | 2 |";
        assert.equal(renderReport({ title: "t", ...parseMarkdown(`${markdown}\nnote`) }), `${markdown}\n\nnote`);
    });

    it("keeps stdout to the JSON document alone when run as `npm run bench -- --json NAME`", () => {
        // The semaphore bench is one of the quick ones (a few seconds); the scale bench takes minutes.
        const run = spawnSync(process.execPath, ["-r", "ts-node/register", "bench/index.ts", "--json", "semaphore"], {
            cwd: REPO,
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
            encoding: "utf8",
        });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(Object.keys(JSON.parse(run.stdout).benches), ["semaphore"]);
    });

    it("exits with 2 and names the benches for an unknown one", () => {
        const run = spawnSync(process.execPath, ["-r", "ts-node/register", "bench/index.ts", "nope"], { cwd: REPO, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" }, encoding: "utf8" });
        assert.equal(run.status, 2);
        assert.match(run.stderr, /Benches: controller, cost, idempotency, ordered, semaphore, scale/);
    });
});
