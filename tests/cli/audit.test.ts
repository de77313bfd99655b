import { strict as assert } from "node:assert";
import { AttributeValue, DynamoDBClient, PutItemCommand, QueryCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetFunctionConcurrencyCommand, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { IdempotencyStore, runIdempotently, targetKey } from "../../runtime";
import type { ControlledTarget } from "../../runtime/controller";
import { createLogger } from "../../runtime/log";
import { AuditEntry, AuditLocation, breakerAuditLocation, readAuditEntries, recordAuditOutcome, semaphoreAuditLocation, writeAuditEntry } from "../../cli/adapters/audit";
import type { ComponentAudit } from "../../cli/commands/audit";
import { CrossAccountEventForwarderManifest, OPERATIONS_MARKER } from "../../contracts/operations";
import { ACCOUNT, CALLER_ARN, ERP, LEDGER, ORDERS, PAYMENTS, runOn, startStack, TestStack } from "./stack";
import { injectFaults } from "../helpers/faults";

const NOW = Date.UTC(2026, 11, 4, 9, 0, 0);
const quiet = createLogger({ write: () => undefined });
const ORDERS_KEY = targetKey({ kind: "ReservedConcurrency", functionName: "orders-fn" });

/** An entry as a change would write it, `minutes` after NOW. */
function entry(command: string, reason: string, minutes: number): AuditEntry {
    return { at: NOW + minutes * 60_000, command, component: "payments", componentType: "KinesisOrderedWorker", caller: CALLER_ARN, account: ACCOUNT, reason, change: [`would ${command}`], retentionDays: 90 };
}

describe("serverless-concurrency audit", function () {
    this.timeout(30_000);
    let stack: TestStack;
    // Three changes run through the CLI: a pause, its resume, and an idempotency forget of orders.
    before(async () => {
        stack = await startStack();
        stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
        stack.lambda.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 6 });
        const pause = await runOn(stack, ["controller", "pause", "orders", "--at", "6", "--reason", "INC-7: ERP overloaded", "--yes"], { now: () => NOW });
        assert.equal(pause.code, 0, pause.stderr);
        const resume = await runOn(stack, ["controller", "resume", "orders", "--reason", "INC-7 over", "--yes"], { now: () => NOW + 60_000 });
        assert.equal(resume.code, 0, resume.stderr);
        const store = new IdempotencyStore({ tableName: ORDERS.idempotencyTableName, client: stack.db.client, expirySeconds: 108_000, leaseSeconds: 90 });
        await runIdempotently(store, "evt-9", { id: "evt-9" }, async () => "booked", { log: quiet });
        const forget = await runOn(stack, ["idempotency", "forget", "orders", "evt-9", "--reason", "replay", "--yes"], { now: () => NOW + 120_000 });
        assert.equal(forget.code, 0, forget.stderr);
    });
    after(() => stack.stop());
    beforeEach(() => stack.resetMocks());

    it("lists what the changes wrote, newest first, read back from the locations the changes wrote to", async () => {
        const run = await runOn(stack, ["audit", "orders", "--scan"]);
        assert.equal(run.stderr, "");
        assert.equal(run.code, 0);
        assert.equal(
            run.stdout,
            [
                "orders  EventBridgeWorkerPool  audit entries, newest first",
                `  controller (pause, resume): orders-control, audit#${ORDERS_KEY}…`,
                "    2026-12-04T09:01:00.000Z  applied  controller resume orders",
                `      by ${CALLER_ARN}: INC-7 over`,
                `      said: resume the controller of orders (${ORDERS_KEY}), paused since 2026-12-04T09:00:00.000Z by ${CALLER_ARN} (INC-7: ERP overloaded): it decides again from the next interval`,
                `      done: resumed ${ORDERS_KEY}`,
                "    2026-12-04T09:00:00.000Z  applied  controller pause orders --at 6",
                `      by ${CALLER_ARN}: INC-7: ERP overloaded`,
                `      said: pause the scheduled controller of orders (${ORDERS_KEY}):`,
                "      said:   neither driver changes ReservedConcurrency while paused (each held interval logs and emits ControllerPaused)",
                "      said:   set ReservedConcurrency from 10 to 6 now, and hold it there",
                `      done: paused ${ORDERS_KEY}`,
                "      done: ReservedConcurrency set to 6",
                "  idempotency table (idempotency forget): orders-idempotency, audit#orders…",
                "    2026-12-04T09:02:00.000Z  applied  idempotency forget orders evt-9",
                `      by ${CALLER_ARN}: replay`,
                '      said: delete the COMPLETED record (result "booked") of key "evt-9" in orders-idempotency: the next delivery of that event runs the function again',
                '      done: forgot key "evt-9"',
                "",
            ].join("\n"),
        );
    });

    it("the idempotency table is scanned only with --scan: without it, the other tables are listed and that one says why not", async () => {
        const run = await runOn(stack, ["audit", "orders", "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const audit = JSON.parse(run.stdout) as ComponentAudit;
        assert.deepEqual(
            audit.trails.map((t) => ({ label: t.label, read: t.entries !== undefined, skipped: t.skipped })),
            [
                { label: "controller (pause, resume)", read: true, skipped: undefined },
                {
                    label: "idempotency table (idempotency forget)",
                    read: false,
                    skipped: "its items are keyed by id alone, so listing its entries scans the whole table (reads grow with the table, one item per event): add --scan",
                },
            ],
        );
    });

    it("a breaker's entries (an id table, scanned) and an entry still 'started' read as what they are; expiresAt comes back as a time", async () => {
        const location = breakerAuditLocation(PAYMENTS.breaker!);
        // Items a begins_with filter also matches, none of them an entry of payments: the breaker's own state, an entry
        // of a breaker whose id continues with "#", and an item whose key merely starts like one.
        await stack.db.client.send(new PutItemCommand({ TableName: location.tableName, Item: { id: { S: "payments" }, state: { S: "closed" } } }));
        await writeAuditEntry(stack.db.client, { ...location, scope: "payments#eu" }, entry("breaker open payments#eu", "INC-8", 30));
        await stack.db.client.send(new PutItemCommand({ TableName: location.tableName, Item: { id: { S: "audit#payments#evt-1" }, status: { S: "COMPLETED" } } }));
        await writeAuditEntry(stack.db.client, location, entry("breaker open payments --for 600", "INC-8", 0));
        const key = await writeAuditEntry(stack.db.client, location, entry("breaker close payments", "INC-8 over", 10));
        await recordAuditOutcome(stack.db.client, location, key, { outcome: "partial", done: ["breaker payments closed"], error: "applied in part: …" });
        await writeAuditEntry(stack.db.client, location, entry("breaker open payments", "INC-9", 20));
        const run = await runOn(stack, ["audit", "payments", "--limit", "2", "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const [breaker] = (JSON.parse(run.stdout) as ComponentAudit).trails;
        assert.equal(breaker.label, "breaker (open, close)");
        assert.equal(breaker.keyPrefix, "audit#payments");
        assert.deepEqual(
            breaker.entries!.map((e) => ({ at: e.at, command: e.command, outcome: e.outcome, done: e.done, error: e.error, expiresAt: e.expiresAt })),
            [
                { at: "2026-12-04T09:20:00.000Z", command: "breaker open payments", outcome: "started", done: [], error: undefined, expiresAt: "2027-03-04T09:20:00.000Z" },
                { at: "2026-12-04T09:10:00.000Z", command: "breaker close payments", outcome: "partial", done: ["breaker payments closed"], error: "applied in part: …", expiresAt: "2027-03-04T09:10:00.000Z" },
            ],
            "the newest two, newest first",
        );
        assert.equal(breaker.itemsRead, 6, "a scan reads every item of the table, the three that are no entries of payments too");
        const text = await runOn(stack, ["audit", "payments", "--limit", "1"]);
        assert.ok(text.stdout.includes("    2026-12-04T09:20:00.000Z  started (no outcome recorded: still running, or the CLI stopped before it could write one)  breaker open payments\n"), text.stdout);
    });

    it("a table that cannot be read shows its error in place and the others still show → exit 2; none readable → exit 1", async () => {
        const semaphoreTable = semaphoreAuditLocation(ERP.semaphore).tableName;
        const down = injectFaults(stack.db.client, [{ command: (c) => (c.input as { TableName?: string }).TableName === "orders-control", fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
        const partly = await runOn(stack, ["audit", "orders", "--scan"]);
        down.restore();
        assert.equal(partly.code, 2);
        assert.equal(partly.stderr, "");
        assert.ok(partly.stdout.includes(`  controller (pause, resume): orders-control, audit#${ORDERS_KEY}…\n    ⚠ error: ProvisionedThroughputExceededException: injected: QueryCommand throttled\n`), partly.stdout);
        assert.ok(partly.stdout.includes("  idempotency table (idempotency forget): orders-idempotency, audit#orders…\n    2026-12-04T09:02:00.000Z  applied  idempotency forget orders evt-9"), partly.stdout);

        const all = injectFaults(stack.db.client, [{ command: /./, fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
        const none = await runOn(stack, ["audit", "erp"]);
        all.restore();
        assert.equal(none.code, 1);
        assert.equal(none.stdout, `erp  StepFunctionsSemaphore  audit entries, newest first\n  semaphore (release): ${semaphoreTable}, audit#erp…\n    ⚠ error: ProvisionedThroughputExceededException: injected: QueryCommand throttled\n`);
    });

    it("a read applied whose response was lost is retried by the SDK and lists each entry once", async () => {
        const lost = injectFaults(stack.db.client, [{ command: "QueryCommand", fault: "after", times: 1 }]);
        const run = await runOn(stack, ["audit", "orders", "--json"]);
        lost.restore();
        assert.deepEqual(lost.injected, [{ command: "QueryCommand", fault: "after" }]);
        assert.equal(run.code, 0, run.stderr);
        const [controller] = (JSON.parse(run.stdout) as ComponentAudit).trails;
        assert.deepEqual(controller.entries!.map((e) => e.command), ["controller resume orders", "controller pause orders --at 6"]);
    });

    it("a slow table delays its listing and loses nothing; an unknown component name is refused with the known ones", async () => {
        const slow = injectFaults(stack.db.client, [{ command: "ScanCommand", fault: "delay", delayMs: 300 }]);
        const run = await runOn(stack, ["audit", "orders", "--scan", "--json"]);
        slow.restore();
        assert.deepEqual(slow.injected, [{ command: "ScanCommand", fault: "delay" }]);
        assert.equal(run.code, 0, run.stderr);
        const trails = (JSON.parse(run.stdout) as ComponentAudit).trails;
        assert.deepEqual(trails.map((t) => t.entries!.map((e) => e.command)), [["controller resume orders", "controller pause orders --at 6"], ["idempotency forget orders evt-9"]]);
        const unknown = await runOn(stack, ["audit", "ordres"]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /^serverless-concurrency: unknown component "ordres"; known: orders \(EventBridgeWorkerPool\)/);
    });

    it("--limit bounds each table: the newest entry of the controller table alone", async () => {
        const run = await runOn(stack, ["audit", "orders", "--limit", "1", "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const audit = JSON.parse(run.stdout) as ComponentAudit;
        assert.deepEqual({ name: audit.name, componentType: audit.componentType }, { name: "orders", componentType: "EventBridgeWorkerPool" });
        assert.deepEqual(audit.trails[0].entries!.map((e) => e.command), ["controller resume orders"]);
        assert.equal(audit.trails[0].itemsRead, 1, "a query reads what it lists");
    });

    it("a table skipped for want of --scan is not counted: the only table read failing → exit 1", async () => {
        const down = injectFaults(stack.db.client, [{ command: "QueryCommand", fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
        const run = await runOn(stack, ["audit", "orders"]);
        down.restore();
        assert.equal(run.code, 1);
        assert.ok(run.stdout.includes("    not read: its items are keyed by id alone"), run.stdout);
    });

    it("a FIFO worker lists its controller, breaker and idempotency tables, the last for forget and redrive; an empty one says how much it read", async () => {
        const run = await runOn(stack, ["audit", "ledger", "--scan"]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
            run.stdout,
            [
                "ledger  FifoTopicWorker  audit entries, newest first",
                `  controller (pause, resume): ledger-control, audit#${targetKey(LEDGER.controller!.target as ControlledTarget)}…`,
                "    none (0 items read)",
                "  breaker (open, close): ledger-breaker, audit#ledger…",
                "    none (0 items read)",
                "  idempotency table (idempotency forget, dlq redrive): ledger-idempotency, audit#ledger…",
                "    none (0 items read)",
                "",
            ].join("\n"),
        );
    });

    it("a component without CLI changes says so", async () => {
        const forwarder: CrossAccountEventForwarderManifest = {
            [OPERATIONS_MARKER]: 1,
            region: ORDERS.region,
            account: ACCOUNT,
            componentType: "CrossAccountEventForwarder",
            name: "fwd",
            ruleName: "fwd-rule",
            targetEventBusArn: "arn:aws:events:eu-west-1:222222222222:event-bus/heavy",
            deadLetterQueue: ERP.deadLetterQueue,
        };
        const run = await runOn(stack, ["audit", "fwd"], { outputs: { fwd: forwarder } });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout, "fwd  CrossAccountEventForwarder  audit entries, newest first\n  none: no CLI change applies to it\n");
    });
});

describe("readAuditEntries (cli/adapters/audit.ts): pages", () => {
    /** A client answering each call with the next page, recording the inputs. */
    function pagedClient(pages: { Items: Record<string, AttributeValue>[]; ScannedCount: number; LastEvaluatedKey?: Record<string, AttributeValue> }[]) {
        const inputs: unknown[] = [];
        const client = { send: async (command: QueryCommand | ScanCommand) => (inputs.push(command.input), pages.shift()) } as unknown as DynamoDBClient;
        return { client, inputs };
    }
    /** An entry at `at` (an ISO time with milliseconds), keyed as `auditKey` writes it: under `sk`, or under `id` with scope `w`. */
    const item = (at: string, keys: "pk-sk" | "id" = "pk-sk"): Record<string, AttributeValue> => ({
        ...(keys === "id" ? { id: { S: `audit#w#${at}#0a1b2c3d` } } : { pk: { S: "audit#s" }, sk: { S: `${at}#0a1b2c3d` } }),
        at: { S: at },
        command: { S: `c ${at}` },
        outcome: { S: "applied" },
    });

    it("a query asks for what is still missing, newest first, and stops at the limit", async () => {
        const location: AuditLocation = { tableName: "t", keys: "pk-sk", scope: "s" };
        const { client, inputs } = pagedClient([
            { Items: [item("2026-12-04T03:00:00.000Z")], ScannedCount: 1, LastEvaluatedKey: { pk: { S: "audit#s" }, sk: { S: "a" } } },
            { Items: [item("2026-12-04T02:00:00.000Z")], ScannedCount: 1, LastEvaluatedKey: { pk: { S: "audit#s" }, sk: { S: "b" } } },
        ]);
        const reading = await readAuditEntries(client, location, 2);
        assert.deepEqual(reading.entries.map((e) => e.at), ["2026-12-04T03:00:00.000Z", "2026-12-04T02:00:00.000Z"]);
        assert.deepEqual(inputs, [
            { TableName: "t", KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: "audit#s" } }, ScanIndexForward: false, ConsistentRead: true, Limit: 2, ExclusiveStartKey: undefined },
            { TableName: "t", KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: "audit#s" } }, ScanIndexForward: false, ConsistentRead: true, Limit: 1, ExclusiveStartKey: { pk: { S: "audit#s" }, sk: { S: "a" } } },
        ]);
    });

    it("a scan reads every page (the entries may be on any), then keeps the newest", async () => {
        const location: AuditLocation = { tableName: "t", keys: "id", scope: "w" };
        const { client, inputs } = pagedClient([
            { Items: [item("2026-12-04T01:00:00.000Z", "id")], ScannedCount: 500, LastEvaluatedKey: { id: { S: "x" } } },
            { Items: [], ScannedCount: 500, LastEvaluatedKey: { id: { S: "y" } } },
            { Items: [item("2026-12-04T05:00:00.000Z", "id"), item("2026-12-04T04:00:00.000Z", "id")], ScannedCount: 200 },
        ]);
        const reading = await readAuditEntries(client, location, 2);
        assert.deepEqual(reading.entries.map((e) => e.at), ["2026-12-04T05:00:00.000Z", "2026-12-04T04:00:00.000Z"]);
        assert.equal(reading.itemsRead, 1200);
        assert.deepEqual(
            inputs.map((i) => (i as { ExclusiveStartKey?: unknown }).ExclusiveStartKey),
            [undefined, { id: { S: "x" } }, { id: { S: "y" } }],
        );
        assert.deepEqual((inputs[0] as { FilterExpression: string; ExpressionAttributeValues: unknown }).FilterExpression, "begins_with(id, :prefix)");
        assert.deepEqual((inputs[0] as { ExpressionAttributeValues: unknown }).ExpressionAttributeValues, { ":prefix": { S: "audit#w#" } });
    });
});
