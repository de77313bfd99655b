import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { HELP_TEXT } from "../../cli/help";

const ROOT = path.join(__dirname, "..", "..");

/** The program a consumer writes: plain JavaScript, requiring the installed package under mocks. */
const CONSUMER_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setMocks({
    newResource: (a) => { registered.push(a); return { id: a.name + "-id", state: { ...a.inputs, name: a.inputs.name ?? a.name, arn: "arn:aws:x:us-east-1:1:" + a.name } }; },
    call: (a) => (a.token === "aws:index/getRegion:getRegion" ? { region: "us-east-1", name: "us-east-1" } : a.inputs),
}, "consumer", "test", false);
const { EventBridgeWorkerPool } = require("serverless-concurrency");
const runtime = require("serverless-concurrency/runtime");
const pool = new EventBridgeWorkerPool("jobs", { function: { handler: "handlers/jobs.handle" }, eventPattern: { source: ["jobs"] }, reservedConcurrency: 3 });
pool.reservedConcurrency.apply(async (reserved) => {
    await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
    const fn = registered.find((r) => r.type === "aws:lambda/function:Function");
    const code = await (await fn.inputs.code.assets)["index.js"].text;
    console.log(JSON.stringify({
        reserved,
        types: [...new Set(registered.map((r) => r.type))].sort(),
        wrapped: /var handler = eventBridgeWorker\\(import_jobs\\.handle\\)/.test(code),
        runtimeExports: Object.keys(runtime).sort(),
        // a component's argument error is the runtime entry's ConfigurationError (one class, not a copy)
        badArgument: (() => { try { new EventBridgeWorkerPool("bad", { eventPattern: { source: ["jobs"] }, reservedConcurrency: 3 }); return "constructed"; } catch (e) { return [e instanceof runtime.ConfigurationError, e instanceof runtime.ServerlessConcurrencyError, e.name]; } })(),
        operations: runtime.isOperationsManifest({}),
    }));
});
`;

/** A TypeScript consumer: both entry points and their types must compile with only the package's dependencies. */
const CONSUMER_TYPESCRIPT = `
import { EventBridgeWorkerPool, KinesisOrderedWorker, type FifoTopicWorkerArgs } from "serverless-concurrency";
import { ConfigurationError, isOperationsManifest, kinesisWorker, type KinesisWorkerRecord, type OperationsManifest, type WorkerContext } from "serverless-concurrency/runtime";
export const isArgumentError = (error: unknown): boolean => error instanceof ConfigurationError;
export const manifest = (value: unknown): OperationsManifest | undefined => (isOperationsManifest(value) ? value : undefined);
export const handler = kinesisWorker(async (record: KinesisWorkerRecord<{ amount: number }>, ctx: WorkerContext) => {
    await ctx.downstream("ledger", async () => record.data.amount);
});
export const components = [EventBridgeWorkerPool, KinesisOrderedWorker];
export const args: Partial<FifoTopicWorkerArgs> = { maxConcurrency: 5 };
`;

/**
 * What the multi-language plugin does with the installed package (@pulumi/pulumi cmd/run-plugin): require
 * the package's entry, collect its components, and infer the schema from the package's TypeScript sources
 * (the analyzer reads <package>/tsconfig.json and the source of the entry point).
 */
const SCHEMA_FROM_INSTALLED_PACKAGE = `
const path = require("path");
const { ComponentProvider, getPulumiComponents } = require("@pulumi/pulumi/provider/experimental");
const dir = path.join(__dirname, "node_modules", "serverless-concurrency");
const components = getPulumiComponents(require(dir));
const name = require(path.join(dir, "package.json")).name;
new ComponentProvider({ name, dirname: dir, components }).getSchema().then((schema) => console.log(schema), (error) => { console.error(error.message); process.exit(1); });
`;

/**
 * What `npm install <tarball>` gives a consumer, without the network: the unpacked package plus the
 * packages of its production dependency tree (linked from this repository's node_modules), and
 * nothing from devDependencies except the consumer's own @types/node.
 */
function installLikeAConsumer(workspace: string, tarball: string): void {
    const modules = path.join(workspace, "node_modules");
    const installed = path.join(modules, "serverless-concurrency");
    fs.mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", installed, "--strip-components", "1"]);
    const repoModules = path.join(ROOT, "node_modules") + path.sep;
    const productionTree = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: ROOT, encoding: "utf8" }).split("\n");
    const topLevel = new Set(productionTree.filter((p) => p.startsWith(repoModules)).map((p) => p.slice(repoModules.length)).filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`)));
    topLevel.add("@types/node");
    for (const dependency of topLevel) {
        fs.mkdirSync(path.dirname(path.join(modules, dependency)), { recursive: true });
        fs.symlinkSync(path.join(repoModules, dependency), path.join(modules, dependency), "dir");
    }
    linkBins(installed, modules);
}

/** What npm does with the installed package's `bin`: an executable link in node_modules/.bin per command. */
function linkBins(installed: string, modules: string): void {
    const bins: Record<string, string> = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")).bin ?? {};
    fs.mkdirSync(path.join(modules, ".bin"), { recursive: true });
    for (const [command, file] of Object.entries(bins)) {
        fs.chmodSync(path.join(installed, file), 0o755);
        fs.symlinkSync(path.relative(path.join(modules, ".bin"), path.join(installed, file)), path.join(modules, ".bin", command));
    }
}

describe("npm package for consumers", function () {
    this.timeout(180_000);
    let workspace: string;

    before(() => {
        workspace = fs.mkdtempSync(path.join(os.tmpdir(), "serverless-concurrency-consumer-"));
        const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", workspace], { cwd: ROOT, encoding: "utf8" }).trim().split("\n").pop()!;
        installLikeAConsumer(workspace, path.join(workspace, tarball));
    });

    after(() => fs.rmSync(workspace, { recursive: true, force: true }));

    it("ships compiled code, declarations, the runtime sources the bundler needs and the contracts, not the tests", () => {
        const installed = path.join(workspace, "node_modules", "serverless-concurrency");
        assert.ok(fs.existsSync(path.join(installed, "dist", "components", "index.d.ts")));
        assert.ok(fs.existsSync(path.join(installed, "dist", "runtime", "index.d.ts")));
        assert.ok(fs.existsSync(path.join(installed, "runtime", "eventBridgeWorker.ts")));
        assert.ok(fs.existsSync(path.join(installed, "contracts", "environment.ts")));
        assert.ok(fs.existsSync(path.join(installed, "dist", "contracts", "environment.js")));
        assert.ok(!fs.existsSync(path.join(installed, "tests")));
        assert.ok(!fs.existsSync(path.join(installed, "stacks")));
    });

    it("ships nothing that imports @pulumi/awsx, and does not depend on it", () => {
        const installed = path.join(workspace, "node_modules", "serverless-concurrency");
        const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
        assert.equal(manifest.dependencies["@pulumi/awsx"], undefined);
        const shipped = execFileSync("find", [installed, "-type", "f", "(", "-name", "*.js", "-o", "-name", "*.ts", ")"], { encoding: "utf8" }).trim().split("\n");
        const importing = shipped.filter((file) => /(?:require\(|from\s+|import\()\s*["']@pulumi\/awsx/.test(fs.readFileSync(file, "utf8")));
        assert.deepEqual(importing, []);
    });

    it("infers the multi-language schema from the installed package, as `pulumi package add` does", () => {
        fs.writeFileSync(path.join(workspace, "schema.js"), SCHEMA_FROM_INSTALLED_PACKAGE);
        const schema = JSON.parse(execFileSync(process.execPath, ["schema.js"], { cwd: workspace, encoding: "utf8" }));
        assert.equal(schema.name, "serverless-concurrency");
        assert.deepEqual(Object.keys(schema.resources).sort(), [
            "serverless-concurrency:index:ConcurrencyController",
            "serverless-concurrency:index:ConcurrencyControllerGroup",
            "serverless-concurrency:index:ControlPlaneBudget",
            "serverless-concurrency:index:CrossAccountEventForwarder",
            "serverless-concurrency:index:EventBridgeWorkerPool",
            "serverless-concurrency:index:FifoTopicWorker",
            "serverless-concurrency:index:IsolatedWorkloadAccount",
            "serverless-concurrency:index:KinesisOrderedWorker",
            "serverless-concurrency:index:SemaphoreStateMachine",
            "serverless-concurrency:index:StepFunctionsSemaphore",
        ]);
        const pool = schema.resources["serverless-concurrency:index:EventBridgeWorkerPool"];
        assert.deepEqual(pool.requiredInputs.sort(), ["eventPattern", "function", "reservedConcurrency"]);
        assert.match(pool.inputProperties.reservedConcurrency.description, /thread pool/);
    });

    it("type-checks a TypeScript consumer of both entry points with only the production dependencies", () => {
        fs.writeFileSync(path.join(workspace, "consumer.ts"), CONSUMER_TYPESCRIPT);
        const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
        for (const resolution of [["--module", "commonjs", "--moduleResolution", "node"], ["--module", "node16", "--moduleResolution", "node16"]]) {
            const options = ["--noEmit", "--strict", "--esModuleInterop", "--target", "es2022", "--types", "node", ...resolution, "consumer.ts"];
            execFileSync(process.execPath, [tsc, ...options], { cwd: workspace, encoding: "utf8" });
        }
    });

    it("runs the CLI from a consumer's `npx serverless-concurrency --help`: exit 0 and the usage", () => {
        const result = spawnSync("npx", ["--offline", "serverless-concurrency", "--help"], { cwd: workspace, encoding: "utf8", timeout: 60_000 });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout.trim(), HELP_TEXT.trim());
        assert.match(result.stdout, /^Usage: serverless-concurrency COMMAND --outputs FILE \[options\]$/m);
    });

    it("deploys a pool under mocks from another program, bundling the handler with the runtime wrapper", () => {
        fs.mkdirSync(path.join(workspace, "handlers"));
        fs.writeFileSync(path.join(workspace, "handlers", "jobs.js"), "exports.handle = async (event) => ({ id: event.id });\n");
        fs.writeFileSync(path.join(workspace, "program.js"), CONSUMER_PROGRAM);
        const output = execFileSync(process.execPath, ["program.js"], { cwd: workspace, encoding: "utf8" });
        const result = JSON.parse(output.trim().split("\n").pop()!);
        assert.equal(result.reserved, 3);
        assert.equal(result.wrapped, true);
        assert.ok(result.types.includes("aws:lambda/function:Function"));
        assert.ok(result.types.includes("serverless-concurrency:index:EventBridgeWorkerPool"));
        assert.ok(result.runtimeExports.includes("eventBridgeWorker"));
        assert.ok(result.runtimeExports.includes("decideConcurrency"));
        for (const name of ["ServerlessConcurrencyError", "ConfigurationError", "ControllerError", "CircuitBreakerError", "SemaphoreError", "isOperationsManifest"]) assert.ok(result.runtimeExports.includes(name), name);
        assert.deepEqual(result.badArgument, [true, true, "ConfigurationError"]);
        assert.equal(result.operations, false);
    });
});
