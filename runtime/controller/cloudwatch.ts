/**
 * The controller's CloudWatch signals, read with one `GetMetricData` call per window for up to 166
 * targets (500 queries a call, 3 per target; {@link readMetricSignalsBatch}): the worker
 * function's throttles (`Throttles`, Sum) and peak concurrency (`ConcurrentExecutions`, Maximum), and the
 * age of its backlog by the minute (`AsyncEventAge` for asynchronous invocation, `IteratorAge` for streams,
 * SQS `ApproximateAgeOfOldestMessage` for queues). Lambda metrics arrive by the minute, so read a window
 * that ended a minute or two ago. GetMetricData allows 50 requests/s per account: batching keeps a
 * controller of many targets far under it. A throttled or failed call rejects (the interval fails, in a
 * controller group every target's, and every setting holds). IAM: `cloudwatch:GetMetricData` (resource `*`).
 */
import { CloudWatchClient, GetMetricDataCommand, MetricDataQuery, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import { BACKLOG_METRICS } from "../../contracts/controller";
import { ConfigurationError } from "../../contracts/errors";
import { ownFunctionName } from "../eventSourceMappings";

export { BACKLOG_METRICS };

/** Queries GetMetricData takes in one call. */
export const MAX_QUERIES_PER_CALL = 500;

/** One of {@link BACKLOG_METRICS}. */
export type BacklogMetric = (typeof BACKLOG_METRICS)[number];

/** What to read. */
export interface MetricSource {
    /**
     * The worker function's name. Omit it only in the worker itself (self-tuning).
     * @default the running function (`AWS_LAMBDA_FUNCTION_NAME`)
     * @example "orders-worker"
     */
    functionName?: string;
    /**
     * The backlog metric; none for a worker without a backlog to watch.
     * @default undefined
     * @example "SqsAgeOfOldestMessage"
     */
    backlog?: BacklogMetric;
    /**
     * The queue's name, for `SqsAgeOfOldestMessage`.
     * @example "orders.fifo"
     */
    queueName?: string;
}

/** The window's CloudWatch signals; a field is `undefined` when CloudWatch had no data point for it. */
export interface MetricSignals {
    /** Throttled invocations (no data points = none). */
    throttles: number;
    /** Peak concurrent executions. */
    inUse?: number;
    /** Age of the oldest waiting event at the last minute with data, in milliseconds. */
    backlogAgeMs?: number;
    /** Whether the backlog age rose from the window's first minute to its last. */
    backlogGrowing: boolean;
}

/**
 * Reads a window's signals with a single `GetMetricData` call (following `NextToken`).
 * @param client CloudWatch client
 * @param source the worker function and its backlog metric
 * @param window the window, `end` excluded
 * @example
 * await readMetricSignals(new CloudWatchClient({}), { functionName: "orders", backlog: "AsyncEventAge" },
 *     { start: new Date(Date.now() - 180_000), end: new Date(Date.now() - 120_000) });
 */
export async function readMetricSignals(client: CloudWatchClient, source: MetricSource, window: { start: Date; end: Date }): Promise<MetricSignals> {
    return (await readMetricSignalsBatch(client, [source], window))[0];
}

/**
 * Reads the same window's signals of several targets with as few `GetMetricData` calls as fit (500
 * queries each); query ids are prefixed `t<index>_`.
 * @param client CloudWatch client
 * @param sources the targets' functions and backlog metrics
 * @param window the window, `end` excluded
 * @returns the signals, in the order of `sources`
 * @example const [orders, payments] = await readMetricSignalsBatch(cw, [ordersSource, paymentsSource], window);
 */
export async function readMetricSignalsBatch(client: CloudWatchClient, sources: readonly MetricSource[], window: { start: Date; end: Date }): Promise<MetricSignals[]> {
    const windowSeconds = Math.max(60, Math.round((window.end.getTime() - window.start.getTime()) / 60_000) * 60);
    const queries = sources.flatMap((source, i) => metricQueries(source, windowSeconds, `t${i}_`));
    const results = new Map<string, MetricDataResult>();
    for (let start = 0; start < queries.length; start += MAX_QUERIES_PER_CALL) {
        for (const [id, result] of await fetchAll(client, queries.slice(start, start + MAX_QUERIES_PER_CALL), window)) results.set(id, result);
    }
    return sources.map((source, i) => signalsOf(source, (id) => results.get(`t${i}_${id}`)));
}

function signalsOf(source: MetricSource, result: (id: string) => MetricDataResult | undefined): MetricSignals {
    const backlog = result("backlog")?.Values ?? [];
    const toMs = source.backlog === "SqsAgeOfOldestMessage" ? 1000 : 1;
    return {
        throttles: sum(result("throttles")?.Values),
        inUse: max(result("inUse")?.Values),
        backlogAgeMs: backlog.length > 0 ? backlog[backlog.length - 1] * toMs : undefined,
        backlogGrowing: backlog.length > 1 && backlog[backlog.length - 1] > backlog[0],
    };
}

/**
 * The `GetMetricData` queries for a source: ids `throttles`, `inUse` and (with a backlog metric) `backlog`, after `idPrefix`.
 * @param source the worker function and its backlog metric
 * @param windowSeconds the period of the throttle and concurrency queries (the whole window)
 * @param idPrefix put before each id (a batch tells its targets apart by it); ids must start with a lowercase letter
 * @example metricQueries({ functionName: "orders" }, 60, "t0_").map((q) => q.Id) // ["t0_throttles", "t0_inUse"]
 */
export function metricQueries(source: MetricSource, windowSeconds: number, idPrefix = ""): MetricDataQuery[] {
    const dimensions = [{ Name: "FunctionName", Value: source.functionName ?? ownFunctionName() }];
    const lambda = (id: string, metricName: string, stat: string, period: number): MetricDataQuery => ({
        Id: `${idPrefix}${id}`,
        MetricStat: { Metric: { Namespace: "AWS/Lambda", MetricName: metricName, Dimensions: dimensions }, Period: period, Stat: stat },
    });
    const queries = [lambda("throttles", "Throttles", "Sum", windowSeconds), lambda("inUse", "ConcurrentExecutions", "Maximum", windowSeconds)];
    if (source.backlog === "SqsAgeOfOldestMessage") queries.push(sqsAgeQuery(source, idPrefix));
    else if (source.backlog) queries.push(lambda("backlog", source.backlog, "Maximum", 60));
    return queries;
}

function sqsAgeQuery(source: MetricSource, idPrefix: string): MetricDataQuery {
    if (!source.queueName) throw new ConfigurationError("queueName is required with the SqsAgeOfOldestMessage backlog metric.");
    const metric = { Namespace: "AWS/SQS", MetricName: "ApproximateAgeOfOldestMessage", Dimensions: [{ Name: "QueueName", Value: source.queueName }] };
    return { Id: `${idPrefix}backlog`, MetricStat: { Metric: metric, Period: 60, Stat: "Maximum" } };
}

async function fetchAll(client: CloudWatchClient, queries: MetricDataQuery[], window: { start: Date; end: Date }): Promise<Map<string, MetricDataResult>> {
    const results = new Map<string, MetricDataResult>();
    let nextToken: string | undefined;
    do {
        const page = await client.send(
            new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: window.start, EndTime: window.end, ScanBy: "TimestampAscending", NextToken: nextToken }),
        );
        for (const result of page.MetricDataResults ?? []) {
            const known = results.get(result.Id ?? "");
            results.set(result.Id ?? "", { ...result, Values: [...(known?.Values ?? []), ...(result.Values ?? [])] });
        }
        nextToken = page.NextToken;
    } while (nextToken);
    return results;
}

function sum(values: number[] | undefined): number {
    return (values ?? []).reduce((a, b) => a + b, 0);
}

function max(values: number[] | undefined): number | undefined {
    return values && values.length > 0 ? Math.max(...values) : undefined;
}
