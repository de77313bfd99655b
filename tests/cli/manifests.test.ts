import { strict as assert } from "node:assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertProfileExists } from "../../cli/profiles";
import { findManifests, isOperationsManifest, manifestProblems, OPERATIONS_MARKER } from "../../contracts/operations";
import { parseArguments } from "../../cli/args";
import { manifestsIn, selectManifest } from "../../cli/outputs";
import { ERP, LEDGER, ORDERS, PAYMENTS, STACK_OUTPUTS } from "./stack";

describe("operations manifests (contracts/operations.ts) and the CLI's outputs reading", () => {
    it("finds every manifest at any depth of objects and arrays, in document order, each once", () => {
        const outputs = { ...STACK_OUTPUTS, again: { deeper: [[{ operations: LEDGER }]] }, plain: "x", n: 3, nothing: null };
        const { manifests, rejected } = findManifests(outputs);
        assert.deepEqual(manifests.map((m) => m.name), ["orders", "payments", "ledger", "erp"]);
        assert.deepEqual(rejected, []);
    });

    it("rejects marked objects of another version or with missing fields, saying where and why", () => {
        const { manifests, rejected } = findManifests({
            future: { operations: { ...ORDERS, [OPERATIONS_MARKER]: 2 } },
            broken: [{ ...PAYMENTS, mappingUuid: "" }],
            controller: { ...LEDGER, controller: { ...LEDGER.controller!, target: { kind: "SqsMaximumConcurrency" } } },
        });
        assert.deepEqual(manifests, []);
        assert.deepEqual(rejected, [
            { path: "future.operations", name: "orders", problems: ["format version 2 is not supported (this reader knows version 1)"] },
            { path: "broken[0]", name: "payments", problems: ["mappingUuid must be a non-empty string"] },
            { path: "controller", name: "ledger", problems: ["controller.target.uuid must be a non-empty string", "controller.target.eventSourceArn must be a non-empty string"] },
        ]);
    });

    it("the type guard accepts each pattern's manifest and names what a bad one lacks", () => {
        for (const manifest of [ORDERS, PAYMENTS, LEDGER, ERP]) assert.ok(isOperationsManifest(manifest), manifest.name);
        assert.deepEqual(manifestProblems({ [OPERATIONS_MARKER]: 1, componentType: "Nope" }), [
            "componentType must be one of EventBridgeWorkerPool, KinesisOrderedWorker, FifoTopicWorker, ConcurrencyController, StepFunctionsSemaphore, SemaphoreStateMachine, IsolatedWorkloadAccount, CrossAccountEventForwarder; received \"Nope\"",
        ]);
        assert.deepEqual(manifestProblems({ ...ERP, semaphore: { ...ERP.semaphore, limit: 0 } }), ["semaphore.limit must be a positive integer"]);
        assert.deepEqual(manifestProblems("x"), ["not an operations manifest (no marker)"]);
        const { deliveryDeadLetterQueue, ...exportedBeforeDeliveryDlq } = LEDGER;
        assert.ok(deliveryDeadLetterQueue);
        assert.deepEqual(manifestProblems(exportedBeforeDeliveryDlq), [], "a FIFO manifest without the delivery DLQ (exported before it existed) is read");
        assert.deepEqual(manifestProblems({ ...LEDGER, deliveryDeadLetterQueue: { arn: deliveryDeadLetterQueue.arn } }), ["deliveryDeadLetterQueue.url must be a non-empty string"]);
    });

    it("an outputs text that is empty, not JSON or without manifests is one clear error", () => {
        assert.throws(() => manifestsIn("  \n", "outputs file o.json"), { name: "OutputsError", message: "outputs file o.json is empty: pass the JSON of `pulumi stack output --json`" });
        assert.throws(() => manifestsIn("{ not json", "outputs file o.json"), (e: Error) => e.name === "OutputsError" && e.message.startsWith("outputs file o.json is not JSON ("));
        assert.throws(() => manifestsIn('{"a": 1}', "standard input"), {
            name: "OutputsError",
            message: "standard input has no serverless-concurrency operations manifest: export the components' `operations` outputs from the stack",
        });
        assert.throws(() => manifestsIn(JSON.stringify({ o: { ...ORDERS, [OPERATIONS_MARKER]: 9 } }), "standard input"), {
            message: "standard input has no manifest this CLI can read (o: format version 9 is not supported (this reader knows version 1))",
        });
    });

    it("names the outputs that `pulumi stack output --json` hid as secrets: no manifest in the clear is one clear error", () => {
        const search = findManifests({ orders: { operations: ORDERS }, deep: [{ token: "[secret]" }], text: "[secret] is a word" });
        assert.deepEqual(search.hiddenSecrets, ["deep[0].token"], "only the exact placeholder");
        assert.deepEqual(findManifests("[secret]").hiddenSecrets, ["(root)"]);
        assert.throws(() => manifestsIn(JSON.stringify({ ledgerOperations: "[secret]" }), "outputs file o.json"), {
            name: "OutputsError",
            message:
                'outputs file o.json has no serverless-concurrency operations manifest in the clear: ledgerOperations is a secret, printed as "[secret]": run `pulumi stack output --json --show-secrets` to include a manifest there',
        });
        assert.throws(() => manifestsIn(JSON.stringify({ o: { ...ORDERS, [OPERATIONS_MARKER]: 9 }, p: "[secret]" }), "standard input"), {
            message:
                'standard input has no manifest this CLI can read (o: format version 9 is not supported (this reader knows version 1)); p is a secret, printed as "[secret]": run `pulumi stack output --json --show-secrets` to include a manifest there',
        });
    });

    it("an unknown component name lists the known ones", () => {
        const manifests = findManifests(STACK_OUTPUTS).manifests;
        assert.equal(selectManifest(manifests, "ledger"), LEDGER);
        assert.throws(() => selectManifest(manifests, "ledgr"), {
            name: "UnknownComponentError",
            message: 'unknown component "ledgr"; known: orders (EventBridgeWorkerPool), payments (KinesisOrderedWorker), ledger (FifoTopicWorker), erp (StepFunctionsSemaphore)',
        });
    });
});

describe("CLI arguments (cli/args.ts)", () => {
    it("parses each command with its options", () => {
        assert.deepEqual(parseArguments(["status", "orders", "ledger", "--json", "--outputs", "o.json", "--region=eu-west-1"]), {
            kind: "status",
            names: ["orders", "ledger"],
            json: true,
            outputs: "o.json",
            region: "eu-west-1",
            profile: undefined,
        });
        assert.deepEqual(parseArguments(["controller", "pause", "orders", "--at", "3", "--reason", "INC-1", "--yes", "--profile", "oncall"]), {
            kind: "controller-pause",
            name: "orders",
            pinnedLimit: 3,
            outputs: undefined,
            region: undefined,
            profile: "oncall",
            yes: true,
            reason: "INC-1",
            auditRetentionDays: undefined,
        });
        assert.deepEqual(parseArguments(["idempotency", "forget", "orders", "evt-1", "--reason", "replay", "--audit-retention-days=400"]), {
            kind: "idempotency-forget",
            name: "orders",
            key: "evt-1",
            outputs: undefined,
            region: undefined,
            profile: undefined,
            yes: false,
            reason: "replay",
            auditRetentionDays: 400,
        });
        assert.deepEqual(parseArguments(["semaphore", "release", "erp", "arn:exec", "--reason", "leak"]).kind, "semaphore-release");
        assert.deepEqual(parseArguments(["audit", "payments"]), { kind: "audit", name: "payments", limit: 20, scan: false, json: false, outputs: undefined, region: undefined, profile: undefined });
        assert.deepEqual(parseArguments(["audit", "orders", "--limit", "5", "--scan", "--json", "--region", "us-east-1"]), {
            kind: "audit",
            name: "orders",
            limit: 5,
            scan: true,
            json: true,
            outputs: undefined,
            region: "us-east-1",
            profile: undefined,
        });
        assert.deepEqual(parseArguments([]), { kind: "help" });
        assert.deepEqual(parseArguments(["breaker", "open", "x", "--help"]), { kind: "help" });
    });

    it("refuses what it cannot run, naming the problem", () => {
        const usage = (argv: string[], message: string) => assert.throws(() => parseArguments(argv), { name: "UsageError", message });
        usage(["restart", "x"], 'unknown command "restart x"; commands: status, audit, controller pause, controller resume, breaker open, breaker close, semaphore release, idempotency show, idempotency forget, dlq redrive (see --help)');
        usage(["status", "--force"], "unknown option --force (see --help)");
        usage(["status", "--at", "3"], 'option --at does not apply to "status"');
        usage(["idempotency", "show", "orders", "--yes"], 'option --yes does not apply to "idempotency show"');
        usage(["breaker", "open", "payments"], "--reason is required for a change: it goes into the audit entry");
        usage(["breaker", "open", "payments", "--reason", "  "], "--reason is required for a change: it goes into the audit entry");
        usage(["breaker", "open", "payments", "--for", "ten", "--reason", "r"], '--for must be a positive integer; received "ten"');
        usage(["controller", "pause", "orders", "--at", "0", "--reason", "r"], '--at must be a positive integer; received "0"');
        usage(["semaphore", "release", "erp", "--reason", "r"], '"semaphore release" takes NAME EXECUTION_ARN; received "erp"');
        usage(["status", "--outputs"], "option --outputs needs a value");
        usage(["audit"], '"audit" takes NAME; received nothing');
        usage(["audit", "orders", "--reason", "r"], 'option --reason does not apply to "audit"');
        usage(["status", "--scan"], 'option --scan does not apply to "status"');
        usage(["audit", "orders", "--limit", "0"], '--limit must be a positive integer; received "0"');
        usage(["audit", "orders", "--limit", "1001"], "--limit must be at most 1000 (the entries listed per table); received 1001");
        usage(["status", "--audit-retention-days", "30"], 'option --audit-retention-days does not apply to "status"');
        usage(["breaker", "close", "payments", "--reason", "r", "--audit-retention-days", "0"], '--audit-retention-days must be a positive integer; received "0"');
        usage(["breaker", "close", "payments", "--reason", "r", "--audit-retention-days", "99999999999999999999"], '--audit-retention-days must be a positive integer; received "99999999999999999999"');
    });

    it("bounds --for: an open longer than SQS keeps a message is refused, not a crash", () => {
        const open = (seconds: string) => parseArguments(["breaker", "open", "payments", "--for", seconds, "--reason", "r"]);
        assert.equal((open("1209600") as { openSeconds?: number }).openSeconds, 1_209_600);
        for (const seconds of ["1209601", "9000000000000"]) {
            assert.throws(() => open(seconds), {
                name: "UsageError",
                message: `--for must be at most 1209600 (14 days, the longest SQS keeps a message: the records waiting behind a breaker open longer expire); received ${seconds}`,
            });
        }
    });

    it("refuses a value option given twice instead of taking the last", () => {
        assert.throws(() => parseArguments(["controller", "pause", "orders", "--at", "6", "--at=60", "--reason", "r"]), { name: "UsageError", message: 'option --at is given twice ("6" and "60"): give it once' });
        assert.throws(() => parseArguments(["status", "--outputs", "a.json", "--outputs", "b.json"]), { name: "UsageError", message: 'option --outputs is given twice ("a.json" and "b.json"): give it once' });
    });
});

describe("--profile (cli/profiles.ts)", () => {
    const dir = mkdtempSync(join(tmpdir(), "sc-profiles-"));
    const config = join(dir, "config");
    const credentials = join(dir, "credentials");
    writeFileSync(config, "[default]\nregion = eu-west-1\n[profile \"sso-admin\"] # SSO\nsso_session = corp\n[plain]\nregion = eu-west-1\n");
    writeFileSync(credentials, "  [ci]  \naws_access_key_id = x\n");
    const env = { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials };

    it("finds a profile where the SDK does: [profile NAME] or [default] in the config file, [NAME] in the credentials file", async () => {
        for (const profile of ["default", "sso-admin", "ci"]) await assertProfileExists(profile, env);
    });

    it("refuses one that is in neither, naming it and both files", async () => {
        for (const profile of ["plain", "prod"]) {
            await assert.rejects(assertProfileExists(profile, env), {
                name: "UsageError",
                message: `profile "${profile}" is in neither ${config} nor ${credentials}: check the name (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), or create it with \`aws configure --profile ${profile}\``,
            });
        }
        await assert.rejects(assertProfileExists("ci", { AWS_CONFIG_FILE: join(dir, "none"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "none2") }), { name: "UsageError" });
    });
});
