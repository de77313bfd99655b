/**
 * CloudWatch Embedded Metric Format (EMF): metrics written as JSON log lines on stdout, which CloudWatch
 * Logs turns into metrics without any API call. Namespace {@link METRICS_NAMESPACE}; every metric has
 * the dimension `Worker`.
 */
import { ENV, optionalString } from "../contracts/environment";
import { LineWriter, writeStdout } from "./log";

/** The CloudWatch namespace of every metric this package emits. */
export const METRICS_NAMESPACE = "ServerlessConcurrency";

/** EMF allows at most 100 values per metric in one document. */
const MAX_VALUES_PER_DOCUMENT = 100;

/**
 * Metric names the runtime emits (dashboards and alarms of the components use the same names).
 * - `DownstreamLatency` (Milliseconds, dimensions Worker + Downstream): one value per `ctx.downstream` call.
 * - `DownstreamErrors` (Count, Worker + Downstream): 1 per failed call and 0 per successful one, so
 *   Sum = errors, SampleCount = calls and Average = error rate.
 * - `DuplicatesSkipped` (Count, Worker): completed duplicates answered from the store without running the function.
 * - `InFlightDuplicates` (Count, Worker): duplicates rejected with the retryable in-progress error.
 * - `PayloadMismatches` (Count, Worker): an idempotency key reused with a different payload.
 * - `OwnershipLost` (Count, Worker): a completion rejected because the claim had been taken over.
 * - `ResultsNotStored` (Count, Worker): a key completed without its result (too large, not serialisable, refused).
 * - `CompletionFailures` (Count, Worker): the function ran but its completion could not be written; the
 *   claim stays until its lease passes, and a duplicate after that runs again.
 * - Semaphore metrics, dimension `Worker` = the semaphore's name: `SemaphoreGrants` (Count, a permit granted
 *   and delivered), `SemaphoreReleases` (Count), `SemaphoreWaitTime` (Milliseconds, queued → granted),
 *   `SemaphorePermitsInUse` and `SemaphoreWaiters` (Count, sampled by each sweep), `SemaphoreReclaims` (Count,
 *   permits the sweeper took back), `SemaphoreRedeliveries` (Count, grants delivered again by the sweeper),
 *   `SemaphoreDeadWaiters` (Count, waiters dropped for a dead token), `SemaphoreRejectedEvents` (Count,
 *   malformed events the cleanup refused).
 */
export const MetricName = {
    DownstreamLatency: "DownstreamLatency",
    DownstreamErrors: "DownstreamErrors",
    DuplicatesSkipped: "DuplicatesSkipped",
    InFlightDuplicates: "InFlightDuplicates",
    PayloadMismatches: "PayloadMismatches",
    OwnershipLost: "OwnershipLost",
    ResultsNotStored: "ResultsNotStored",
    CompletionFailures: "CompletionFailures",
    SemaphoreGrants: "SemaphoreGrants",
    SemaphoreReleases: "SemaphoreReleases",
    SemaphoreWaitTime: "SemaphoreWaitTime",
    SemaphorePermitsInUse: "SemaphorePermitsInUse",
    SemaphoreWaiters: "SemaphoreWaiters",
    SemaphoreReclaims: "SemaphoreReclaims",
    SemaphoreRedeliveries: "SemaphoreRedeliveries",
    SemaphoreDeadWaiters: "SemaphoreDeadWaiters",
    SemaphoreRejectedEvents: "SemaphoreRejectedEvents",
} as const;

/** CloudWatch units used by this package. */
export type MetricUnit = "Milliseconds" | "Count";

/** Options of {@link Metrics}. */
export interface MetricsOptions {
    /**
     * Value of the `Worker` dimension.
     * @default workerName(), read when the metrics are flushed
     * @example "orders-worker"
     */
    worker?: string;
    /**
     * Non-dimension properties written on every line (searchable in Logs Insights, no extra cost).
     * @default {}
     * @example { requestId: context.awsRequestId }
     */
    properties?: Record<string, unknown>;
    /**
     * Where lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/**
 * The worker's name for the `Worker` dimension: env `WORKER_NAME` (set by the components), else
 * `AWS_LAMBDA_FUNCTION_NAME`, else "unknown".
 * @example workerName() // "orders-worker"
 */
export function workerName(): string {
    return optionalString(process.env, ENV.workerName) ?? optionalString(process.env, "AWS_LAMBDA_FUNCTION_NAME") ?? "unknown";
}

interface MetricSeries {
    unit: MetricUnit;
    values: number[];
}

interface DimensionGroup {
    dimensions: Record<string, string>;
    series: Map<string, MetricSeries>;
}

/**
 * Collects metric values and writes them as EMF on {@link Metrics.flush}.
 *
 * A flush writes one JSON line per distinct set of extra dimensions (EMF puts dimension values at the
 * top level of a document, so two `Downstream` values cannot share a line), and splits a metric with
 * more than 100 values over several lines. An invocation that calls one downstream therefore writes
 * at most two lines: one for the downstream, one for the worker-level counts.
 * @example
 * const metrics = new Metrics();
 * metrics.add(MetricName.DownstreamLatency, "Milliseconds", 12.5, { Downstream: "payments" });
 * metrics.flush();
 */
export class Metrics {
    private readonly groups = new Map<string, DimensionGroup>();

    /** @param options see {@link MetricsOptions} */
    constructor(private readonly options: MetricsOptions = {}) {}

    /**
     * Records one value.
     * @param name metric name, usually one of {@link MetricName}
     * @param unit CloudWatch unit
     * @param value the value
     * @param dimensions extra dimensions besides `Worker` (default none), e.g. `{ Downstream: "payments" }`
     */
    add(name: string, unit: MetricUnit, value: number, dimensions: Record<string, string> = {}): void {
        const group = this.group(dimensions);
        const series = group.series.get(name) ?? { unit, values: [] };
        series.values.push(value);
        group.series.set(name, series);
    }

    /** Writes everything recorded since the last flush and clears it; writes nothing when empty. */
    flush(): void {
        const worker = this.options.worker ?? workerName();
        const write = this.options.write ?? writeStdout;
        for (const group of this.groups.values()) {
            for (const document of emfDocuments(group, worker, this.options.properties ?? {})) write(JSON.stringify(document));
        }
        this.groups.clear();
    }

    private group(dimensions: Record<string, string>): DimensionGroup {
        const key = JSON.stringify(Object.entries(dimensions).sort());
        const group = this.groups.get(key) ?? { dimensions, series: new Map() };
        this.groups.set(key, group);
        return group;
    }
}

function emfDocuments(group: DimensionGroup, worker: string, properties: Record<string, unknown>): object[] {
    const longest = Math.max(...[...group.series.values()].map((s) => s.values.length));
    const documents: object[] = [];
    for (let start = 0; start < longest; start += MAX_VALUES_PER_DOCUMENT) {
        documents.push(emfDocument(group, worker, properties, start));
    }
    return documents;
}

function emfDocument(group: DimensionGroup, worker: string, properties: Record<string, unknown>, start: number): object {
    const slices = [...group.series]
        .map(([name, s]) => ({ name, unit: s.unit, values: s.values.slice(start, start + MAX_VALUES_PER_DOCUMENT) }))
        .filter((s) => s.values.length > 0);
    const dimensions = { Worker: worker, ...group.dimensions };
    return {
        ...properties,
        _aws: {
            Timestamp: Date.now(),
            CloudWatchMetrics: [
                {
                    Namespace: METRICS_NAMESPACE,
                    Dimensions: [Object.keys(dimensions)],
                    Metrics: slices.map((s) => ({ Name: s.name, Unit: s.unit })),
                },
            ],
        },
        ...dimensions,
        ...Object.fromEntries(slices.map((s) => [s.name, s.values])),
    };
}
