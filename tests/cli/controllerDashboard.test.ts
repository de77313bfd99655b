/**
 * The controller dashboard body (components/internal/controllerDashboard.ts): a pure builder, tested
 * here without Pulumi mocks (it imports nothing from Pulumi).
 */
import { strict as assert } from "node:assert";
import { CONTROLLER_METRIC_NAMESPACE, controllerDashboardBody } from "../../components/internal/controllerDashboard";
import { METRICS_NAMESPACE } from "../../runtime/metrics";
import { CONTROLLER_METRICS } from "../../runtime/controller";
import { CONTROLLER_PAUSED_METRIC } from "../../runtime/controller/pause";

describe("controller dashboard body", () => {
    it("decisions by reason, the limit against in-use concurrency, paused intervals and the controller's errors", () => {
        const body = JSON.parse(
            controllerDashboardBody({ workerName: "orders", workerFunctionName: "orders-fn", targetKind: "ReservedConcurrency", region: "eu-west-1", controllerFunctionName: "orders-ctl" }),
        );
        const common = { view: "timeSeries", period: 60, region: "eu-west-1" };
        assert.deepEqual(body, {
            widgets: [
                {
                    type: "metric", x: 0, y: 0, width: 12, height: 6,
                    properties: {
                        ...common, title: "Controller decisions by reason (ReservedConcurrency)", stat: "Sum", stacked: true,
                        metrics: [[{ expression: `SEARCH('{ServerlessConcurrency,Reason,Worker} MetricName="ControllerDecisions" Worker="orders"', 'Sum', 60)`, id: "decisions", label: "" }]],
                    },
                },
                {
                    type: "metric", x: 12, y: 0, width: 12, height: 6,
                    properties: {
                        ...common, title: "ReservedConcurrency: limit against concurrency in use", stat: "Maximum",
                        metrics: [
                            ["ServerlessConcurrency", "ConcurrencyLimit", "Worker", "orders", { stat: "Maximum", label: "limit", id: "limit" }],
                            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", "orders-fn", { stat: "Maximum", label: "in use", id: "inUse" }],
                        ],
                    },
                },
                {
                    type: "metric", x: 0, y: 6, width: 12, height: 6,
                    properties: { ...common, title: "Paused by an operator (intervals held)", stat: "Sum", metrics: [["ServerlessConcurrency", "ControllerPaused", "Worker", "orders", { stat: "Sum", label: "held intervals" }]] },
                },
                {
                    type: "metric", x: 12, y: 6, width: 12, height: 6,
                    properties: {
                        ...common, title: "Controller function: errors and duration", stat: "Sum",
                        metrics: [
                            ["AWS/Lambda", "Errors", "FunctionName", "orders-ctl", { stat: "Sum" }],
                            ["AWS/Lambda", "Duration", "FunctionName", "orders-ctl", { stat: "Maximum", yAxis: "right" }],
                        ],
                    },
                },
            ],
        });
    });

    it("a Kinesis factor is compared with executions per shard; self-tuning has no controller function widget", () => {
        const body = JSON.parse(controllerDashboardBody({ workerName: "payments", workerFunctionName: "payments-fn", targetKind: "KinesisParallelizationFactor", region: "us-east-1", executionsPerUnit: 4 }));
        assert.equal(body.widgets.length, 3);
        assert.deepEqual(body.widgets[1].properties.metrics, [
            ["ServerlessConcurrency", "ConcurrencyLimit", "Worker", "payments", { stat: "Maximum", label: "limit", id: "limit" }],
            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", "payments-fn", { stat: "Maximum", id: "executions", visible: false }],
            [{ expression: "executions / 4", id: "inUse", label: "in use per shard (executions ÷ 4)" }],
        ]);
    });

    it("names the metrics the runtime emits, in its namespace", () => {
        assert.equal(CONTROLLER_METRIC_NAMESPACE, METRICS_NAMESPACE);
        const body = controllerDashboardBody({ workerName: "w", workerFunctionName: "f", targetKind: "SqsMaximumConcurrency", region: "r" });
        for (const metric of [CONTROLLER_METRICS.ConcurrencyLimit, CONTROLLER_METRICS.ControllerDecisions, CONTROLLER_PAUSED_METRIC]) assert.ok(body.includes(`"${metric}"`) || body.includes(`MetricName=\\"${metric}\\"`), metric);
    });
});
