import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

/** Runs `npm start -- <args>` as a user would. */
function npmStart(...args: string[]) {
    return spawnSync("npm", ["start", "--silent", "--", ...args], { cwd: ROOT, encoding: "utf8" });
}

describe("npm start (offline plan)", function () {
    this.timeout(120_000);

    it("prints the dev plan: tree with settings, budget, outputs, and writes the diagram", () => {
        const run = npmStart();
        assert.equal(run.status, 0, run.stderr);
        const out = run.stdout;
        assert.match(out, /Offline plan for stack "dev"/);
        assert.match(out, /No cloud call and no provider validation happened/);
        assert.match(out, /\+ EventBridgeWorkerPool orders\n/);
        assert.match(out, /  - Function orders-fn: reserved concurrency 5, timeout 30 s, memory 256 MB, arm64/);
        assert.match(out, /  - FunctionEventInvokeConfig orders-async: async retries 2, max event age 21600 s, on failure → orders-dlq/);
        assert.match(out, /  - EventTarget orders-target: target retries 185, max event age 86400 s, DLQ → orders-dlq/);
        assert.match(out, /default AWS provider: limit 1000 \(config serverless-concurrency:accountConcurrencyLimit\), reserved 5, unreserved 995/);
        const diagram = fs.readFileSync(path.join(ROOT, "plan", "dev.mmd"), "utf8");
        assert.match(diagram, /^flowchart LR\n/);
        assert.match(diagram, /orders_target --> orders_fn/);
    });

    it("names the stacks that exist when asked for an unknown one", () => {
        const run = npmStart("--stack", "nope");
        assert.equal(run.status, 2);
        assert.match(run.stderr, /Unknown stack "nope": no stacks\/Pulumi\.nope\.yaml\. Stacks: dev/);
    });
});
