import { strict as assert } from "node:assert";
import { GetMetricDataCommand, GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import { GetEventSourceMappingCommand, GetFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { SendTaskSuccessCommand } from "@aws-sdk/client-sfn";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { ControllerStore, Semaphore, targetKey } from "../../runtime";
import { ControllerPauseStore } from "../../runtime/controller/pause";
import { BreakerStore } from "../../runtime/breaker/store";
import { createLogger } from "../../runtime/log";
import type { ComponentStatus } from "../../cli/commands/status";
import {
    ConcurrencyControllerManifest,
    CrossAccountEventForwarderManifest,
    IsolatedWorkloadAccountManifest,
    OPERATIONS_MARKER,
    SemaphoreStateMachineManifest,
} from "../../contracts/operations";
import { injectFaults } from "../helpers/faults";
import { CALLER_ARN, ERP, LEDGER, ORDERS, runOn, startStack, TestStack } from "./stack";

const NOW = Date.UTC(2026, 11, 2, 3, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const EXEC_A = "arn:aws:states:eu-west-1:123456789012:execution:orders:a";
const EXEC_B = "arn:aws:states:eu-west-1:123456789012:execution:orders:b";

describe("serverless-concurrency status", function () {
    this.timeout(30_000);
    let stack: TestStack;

    before(async () => {
        stack = await startStack();
        await seedState(stack);
    });
    after(() => stack.stop());
    beforeEach(() => {
        stack.resetMocks();
        mockLiveSettings(stack);
    });

    it("shows each pattern's live state; every part read → exit 0", async () => {
        const run = await runOn(stack, ["status", "--json"], { now: () => NOW });
        assert.equal(run.stderr, "");
        assert.equal(run.code, 0);
        const statuses = JSON.parse(run.stdout) as ComponentStatus[];
        const parts = (name: string) => Object.fromEntries(statuses.find((s) => s.name === name)!.parts.map((p) => [p.label, p.value ?? { error: p.error }]));

        assert.deepEqual(parts("orders"), {
            "reserved concurrency": 10,
            controller: { mode: "Controller", target: "ReservedConcurrency:orders-fn", lastDecision: { interval: 29_433_780, claimedAt: iso(NOW - 5000), decision: { limit: 8, reason: "latency", latencyTargetMs: 300 } }, decidedLimitInForce: false },
            paused: false,
            "dead-letter queue": { visible: 4, inFlight: 0, delayed: 0 },
            "async event age (max, 10 min)": "90 s",
        });
        assert.deepEqual(parts("payments"), {
            mapping: { state: "Disabled", batchSize: 100, parallelizationFactor: 2 },
            breaker: { state: "open", openUntil: iso(NOW + 60_000), probeSuccesses: 0, failedProbes: 1, window: { requests: 40, errors: 30 } },
            "failure queue": { visible: 0, inFlight: 0, delayed: 0 },
            "iterator age (max, 10 min)": "no data",
        });
        assert.deepEqual(parts("ledger"), {
            mapping: { state: "Enabled", batchSize: 10, maximumConcurrency: 5 },
            controller: { mode: "SelfTuning", target: `SqsMaximumConcurrency:${LEDGER.queue.arn}`, lastDecision: "no decision yet" },
            paused: { since: iso(NOW - 60_000), by: CALLER_ARN, reason: "ERP maintenance", pinnedLimit: 2 },
            breaker: { state: "closed", probeSuccesses: 0, failedProbes: 0, window: { requests: 0, errors: 0 } },
            queue: { visible: 12, inFlight: 3, delayed: 0 },
            "oldest message age (max, 10 min)": "42 s",
            "dead-letter queue": { visible: 0, inFlight: 0, delayed: 0 },
            "delivery dead-letter queue": { visible: 2, inFlight: 0, delayed: 0 },
        });
        assert.deepEqual(parts("erp"), {
            permits: "1 in use of 1",
            holders: [{ executionArn: EXEC_A, since: iso(NOW - 120_000), leaseUntil: iso(NOW - 120_000 + 900_000) }],
            waiters: [{ executionArn: EXEC_B, since: iso(NOW - 60_000) }],
            "dead-letter queue": { visible: 0, inFlight: 0, delayed: 0 },
        });
        assert.deepEqual(
            stack.cloudwatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries![0].MetricStat!.Metric!.MetricName).sort(),
            ["ApproximateAgeOfOldestMessage", "AsyncEventAge", "IteratorAge"],
        );
    });

    it("says whether the last decision's limit is the setting in force, and still shows the decision when the setting cannot be read", async () => {
        // The stored decision says 8; the function's reserved concurrency says 10 (the change failed, or someone set it).
        const controllerPart = async () => {
            const run = await runOn(stack, ["status", "--json", "orders"], { now: () => NOW });
            return (JSON.parse(run.stdout) as ComponentStatus[])[0].parts.find((p) => p.label === "controller")!;
        };
        assert.equal(((await controllerPart()).value as { decidedLimitInForce: unknown }).decidedLimitInForce, false);
        stack.lambda.on(GetFunctionConcurrencyCommand, { FunctionName: "orders-fn" }).resolves({ ReservedConcurrentExecutions: 8 });
        assert.equal(((await controllerPart()).value as { decidedLimitInForce: unknown }).decidedLimitInForce, true);
        stack.lambda.on(GetFunctionConcurrencyCommand, { FunctionName: "orders-fn" }).rejects(Object.assign(new Error("not authorized"), { name: "AccessDenied" }));
        const unreadable = await controllerPart();
        assert.deepEqual(unreadable.value, {
            mode: "Controller",
            target: "ReservedConcurrency:orders-fn",
            lastDecision: { interval: 29_433_780, claimedAt: iso(NOW - 5000), decision: { limit: 8, reason: "latency", latencyTargetMs: 300 } },
            decidedLimitInForce: "unknown: the setting could not be read",
        });
    });

    it("a part that cannot be read shows its error in place, the rest still shows → exit 2", async () => {
        stack.sqs.on(GetQueueAttributesCommand, { QueueUrl: ORDERS.deadLetterQueue.url }).rejects(Object.assign(new Error("User is not authorized to perform sqs:GetQueueAttributes"), { name: "AccessDenied" }));
        const run = await runOn(stack, ["status", "orders", "erp"], { now: () => NOW });
        assert.equal(run.code, 2);
        assert.equal(run.stderr, "");
        const lines = run.stdout.split("\n");
        assert.ok(lines.includes("orders  EventBridgeWorkerPool  (pattern 1 · reserved concurrency as a thread pool; eu-west-1 / 123456789012)"), run.stdout);
        assert.ok(lines.includes("  dead-letter queue              ⚠ error: AccessDenied: User is not authorized to perform sqs:GetQueueAttributes"), run.stdout);
        assert.ok(lines.includes("  reserved concurrency           10"), run.stdout);
        assert.ok(lines.includes("  permits            1 in use of 1"), run.stdout);
        assert.ok(!run.stdout.includes("ledger"), "only the components named");
    });

    it("nothing could be read: every part shows its error → exit 1", async () => {
        const denied = Object.assign(new Error("denied"), { name: "AccessDenied" });
        stack.lambda.onAnyCommand().rejects(denied);
        stack.sqs.onAnyCommand().rejects(denied);
        stack.cloudwatch.onAnyCommand().rejects(denied);
        const down = injectFaults(stack.db.client, [{ command: /./, fault: "throttle", errorName: "ProvisionedThroughputExceededException" }]);
        const run = await runOn(stack, ["status", "orders", "--json"], { now: () => NOW });
        down.restore();
        assert.equal(run.stderr, "");
        assert.equal(run.code, 1);
        const [orders] = JSON.parse(run.stdout) as ComponentStatus[];
        assert.deepEqual(orders.parts.filter((p) => p.error === undefined), []);
    });

    it("a manifest that cannot be read is shown with why, and the status is read only in part → exit 2", async () => {
        const future = { ...LEDGER, name: "ledger-next", [OPERATIONS_MARKER]: 2 };
        const run = await runOn(stack, ["status"], { now: () => NOW, outputs: { orders: { operations: ORDERS }, next: { operations: future } } });
        assert.equal(run.stderr, "");
        assert.equal(run.code, 2);
        assert.match(run.stdout, /^orders {2}EventBridgeWorkerPool/);
        assert.match(
            run.stdout,
            /\n\nledger-next {2}unreadable manifest {2}\(pattern unknown; at next\.operations of the outputs\)\n {2}manifest {2}⚠ error: not read: format version 2 is not supported \(this reader knows version 1\)\n\n$/,
        );
        const named = await runOn(stack, ["status", "ledger-next"], { outputs: { orders: { operations: ORDERS }, next: { operations: future } } });
        assert.equal(named.code, 1);
        assert.equal(
            named.stderr,
            'serverless-concurrency: unknown component "ledger-next"; known: orders (EventBridgeWorkerPool); not readable: ledger-next at next.operations (format version 2 is not supported (this reader knows version 1))\n',
        );
    });

    it("a bare ConcurrencyController shows its live setting; a SemaphoreStateMachine its semaphore", async () => {
        const located = { [OPERATIONS_MARKER]: 1 as const, region: ORDERS.region, account: ORDERS.account };
        const controller: ConcurrencyControllerManifest = { ...located, componentType: "ConcurrencyController", name: "orders-ctl", controller: ORDERS.controller! };
        const machine: SemaphoreStateMachineManifest = { ...located, componentType: "SemaphoreStateMachine", name: "erp-machine", stateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:erp", semaphore: ERP.semaphore };
        const run = await runOn(stack, ["status", "--json"], { now: () => NOW, outputs: { a: controller, b: machine } });
        assert.equal(run.code, 0, run.stdout);
        const [ctl, sm] = JSON.parse(run.stdout) as ComponentStatus[];
        assert.deepEqual(ctl.parts.map((p) => p.label), ["controller", "paused", "setting (ReservedConcurrency)"]);
        assert.equal(ctl.parts[2].value, 10);
        assert.deepEqual(sm.parts.map((p) => [p.label, p.value]).slice(0, 1), [["permits", "1 in use of 1"]]);
        assert.equal(sm.pattern, "3 · state machine behind a semaphore");
    });

    it("an isolated account shows its workload account; a forwarder its target bus and DLQ", async () => {
        const located = { [OPERATIONS_MARKER]: 1 as const, region: ORDERS.region, account: ORDERS.account };
        const account: IsolatedWorkloadAccountManifest = { ...located, componentType: "IsolatedWorkloadAccount", name: "heavy", workloadAccountId: "222222222222", roleArn: "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole" };
        const bus = "arn:aws:events:eu-west-1:222222222222:event-bus/heavy";
        const forwarder: CrossAccountEventForwarderManifest = { ...located, componentType: "CrossAccountEventForwarder", name: "heavy-fwd", ruleName: "heavy-fwd-rule", targetEventBusArn: bus, deadLetterQueue: ERP.deadLetterQueue };
        const run = await runOn(stack, ["status", "--json"], { now: () => NOW, outputs: { a: account, f: forwarder } });
        assert.equal(run.code, 0, run.stdout);
        const [acct, fwd] = JSON.parse(run.stdout) as ComponentStatus[];
        assert.deepEqual(acct.parts, [{ label: "workload account", value: "222222222222 (role arn:aws:iam::222222222222:role/OrganizationAccountAccessRole)" }]);
        assert.deepEqual(fwd.parts.map((p) => [p.label, p.error]), [["forwards to", undefined], ["dead-letter queue", undefined]]);
        assert.equal(fwd.parts[0].value, bus);
    });

    it("an output hidden as a secret ([secret] without --show-secrets) is named: a note beside the status, in the error for a name not found", async () => {
        const outputs = { orders: { operations: ORDERS }, ledgerOperations: "[secret]", nested: { dbPassword: "[secret]" } };
        const run = await runOn(stack, ["status"], { now: () => NOW, outputs });
        assert.equal(run.code, 0, "a secret may be any output: not a part that failed");
        assert.match(run.stdout, /^orders {2}EventBridgeWorkerPool/);
        assert.equal(
            run.stderr,
            'serverless-concurrency: not searched: ledgerOperations, nested.dbPassword are secrets, printed as "[secret]": run `pulumi stack output --json --show-secrets` to include a manifest there\n',
        );
        const named = await runOn(stack, ["breaker", "open", "ledger", "--reason", "INC-7", "--yes"], { outputs });
        assert.equal(named.code, 1);
        assert.equal(
            named.stderr,
            'serverless-concurrency: unknown component "ledger"; known: orders (EventBridgeWorkerPool); ledgerOperations, nested.dbPassword are secrets, printed as "[secret]": run `pulumi stack output --json --show-secrets` to include a manifest there\n',
        );
        const plain = await runOn(stack, ["status", "orders"], { now: () => NOW, outputs });
        assert.equal(plain.stderr, "", "asked by name and found: nothing to say about secrets");
    });

    it("an unknown component name is one line on stderr listing the known ones", async () => {
        const run = await runOn(stack, ["status", "ordres"]);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.equal(run.stderr, 'serverless-concurrency: unknown component "ordres"; known: orders (EventBridgeWorkerPool), payments (KinesisOrderedWorker), ledger (FifoTopicWorker), erp (StepFunctionsSemaphore)\n');
    });
});

/** The DynamoDB state, written through the runtime's own stores. */
async function seedState(stack: TestStack): Promise<void> {
    const dynamo = stack.db.client;
    const orders = new ControllerStore(dynamo, ORDERS.controller!.tableName, targetKey({ kind: "ReservedConcurrency", functionName: "orders-fn" }));
    await orders.claimInterval(29_433_780, "controller", NOW - 5000);
    await orders.saveDecision(29_433_780, "controller", { limit: 8, reason: "latency", latencyTargetMs: 300 });
    await new ControllerPauseStore(dynamo, LEDGER.controller!.tableName, targetKey(LEDGER.controller!.target)).pause({ pausedAt: NOW - 60_000, pausedBy: CALLER_ARN, reason: "ERP maintenance", pinnedLimit: 2 });
    await new BreakerStore(dynamo, "payments-breaker", "payments").put(0, {
        state: "open", openUntil: NOW + 60_000, failedProbes: 1, probeSuccesses: 0, windowStart: NOW - 30_000, windowRequests: 40, windowErrors: 30, probeLeaseUntil: 0, original: { batchSize: 100, parallelizationFactor: 2 },
    });
    stack.sfn.on(SendTaskSuccessCommand).resolves({});
    let clock = NOW - 120_000;
    const semaphore = new Semaphore({ tableName: ERP.semaphore.tableName, name: "erp", limit: 1, dynamo, sfn: stack.clients.sfn, now: () => clock, logger: createLogger({ write: () => undefined }) });
    assert.equal(await semaphore.acquire({ executionArn: EXEC_A, token: "token-a" }), "granted");
    clock = NOW - 60_000;
    assert.equal(await semaphore.acquire({ executionArn: EXEC_B, token: "token-b" }), "queued");
}

/** Lambda, SQS and CloudWatch as they answer for this stack. */
function mockLiveSettings(stack: TestStack): void {
    stack.lambda.on(GetFunctionConcurrencyCommand, { FunctionName: "orders-fn" }).resolves({ ReservedConcurrentExecutions: 10 });
    stack.lambda.on(GetEventSourceMappingCommand, { UUID: "payments-uuid" }).resolves({ State: "Disabled", BatchSize: 100, ParallelizationFactor: 2, EventSourceArn: "arn:aws:kinesis:eu-west-1:123456789012:stream/payments" });
    stack.lambda.on(GetEventSourceMappingCommand, { UUID: "ledger-uuid" }).resolves({ State: "Enabled", BatchSize: 10, ScalingConfig: { MaximumConcurrency: 5 }, EventSourceArn: LEDGER.queue.arn });
    const depth = (visible: number, inFlight = 0) => ({ Attributes: { ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: String(inFlight), ApproximateNumberOfMessagesDelayed: "0" } });
    stack.sqs.on(GetQueueAttributesCommand).resolves(depth(0));
    stack.sqs.on(GetQueueAttributesCommand, { QueueUrl: ORDERS.deadLetterQueue.url }).resolves(depth(4));
    stack.sqs.on(GetQueueAttributesCommand, { QueueUrl: LEDGER.queue.url }).resolves(depth(12, 3));
    stack.sqs.on(GetQueueAttributesCommand, { QueueUrl: LEDGER.deliveryDeadLetterQueue!.url }).resolves(depth(2));
    const maxima: Record<string, number[]> = { AsyncEventAge: [30_000, 90_000], ApproximateAgeOfOldestMessage: [42, 7] };
    stack.cloudwatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
        MetricDataResults: [{ Id: "m", Values: maxima[input.MetricDataQueries![0].MetricStat!.Metric!.MetricName!] ?? [] }],
    }));
}
