/**
 * Thin reads and the one queue action of the CLI: a function's reserved concurrency, a mapping's
 * settings, a queue's depth, a metric's recent maximum, the caller's identity, message move tasks.
 */
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetEventSourceMappingCommand, GetFunctionConcurrencyCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from "@aws-sdk/client-sqs";
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

/** A message move task of a dead-letter queue, as SQS lists it. */
export interface MoveTask {
    /** `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`. */
    status: string;
    /** The task handle (SQS gives it only while the task runs). */
    handle?: string;
    /** Where it moves the messages (absent: back to their source queues). */
    destinationArn?: string;
    /** Start, epoch ms. */
    startedAt?: number;
    /** Messages moved so far (approximate). */
    moved?: number;
    /** Messages the task set out to move (approximate). */
    toMove?: number;
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

/** The newest message move task of the dead-letter queue `sourceArn` (SQS keeps 14 days of them); `undefined` when none. */
export async function latestMoveTask(sqs: SQSClient, sourceArn: string): Promise<MoveTask | undefined> {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
    const [task] = Results;
    if (task === undefined) return undefined;
    return {
        status: task.Status ?? "unknown",
        handle: task.TaskHandle,
        destinationArn: task.DestinationArn,
        startedAt: task.StartedTimestamp,
        moved: task.ApproximateNumberOfMessagesMoved,
        toMove: task.ApproximateNumberOfMessagesToMove,
    };
}

/** Whether a move task is still at work: SQS runs one per dead-letter queue and refuses a second. */
export function moveTaskActive(task: MoveTask | undefined): task is MoveTask {
    return task !== undefined && (task.status === "RUNNING" || task.status === "CANCELLING");
}

/** Starts moving a dead-letter queue's messages to `destinationArn`; returns the task handle. */
export async function startRedrive(sqs: SQSClient, sourceArn: string, destinationArn: string): Promise<string> {
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
    return TaskHandle ?? "";
}
