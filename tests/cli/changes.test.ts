import { strict as assert } from "node:assert";
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { AttributeValue, QueryCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { SendTaskSuccessCommand } from "@aws-sdk/client-sfn";
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, ListMessageMoveTasksResultEntry, StartMessageMoveTaskCommand } from "@aws-sdk/client-sqs";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { CircuitBreaker, IdempotencyStore, payloadHash, runIdempotently, Semaphore, targetKey } from "../../runtime";
import { ControllerPauseStore, isPaused } from "../../runtime/controller/pause";
import { BreakerStore } from "../../runtime/breaker/store";
import { BREAKER_STATE_VALUE } from "../../runtime/breaker";
import { BreakerAdapter } from "../../cli/adapters/breaker";
import { IdempotencyAdapter } from "../../cli/adapters/idempotency";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { ACCOUNT, CALLER_ARN, CliRun, ERP, LEDGER, ORDERS, PAYMENTS, runOn, ServedMapping, servePaymentsMapping, startStack, TestStack } from "./stack";
import { injectFaults, sdkError, SdkCommand } from "../helpers/faults";

const NOW = Date.UTC(2026, 11, 2, 3, 0, 0);
/** Stderr of a change whose audit entry's write applied with every response lost (ORDERS' idempotency table). */
const AUDIT_LOST =
    'serverless-concurrency: not applied: the audit entry could not be written (InternalServerError: injected: PutItemCommand was applied but its response was lost); an entry saying "started" with no outcome may remain in orders-idempotency\n';
const quiet = createLogger({ write: () => undefined });
const silentMetrics = () => new Metrics({ worker: "erp", write: () => undefined });
const ORDERS_KEY = targetKey({ kind: "ReservedConcurrency", functionName: "orders-fn" });

describe("serverless-concurrency changes", function () {
    this.timeout(30_000);
    let stack: TestStack;
    before(async () => (stack = await startStack()));
    after(() => stack.stop());
    beforeEach(() => stack.resetMocks());

    /** Every audit entry of a pk/sk table under `audit#<scope>`. */
    async function auditEntries(tableName: string, scope: string): Promise<Record<string, AttributeValue>[]> {
        const { Items = [] } = await stack.db.client.send(
            new QueryCommand({ TableName: tableName, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: `audit#${scope}` } } }),
        );
        return Items;
    }

    describe("controller pause / resume", () => {
        const pauses = () => new ControllerPauseStore(stack.db.client, ORDERS.controller!.tableName, ORDERS_KEY);

        it("without --yes and without a terminal, prints the change and applies nothing", async () => {
            stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
            const run = await runOn(stack, ["controller", "pause", "orders", "--at", "6", "--reason", "INC-7"]);
            assert.equal(run.code, 1);
            assert.match(run.stdout, /set ReservedConcurrency from 10 to 6 now, and hold it there/);
            assert.equal(run.stderr, "serverless-concurrency: not applied: standard input is not a terminal, so a change needs --yes\n");
            assert.equal(await pauses().read(), undefined);
            assert.equal(stack.lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
            assert.deepEqual(await auditEntries(ORDERS.controller!.tableName, ORDERS_KEY), [], "no audit entry for a change not made");
        });

        it("on a terminal, asks; anything but yes applies nothing", async () => {
            stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
            const run = await runOn(stack, ["controller", "pause", "orders", "--reason", "INC-7"], { interactive: true, answer: "n" });
            assert.equal(run.code, 1);
            assert.equal(run.stderr, "serverless-concurrency: not applied: not confirmed\n");
            assert.equal(await pauses().read(), undefined);
        });

        it("pause --at N: the runtime's pause check reads paused with the pin, the setting is set, an audit entry names the caller and reason", async () => {
            stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
            stack.lambda.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 6 });
            const run = await runOn(stack, ["controller", "pause", "orders", "--at", "6", "--reason", "INC-7: ERP overloaded"], { interactive: true, answer: "y", now: () => NOW });
            assert.equal(run.stderr, "");
            assert.equal(run.code, 0);
            assert.equal(
                run.stdout,
                [
                    "pause the scheduled controller of orders (ReservedConcurrency:orders-fn):",
                    "  neither driver changes ReservedConcurrency while paused (each held interval logs and emits ControllerPaused)",
                    "  set ReservedConcurrency from 10 to 6 now, and hold it there",
                    "paused ReservedConcurrency:orders-fn",
                    "ReservedConcurrency set to 6",
                    "",
                ].join("\n"),
            );
            const pause = await pauses().read();
            assert.ok(isPaused(pause));
            assert.deepEqual(pause, { pausedAt: NOW, pausedBy: CALLER_ARN, reason: "INC-7: ERP overloaded", pinnedLimit: 6 });
            assert.deepEqual(stack.lambda.commandCalls(PutFunctionConcurrencyCommand).map((c) => c.args[0].input), [{ FunctionName: "orders-fn", ReservedConcurrentExecutions: 6 }]);
            const [entry, ...more] = await auditEntries(ORDERS.controller!.tableName, ORDERS_KEY);
            assert.equal(more.length, 0);
            assert.equal(entry.sk.S!.startsWith(`${new Date(NOW).toISOString()}#`), true);
            assert.deepEqual(
                { at: entry.at.S, command: entry.command.S, component: entry.component.S, caller: entry.caller.S, account: entry.account.S, reason: entry.reason.S, expiresAt: entry.expiresAt },
                {
                    at: new Date(NOW).toISOString(),
                    command: "controller pause orders --at 6",
                    component: "orders",
                    caller: CALLER_ARN,
                    account: "123456789012",
                    reason: "INC-7: ERP overloaded",
                    // The table's TTL attribute, 90 days later: 2027-03-02T03:00:00Z in epoch seconds.
                    expiresAt: { N: "1803956400" },
                },
            );
            assert.match(entry.change.S!, /set ReservedConcurrency from 10 to 6 now/);
        });

        it("--at outside the target's range is refused before anything is read or written", async () => {
            const run = await runOn(stack, ["controller", "pause", "ledger", "--at", "1", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, "serverless-concurrency: --at must be from 2 to 1000 for SqsMaximumConcurrency; received 1\n");
            assert.equal(await new ControllerPauseStore(stack.db.client, LEDGER.controller!.tableName, targetKey(LEDGER.controller!.target)).read(), undefined);
        });

        it("resume removes the pause; resuming a running controller is refused", async () => {
            const run = await runOn(stack, ["controller", "resume", "orders", "--reason", "ERP back", "--yes"], { now: () => NOW + 60_000 });
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, /^resume the controller of orders \(ReservedConcurrency:orders-fn\), paused since 2026-12-02T03:00:00.000Z by arn:aws:sts::123456789012:assumed-role\/oncall\/jane \(INC-7: ERP overloaded\)/);
            assert.equal(isPaused(await pauses().read()), false);
            assert.equal((await auditEntries(ORDERS.controller!.tableName, ORDERS_KEY)).length, 2);
            const again = await runOn(stack, ["controller", "resume", "orders", "--reason", "x", "--yes"]);
            assert.equal(again.code, 1);
            assert.equal(again.stderr, "serverless-concurrency: the controller of orders (ReservedConcurrency:orders-fn) is not paused\n");
        });

        it("resume whose DeleteItem applied and lost its response reports it resumed (the SDK's retry finds no pause, which its condition admits)", async () => {
            await pauses().pause({ pausedAt: NOW, pausedBy: CALLER_ARN, reason: "INC-8" });
            const lost = injectFaults(stack.db.client, [{ command: "DeleteItemCommand", fault: "after", times: 1 }]);
            const run = await runOn(stack, ["controller", "resume", "orders", "--reason", "INC-8 over", "--yes"]);
            lost.restore();
            assert.deepEqual(lost.injected, [{ command: "DeleteItemCommand", fault: "after" }]);
            assert.equal(run.code, 0, run.stderr);
            assert.ok(run.stdout.endsWith("\nresumed ReservedConcurrency:orders-fn\n"), run.stdout);
            assert.equal(await pauses().read(), undefined);
        });

        it("resume keeps a pause that another operator set after it was read, and says so", async () => {
            await pauses().pause({ pausedAt: NOW, pausedBy: CALLER_ARN, reason: "INC-9" });
            const client = stack.db.client;
            const send = client.send.bind(client);
            let repaused = false;
            // Another operator pauses again between this command's read and its delete.
            (client as { send: unknown }).send = async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
                if (command.constructor.name === "DeleteItemCommand" && !repaused) {
                    repaused = true;
                    await pauses().pause({ pausedAt: NOW + 5_000, pausedBy: "arn:aws:sts::123456789012:assumed-role/oncall/omar", reason: "INC-9 again", pinnedLimit: 3 });
                }
                return (send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
            };
            try {
                const run = await runOn(stack, ["controller", "resume", "orders", "--reason", "INC-9 over", "--yes"]);
                assert.equal(run.code, 1);
                assert.ok(
                    run.stderr.includes(
                        "the pause of ReservedConcurrency:orders-fn was replaced since it was read, by arn:aws:sts::123456789012:assumed-role/oncall/omar at 2026-12-02T03:00:05.000Z (INC-9 again): not resumed; run resume again to remove that one",
                    ),
                    run.stderr,
                );
            } finally {
                delete (client as { send?: unknown }).send;
            }
            assert.equal((await pauses().read())?.reason, "INC-9 again");
            await pauses().resume();
        });

        it("a component without adaptive concurrency has nothing to pause", async () => {
            const run = await runOn(stack, ["controller", "pause", "payments", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, 'serverless-concurrency: KinesisOrderedWorker "payments" has no adaptive concurrency: there is no controller to pause or resume\n');
        });

        it("credentials of another account are refused before the audit entry and the change", async () => {
            stack.sts.on(GetCallerIdentityCommand).resolves({ Arn: "arn:aws:iam::999999999999:user/x", Account: "999999999999" });
            stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
            const run = await runOn(stack, ["controller", "pause", "orders", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, "serverless-concurrency: the credentials are for account 999999999999, but orders is in 123456789012: use --profile for that account\n");
            assert.equal(await pauses().read(), undefined);
        });
    });

    describe("breaker open / close through the runtime's store and actuator", () => {
        /** The inputs of every PutMetricData the CLI sent. */
        const metricsSent = () => stack.cloudwatch.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
        /** What a forced transition of `payments` to the state with value `state` sends at `at`. */
        const forcedMetrics = (state: number, at: number) => {
            const dimensions = [
                { Name: "Worker", Value: "payments" },
                { Name: "Breaker", Value: "payments" },
            ];
            return {
                Namespace: "ServerlessConcurrency",
                MetricData: [
                    { MetricName: "CircuitBreakerState", Dimensions: dimensions, Value: state, Unit: "Count", Timestamp: new Date(at) },
                    { MetricName: "CircuitBreakerTransitions", Dimensions: dimensions, Value: 1, Unit: "Count", Timestamp: new Date(at) },
                    { MetricName: "CircuitBreakerTransitions", Dimensions: [...dimensions, { Name: "Forced", Value: "true" }], Value: 1, Unit: "Count", Timestamp: new Date(at) },
                ],
            };
        };
        /** A mapping that the mocked Lambda API really changes. */
        let mapping: ServedMapping;
        const breakerAt = (now: number) =>
            new CircuitBreaker({ tableName: "payments-breaker", id: "payments", mappingUuid: "payments-uuid", dynamo: stack.db.client, lambda: stack.clients.lambda, now: () => now, write: () => undefined });
        beforeEach(() => (mapping = servePaymentsMapping(stack)));

        it("opens (mapping disabled, settings kept), the prober half-opens after --for, close restores the settings", async () => {
            const open = await runOn(stack, ["breaker", "open", "payments", "--for", "600", "--reason", "INC-8: ledger API down", "--yes"], { now: () => NOW });
            assert.equal(open.code, 0, open.stderr);
            assert.equal(
                open.stdout,
                [
                    "breaker payments is closed; mapping payments-uuid is Enabled (batch size 100)",
                    "open it until 2026-12-02T03:10:00.000Z and disable the mapping (its position and messages stay); after that the prober half-opens it as usual",
                    "breaker payments open until 2026-12-02T03:10:00.000Z",
                    `transition closed → open (forced by ${CALLER_ARN}) recorded: CircuitBreakerState 2, CircuitBreakerTransitions 1`,
                    "mapping payments-uuid disabled",
                    "",
                ].join("\n"),
            );
            assert.deepEqual(metricsSent(), [forcedMetrics(2, NOW)], "the runtime's transition metrics on the alarm's dimensions, and the transition once more as forced");
            assert.equal(mapping.current.State, "Disabled");
            const record = await new BreakerStore(stack.db.client, "payments-breaker", "payments").read();
            assert.deepEqual({ state: record.state, openUntil: record.openUntil, original: record.original }, { state: "open", openUntil: NOW + 600_000, original: { batchSize: 100, parallelizationFactor: 2 } });
            assert.equal(await breakerAt(NOW + 1000).record({ requests: 5, errors: 0 }), "open", "the workers see it open and fail their batches");

            assert.deepEqual(await breakerAt(NOW + 601_000).tick(), { state: "halfOpen", action: "halfOpened" }, "after --for the prober takes over");
            assert.deepEqual({ State: mapping.current.State, BatchSize: mapping.current.BatchSize, ParallelizationFactor: mapping.current.ParallelizationFactor }, { State: "Enabled", BatchSize: 1, ParallelizationFactor: 1 });

            stack.cloudwatch.resetHistory();
            const close = await runOn(stack, ["breaker", "close", "payments", "--reason", "ledger API back", "--yes"], { now: () => NOW + 602_000 });
            assert.equal(close.code, 0, close.stderr);
            assert.match(close.stdout, /close it and enable the mapping with batch size 100, parallelization factor 2\n/);
            assert.match(
                close.stdout,
                /\nbreaker payments closed\ntransition halfOpen → closed \(forced by .*jane\) recorded: CircuitBreakerState 0, CircuitBreakerTransitions 1\nmapping payments-uuid enabled with batch size 100, parallelization factor 2\nsettings recorded at the trip forgotten\n$/,
            );
            assert.deepEqual(metricsSent(), [forcedMetrics(0, NOW + 602_000)]);
            assert.deepEqual({ State: mapping.current.State, BatchSize: mapping.current.BatchSize, ParallelizationFactor: mapping.current.ParallelizationFactor }, { State: "Enabled", BatchSize: 100, ParallelizationFactor: 2 });
            const closed = await new BreakerStore(stack.db.client, "payments-breaker", "payments").read();
            assert.deepEqual({ state: closed.state, original: closed.original, probeLeaseUntil: closed.probeLeaseUntil }, { state: "closed", original: undefined, probeLeaseUntil: 0 });
            assert.equal(await breakerAt(NOW + 603_000).record({ requests: 3, errors: 0 }), "closed", "the workers count in a fresh window again");
            assert.deepEqual(await breakerAt(NOW + 604_000).tick(), { state: "closed", action: "waiting" }, "nothing left for the prober to finish");

            const { Items = [] } = await stack.db.client.send(
                new QueryCommand({ TableName: "payments-breaker", KeyConditionExpression: "id = :id", ExpressionAttributeValues: { ":id": { S: "payments" } } }),
            );
            assert.equal(Items.length, 1, "the state item");
            const audit = await stack.db.client.send(new ScanCommand({ TableName: "payments-breaker" }));
            assert.deepEqual(audit.Items!.filter((i) => i.id.S!.startsWith("audit#payments#")).map((i) => i.command.S).sort(), ["breaker close payments", "breaker open payments --for 600"]);
        });

        it("forcing open an open breaker moves its open time and records no transition", async () => {
            assert.equal((await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-9", "--yes"], { now: () => NOW })).code, 0);
            stack.cloudwatch.resetHistory();
            const again = await runOn(stack, ["breaker", "open", "payments", "--for", "1800", "--reason", "INC-9: longer", "--yes"], { now: () => NOW + 1000 });
            assert.equal(again.code, 0, again.stderr);
            assert.match(again.stdout, /\nbreaker payments was open already: no transition recorded\nmapping payments-uuid was disabled already\n$/);
            assert.deepEqual(metricsSent(), []);
            assert.equal((await new BreakerStore(stack.db.client, "payments-breaker", "payments").read()).openUntil, NOW + 1000 + 1_800_000);
        });

        it("a refused PutMetricData leaves the change made and says the metrics were not recorded", async () => {
            await runOn(stack, ["breaker", "close", "payments", "--reason", "start closed", "--yes"]);
            stack.cloudwatch.on(PutMetricDataCommand).rejects(new Error("not authorized to perform: cloudwatch:PutMetricData"));
            const open = await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-10", "--yes"], { now: () => NOW });
            assert.equal(open.code, 0, open.stderr);
            assert.match(open.stdout, /\ntransition closed → open \(forced by .*jane\) not recorded in the metrics \(not authorized to perform: cloudwatch:PutMetricData\); the prober reports the state at its next run\nmapping payments-uuid disabled\n$/);
            assert.equal(mapping.current.State, "Disabled");
            assert.equal((await new BreakerStore(stack.db.client, "payments-breaker", "payments").read()).state, "open");
        });

        it("PutMetricData faults: applied with its response lost it is sent again (the transition counts twice); throttled or slow, the change stands", async () => {
            await runOn(stack, ["breaker", "close", "payments", "--reason", "start closed", "--yes"]);
            stack.cloudwatch.resetHistory();
            stack.cloudwatch.on(PutMetricDataCommand).resolves({});
            const lost = injectFaults(stack.clients.cloudwatch, [{ command: "PutMetricDataCommand", fault: "after", times: 1 }]);
            const open = await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-11", "--yes"], { now: () => NOW });
            lost.restore();
            assert.equal(open.code, 0, open.stderr);
            assert.match(open.stdout, /\ntransition closed → open \(forced by .*jane\) recorded: /);
            // the retry carries the same datapoints (same timestamp): a Sum over the period counts the transition twice
            assert.deepEqual(metricsSent(), [forcedMetrics(BREAKER_STATE_VALUE.open, NOW), forcedMetrics(BREAKER_STATE_VALUE.open, NOW)]);
            stack.cloudwatch.resetHistory();
            const throttled = injectFaults(stack.clients.cloudwatch, [{ command: "PutMetricDataCommand", fault: "throttle", times: 1 }]);
            const close = await runOn(stack, ["breaker", "close", "payments", "--reason", "INC-11 over", "--yes"], { now: () => NOW + 1000 });
            throttled.restore();
            assert.equal(close.code, 0, close.stderr);
            assert.match(close.stdout, /\ntransition open → closed \(forced by .*jane\) not recorded in the metrics \(injected: PutMetricDataCommand throttled\); the prober reports the state at its next run\nmapping /);
            assert.equal(mapping.current.State, "Enabled");
            const slow = injectFaults(stack.clients.cloudwatch, [{ command: "PutMetricDataCommand", fault: "delay", delayMs: 50, times: 1 }]);
            const reopen = await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-12", "--yes"], { now: () => NOW + 2000 });
            slow.restore();
            assert.match(reopen.stdout, /\ntransition closed → open \(forced by .*jane\) recorded: /);
            assert.equal(mapping.current.State, "Disabled");
        });

        it("a worker without a breaker says so", async () => {
            const run = await runOn(stack, ["breaker", "open", "orders", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, 'serverless-concurrency: EventBridgeWorkerPool "orders" has no circuit breaker\n');
        });
    });

    describe("semaphore release", () => {
        const EXEC_A = "arn:aws:states:eu-west-1:123456789012:execution:orders:leaked";
        const EXEC_B = "arn:aws:states:eu-west-1:123456789012:execution:orders:waiting";

        it("frees a leaked permit and hands it to the next waiter, woken with its task token", async () => {
            stack.sfn.on(SendTaskSuccessCommand).resolves({});
            const semaphore = new Semaphore({ tableName: ERP.semaphore.tableName, name: "erp", limit: 1, dynamo: stack.db.client, sfn: stack.clients.sfn, logger: quiet });
            assert.equal(await semaphore.acquire({ executionArn: EXEC_A, token: "token-a" }), "granted");
            assert.equal(await semaphore.acquire({ executionArn: EXEC_B, token: "token-b" }), "queued");
            stack.sfn.resetHistory();

            const run = await runOn(stack, ["semaphore", "release", "erp", EXEC_A, "--reason", "execution stopped outside Step Functions' events", "--yes"]);
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, new RegExp(`^release the permit ${EXEC_A} holds since .* \\(1 of 1 in use\\)\n  it goes to the oldest live waiter, ${EXEC_B}\n`));
            assert.match(run.stdout, new RegExp(`\nreleased: permit freed, waiter not queued\n${EXEC_B} now holds it; 1 of 1 in use\n$`));
            const snapshot = await new SemaphoreStore(stack.db.client, ERP.semaphore.tableName, "erp").read();
            assert.deepEqual([...snapshot.holders.values()].map((h) => h.executionArn), [EXEC_B]);
            assert.deepEqual(snapshot.queue, []);
            assert.deepEqual(stack.sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken), ["token-b"]);
            assert.equal((await auditEntries(ERP.semaphore.tableName, "erp")).length, 1);
        });

        it("an execution that holds nothing and waits for nothing is refused", async () => {
            const run = await runOn(stack, ["semaphore", "release", "erp", EXEC_A, "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, `serverless-concurrency: ${EXEC_A} holds no permit of semaphore erp and is not waiting (1 of 1 in use)\n`);
        });
    });

    describe("idempotency show / forget", () => {
        const store = () => new IdempotencyStore({ tableName: ORDERS.idempotencyTableName, client: stack.db.client, expirySeconds: 108_000, leaseSeconds: 90 });
        const event = { id: "evt-1", detail: { order: 42 } };

        it("forget → the next delivery of the event runs the function again", async () => {
            let runs = 0;
            const handle = () => runIdempotently(store(), event.id, event, async () => ({ booked: ++runs }), { log: quiet });
            assert.deepEqual(await handle(), { result: { booked: 1 }, duplicate: false, resultStored: true, completed: true });
            assert.deepEqual(await handle(), { result: { booked: 1 }, duplicate: true, resultStored: true, completed: true });

            const show = await runOn(stack, ["idempotency", "show", "orders", "evt-1"]);
            assert.equal(show.code, 0, show.stderr);
            const shown = JSON.parse(show.stdout);
            assert.deepEqual({ key: shown.key, status: shown.status, payloadHash: shown.payloadHash, result: shown.result }, { key: "evt-1", status: "COMPLETED", payloadHash: payloadHash(event), result: { booked: 1 } });

            const forget = await runOn(stack, ["idempotency", "forget", "orders", "evt-1", "--reason", "replay after fix", "--yes"]);
            assert.equal(forget.code, 0, forget.stderr);
            assert.equal(forget.stdout, 'delete the COMPLETED record (result {"booked":1}) of key "evt-1" in orders-idempotency: the next delivery of that event runs the function again\nforgot key "evt-1"\n');
            assert.deepEqual(await handle(), { result: { booked: 2 }, duplicate: false, resultStored: true, completed: true });
        });

        it("--audit-retention-days sets when the audit entry expires: the table's TTL attribute, in epoch seconds", async () => {
            await runIdempotently(store(), "evt-3", { id: "evt-3" }, async () => "done", { log: quiet });
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-3", "--reason", "replay", "--audit-retention-days", "400", "--yes"], { now: () => NOW });
            assert.equal(run.code, 0, run.stderr);
            const { Items = [] } = await stack.db.client.send(new ScanCommand({ TableName: ORDERS.idempotencyTableName }));
            const entries = Items.filter((i) => i.id.S!.startsWith("audit#orders#") && i.command.S === "idempotency forget orders evt-3");
            // 400 days after 2026-12-02T03:00:00Z: 2028-01-06T03:00:00Z.
            assert.deepEqual(entries.map((i) => i.expiresAt), [{ N: "1830740400" }]);
        });

        it("a claim still being processed is not forgotten", async () => {
            const claim = await store().claim("evt-2", payloadHash({ id: "evt-2" }));
            assert.equal(claim.status, "claimed");
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-2", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.match(run.stderr, /^serverless-concurrency: key "evt-2" is being processed \(claim leased until .*\); forgetting it now would let a duplicate run beside it: wait for the lease\n$/);
            await assert.rejects(store().claim("evt-2", payloadHash({ id: "evt-2" })), { name: "IdempotencyInProgressError" }, "still claimed by its invocation");
        });

        it("an unknown key is one line", async () => {
            const run = await runOn(stack, ["idempotency", "show", "orders", "nope"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, 'serverless-concurrency: no idempotency record for key "nope" in orders-idempotency\n');
        });
    });

    describe("dlq redrive", () => {
        const STARTED = NOW - 60_000;
        const FOLLOW = `follow it with \`aws sqs list-message-move-tasks --source-arn ${LEDGER.deadLetterQueue.arn}\``;

        /** SQS's move tasks of the ledger DLQ, newest first: one at work at a time, a second start refused as SQS refuses it. */
        function serveMoveTasks(tasks: ListMessageMoveTasksResultEntry[] = []): ListMessageMoveTasksResultEntry[] {
            stack.sqs.on(ListMessageMoveTasksCommand).callsFake(async () => ({ Results: tasks.slice(0, 1) }));
            stack.sqs.on(StartMessageMoveTaskCommand).callsFake(async (input: { DestinationArn?: string }) => {
                if (tasks[0]?.Status === "RUNNING") throw sdkError("InvalidParameterValue", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.", 400, false);
                const handle = `task-${tasks.length + 1}`;
                tasks.unshift({ TaskHandle: handle, Status: "RUNNING", DestinationArn: input.DestinationArn, StartedTimestamp: NOW, ApproximateNumberOfMessagesMoved: 0, ApproximateNumberOfMessagesToMove: 3 });
                return { TaskHandle: handle };
            });
            return tasks;
        }

        it("FIFO worker: an SQS message move task from the FIFO DLQ back to its queue", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            serveMoveTasks([{ Status: "COMPLETED", StartedTimestamp: STARTED - 86_400_000 }]);
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "poison fixed", "--yes"]);
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(stack.sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input), [{ SourceArn: LEDGER.deadLetterQueue.arn, DestinationArn: LEDGER.queue.arn }]);
            assert.deepEqual(stack.sqs.commandCalls(ListMessageMoveTasksCommand)[0].args[0].input, { SourceArn: LEDGER.deadLetterQueue.arn, MaxResults: 1 });
            assert.match(run.stdout, /^move the 3 message\(s\) of .*ledger-dlq.fifo back to .*ledger-queue.fifo \(an SQS message move task\)\n/);
            assert.ok(run.stdout.includes(`redrive started (task task-2); ${FOLLOW}\n`), run.stdout);
        });

        it("a start applied whose response was lost (the SDK's retry is refused: one task per queue) reports the task at work, exit 0", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            const tasks = serveMoveTasks();
            const lost = injectFaults(stack.clients.sqs, [{ command: "StartMessageMoveTaskCommand", fault: "after", times: 1 }]);
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "lost start", "--yes"], { now: () => NOW });
            lost.restore();
            assert.deepEqual(lost.injected, [{ command: "StartMessageMoveTaskCommand", fault: "after" }]);
            assert.equal(run.code, 0, run.stderr);
            assert.equal(tasks.length, 1, "one task started");
            const done = `redrive at work (task task-1, RUNNING, started 2026-12-02T03:00:00.000Z, 0 of 3 moved): its start's response was lost and the retry was refused because the task ran; ${FOLLOW}`;
            assert.ok(run.stdout.includes(`${done}\n`), run.stdout);
            assert.deepEqual(await outcomes(LEDGER.idempotencyTableName, "lost start"), [{ outcome: "applied", done, error: undefined }]);
        });

        it("a lost start whose small task finished before the CLI looked is reported done, not failed", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            const tasks = serveMoveTasks();
            const lost = injectFaults(stack.clients.sqs, [{ command: "StartMessageMoveTaskCommand", fault: "after", times: 1 }]);
            let starts = 0;
            stack.sqs.on(StartMessageMoveTaskCommand).callsFake(async (input: { DestinationArn?: string }) => {
                const task = { Status: "RUNNING", TaskHandle: "task-1", DestinationArn: input.DestinationArn, StartedTimestamp: NOW, ApproximateNumberOfMessagesMoved: 0, ApproximateNumberOfMessagesToMove: 3 };
                if (starts++ === 0) return tasks.unshift(task) && { TaskHandle: "task-1" };
                // The SDK's retry is refused while the task runs; SQS finishes it before the CLI looks (no handle once done).
                tasks[0] = { ...task, Status: "COMPLETED", TaskHandle: undefined, ApproximateNumberOfMessagesMoved: 3 };
                throw sdkError("InvalidParameterValue", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.", 400, false);
            });
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "finished", "--yes"], { now: () => NOW });
            lost.restore();
            assert.equal(run.code, 0, run.stderr);
            assert.ok(run.stdout.includes(`redrive done (task, COMPLETED, started 2026-12-02T03:00:00.000Z, 3 of 3 moved): its start's response was lost and the retry was refused because the task ran; ${FOLLOW}\n`), run.stdout);
        });

        it("ListMessageMoveTasks throttled: at the plan nothing starts (exit 1); after a lost start, SQS's refusal is the change's error, audited as failed", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            serveMoveTasks();
            const atPlan = injectFaults(stack.clients.sqs, [{ command: "ListMessageMoveTasksCommand", fault: "throttle", times: 1 }]);
            const planned = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "list throttled", "--yes"], { now: () => NOW });
            atPlan.restore();
            assert.equal(planned.code, 1);
            assert.match(planned.stderr, /^serverless-concurrency: ThrottlingException/);
            assert.equal(stack.sqs.commandCalls(StartMessageMoveTaskCommand).length, 0);
            assert.deepEqual(await outcomes(LEDGER.idempotencyTableName, "list throttled"), [], "refused before the audit entry");
            // The second list (after the refused retry) throttles: the CLI cannot tell the task is its own and says what SQS said.
            let lists = 0;
            const later = injectFaults(stack.clients.sqs, [
                { command: "StartMessageMoveTaskCommand", fault: "after", times: 1 },
                { command: (c) => c.constructor.name === "ListMessageMoveTasksCommand" && ++lists === 2, fault: "throttle" },
            ]);
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "list throttled later", "--yes"], { now: () => NOW });
            later.restore();
            assert.equal(run.code, 1);
            assert.equal(run.stderr, "serverless-concurrency: InvalidParameterValue: There is already a task running. Only one active task is allowed for a source queue arn at a given time.\n");
            assert.deepEqual((await outcomes(LEDGER.idempotencyTableName, "list throttled later")).map((o) => o.outcome), ["failed"]);
        });

        it("a failed start is not taken for a task this start did not make: one to another destination, the one the plan saw, or after another error", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            const refused = sdkError("InvalidParameterValue", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.", 400, false);
            const denied = sdkError("AccessDenied", "not authorized to perform: sqs:StartMessageMoveTask", 403, false);
            const earlier = { TaskHandle: undefined, Status: "COMPLETED", DestinationArn: LEDGER.queue.arn, StartedTimestamp: NOW - 30_000 };
            const cases = [
                { reason: "elsewhere", atPlan: [], atStart: [{ TaskHandle: "theirs", Status: "RUNNING", DestinationArn: "arn:aws:sqs:eu-west-1:123456789012:triage.fifo", StartedTimestamp: NOW }], error: refused },
                { reason: "earlier", atPlan: [earlier], atStart: [earlier], error: refused },
                { reason: "denied with a task", atPlan: [], atStart: [{ ...earlier, StartedTimestamp: NOW }], error: denied },
            ];
            for (const { reason, atPlan, atStart, error } of cases) {
                let listed = 0;
                stack.sqs.on(ListMessageMoveTasksCommand).callsFake(async () => ({ Results: listed++ === 0 ? atPlan : atStart }));
                stack.sqs.on(StartMessageMoveTaskCommand).rejects(error);
                const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", reason, "--yes"], { now: () => NOW });
                assert.equal(run.code, 1, reason);
                assert.equal(run.stderr, `serverless-concurrency: ${error.name}: ${error.message}\n`, reason);
                assert.deepEqual((await outcomes(LEDGER.idempotencyTableName, reason)).map((o) => o.outcome), ["failed"], reason);
            }
        });

        it("a start that fails with no task at work fails the change with the SDK's error, audited as failed", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            serveMoveTasks();
            stack.sqs.on(StartMessageMoveTaskCommand).rejects(sdkError("AccessDenied", "not authorized to perform: sqs:StartMessageMoveTask", 403, false));
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "denied", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, "serverless-concurrency: AccessDenied: not authorized to perform: sqs:StartMessageMoveTask\n");
            assert.doesNotMatch(run.stdout, /redrive (started|at work)/);
            assert.deepEqual(await outcomes(LEDGER.idempotencyTableName, "denied"), [{ outcome: "failed", done: "", error: "AccessDenied: not authorized to perform: sqs:StartMessageMoveTask" }]);
        });

        it("refuses while a move task is at work on the DLQ, and starts nothing", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" } });
            serveMoveTasks([{ TaskHandle: "task-9", Status: "RUNNING", StartedTimestamp: STARTED, ApproximateNumberOfMessagesMoved: 1, ApproximateNumberOfMessagesToMove: 3 }]);
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(
                run.stderr,
                `serverless-concurrency: a message move task is already at work on the dead-letter queue of ledger (task task-9, RUNNING, started 2026-12-02T02:59:00.000Z, 1 of 3 moved): SQS runs one per queue; ${FOLLOW}\n`,
            );
            assert.equal(stack.sqs.commandCalls(StartMessageMoveTaskCommand).length, 0);
        });

        it("a DLQ whose messages are all in flight has nothing a move task can take now; in-flight ones besides visible ones are named in the plan", async () => {
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "2" } });
            serveMoveTasks();
            const allInFlight = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "r", "--yes"]);
            assert.equal(allInFlight.code, 1);
            assert.equal(
                allInFlight.stderr,
                "serverless-concurrency: the dead-letter queue of ledger has no visible message: its 2 message(s) are in flight (received, for example by a console poll, and not yet visible again); run this again once their visibility timeout has passed\n",
            );
            assert.equal(stack.sqs.commandCalls(StartMessageMoveTaskCommand).length, 0);
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "2" } });
            const some = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "r", "--yes"]);
            assert.equal(some.code, 0, some.stderr);
            assert.match(some.stdout, /^move the 3 message\(s\) of .* \(an SQS message move task\) \(2 more are in flight: received by a reader and not visible now\)\n/);
        });

        it("an empty DLQ has nothing to redrive", async () => {
            serveMoveTasks();
            stack.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" } });
            const run = await runOn(stack, ["dlq", "redrive", "ledger", "--reason", "r", "--yes"]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, "serverless-concurrency: the dead-letter queue of ledger is empty: nothing to redrive\n");
            assert.equal(stack.sqs.commandCalls(StartMessageMoveTaskCommand).length, 0);
        });

        it("where AWS cannot move the messages it says why, and calls nothing", async () => {
            const pool = await runOn(stack, ["dlq", "redrive", "orders", "--reason", "r", "--yes"]);
            assert.equal(pool.code, 1);
            assert.match(pool.stderr, /^serverless-concurrency: dlq redrive is not possible for EventBridgeWorkerPool "orders": its dead-letter queue is fed by EventBridge \(target DLQ\) and Lambda \(on-failure destination\), not by an SQS queue's redrive policy/);
            const kinesis = await runOn(stack, ["dlq", "redrive", "payments", "--reason", "r", "--yes"]);
            assert.match(kinesis.stderr, /its failure queue is the mapping's on-failure destination: its messages hold the failed records' shard and sequence numbers, not the records/);
            assert.equal(stack.sqs.calls().length, 0);
        });
    });

    /** The outcome attributes of the audit entries with `reason` in `tableName`, oldest first. */
    async function outcomes(tableName: string, reason: string): Promise<Array<Record<string, string | undefined>>> {
        const { Items = [] } = await stack.db.client.send(new ScanCommand({ TableName: tableName }));
        const isEntry = (i: Record<string, AttributeValue>) => (i.id ?? i.pk).S!.startsWith("audit#") && i.reason?.S === reason;
        return Items.filter(isEntry)
            .sort((a, b) => a.at.S!.localeCompare(b.at.S!))
            .map((i) => ({ outcome: i.outcome?.S, done: i.done?.S, error: i.error?.S }));
    }

    /** A semaphore `erp` of one permit that nobody holds or waits for, whatever earlier tests left. */
    async function emptySemaphore(): Promise<Semaphore> {
        const semaphore = new Semaphore({ tableName: ERP.semaphore.tableName, name: "erp", limit: 1, dynamo: stack.db.client, sfn: stack.clients.sfn, logger: quiet, metrics: silentMetrics() });
        const store = new SemaphoreStore(stack.db.client, ERP.semaphore.tableName, "erp");
        stack.sfn.on(SendTaskSuccessCommand).resolves({});
        for (const waiter of await store.listWaiters()) await semaphore.release(waiter.executionArn);
        for (const holder of (await store.read()).holders.values()) await semaphore.release(holder.executionArn);
        stack.sfn.resetHistory();
        return semaphore;
    }

    describe("idempotency forget under faults", () => {
        const store = () => new IdempotencyStore({ tableName: ORDERS.idempotencyTableName, client: stack.db.client, expirySeconds: 108_000, leaseSeconds: 90 });

        it("a DeleteItem applied whose response was lost (the SDK's retry fails its condition) reports the key forgotten", async () => {
            await runIdempotently(store(), "evt-lost", { id: "evt-lost" }, async () => "ok", { log: quiet });
            const lost = injectFaults(stack.db.client, [{ command: "DeleteItemCommand", fault: "after", times: 1 }]);
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-lost", "--reason", "replay evt-lost", "--yes"]);
            lost.restore();
            assert.equal(run.stderr, "");
            assert.equal(run.code, 0);
            const forgot = 'forgot key "evt-lost" (its record was gone when the delete was retried: the first attempt deleted it, or someone else did)';
            assert.equal(run.stdout.split("\n").slice(1).join("\n"), `${forgot}\n`);
            assert.deepEqual(lost.injected, [{ command: "DeleteItemCommand", fault: "after" }]);
            const show = await runOn(stack, ["idempotency", "show", "orders", "evt-lost"]);
            assert.equal(show.stderr, 'serverless-concurrency: no idempotency record for key "evt-lost" in orders-idempotency\n');
            assert.deepEqual(await outcomes(ORDERS.idempotencyTableName, "replay evt-lost"), [{ outcome: "applied", done: forgot, error: undefined }]);
        });

        it("a record another delivery replaced between the read and the delete: left as it is, and the refusal does not claim that nothing was deleted", async () => {
            await runIdempotently(store(), "evt-replaced", { id: "evt-replaced" }, async () => "ok", { log: quiet });
            stack.sts.on(GetCallerIdentityCommand).callsFake(async () => {
                // after the plan read the record, before the delete: the record goes (this command's lost delete, or anyone's) and a new delivery claims the key
                const adapter = new IdempotencyAdapter(stack.db.client, ORDERS.idempotencyTableName);
                assert.equal(await adapter.forget((await adapter.read("evt-replaced"))!), "deleted");
                assert.equal((await store().claim("evt-replaced", payloadHash({ id: "evt-replaced" }))).status, "claimed");
                return { Arn: CALLER_ARN, Account: ACCOUNT, UserId: "AROA:jane" };
            });
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-replaced", "--reason", "replay evt-replaced", "--yes"]);
            assert.equal(
                run.stderr,
                'serverless-concurrency: the record of key "evt-replaced" is not the one that was read: another delivery claimed or replaced it since ' +
                    "(if this command's first delete landed and its response was lost, that record is a new one); it is left as it is: run the command again to see it\n",
            );
            assert.equal(run.code, 1);
            assert.equal((await new IdempotencyAdapter(stack.db.client, ORDERS.idempotencyTableName).read("evt-replaced"))!.status, "INPROGRESS", "the new claim stays");
        });

        it("a condition that fails because another claim took the key: that record is left, and forget says changed", async () => {
            await runIdempotently(store(), "evt-taken", { id: "evt-taken" }, async () => "ok", { log: quiet });
            const adapter = new IdempotencyAdapter(stack.db.client, ORDERS.idempotencyTableName);
            const shown = (await adapter.read("evt-taken"))!;
            assert.equal(await adapter.forget(shown), "deleted");
            assert.equal((await store().claim("evt-taken", payloadHash({ id: "evt-taken" }))).status, "claimed");
            assert.equal(await adapter.forget(shown), "changed");
            assert.equal((await adapter.read("evt-taken"))!.status, "INPROGRESS", "the new claim stays");
        });

        it("a DeleteItem that fails before anything landed: the error as it is, exit 1, the audit entry says failed", async () => {
            await runIdempotently(store(), "evt-down", { id: "evt-down" }, async () => "ok", { log: quiet });
            const down = injectFaults(stack.db.client, [{ command: "DeleteItemCommand", fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-down", "--reason", "replay evt-down", "--yes"]);
            down.restore();
            const error = "ProvisionedThroughputExceededException: injected: DeleteItemCommand throttled";
            assert.equal(run.stderr, `serverless-concurrency: ${error}\n`);
            assert.equal(run.code, 1);
            assert.deepEqual(await outcomes(ORDERS.idempotencyTableName, "replay evt-down"), [{ outcome: "failed", done: "", error }]);
        });
    });

    describe("audit outcome under faults", () => {
        it("an outcome that cannot be written is said on stderr; the entry still says started, the change's exit code stands", async () => {
            const store = new IdempotencyStore({ tableName: ORDERS.idempotencyTableName, client: stack.db.client, expirySeconds: 108_000, leaseSeconds: 90 });
            await runIdempotently(store, "evt-audit", { id: "evt-audit" }, async () => "ok", { log: quiet });
            const denied = injectFaults(stack.db.client, [{ command: "UpdateItemCommand", fault: "throttle", errorName: "AccessDeniedException" }]);
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-audit", "--reason", "replay evt-audit", "--yes"]);
            denied.restore();
            assert.equal(run.stderr, 'serverless-concurrency: the audit entry still says "started": its outcome (applied) could not be written: AccessDeniedException: injected: UpdateItemCommand throttled\n');
            assert.equal(run.code, 0);
            assert.match(run.stdout, /\nforgot key "evt-audit"\n$/);
            assert.deepEqual(await outcomes(ORDERS.idempotencyTableName, "replay evt-audit"), [{ outcome: "started", done: undefined, error: undefined }]);
        });
    });

    describe("audit entry under faults", () => {
        it("an entry whose write applied but every response was lost stops the change before anything is applied; the entry says started", async () => {
            const store = new IdempotencyStore({ tableName: ORDERS.idempotencyTableName, client: stack.db.client, expirySeconds: 108_000, leaseSeconds: 90 });
            await runIdempotently(store, "evt-entry", { id: "evt-entry" }, async () => "ok", { log: quiet });
            const lost = injectFaults(stack.db.client, [{ command: "PutItemCommand", fault: "after", then: "throw", times: 1 }]);
            const run = await runOn(stack, ["idempotency", "forget", "orders", "evt-entry", "--reason", "replay evt-entry", "--yes"]);
            lost.restore();
            assert.deepEqual(lost.injected, [{ command: "PutItemCommand", fault: "after" }]);
            assert.equal(run.code, 1);
            assert.equal(run.stderr, AUDIT_LOST);
            assert.equal((await new IdempotencyAdapter(stack.db.client, ORDERS.idempotencyTableName).read("evt-entry"))?.status, "COMPLETED", "the record was not forgotten");
            assert.deepEqual(await outcomes(ORDERS.idempotencyTableName, "replay evt-entry"), [{ outcome: "started", done: undefined, error: undefined }]);
        });
    });

    describe("controller pause --at under faults", () => {
        it("the pause is stored, the limit throttled: says so, exits 3, the audit entry says partial", async () => {
            stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
            stack.lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 900 } });
            stack.lambda.on(PutFunctionConcurrencyCommand).rejects(sdkError("TooManyRequestsException", "Rate exceeded", 429, true));
            const run = await runOn(stack, ["controller", "pause", "orders", "--at", "6", "--reason", "INC-20", "--yes"], { now: () => NOW });
            const error =
                "applied in part: done: store the pause of ReservedConcurrency:orders-fn; NOT done: set ReservedConcurrency to 6 (TooManyRequestsException: Rate exceeded); " +
                "the controller is paused, so neither driver changes the setting: run the command again to set it, or `controller resume`";
            assert.equal(run.stderr, `serverless-concurrency: ${error}\n`);
            assert.equal(run.code, 3);
            assert.match(run.stdout, /\npaused ReservedConcurrency:orders-fn\n$/);
            const pauses = new ControllerPauseStore(stack.db.client, ORDERS.controller!.tableName, ORDERS_KEY);
            assert.deepEqual(await pauses.read(), { pausedAt: NOW, pausedBy: CALLER_ARN, reason: "INC-20", pinnedLimit: 6 });
            assert.deepEqual(await outcomes(ORDERS.controller!.tableName, "INC-20"), [{ outcome: "partial", done: "paused ReservedConcurrency:orders-fn", error }]);
            await pauses.resume();
        });
    });

    describe("breaker open / close under faults", () => {
        let mapping: ServedMapping;
        const state = async () => (await new BreakerStore(stack.db.client, "payments-breaker", "payments").read()).state;
        beforeEach(() => {
            mapping = servePaymentsMapping(stack);
            stack.cloudwatch.on(PutMetricDataCommand).resolves({});
        });

        it("open: the state written and recorded, the mapping update refused: exit 3; a rerun disables the mapping", async () => {
            assert.equal((await runOn(stack, ["breaker", "close", "payments", "--reason", "start closed", "--yes"])).code, 0);
            stack.cloudwatch.resetHistory();
            mapping.refuseUpdates(sdkError("AccessDeniedException", "not authorized to perform: lambda:UpdateEventSourceMapping", 403, false));
            const run = await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-21", "--yes"], { now: () => NOW });
            const error =
                "applied in part: done: write breaker payments open; record the transition; NOT done: disable mapping payments-uuid (AccessDeniedException: not authorized to perform: lambda:UpdateEventSourceMapping); " +
                "the breaker is open, so the workers fail their batches; the prober disables the mapping at its next tick, or run the command again";
            assert.equal(run.stderr, `serverless-concurrency: ${error}\n`);
            assert.equal(run.code, 3);
            assert.match(run.stdout, /\nbreaker payments open until 2026-12-02T03:15:00.000Z\ntransition closed → open \(forced by .*jane\) recorded: CircuitBreakerState 2, CircuitBreakerTransitions 1\n$/);
            assert.deepEqual([await state(), mapping.current.State], ["open", "Enabled"]);
            assert.equal(stack.cloudwatch.commandCalls(PutMetricDataCommand).length, 1, "the transition is recorded once, with the state write");

            mapping.acceptUpdates();
            const rerun = await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-21", "--yes"], { now: () => NOW + 1000 });
            assert.equal(rerun.stderr, "");
            assert.equal(rerun.code, 0);
            assert.match(rerun.stdout, /^breaker payments is open; mapping payments-uuid is Enabled \(batch size 100\)\n/);
            assert.match(rerun.stdout, /\nbreaker payments was open already: no transition recorded\nmapping payments-uuid disabled\n$/);
            assert.equal(mapping.current.State, "Disabled");
            assert.deepEqual((await outcomes("payments-breaker", "INC-21")).map((o) => o.outcome), ["partial", "applied"]);
        });

        it("close: closed, recorded and the mapping enabled, forgetting the trip's settings throttled: exit 3; the prober's next tick forgets them", async () => {
            assert.equal((await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-22", "--yes"], { now: () => NOW })).code, 0);
            let statePuts = 0;
            const isStatePut = (c: SdkCommand) => {
                const input = c.input as { TableName?: string; Item?: Record<string, AttributeValue> };
                return c.constructor.name === "PutItemCommand" && input.TableName === "payments-breaker" && input.Item!.id.S === "payments" && ++statePuts === 2;
            };
            const throttled = injectFaults(stack.db.client, [{ command: isStatePut, fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
            const run = await runOn(stack, ["breaker", "close", "payments", "--reason", "INC-22 over", "--yes"], { now: () => NOW + 1000 });
            throttled.restore();
            assert.equal(
                run.stderr,
                "serverless-concurrency: applied in part: done: write breaker payments closed; record the transition; enable mapping payments-uuid with batch size 100, parallelization factor 2; " +
                    "NOT done: forget the settings recorded at the trip (ProvisionedThroughputExceededException: injected: PutItemCommand throttled); the prober finishes the close at its next tick, or run the command again\n",
            );
            assert.equal(run.code, 3);
            assert.deepEqual({ state: await state(), mapping: mapping.current.State, batchSize: mapping.current.BatchSize }, { state: "closed", mapping: "Enabled", batchSize: 100 });
            const prober = new CircuitBreaker({ tableName: "payments-breaker", id: "payments", mappingUuid: "payments-uuid", dynamo: stack.db.client, lambda: stack.clients.lambda, now: () => NOW + 2000, write: () => undefined });
            await prober.tick();
            assert.equal((await new BreakerStore(stack.db.client, "payments-breaker", "payments").read()).original, undefined, "the prober finished the close");
        });
    });

    describe("breaker close: a worker trips the breaker again while it is being closed", () => {
        it("stops at forgetting the trip's settings, says what landed, and gives no hint that the prober will finish a close that is over", async () => {
            servePaymentsMapping(stack);
            assert.equal((await runOn(stack, ["breaker", "open", "payments", "--reason", "INC-23", "--yes"], { now: () => NOW })).code, 0);
            stack.cloudwatch.on(PutMetricDataCommand).callsFake(async () => {
                const store = new BreakerStore(stack.db.client, "payments-breaker", "payments");
                const current = await store.read();
                assert.ok(await store.put(current.version, { ...current, state: "open", openUntil: NOW + 30_000 }), "a worker trips it again");
                return {};
            });
            const run = await runOn(stack, ["breaker", "close", "payments", "--reason", "INC-23 over", "--yes"], { now: () => NOW + 1000 });
            assert.equal(run.code, 3);
            assert.equal(
                run.stderr,
                "serverless-concurrency: applied in part: done: write breaker payments closed; record the transition; enable mapping payments-uuid with batch size 100, parallelization factor 2; " +
                    "NOT done: forget the settings recorded at the trip (the breaker changed while it was being closed: it is open now)\n",
            );
        });
    });

    describe("breaker close: forgetting the trip's settings after another writer", () => {
        const adapter = () => new BreakerAdapter(PAYMENTS.breaker!, "payments-uuid", stack.clients, () => NOW);
        const store = () => new BreakerStore(stack.db.client, "payments-breaker", "payments");

        it("the prober (or another close) forgot them first: says so; a worker tripped it again: fails naming the state", async () => {
            servePaymentsMapping(stack);
            await adapter().writeOpen(60);
            const { written } = await adapter().writeClosed();
            const { version, ...closed } = written;
            assert.ok(await store().put(version, { ...closed, original: undefined }), "another writer finishes the close");
            assert.equal(await adapter().forgetOriginal(written), "settings recorded at the trip already forgotten (another writer finished the close first)");

            const again = await adapter().writeClosed();
            const current = await store().read();
            assert.ok(await store().put(current.version, { ...current, state: "open", openUntil: NOW + 30_000 }), "a worker trips it again");
            await assert.rejects(adapter().forgetOriginal(again.written), { name: "RefusedChangeError", message: "the breaker changed while it was being closed: it is open now" });
        });
    });

    describe("semaphore release under faults", () => {
        const LEAKED = "arn:aws:states:eu-west-1:123456789012:execution:orders:leaked-2";

        it("released, the read back throttled: says the release stands, exit 3; a rerun says there is nothing to release", async () => {
            const semaphore = await emptySemaphore();
            assert.equal(await semaphore.acquire({ executionArn: LEAKED, token: "token-l" }), "granted");
            // the waiter list (execution items) is read by the plan and by the read back, not by the release itself
            let released = false;
            const readAfterRelease = (c: SdkCommand) => {
                if (/Transact|Update|Delete/.test(c.constructor.name)) released = true;
                const pk = (c.input as { ExpressionAttributeValues?: Record<string, AttributeValue> }).ExpressionAttributeValues?.[":pk"]?.S;
                return released && c.constructor.name === "QueryCommand" && pk === "erp#exec#0";
            };
            const throttled = injectFaults(stack.db.client, [{ command: readAfterRelease, fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
            const run = await runOn(stack, ["semaphore", "release", "erp", LEAKED, "--reason", "leak", "--yes"]);
            throttled.restore();
            assert.match(run.stdout, /\nreleased: permit freed, waiter not queued\n$/);
            assert.equal(
                run.stderr,
                `serverless-concurrency: applied in part: done: release ${LEAKED}; NOT done: read semaphore erp back (ProvisionedThroughputExceededException: injected: QueryCommand throttled); the release stands; \`status erp\` shows who holds the permits now\n`,
            );
            assert.equal(run.code, 3);
            const again = await runOn(stack, ["semaphore", "release", "erp", LEAKED, "--reason", "leak", "--yes"]);
            assert.equal(again.stderr, `serverless-concurrency: ${LEAKED} holds no permit of semaphore erp and is not waiting (0 of 1 in use)\n`);
        });
    });

    describe("standard output carries the CLI's lines only", () => {
        /** Runs `argv` with process.stdout captured; returns the run and what reached process.stdout. */
        async function captured(argv: string[]): Promise<{ run: CliRun; leaked: string }> {
            const write = process.stdout.write;
            let leaked = "";
            process.stdout.write = ((chunk: string | Uint8Array) => ((leaked += String(chunk)), true)) as typeof process.stdout.write;
            try {
                return { run: await runOn(stack, argv), leaked };
            } finally {
                process.stdout.write = write;
            }
        }

        it("semaphore release: no EMF metric line", async () => {
            const semaphore = await emptySemaphore();
            await semaphore.acquire({ executionArn: "arn:quiet-a", token: "token-qa" });
            await semaphore.acquire({ executionArn: "arn:quiet-b", token: "token-qb" });
            const { run, leaked } = await captured(["semaphore", "release", "erp", "arn:quiet-a", "--reason", "r", "--yes"]);
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, /\narn:quiet-b now holds it; 1 of 1 in use\n$/);
            assert.equal(leaked, "");
        });

        it("controller pause --at a raise AWS refuses for the unreserved floor: no WARN line, no metric line", async () => {
            stack.lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 });
            stack.lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 900 } });
            const floor = "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].";
            stack.lambda.on(PutFunctionConcurrencyCommand).rejects(sdkError("InvalidParameterValueException", floor, 400, false));
            const { run, leaked } = await captured(["controller", "pause", "orders", "--at", "50", "--reason", "r", "--yes"]);
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, /\npaused ReservedConcurrency:orders-fn\nReservedConcurrency already 10 \(limited to 10: 100 executions must stay unreserved in the account\)\n$/);
            assert.equal(leaked, "");
            await new ControllerPauseStore(stack.db.client, ORDERS.controller!.tableName, ORDERS_KEY).resume();
        });
    });
});
