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
        assert.match(out, /  - EventSourceMapping payments-esm: batch size 100, window 1, parallelization factor 2, starting position TRIM_HORIZON, bisect true, retries 10, max record age 86400, on failure payments-failures/);
        assert.match(out, /  - Function payments-fn: reserved concurrency none, timeout 30 s, memory 256 MB, arm64, in VPC subnets subnet-workers-private-a subnet-workers-private-b/);
        assert.match(out, /  - EventSourceMapping ledger-esm: batch size 10, max concurrency 5/);
        assert.match(out, /"paymentsMaxConcurrency":4,"paymentsMaxDownstreamConcurrency":40/);
        assert.match(out, /"ledgerMaxConcurrency":20,"ledgerMaxDownstreamConcurrency":200/);
        assert.match(out, /Function orders-fn: reserved concurrency 5, .* \[ignoreChanges: reservedConcurrentExecutions\]/);
        assert.match(out, /\+ ConcurrencyController orders-adaptive\n/);
        assert.match(out, /EventSourceMapping payments-esm: .* \[ignoreChanges: enabled, batchSize, parallelizationFactor\]/);
        assert.match(out, /default AWS provider: limit 1000 \(config serverless-concurrency:accountConcurrencyLimit\), reserved 20, unreserved 980/);
        const diagram = fs.readFileSync(path.join(ROOT, "plan", "dev.mmd"), "utf8");
        assert.match(diagram, /^flowchart LR\n/);
        assert.match(diagram, /orders_target --> orders_fn/);
    });

    it("plans the management stack: account, quota and bus through the account's provider, forwarder", () => {
        const run = npmStart("--stack", "management");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /\+ IsolatedWorkloadAccount orders-workload\n  - Account orders-workload-account \[ignoreChanges: roleName\]\n  - aws orders-workload-provider\n  - ServiceQuota orders-workload-lambda-concurrency \(provider orders-workload-provider\)/);
        assert.match(run.stdout, /\+ CrossAccountEventForwarder orders-to-workload/);
        assert.match(run.stdout, /account of IsolatedWorkloadAccount "orders-workload": limit 3000 \(quota requested by IsolatedWorkloadAccount "orders-workload"\), reserved 0/);
    });

    it("plans the workload stack from the management stack's outputs (mocked StackReference)", () => {
        const run = npmStart("--stack", "workload");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /- StackReference organization\/serverless-concurrency-example\/management\n/);
        assert.match(run.stdout, /  - Function orders-heavy-fn \(provider workload\): reserved concurrency 800/);
        assert.match(run.stdout, /  - EventRule orders-heavy-rule \(provider workload\): bus orders-workload-bus,/);
        assert.match(run.stdout, /provider "workload": limit 3000 \(config serverless-concurrency:accountConcurrencyLimit\), reserved 800, unreserved 2200/);
    });

    it("plans the semaphore stack: a protected Standard state machine and its semaphore", () => {
        const run = npmStart("--stack", "semaphore");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /\+ SemaphoreStateMachine stock-reservations\n  \+ StepFunctionsSemaphore stock-reservations-semaphore\n/);
        assert.match(run.stdout, /EventRule stock-reservations-semaphore-sweeper-schedule: bus default, schedule rate\(1 minute\)/);
        assert.match(run.stdout, /"stockReservationsLimit":2/);
    });

    it("names the stacks that exist when asked for an unknown one", () => {
        const run = npmStart("--stack", "nope");
        assert.equal(run.status, 2);
        assert.match(run.stderr, /Unknown stack "nope": no stacks\/Pulumi\.nope\.yaml\. Stacks: dev, isolated, management, semaphore, workload\./);
    });
});
