/**
 * The controller's CloudWatch dashboard body: decisions by reason, the limit against the concurrency in
 * use, the intervals held by an operator's pause, and the controller function's errors. Pure: plain
 * names in, the `dashboardBody` JSON out (wire it with `pulumi.all([...]).apply(...)`).
 */

/**
 * The runtime's metric namespace (`RUNTIME_METRIC_NAMESPACE` of ./observability, `METRICS_NAMESPACE` of
 * runtime/metrics.ts). Repeated here so this module stays free of Pulumi imports and can be tested
 * without mocks; the test checks it against the runtime's.
 */
export const CONTROLLER_METRIC_NAMESPACE = "ServerlessConcurrency";

/** Everything the dashboard names. */
export interface ControllerDashboardNames {
    /**
     * The `Worker` dimension of the decision metrics (`ConcurrencyLimit`, `ControllerDecisions`, `ControllerPaused`).
     * @example "orders"
     */
    workerName: string;
    /**
     * The worker function, whose `ConcurrentExecutions` is the concurrency in use.
     * @example "orders-fn-1a2b"
     */
    workerFunctionName: string;
    /**
     * The setting driven, shown in the titles.
     * @example "ReservedConcurrency"
     */
    targetKind: "ReservedConcurrency" | "SqsMaximumConcurrency" | "KinesisParallelizationFactor";
    /**
     * Region of the metrics.
     * @example "eu-west-1"
     */
    region: string;
    /**
     * Concurrent executions per unit of the limit: the shard count for a Kinesis parallelization factor,
     * so in-use concurrency is drawn in the limit's unit.
     * @default 1
     * @example 4
     */
    executionsPerUnit?: number;
    /**
     * The scheduled controller function (mode `Controller`), for its errors widget.
     * @default undefined (self-tuning: no controller function)
     * @example "orders-adaptive-controller-7c6d"
     */
    controllerFunctionName?: string;
}

type MetricLine = Array<string | Record<string, string | number | boolean>>;

interface Widget {
    type: "metric";
    x: number;
    y: number;
    width: number;
    height: number;
    properties: Record<string, unknown>;
}

/**
 * The dashboard body, as the JSON string `aws.cloudwatch.Dashboard` takes.
 * @example
 * dashboardBody: pulumi.all([fn.name, region]).apply(([workerFunctionName, region]) =>
 *     controllerDashboardBody({ workerName: name, workerFunctionName, targetKind: "ReservedConcurrency", region }))
 */
export function controllerDashboardBody(names: ControllerDashboardNames): string {
    const specs: Array<{ title: string; metrics: MetricLine[]; stat: string; extra?: Record<string, unknown> }> = [
        { title: `Controller decisions by reason (${names.targetKind})`, metrics: [decisionsByReason(names.workerName)], stat: "Sum", extra: { stacked: true } },
        { title: `${names.targetKind}: limit against concurrency in use`, metrics: limitAgainstInUse(names), stat: "Maximum" },
        { title: "Paused by an operator (intervals held)", metrics: [[CONTROLLER_METRIC_NAMESPACE, "ControllerPaused", "Worker", names.workerName, { stat: "Sum", label: "held intervals" }]], stat: "Sum" },
    ];
    if (names.controllerFunctionName) {
        specs.push({
            title: "Controller function: errors and duration",
            metrics: [
                ["AWS/Lambda", "Errors", "FunctionName", names.controllerFunctionName, { stat: "Sum" }],
                ["AWS/Lambda", "Duration", "FunctionName", names.controllerFunctionName, { stat: "Maximum", yAxis: "right" }],
            ],
            stat: "Sum",
        });
    }
    const widgets: Widget[] = specs.map((spec, i) => ({
        type: "metric",
        x: (i % 2) * 12,
        y: Math.floor(i / 2) * 6,
        width: 12,
        height: 6,
        properties: { title: spec.title, metrics: spec.metrics, view: "timeSeries", stat: spec.stat, period: 60, region: names.region, ...spec.extra },
    }));
    return JSON.stringify({ widgets });
}

function decisionsByReason(workerName: string): MetricLine {
    return [{ expression: `SEARCH('{${CONTROLLER_METRIC_NAMESPACE},Reason,Worker} MetricName="ControllerDecisions" Worker="${workerName}"', 'Sum', 60)`, id: "decisions", label: "" }];
}

/** The limit, and in-use concurrency in the limit's unit (executions ÷ shards for a parallelization factor). */
function limitAgainstInUse(names: ControllerDashboardNames): MetricLine[] {
    const limit: MetricLine = [CONTROLLER_METRIC_NAMESPACE, "ConcurrencyLimit", "Worker", names.workerName, { stat: "Maximum", label: "limit", id: "limit" }];
    const perUnit = names.executionsPerUnit ?? 1;
    if (perUnit === 1) return [limit, ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", names.workerFunctionName, { stat: "Maximum", label: "in use", id: "inUse" }]];
    return [
        limit,
        ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", names.workerFunctionName, { stat: "Maximum", id: "executions", visible: false }],
        [{ expression: `executions / ${perUnit}`, id: "inUse", label: `in use per shard (executions ÷ ${perUnit})` }],
    ];
}
