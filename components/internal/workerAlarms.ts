/**
 * Alarms and dashboard widgets every worker shares: function errors and throttles, a queue that should
 * stay empty, and the runtime's downstream metrics.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AlarmSpec, MetricLine, RUNTIME_METRIC_NAMESPACE, WidgetSpec } from "./observability";

/** Errors and throttles of the worker function. */
export function functionAlarms(fn: aws.lambda.Function, errorsMeaning: string, throttleThreshold = 0): AlarmSpec[] {
    return [
        functionErrorsAlarm(fn, `The worker function returned errors: ${errorsMeaning}`),
        {
            ...lambdaMetric(fn),
            id: "throttles",
            description: "The function has been throttled for 3 minutes: its reserved concurrency is below what its event source needs.",
            metricName: "Throttles",
            statistic: "Sum",
            threshold: throttleThreshold,
            evaluationPeriods: 3,
        },
    ];
}

/**
 * The alarm `errors` on a function's `Errors` (Sum > 0 in a minute), with `description` (what the errors mean and
 * what happens to the work).
 */
export function functionErrorsAlarm(fn: aws.lambda.Function, description: string): AlarmSpec {
    return { ...lambdaMetric(fn), id: "errors", description, metricName: "Errors", statistic: "Sum", threshold: 0 };
}

function lambdaMetric(fn: aws.lambda.Function): Pick<AlarmSpec, "namespace" | "dimensions"> {
    return { namespace: "AWS/Lambda", dimensions: { FunctionName: fn.name } };
}

/** A queue that should be empty (dead-letter or on-failure queue). */
export function queueNotEmptyAlarm(id: string, queue: aws.sqs.Queue, description: string): AlarmSpec {
    return {
        id,
        description,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: queue.name },
        statistic: "Maximum",
        threshold: 0,
    };
}

/** Every downstream of a worker (the runtime emits them with dimensions Worker + Downstream). */
export function downstreamSearch(worker: string, metric: string, stat: string, id: string): { expression: string; id: string; label: string } {
    return {
        expression: `SEARCH('{${RUNTIME_METRIC_NAMESPACE},Downstream,Worker} MetricName="${metric}" Worker="${worker}"', '${stat}', 60)`,
        id,
        label: `${metric} ${stat}`,
    };
}

/** Function concurrency, throughput/errors/throttles and downstream latency widgets. */
export function functionWidgets(worker: string, fn: aws.lambda.Function, concurrencyTitle: pulumi.Input<string>): WidgetSpec[] {
    const byFunction = (build: (functionName: string) => MetricLine[]) => fn.name.apply(build);
    return [
        { title: concurrencyTitle, metrics: byFunction((f) => [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", f, { stat: "Maximum" }]]) },
        {
            title: "Throughput, errors and throttles",
            metrics: byFunction((f) => [
                ["AWS/Lambda", "Invocations", "FunctionName", f],
                ["AWS/Lambda", "Errors", "FunctionName", f],
                ["AWS/Lambda", "Throttles", "FunctionName", f],
            ]),
        },
        {
            title: "Downstream latency (p50, p99) and errors",
            metrics: pulumi.output<MetricLine[]>([
                [downstreamSearch(worker, "DownstreamLatency", "p50", "l50")],
                [downstreamSearch(worker, "DownstreamLatency", "p99", "l99")],
                [{ ...downstreamSearch(worker, "DownstreamErrors", "Sum", "err"), yAxis: "right" }],
            ]),
        },
    ];
}
