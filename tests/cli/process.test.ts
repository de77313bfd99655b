/**
 * The CLI as a child process (ts-node, transpile only): exit codes, one line on stderr and never a
 * stack trace for bad input, bounded time against a dead endpoint, and the SDK's standard endpoint
 * variables pointing it at dynalite. Only 127.0.0.1 is ever contacted.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { semaphoreAuditLocation, writeAuditEntry } from "../../cli/adapters/audit";
import { IdempotencyStore } from "../../runtime/idempotency";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { ERP, ORDERS, STACK_OUTPUTS } from "./stack";

const ROOT = join(__dirname, "..", "..");
const BIN = join(ROOT, "cli", "bin.ts");

interface ProcessRun {
    code: number | null;
    stdout: string;
    stderr: string;
    ms: number;
}

/** A clean environment: no credentials, no config files, no instance metadata, no endpoint variables. */
function baseEnvironment(): NodeJS.ProcessEnv {
    const keep = ["PATH", "HOME", "TMPDIR", "LANG"];
    const env: NodeJS.ProcessEnv = Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
    return {
        ...env,
        TS_NODE_TRANSPILE_ONLY: "true",
        AWS_CONFIG_FILE: "/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
}

const FAKE_CREDENTIALS = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };

function runProcess(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<ProcessRun> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-r", "ts-node/register", BIN, ...args], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(killer);
            resolve({ code, stdout, stderr, ms: Date.now() - started });
        });
        child.stdin.end(stdin ?? "");
    });
}

/** Exactly one line on stderr, no stack trace. */
function assertOneLine(run: ProcessRun, pattern: RegExp): void {
    assert.match(run.stderr, /^serverless-concurrency: [^\n]+\n$/, `one line on stderr, got: ${run.stderr}`);
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
    assert.match(run.stderr, pattern);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
}

describe("serverless-concurrency as a process", function () {
    this.timeout(120_000);
    let dir: string;
    let outputsFile: string;
    let db: LocalDynamo;

    before(async () => {
        dir = mkdtempSync(join(tmpdir(), "sc-cli-"));
        outputsFile = join(dir, "outputs.json");
        writeFileSync(outputsFile, JSON.stringify(STACK_OUTPUTS));
        db = await startDynalite();
        await db.createTable(ORDERS.idempotencyTableName, "id");
        await db.createTable(ERP.semaphore.tableName, "pk", "sk");
    });
    after(() => db.stop());

    it("--help prints the usage and exits 0", async () => {
        const run = await runProcess(["--help"], baseEnvironment());
        assert.equal(run.code, 0);
        assert.match(run.stdout, /^serverless-concurrency — see and steer/);
        assert.match(run.stdout, /dlq redrive NAME/);
        assert.equal(run.stderr, "");
    });

    it("a malformed, empty or missing outputs file, an unknown component: one line, exit 1", async () => {
        const malformed = join(dir, "malformed.json");
        writeFileSync(malformed, '{"orders": {');
        const empty = join(dir, "empty.json");
        writeFileSync(empty, "");
        const env = baseEnvironment();
        const runs = await Promise.all([
            runProcess(["status", "--outputs", malformed], env),
            runProcess(["status", "--outputs", empty], env),
            runProcess(["status", "--outputs", join(dir, "absent.json")], env),
            runProcess(["breaker", "open", "ordres", "--reason", "r", "--yes", "--outputs", outputsFile], env),
            runProcess(["status"], env),
        ]);
        for (const run of runs) assert.equal(run.code, 1, run.stderr);
        assertOneLine(runs[0], new RegExp(`outputs file ${malformed} is not JSON \\(.*\\): pass the JSON of \`pulumi stack output --json\``));
        assertOneLine(runs[1], new RegExp(`outputs file ${empty} is empty`));
        assertOneLine(runs[2], /cannot read outputs file .*absent\.json: no such file/);
        assertOneLine(runs[3], /unknown component "ordres"; known: orders \(EventBridgeWorkerPool\), payments \(KinesisOrderedWorker\), ledger \(FifoTopicWorker\), erp \(StepFunctionsSemaphore\)$/m);
        assertOneLine(runs[4], /--outputs FILE is required/);
    });

    it("AWS_ENDPOINT_URL_DYNAMODB points the SDK at dynalite (outputs on stdin)", async () => {
        const store = new IdempotencyStore({ tableName: ORDERS.idempotencyTableName, client: db.client, expirySeconds: 3600, leaseSeconds: 60 });
        const claim = await store.claim("evt-9", "hash-9");
        assert.equal(claim.status, "claimed");
        await store.complete("evt-9", (claim as { ownerToken: string }).ownerToken, { ok: true });
        const run = await runProcess(["idempotency", "show", "orders", "evt-9", "--outputs", "-"], { ...baseEnvironment(), ...FAKE_CREDENTIALS, AWS_ENDPOINT_URL_DYNAMODB: db.endpoint }, JSON.stringify(STACK_OUTPUTS));
        assert.equal(run.stderr, "");
        assert.equal(run.code, 0);
        assert.deepEqual({ ...JSON.parse(run.stdout), expiresAt: undefined }, { key: "evt-9", status: "COMPLETED", payloadHash: "hash-9", result: { ok: true }, expiresAt: undefined });
    });

    it("audit, as a process against dynalite: the semaphore table queried, its entry listed", async () => {
        await writeAuditEntry(db.client, semaphoreAuditLocation(ERP.semaphore), {
            at: Date.UTC(2026, 11, 4, 9, 0, 0),
            command: "semaphore release erp arn:exec",
            component: "erp",
            componentType: "StepFunctionsSemaphore",
            caller: "arn:aws:sts::123456789012:assumed-role/oncall/jane",
            account: "123456789012",
            reason: "leak",
            change: ["release the permit arn:exec holds"],
            retentionDays: 90,
        });
        const run = await runProcess(["audit", "erp", "--json", "--outputs", "-"], { ...baseEnvironment(), ...FAKE_CREDENTIALS, AWS_ENDPOINT_URL_DYNAMODB: db.endpoint }, JSON.stringify(STACK_OUTPUTS));
        assert.equal(run.stderr, "");
        assert.equal(run.code, 0);
        const [trail] = JSON.parse(run.stdout).trails;
        assert.deepEqual(trail.entries.map((e: { command: string; outcome: string }) => [e.command, e.outcome]), [["semaphore release erp arn:exec", "started"]]);
    });

    it("missing credentials: one line naming the ways to provide them, exit 1", async () => {
        const run = await runProcess(["idempotency", "show", "orders", "evt-9", "--outputs", outputsFile], { ...baseEnvironment(), AWS_ENDPOINT_URL_DYNAMODB: db.endpoint });
        assert.equal(run.code, 1);
        assertOneLine(run, /^serverless-concurrency: no AWS credentials: .* \(use --profile, AWS_PROFILE, environment variables, SSO or an instance role\)$/m);
    });

    it("a --profile in neither shared file: one line naming it and both files, exit 1; one that exists is used", async () => {
        const config = join(dir, "aws-config");
        writeFileSync(config, "[profile oncall]\nregion = eu-west-1\n");
        const env = { ...baseEnvironment(), AWS_CONFIG_FILE: config, AWS_ENDPOINT_URL_DYNAMODB: db.endpoint };
        const missing = await runProcess(["idempotency", "show", "orders", "evt-9", "--outputs", outputsFile, "--profile", "oncal"], env);
        assert.equal(missing.code, 1);
        assert.equal(
            missing.stderr,
            `serverless-concurrency: profile "oncal" is in neither ${config} nor /nonexistent/aws-credentials: check the name (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), or create it with \`aws configure --profile oncal\`\n`,
        );
        const found = await runProcess(["idempotency", "show", "orders", "evt-9", "--outputs", outputsFile, "--profile", "oncall"], env);
        assert.equal(found.code, 1);
        assertOneLine(found, /^serverless-concurrency: no AWS credentials: /);
    });

    it("an unreachable endpoint: one line, exit 1, in bounded time (no hang)", async () => {
        const port = await closedPort();
        const run = await runProcess(["idempotency", "show", "orders", "evt-9", "--outputs", outputsFile], { ...baseEnvironment(), ...FAKE_CREDENTIALS, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
        assert.equal(run.code, 1);
        assertOneLine(run, new RegExp(`cannot reach the AWS endpoint: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
        assert.ok(run.ms < 30_000, `took ${run.ms} ms`);
    });

    it("status with one service unreachable: the rest is shown, its parts show the error, exit 2", async () => {
        const port = await closedPort();
        const run = await runProcess(["status", "erp", "--outputs", outputsFile], {
            ...baseEnvironment(),
            ...FAKE_CREDENTIALS,
            AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
            AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}`,
        });
        assert.equal(run.stderr, "");
        assert.equal(run.code, 2);
        assert.match(run.stdout, /\n {2}permits +0 in use of 1\n/);
        assert.match(run.stdout, new RegExp(`\\n {2}dead-letter queue +⚠ error: cannot reach the AWS endpoint: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    });
});
