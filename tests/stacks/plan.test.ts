import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FifoTopicWorkerManifest, findManifests } from "../../contracts/operations";

const ROOT = path.join(__dirname, "..", "..");

/** Runs `npm start -- <args>` as a user would. */
function npmStart(...args: string[]) {
    return spawnSync("npm", ["start", "--silent", "--", ...args], { cwd: ROOT, encoding: "utf8" });
}

/** The plan of a fixture program (tests/stacks/fixtures) for a stack's config. */
function planFixture(program: string, stack: string) {
    const runner = path.join(__dirname, "fixtures", "planProgram.ts");
    return spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", runner, program, "--stack", stack], { cwd: ROOT, encoding: "utf8" });
}

interface PlanRun {
    status: number | null;
    stdout: string;
    stderr: string;
    /** What `--outputs-json` wrote ("" when nothing). */
    outputsJson: string;
}

const planRuns = new Map<string, PlanRun>();

/** `npm start -- --stack NAME --outputs-json FILE`, run once per stack (each run takes seconds). */
function planOf(stack: string): PlanRun {
    const cached = planRuns.get(stack);
    if (cached) return cached;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "outputs-")), `${stack}.json`);
    const { status, stdout, stderr } = npmStart("--stack", stack, "--outputs-json", file);
    const run = { status, stdout, stderr, outputsJson: fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "" };
    planRuns.set(stack, run);
    return run;
}

describe("npm start (offline plan)", function () {
    this.timeout(120_000);

    it("prints the dev plan: tree with settings, budget, outputs, and writes the diagram", () => {
        const run = planOf("dev");
        assert.equal(run.status, 0, run.stderr);
        const out = run.stdout;
        assert.match(out, /Offline plan for stack "dev"/);
        assert.match(out, /No cloud call and no provider validation happened/);
        assert.match(out, /\+ EventBridgeWorkerPool orders\n/);
        assert.match(out, /  - Function orders-fn: reserved concurrency 5, timeout 30 s, memory 256 MB, arm64/);
        assert.match(out, /  - FunctionEventInvokeConfig orders-async: async retries 2, max event age 21600 s, on failure → orders-dlq/);
        assert.match(out, /  - EventTarget orders-target: target retries 185, max event age 86400 s, DLQ → orders-dlq/);
        assert.match(out, /  - EventSourceMapping payments-esm: batch size 100, window 1, parallelization factor 2, starting position TRIM_HORIZON, bisect true, retries -1, max record age 86400, on failure payments-failures/);
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
        assert.match(diagram, /EventTarget_orders_target --> Function_orders_fn/);
    });

    it("exports one operations manifest per component of the dev stack, which the CLI's reader finds in the --outputs-json output", () => {
        const run = planOf("dev");
        assert.equal(run.status, 0, run.stderr);
        const { manifests, rejected } = findManifests(JSON.parse(run.outputsJson));
        assert.deepEqual(rejected, []);
        assert.deepEqual(
            manifests.map((m) => [m.componentType, m.name, m.account, m.region]),
            [
                ["FifoTopicWorker", "ledger", "111111111111", "us-east-1"],
                ["EventBridgeWorkerPool", "orders", "111111111111", "us-east-1"],
                ["KinesisOrderedWorker", "payments", "111111111111", "us-east-1"],
            ],
            "the top-level outputs (sorted keys), each once although `outputs` repeats them",
        );
        const ledger = manifests[0] as FifoTopicWorkerManifest;
        assert.deepEqual([ledger.queue.url, ledger.mappingUuid, ledger.idempotencyTableName], ["https://sqs.us-east-1.amazonaws.com/111111111111/ledger-queue", "ledger-esm-uuid", "ledger-idempotency"]);
    });

    it("shows the awsx VPC's children (subnets, routes, the NAT gateway and its Elastic IP) and keeps Mermaid ids unique", () => {
        const run = planOf("dev");
        assert.equal(run.status, 0, run.stderr);
        const modelled = "[modelled: awsx 3.9 creates it at deploy time]";
        assert.ok(run.stdout.includes(`+ Vpc workers\n  - Vpc workers ${modelled}\n    - InternetGateway workers ${modelled}\n    - Subnet workers-public-1 ${modelled}\n`));
        assert.ok(run.stdout.includes(`      - Eip workers-1 ${modelled}\n      - NatGateway workers-1 ${modelled}\n`));
        assert.equal(run.stdout.match(/NatGateway /g)?.length, 1, "strategy Single: one NAT gateway for both zones");
        assert.equal(run.stdout.match(/- Subnet workers-(public|private)-[12] /g)?.length, 4);
        const diagram = fs.readFileSync(path.join(ROOT, "plan", "dev.mmd"), "utf8");
        const ids = [...diagram.matchAll(/^\s*(?:subgraph )?([A-Za-z0-9_]+)\[/gm)].map((m) => m[1]);
        assert.ok(ids.includes("Vpc_workers") && ids.includes("Vpc_workers_2") && ids.includes("InternetGateway_workers"));
        assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), [], "duplicate Mermaid node ids");
    });

    it("plans the management stack: adopts the configured account (creating one is opt-in), quota and bus through its provider, forwarder", () => {
        const run = planOf("management");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /\+ IsolatedWorkloadAccount orders-workload\n  - aws orders-workload-provider\n  - ServiceQuota orders-workload-lambda-concurrency \(provider orders-workload-provider\)/);
        assert.doesNotMatch(run.stdout, /- Account /, "the stack file does not create an account");
        assert.match(run.stdout, /\+ CrossAccountEventForwarder orders-to-workload\n  - EventRule orders-to-workload-rule: bus default,/);
        assert.equal(JSON.parse(run.outputsJson).workloadAccountId, "222222222222");
    });

    it("plans the isolated stack: the forwarder to the account's bus, and the pool budgeted against the quota in force", () => {
        const run = planOf("isolated");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /\+ CrossAccountEventForwarder orders-to-workload\n/);
        assert.match(run.stdout, /  - EventRule orders-heavy-rule \(provider orders-workload-provider\): bus orders-workload-bus,/);
        assert.match(run.stdout, /account of IsolatedWorkloadAccount "orders-workload": limit 1000 \(quota in force given to IsolatedWorkloadAccount "orders-workload"\), reserved 800, unreserved 200/);
    });

    it("plans the workload stack on the outputs the management stack's plan really exports", () => {
        const management = planOf("management");
        assert.equal(management.status, 0, management.stderr);
        const exported = JSON.parse(management.outputsJson);
        for (const name of ["workloadAccountId", "workloadRoleArn", "workloadEventBusName"]) assert.equal(typeof exported[name], "string", `management exports ${name}`);
        const run = planOf("workload");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /- StackReference organization\/serverless-concurrency-example\/management\n/);
        assert.match(run.stdout, /  - Function orders-heavy-fn \(provider workload\): reserved concurrency 800/);
        assert.ok(run.stdout.includes(`  - EventRule orders-heavy-rule (provider workload): bus ${exported.workloadEventBusName},`));
        assert.match(run.stdout, /provider "workload": limit 3000 \(config serverless-concurrency:accountConcurrencyLimit\), reserved 800, unreserved 2200/);
    });

    it("fails the plan of a program that requires an output the referenced stack does not export, as pulumi up fails", () => {
        const run = planFixture("missingOutputProgram", "workload");
        assert.equal(run.status, 2);
        assert.equal(run.stderr.trim(), "Required output 'workloadQueueUrl' does not exist on stack 'organization/serverless-concurrency-example/management'.");
    });

    it("writes the outputs as `pulumi stack output --json` prints them: top-level, keys sorted, two-space indent", () => {
        const { status, stderr, outputsJson: text } = planOf("workload");
        assert.equal(status, 0, stderr);
        // Keys sorted at every depth. The offline plan answers the caller identity with the plan's default
        // account whatever the provider, so the workload pool's manifest says 111111111111 here.
        const heavyOperations = {
            account: "111111111111",
            componentType: "EventBridgeWorkerPool",
            dashboardName: "serverless-concurrency-example-workload-orders-heavy",
            deadLetterQueue: { arn: "arn:aws:sqs:us-east-1:111111111111:orders-heavy-dlq", url: "https://sqs.us-east-1.amazonaws.com/111111111111/orders-heavy-dlq" },
            functionName: "orders-heavy-fn",
            idempotencyTableName: "orders-heavy-idempotency",
            name: "orders-heavy",
            region: "us-east-1",
            "serverless-concurrency/operations": 1,
        };
        const outputs = { heavyFunctionName: "orders-heavy-fn", heavyOperations, heavyReservedConcurrency: 800 };
        assert.equal(text, `${JSON.stringify({ ...outputs, outputs }, null, 2)}\n`);
    });

    it("fails a program whose names exceed AWS's limits after autonaming, with the list", () => {
        const run = planFixture("longNameProgram", "dev");
        assert.equal(run.status, 2);
        assert.equal(
            run.stderr.trim(),
            [
                "FAILED: 2 problem(s) that `pulumi preview` / `pulumi up` would meet:",
                "  - [name length] Role \"an-orders-worker-role-whose-logical-name-is-too-long-for-iam\": physical name is 68 characters (the logical name (60) + \"-\" + 7 random characters); Role names allow at most 64.",
                "  - [name length] Queue \"a-fifo-queue-name-that-fits-as-a-standard-queue-but-not-with-fifo-suffix\": physical name is 85 characters (the logical name (72) + \"-\" + 7 random characters + \".fifo\"); Queue names allow at most 80.",
            ].join("\n"),
        );
    });

    for (const stack of ["dev", "isolated", "management", "semaphore", "workload"]) {
        it(`passes the check pass for stack ${stack}`, () => {
            const run = planOf(stack);
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /Check pass \(names after autonaming, references, budgets against the quota in force\):\n  passed: \d+ physical names within their limits/);
        });
    }

    it("plans the semaphore stack: a protected Standard state machine and its semaphore", () => {
        const run = planOf("semaphore");
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
