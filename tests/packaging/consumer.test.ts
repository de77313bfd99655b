import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

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
    }));
});
`;

describe("npm package for consumers", function () {
    this.timeout(180_000);
    let workspace: string;

    before(() => {
        // Inside the repository, so the consumer resolves @pulumi/* from the same node_modules.
        fs.mkdirSync(path.join(ROOT, ".tmp"), { recursive: true });
        workspace = fs.mkdtempSync(path.join(ROOT, ".tmp", "consumer-"));
    });

    after(() => fs.rmSync(workspace, { recursive: true, force: true }));

    it("installs from `npm pack` and deploys a pool under mocks from another program", () => {
        const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", workspace], { cwd: ROOT, encoding: "utf8" }).trim().split("\n").pop()!;
        const installed = path.join(workspace, "node_modules", "serverless-concurrency");
        fs.mkdirSync(installed, { recursive: true });
        execFileSync("tar", ["-xzf", path.join(workspace, tarball), "-C", installed, "--strip-components", "1"]);
        assert.ok(fs.existsSync(path.join(installed, "dist", "components", "index.d.ts")), "type declarations shipped");
        assert.ok(fs.existsSync(path.join(installed, "runtime", "eventBridgeWorker.ts")), "runtime sources shipped for the bundler");
        assert.ok(!fs.existsSync(path.join(installed, "tests")), "tests not shipped");

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
    });
});
