/**
 * Thin reads and the one queue action of the CLI: a function's reserved concurrency, a mapping's
 * settings, a queue's depth, a metric's recent maximum, the caller's identity, a message move task.
 */
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetEventSourceMappingCommand, GetFunctionConcurrencyCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetQueueAttributesCommand, SQSClient, StartMessageMoveTaskCommand } from "@aws-sdk/client-sqs";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

/** An event source mapping's state and concurrency settings. */
export interface MappingSettingsView {
    /** `Enabled`, `Disabled`, `Enabling`, `Disabling`, … */
    state: string;
    /** Batch size. */
    batchSize?: number;
    /** SQS: `ScalingConfig.MaximumConcurrency`. */
    maximumConcurrency?: number;
    /** Kinesis: batches per shard. */
    parallelizationFactor?: number;
}

/** Messages of a queue, by SQS's approximate counters. */
export interface QueueDepth {
    /** Waiting to be received. */
    visible: number;
    /** Received, not yet deleted (being processed). */
    inFlight: number;
    /** Delayed. */
    delayed: number;
}

/** Who the credentials belong to. */
export interface CallerIdentity {
    /** The caller's ARN. */
    arn: string;
    /** The caller's account. */
    account: string;
}

/** The function's reserved concurrency; `undefined` when it has none. */
export async function reservedConcurrency(lambda: LambdaClient, functionName: string): Promise<number | undefined> {
    return (await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionName }))).ReservedConcurrentExecutions;
}

/** The mapping's state and settings. */
export async function mappingSettings(lambda: LambdaClient, uuid: string): Promise<MappingSettingsView> {
    const mapping = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
    return {
        state: mapping.State ?? "unknown",
        batchSize: mapping.BatchSize,
        maximumConcurrency: mapping.ScalingConfig?.MaximumConcurrency,
        parallelizationFactor: mapping.ParallelizationFactor,
    };
}

/** The queue's approximate depth. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
    const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        }),
    );
    return {
        visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    };
}

/** A metric to read: namespace, name and dimensions. */
export interface MetricReference {
    /** e.g. `AWS/Lambda`. */
    namespace: string;
    /** e.g. `IteratorAge`. */
    metricName: string;
    /** e.g. `{ FunctionName: "payments-fn" }`. */
    dimensions: Record<string, string>;
}

/**
 * The largest one-minute Maximum of `metric` over the last `minutes` minutes; `undefined` without data.
 * @param now epoch ms
 */
export async function recentMaximum(cloudwatch: CloudWatchClient, metric: MetricReference, now: number, minutes = 10): Promise<number | undefined> {
    const { MetricDataResults = [] } = await cloudwatch.send(
        new GetMetricDataCommand({
            StartTime: new Date(now - minutes * 60_000),
            EndTime: new Date(now),
            MetricDataQueries: [
                {
                    Id: "m",
                    MetricStat: {
                        Metric: { Namespace: metric.namespace, MetricName: metric.metricName, Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })) },
                        Period: 60,
                        Stat: "Maximum",
                    },
                },
            ],
        }),
    );
    const values = MetricDataResults.flatMap((result) => result.Values ?? []);
    return values.length > 0 ? Math.max(...values) : undefined;
}

/** The caller's identity (STS GetCallerIdentity; needs no permission). */
export async function callerIdentity(sts: STSClient): Promise<CallerIdentity> {
    const output = await sts.send(new GetCallerIdentityCommand({}));
    return { arn: output.Arn ?? "unknown", account: output.Account ?? "unknown" };
}

/** Starts moving a dead-letter queue's messages to `destinationArn`; returns the task handle. */
export async function startRedrive(sqs: SQSClient, sourceArn: string, destinationArn: string): Promise<string> {
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
    return TaskHandle ?? "";
}
