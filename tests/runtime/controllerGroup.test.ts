/**
 * A controller of several targets (`ConcurrencyControllerGroup`): the contract of its configuration
 * (`{ shared, targets }` in CONCURRENCY_CONTROL_CONFIG, one ConfigurationError listing every problem) and
 * the scheduled handler that reads it (one batched GetMetricData, the shared control-plane budget).
 */
import { strict as assert } from "node:assert";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import {
    CONTROL_GROUP_QUERIES_PER_TARGET,
    controlGroupSettingsFromEnv,
    controlGroupSettingsProblems,
    GET_METRIC_DATA_MAX_QUERIES,
    isControlGroupSettings,
    MAX_CONTROL_GROUP_TARGETS,
} from "../../contracts/controller";
import { ConfigurationError } from "../../contracts/errors";
import { BACKLOG_METRICS, CONTROL_PLANE_BUDGET_KEY, ControlOutcome, controllerHandlerFromEnv, ControllerStore, MAX_QUERIES_PER_CALL, metricQueries, targetKey } from "../../runtime/controller";
import { demandMetrics, healthyCalls, writeCalls } from "../helpers/controller";
import { startDynalite } from "../helpers/dynalite";

const MINUTE = 60_000;
const target = (functionName: string) => ({
    target: { kind: "ReservedConcurrency", functionName },
    params: { min: 2, max: 200, latencyTargetMs: 200 },
    metrics: { functionName, backlog: "AsyncEventAge" },
});
const GROUP = { shared: { tableName: "multi", intervalSeconds: 60 }, targets: [target("orders"), target("payments")] };
const env = (config: unknown) => ({ CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });

/** Asserts one ConfigurationError whose list is exactly `problems` (in order). */
function refused(run: () => unknown, problems: string[]): void {
    assert.throws(run, (error: Error) => {
        assert.ok(error instanceof ConfigurationError, `a ConfigurationError, got ${error.name}`);
        const [head, ...items] = error.message.split("\n- ");
        assert.equal(head, `environment variable CONCURRENCY_CONTROL_CONFIG (a controller group) is invalid (${problems.length} problem${problems.length > 1 ? "s" : ""}):`);
        assert.deepEqual(items, problems);
        return true;
    });
}

describe("controller group configuration: the contract", () => {
    it("reads one complete configuration per target, the shared fields under each target's own", () => {
        const config = { ...GROUP, targets: [target("orders"), { ...target("payments"), intervalSeconds: 60, dryRun: true }] };
        assert.deepEqual(controlGroupSettingsFromEnv(env(config)), [
            { tableName: "multi", intervalSeconds: 60, ...target("orders") },
            { tableName: "multi", intervalSeconds: 60, ...target("payments"), dryRun: true },
        ]);
        assert.ok(isControlGroupSettings(config));
        assert.ok(!isControlGroupSettings({ ...target("orders"), tableName: "multi" }));
    });

    it("refuses every problem at once, each naming its target: fields, unknown settings, timings, duplicates", () => {
        const config = {
            shared: { tableName: "multi", colour: "red" },
            targets: [
                target("orders"),
                { ...target("payments"), params: { min: 5, max: 1 }, intervalSeconds: 120 },
                { ...target("orders") },
                { ...target("ledger"), metricsDelaySeconds: 60, tableName: " " },
                "nope",
            ],
            extra: 1,
        };
        refused(() => controlGroupSettingsFromEnv(env(config)), [
            "extra is not a setting (known: shared, targets)",
            "shared.colour is not a setting (known: target, params, tableName, metrics, intervalSeconds, metricsDelaySeconds, latencyPercentile, executionsPerUnit, downstream, dryRun, statisticsFlushSeconds, statisticsShards, claimSpreadSeconds, controlPlaneBudgetTable, controlPlaneRequestsPerSecond)",
            "targets[1]: params.min (5) must not exceed params.max (1)",
            'targets[3]: tableName must be a non-empty string; received " "',
            'targets[4] must be an object; received "nope"',
            "every target needs the same intervalSeconds and metricsDelaySeconds (one GetMetricData call reads one window for all); received intervalSeconds 60, metricsDelaySeconds 120; intervalSeconds 120, metricsDelaySeconds 120; intervalSeconds 60, metricsDelaySeconds 60",
            "targets[0] and targets[2] drive the same setting (ReservedConcurrency:orders)",
        ]);
    });

    it("refuses targets whose function is left to the controller's own (the group names every function)", () => {
        const { functionName: _none, ...metrics } = target("orders").metrics;
        refused(() => controlGroupSettingsFromEnv(env({ targets: [{ ...target("orders"), target: { kind: "ReservedConcurrency" }, metrics, tableName: "multi" }] })), [
            "targets[0]: target.functionName is required in a group (the controller's own function is not a target)",
            "targets[0]: metrics.functionName is required in a group (the controller's own metrics are not the target's)",
        ]);
    });

    it("tells a function by its name or ARN apart as the runtime keys it, and a mapping by its source", () => {
        const mapping = (uuid: string, eventSourceArn?: string) => ({ ...target("ledger"), target: { kind: "SqsMaximumConcurrency", uuid, eventSourceArn }, params: { min: 2, max: 10 }, metrics: { functionName: "ledger", backlog: "SqsAgeOfOldestMessage", queueName: "q" } });
        const arnTarget = { ...target("orders"), target: { kind: "ReservedConcurrency", functionName: "arn:aws:lambda:us-east-1:123456789012:function:orders" } };
        assert.deepEqual(controlGroupSettingsProblems({ shared: { tableName: "t" }, targets: [target("orders"), arnTarget, mapping("u1", "arn:aws:sqs:us-east-1:1:q"), mapping("u2", "arn:aws:sqs:us-east-1:1:q"), mapping("u3")] }), [
            "targets[0] and targets[1] drive the same setting (ReservedConcurrency:orders)",
            "targets[2] and targets[3] drive the same setting (SqsMaximumConcurrency:arn:aws:sqs:us-east-1:1:q)",
        ]);
        assert.equal(targetKey({ kind: "ReservedConcurrency", functionName: arnTarget.target.functionName }), "ReservedConcurrency:orders", "the runtime's key agrees");
    });

    it(`takes 1 to ${MAX_CONTROL_GROUP_TARGETS} targets: as many as one GetMetricData call reads`, () => {
        const many = (count: number) => ({ shared: { tableName: "t" }, targets: Array.from({ length: count }, (_, i) => target(`f${i}`)) });
        assert.deepEqual(controlGroupSettingsProblems(many(MAX_CONTROL_GROUP_TARGETS)), []);
        assert.deepEqual(controlGroupSettingsProblems(many(MAX_CONTROL_GROUP_TARGETS + 1)), [
            "targets must be an array of 1 to 166 target configurations (3 GetMetricData queries each, 500 per call); received 167 targets",
        ]);
        assert.deepEqual(controlGroupSettingsProblems({ targets: {} }), ["targets must be an array of 1 to 166 target configurations (3 GetMetricData queries each, 500 per call); received {}"]);
        assert.deepEqual(controlGroupSettingsProblems({ shared: [], targets: [] }), [
            "shared must be an object; received []",
            "targets must be an array of 1 to 166 target configurations (3 GetMetricData queries each, 500 per call); received 0 targets",
        ]);
    });

    it("counts the queries per target as the runtime makes them, for every backlog metric", () => {
        assert.equal(GET_METRIC_DATA_MAX_QUERIES, MAX_QUERIES_PER_CALL);
        for (const backlog of BACKLOG_METRICS) {
            assert.equal(metricQueries({ functionName: "f", backlog, queueName: "q" }, 60).length, CONTROL_GROUP_QUERIES_PER_TARGET, backlog);
        }
    });
});

describe("controller group handler: one batched GetMetricData, the shared budget", () => {
    it("waits for the targets' offsets, then decides each target with one GetMetricData call, taking a budget token per control-plane call", async () => {
        const db = await startDynalite();
        const lambda = mockClient(LambdaClient);
        const cw = mockClient(CloudWatchClient);
        try {
            await db.createTable("multi", "pk", "sk");
            await db.createTable("budget", "pk");
            lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 40 });
            lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 800 } });
            lambda.on(PutFunctionConcurrencyCommand).resolves({});
            cw.on(GetMetricDataCommand).resolves(demandMetrics(2));
            let clock = 100 * MINUTE + 1000;
            const sleeps: number[] = [];
            const config = { ...GROUP, shared: { ...GROUP.shared, controlPlaneBudgetTable: "budget", controlPlaneRequestsPerSecond: 5 } };
            for (const t of config.targets) {
                await writeCalls(new ControllerStore(db.client, "multi", targetKey(t.target as never)), 99, healthyCalls(), clock);
            }
            const handler = controllerHandlerFromEnv(env(config), {
                dynamodb: db.client,
                cloudwatch: new CloudWatchClient({}),
                clock: () => clock,
                sleep: async (ms) => {
                    sleeps.push(ms);
                    clock += ms;
                },
                write: () => undefined,
            });
            const started = Date.now();
            const outcomes = (await handler()) as ControlOutcome[];
            const elapsedSeconds = (Date.now() - started) / 1000;
            assert.equal(sleeps.length, 1);
            assert.ok(sleeps[0] >= 9_000 && sleeps[0] < 14_000, `waited past the settle time (10 s) and within half the spread: ${sleeps[0]} ms`);
            assert.deepEqual(outcomes.map((o) => o.status === "decided" && [o.decision.limit, o.decision.reason]), [[60, "demand"], [60, "demand"]]);
            assert.equal(cw.commandCalls(GetMetricDataCommand).length, 1);
            assert.deepEqual(lambda.commandCalls(PutFunctionConcurrencyCommand).map((c) => [c.args[0].input.FunctionName, c.args[0].input.ReservedConcurrentExecutions]), [["orders", 60], ["payments", 60]]);
            const { Item } = await db.client.send(new GetItemCommand({ TableName: "budget", Key: { pk: { S: CONTROL_PLANE_BUDGET_KEY } }, ConsistentRead: true }));
            // A full bucket holds 15 − 5 tokens; every Lambda control-plane call took one (the bucket refills by wall-clock time meanwhile).
            const calls = lambda.calls().length;
            assert.ok(calls >= 4, `${calls} control-plane calls`);
            const taken = 10 - Number(Item?.tokens?.N);
            assert.ok(taken >= calls - elapsedSeconds * 5 - 1e-9 && taken <= calls, `${taken} tokens taken for ${calls} calls in ${elapsedSeconds} s`);
        } finally {
            lambda.restore();
            cw.restore();
            await db.stop();
        }
    });

    it("runs a single target's configuration as before, and refuses a missing configuration naming the variable", () => {
        assert.equal(typeof controllerHandlerFromEnv(env({ ...target("orders"), tableName: "multi" })), "function");
        assert.throws(() => controllerHandlerFromEnv({}), { name: "ConfigurationError", message: /CONCURRENCY_CONTROL_CONFIG is required/ });
        assert.throws(() => controllerHandlerFromEnv(env({ targets: [] })), { name: "ConfigurationError", message: /\(a controller group\) is invalid/ });
    });
});
