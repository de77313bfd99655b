import * as aws from "@pulumi/aws";
import { operationsManifest } from "./internal/operations";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../contracts/environment";
import { LEASE_WAIT_SHARE } from "../contracts/idempotency";
import { AdaptiveConcurrencyArgs, AdaptiveTransformArgs, validateAdaptive } from "./adaptiveConcurrency";
import { BREAKER_MANAGED_MAPPING_FIELDS, BreakerTransformArgs, CircuitBreakerArgs, validateBreaker } from "./internal/circuitBreaker";
import { ControlTarget } from "./internal/control";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches, WorkerTransformArgs } from "./internal/escapeHatches";
import { PolicyStatementArgs } from "./internal/iam";
import { AlarmSpec, MetricLine, WidgetSpec } from "./internal/observability";
import { attachQueuePolicy, createQueue } from "./internal/queues";
import { TABLE_ITEM_ACTIONS } from "./internal/tables";
import { deriveInput, plainValue, Validator } from "./internal/validation";
import { functionAlarms, functionWidgets, queueNotEmptyAlarm } from "./internal/workerAlarms";
import { validateWorkerFunctionArgs, WORKER_FUNCTION_DEFAULTS, WorkerFunctionArgs } from "./internal/workerFunction";
import { admitOrderedWorker, buildOrderedWorker, orderedWorkerChildren, orderedWorkerOutputs, OrderedSourceKind, OrderedSourceSpec } from "./orderedWorker";
import { KINESIS_ORDERED_WORKER_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { refuseAbsentChildren } from "./internal/optionalChildren";

/** Where a new consumer starts reading. */
export const StartingPosition = {
    /** The oldest record in the stream: a new consumer skips nothing. */
    TrimHorizon: "TRIM_HORIZON",
    /** Only records written after the mapping starts. */
    Latest: "LATEST",
} as const;
export type StartingPosition = (typeof StartingPosition)[keyof typeof StartingPosition];

/** Defaults of {@link KinesisOrderedWorkerArgs}. */
export const KINESIS_ORDERED_WORKER_DEFAULTS = {
    shardCount: 1,
    retentionHours: 24,
    batchSize: 100,
    batchWindowSeconds: 0,
    parallelizationFactor: 1,
    startingPosition: StartingPosition.TrimHorizon,
    bisectOnError: true,
    maxRetryAttempts: 10,
    inBatchParallelism: 10,
    kplDeaggregation: true,
} as const;

/** `transform` entries of a {@link KinesisOrderedWorker}: plain objects merged into that child's args. */
export interface KinesisOrderedWorkerTransformArgs extends WorkerTransformArgs, AdaptiveTransformArgs, BreakerTransformArgs {
    /**
     * Merged into the new stream's args (`aws.kinesis.StreamArgs`); with `streamArn` no stream is created and the
     * key is an argument error. A customer-managed key (`kmsKeyId`) must let the function's role decrypt
     * (`kms:Decrypt`, in `function.policyStatements` or the key's policy); the component grants no KMS action.
     * @default none
     * @example { shardLevelMetrics: ["IncomingRecords"] }
     */
    stream?: { [key: string]: any };
    /**
     * Merged into the event source mapping's args (`aws.lambda.EventSourceMappingArgs`).
     * @default none
     * @example { filterCriteria: { filters: [{ pattern: JSON.stringify({ data: { kind: ["payment"] } }) }] } }
     */
    eventSourceMapping?: { [key: string]: any };
    /**
     * Merged into the failure queue's args (`aws.sqs.QueueArgs`). A customer-managed key must let the
     * function's role use it (`kms:GenerateDataKey*`, `kms:Decrypt`); the component grants no KMS action.
     * @default none
     * @example { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false }
     */
    failureQueue?: { [key: string]: any };
}

export interface KinesisOrderedWorkerArgs extends EscapeHatchArgs {
    /**
     * The worker function. With `wrap` on (the default) the handler is a plain `(record, ctx) => void`
     * that sees the records of one partition key in order.
     * @example { handler: "handlers/payments.handle" }
     */
    function: WorkerFunctionArgs;
    /**
     * Consume this existing stream instead of creating one. If it is encrypted with a customer-managed key, the
     * function's role must be allowed `kms:Decrypt` on that key (for example
     * `function.policyStatements: [{ actions: ["kms:Decrypt"], resources: [keyArn] }]`); the component grants no KMS action.
     * @default a new stream encrypted with the AWS managed key `alias/aws/kinesis`
     * @example "arn:aws:kinesis:us-east-1:123456789012:stream/payments"
     */
    streamArn?: pulumi.Input<string>;
    /**
     * Shards of the new stream (provisioned mode), or of the existing stream for the concurrency figures,
     * 1–20000. Omit it with `onDemand`. May come from another stack (an Output): it is then checked when it
     * resolves, and the concurrency figures follow it.
     * @default 1
     * @example 4
     */
    shardCount?: pulumi.Input<number>;
    /**
     * Create the stream in on-demand mode (shards scale by themselves; `maxConcurrency` is then unknown).
     * Only for a new stream, and not with `shardCount`.
     * @default false
     * @example true
     */
    onDemand?: boolean;
    /**
     * Record retention of the stream in hours, 24–8760. For an existing stream, state its retention:
     * the record-age limit and the iterator-age alarm are derived from it.
     * @default 24
     * @example 168
     */
    retentionHours?: number;
    /**
     * Records per invocation, 1–10000.
     * @default 100
     * @example 500
     */
    batchSize?: number;
    /**
     * Seconds Lambda may wait to fill a batch, 0–300.
     * @default 0
     * @example 5
     */
    batchWindowSeconds?: number;
    /**
     * Concurrent batches per shard, 1–10 (order is kept per partition key).
     * @default 1
     * @example 2
     */
    parallelizationFactor?: number;
    /**
     * Where a new mapping starts reading.
     * @default "TRIM_HORIZON"
     * @example "LATEST"
     */
    startingPosition?: StartingPosition;
    /**
     * Split a failing batch in two and retry the halves.
     * @default true
     * @example false
     */
    bisectOnError?: boolean;
    /**
     * Retries of a failing batch before its records go to the failure queue, 0–10000. With
     * `circuitBreaker` leave it unset (or -1): every trip and failed probe fails the batch and counts as a
     * retry, so the mapping retries without a count limit, bounded by `maxRecordAgeSeconds`. A record whose
     * invocation timed out (or whose claim could not be released) is claimed for `timeout + 60` s more; each
     * retry waits up to half of what is left of its invocation for that lease, so too few retries can run
     * out inside it and send the record to the failure queue without running it again.
     * @default the larger of 10 and `ceil((timeout + 60) / (0.4 × timeout)) + 1` (half of 80 % of the
     * timeout per retry, and one to run: 10 with the default timeout of 30 s, 19 at 10 s); -1 (no count
     * limit) with `circuitBreaker`
     * @example 3
     */
    maxRetryAttempts?: number;
    /**
     * Records older than this go to the failure queue instead of being retried, 60–604800 s and at
     * most the retention (older records are gone from the stream anyway).
     * @default retentionHours × 3600, at most 604800 (86400 with the default 24 h)
     * @example 21600
     */
    maxRecordAgeSeconds?: number;
    /**
     * Partition keys processed at once inside one batch, 1–1000 (env `IN_BATCH_PARALLELISM`).
     * @default 10
     * @example 25
     */
    inBatchParallelism?: number;
    /**
     * Whether a record a producer aggregated with the KPL runs as its user records (each under its own
     * partition key, idempotent per user record). `false` hands such a record to the handler whole, as
     * releases before de-aggregation did (env `KPL_DEAGGREGATION=false`): for a handler that de-aggregates
     * `raw` itself.
     * @default true
     * @example false
     */
    kplDeaggregation?: boolean;
    /**
     * Reserved concurrency of the function. Optional: the mapping already bounds concurrency to
     * shards × parallelization factor; a reservation below that (or below its adaptive maximum) throttles
     * the shards and is rejected.
     * @default none (no reservation)
     * @example 40
     */
    reservedConcurrency?: number;
    /**
     * How long processed record ids are remembered, for redelivered batches, up to 31536000 s; at least
     * `maxRecordAgeSeconds`.
     * @default maxRecordAgeSeconds + 3600 (90000 with the defaults)
     * @example 172800
     */
    idempotencyExpirySeconds?: number;
    /**
     * SNS topic ARNs notified when an alarm fires or recovers.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Let the parallelization factor follow the downstream (1–10 batches per shard). Needs a provisioned
     * stream (`shardCount`); `parallelizationFactor` is the starting value. Not with `circuitBreaker`.
     * @default none (the factor stays at `parallelizationFactor`)
     * @example { mode: "SelfTuning", minConcurrency: 1, maxConcurrency: 10, latencyTargetMs: 300 }
     */
    adaptiveConcurrency?: AdaptiveConcurrencyArgs;
    /**
     * Stop pulling while the downstream fails: the mapping is disabled (position kept), probed with one
     * record, and restored when probes succeed. `maxOpenSeconds` may be at most a quarter of the time
     * records may wait (the retention, or `maxRecordAgeSeconds` if shorter). Not with `adaptiveConcurrency`.
     * @default none (no breaker)
     * @example { errorThreshold: 0.5, minRequests: 20 }
     */
    circuitBreaker?: CircuitBreakerArgs;
    /**
     * Escape hatch: plain objects merged into one child's args each (function, role, logGroup, table,
     * stream, eventSourceMapping, failureQueue, controlTable, the breaker's prober, proberRole and
     * breakerTable), and under
     * `adaptiveController` those of the adaptive controller (function, role, logGroup, rule). For
     * code-level changes from TypeScript, Pulumi's own `transforms` resource option also reaches every child.
     * @default none
     * @example { function: { description: "payments worker" }, role: { permissionsBoundary: boundary.arn } }
     * @example { proberRole: { permissionsBoundary: boundary.arn } } // with circuitBreaker
     */
    transform?: KinesisOrderedWorkerTransformArgs;
}

/**
 * Pattern 2 on Kinesis: records are processed in order per partition key, with concurrency set by the
 * event source mapping (shards × parallelization factor) instead of reserved concurrency.
 *
 * Failed records are retried with bisection, then sent to an encrypted SQS failure queue; the wrapper
 * runs partition keys in parallel inside a batch, keeps each key in order, reports a checkpoint that
 * never passes a failed record, and skips records it already processed when a batch is redelivered.
 *
 * @example
 * const payments = new KinesisOrderedWorker("payments", {
 *     function: { handler: "handlers/payments.handle" },
 *     shardCount: 4,
 *     parallelizationFactor: 2,
 * });
 */
export class KinesisOrderedWorker extends pulumi.ComponentResource {
    /** The worker function. */
    public readonly function: aws.lambda.Function;
    /** The worker function's role (add policies to it for what the handler calls). */
    public readonly role: aws.iam.Role;
    /** The worker function's log group. */
    public readonly logGroup: aws.cloudwatch.LogGroup;
    /** ARN of the stream consumed (new or existing). */
    public readonly streamArn: pulumi.Output<string>;
    /** The event source mapping. */
    public readonly eventSourceMapping: aws.lambda.EventSourceMapping;
    /** Where records go after the retries and the age limit. */
    public readonly failureQueue: aws.sqs.Queue;
    /** Processed record ids. */
    public readonly idempotencyTable: aws.dynamodb.Table;
    /** Concurrent invocations at most: shards × parallelization factor; unknown (undefined) on demand. */
    public readonly maxConcurrency: pulumi.Output<number | undefined>;
    /** Concurrent downstream calls at most: `maxConcurrency` × `inBatchParallelism`. */
    public readonly maxDownstreamConcurrency: pulumi.Output<number | undefined>;
    /** The CloudWatch dashboard name. */
    public readonly dashboardName: pulumi.Output<string>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: KinesisOrderedWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:KinesisOrderedWorker", name, {}, withEscapeHatches(opts, args, kinesisChildren(name)));
        checkConstruction(KINESIS_ORDERED_WORKER_ARGUMENTS, name, args);
        const { label, settings } = admitOrderedWorker(this, name, args, { className: "KinesisOrderedWorker", resolve: resolveKinesisSettings, validate: validateKinesisArgs });

        this.streamArn = args.streamArn ? pulumi.output(args.streamArn) : this.createStream(name, args, settings).arn;
        this.failureQueue = createQueue(`${name}-failures`, {}, this);
        // Lambda writes failures with the function's role; the policy only denies access without TLS.
        attachQueuePolicy(`${name}-failures-policy`, this.failureQueue, [], this);
        const worker = buildOrderedWorker(name, args, kinesisSource(name, label, settings, this.streamArn, this.failureQueue, args.circuitBreaker !== undefined), this);
        ({ function: this.function, role: this.role, logGroup: this.logGroup, idempotencyTable: this.idempotencyTable, eventSourceMapping: this.eventSourceMapping } = worker);
        ({ maxConcurrency: this.maxConcurrency, maxDownstreamConcurrency: this.maxDownstreamConcurrency, dashboardName: this.dashboardName } = worker);
        this.operations = operationsManifest(this, {
            componentType: "KinesisOrderedWorker",
            name,
            functionName: this.function.name,
            streamArn: this.streamArn,
            mappingUuid: this.eventSourceMapping.uuid,
            idempotencyTableName: this.idempotencyTable.name,
            failureQueue: { url: this.failureQueue.url, arn: this.failureQueue.arn },
            dashboardName: this.dashboardName,
            ...worker.controlReferences,
        });
        this.registerOutputs({ ...orderedWorkerOutputs(worker), streamArn: this.streamArn, failureQueue: this.failureQueue, operations: this.operations });
    }

    private createStream(name: string, args: KinesisOrderedWorkerArgs, settings: KinesisSettings): aws.kinesis.Stream {
        return new aws.kinesis.Stream(
            `${name}-stream`,
            {
                shardCount: args.onDemand ? undefined : settings.shardCount,
                streamModeDetails: { streamMode: args.onDemand ? "ON_DEMAND" : "PROVISIONED" },
                retentionPeriod: settings.retentionHours,
                encryptionType: "KMS",
                kmsKeyId: "alias/aws/kinesis",
            },
            { parent: this },
        );
    }
}

/** A Kinesis stream's wrapper, and the mapping settings run-time control owns on it. */
const KINESIS_SOURCE: OrderedSourceKind = {
    wrapper: { module: "kinesisWorker", exportName: "kinesisWorker" },
    target: ControlTarget.KinesisParallelizationFactor,
    managedFields: { adaptive: ["parallelizationFactor"], breaker: BREAKER_MANAGED_MAPPING_FIELDS },
};

/** The stream as the ordered-worker skeleton sees it. */
function kinesisSource(
    name: string,
    label: string,
    settings: KinesisSettings,
    streamArn: pulumi.Output<string>,
    failureQueue: aws.sqs.Queue,
    withBreaker: boolean,
): OrderedSourceSpec<number | undefined> {
    return {
        kind: KINESIS_SOURCE,
        label,
        eventSourceArn: streamArn,
        shardCount: settings.shardCount,
        settings,
        statements: (table) => kinesisStatements(streamArn, table, failureQueue),
        mapping: {
            startingPosition: settings.startingPosition,
            batchSize: settings.batchSize,
            maximumBatchingWindowInSeconds: settings.batchWindowSeconds,
            parallelizationFactor: settings.parallelizationFactor,
            bisectBatchOnFunctionError: settings.bisectOnError,
            maximumRetryAttempts: settings.maxRetryAttempts,
            maximumRecordAgeInSeconds: settings.maxRecordAgeSeconds,
            destinationConfig: { onFailure: { destinationArn: failureQueue.arn } },
        },
        concurrency: { maxConcurrency: settings.maxConcurrency, keysPerInvocation: settings.inBatchParallelism },
        // Set only to turn it off, so a default worker's environment stays as it was.
        ...(settings.kplDeaggregation ? {} : { environment: { [ENV.kplDeaggregation]: "false" } }),
        alarms: (fn) => kinesisAlarms(fn, failureQueue, settings, withBreaker),
        widgets: (fn) => kinesisWidgets(name, fn, failureQueue, settings),
    };
}

/** The children `transform` can reach, by key (`adaptiveController` goes to the adaptive controller). */
function kinesisChildren(name: string): ChildCatalog<Exclude<keyof KinesisOrderedWorkerTransformArgs, "adaptiveController">> {
    return { ...orderedWorkerChildren(name), stream: { type: CHILD_TYPES.stream, name: `${name}-stream` }, failureQueue: { type: CHILD_TYPES.queue, name: `${name}-failures` } };
}

/** Every setting with its default applied. */
export interface KinesisSettings {
    shardCount: pulumi.Input<number>;
    retentionHours: number;
    batchSize: number;
    batchWindowSeconds: number;
    parallelizationFactor: number;
    startingPosition: StartingPosition;
    bisectOnError: boolean;
    maxRetryAttempts: number;
    maxRecordAgeSeconds: number;
    inBatchParallelism: number;
    kplDeaggregation: boolean;
    idempotencyExpirySeconds: number;
    /** The in-progress lease: the function timeout plus a minute. */
    idempotencyLeaseSeconds: number;
    /** Shards × parallelization factor (its adaptive maximum, if higher); undefined for an on-demand stream. */
    maxConcurrency: pulumi.Input<number> | undefined;
}

/** `maximumRetryAttempts` -1: the mapping retries until the record-age limit. */
const UNLIMITED_RETRIES = -1;

/** The share of the timeout a record is assumed to have left when it starts (the batch's earlier records ran first). */
const RECORD_START_MARGIN = 0.8;

/**
 * Retries that outlast a claim an interrupted invocation left: its lease (timeout + 60 s) has at most
 * `timeout + 60` s left when the first retry starts, each failing retry's record waits
 * {@link LEASE_WAIT_SHARE} of what is left of its invocation (taken as {@link RECORD_START_MARGIN} of the
 * timeout), and one more retry then finds the lease passed and runs the record.
 */
function retriesOutlastingLease(timeoutSeconds: number): number {
    return Math.ceil((timeoutSeconds + 60) / (LEASE_WAIT_SHARE * RECORD_START_MARGIN * timeoutSeconds)) + 1;
}

/** Applies the defaults; pure. */
export function resolveKinesisSettings(args: KinesisOrderedWorkerArgs): KinesisSettings {
    const d = KINESIS_ORDERED_WORKER_DEFAULTS;
    const retentionHours = args.retentionHours ?? d.retentionHours;
    const maxRecordAgeSeconds = args.maxRecordAgeSeconds ?? Math.min(retentionHours * 3600, 604_800);
    const shardCount = args.shardCount ?? d.shardCount;
    const parallelizationFactor = args.parallelizationFactor ?? d.parallelizationFactor;
    const timeoutSeconds = args.function?.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds;
    return {
        shardCount,
        retentionHours,
        batchSize: args.batchSize ?? d.batchSize,
        batchWindowSeconds: args.batchWindowSeconds ?? d.batchWindowSeconds,
        parallelizationFactor,
        startingPosition: args.startingPosition ?? d.startingPosition,
        bisectOnError: args.bisectOnError ?? d.bisectOnError,
        maxRetryAttempts: args.circuitBreaker ? UNLIMITED_RETRIES : (args.maxRetryAttempts ?? Math.max(d.maxRetryAttempts, retriesOutlastingLease(timeoutSeconds))),
        maxRecordAgeSeconds,
        inBatchParallelism: args.inBatchParallelism ?? d.inBatchParallelism,
        kplDeaggregation: args.kplDeaggregation ?? d.kplDeaggregation,
        idempotencyExpirySeconds: args.idempotencyExpirySeconds ?? maxRecordAgeSeconds + 3600,
        idempotencyLeaseSeconds: timeoutSeconds + 60,
        maxConcurrency: args.onDemand ? undefined : deriveInput(shardCount, (shards) => shards * Math.max(parallelizationFactor, args.adaptiveConcurrency?.maxConcurrency ?? 0)),
    };
}

/** Collects every problem with the arguments; pure. */
export function validateKinesisArgs(label: string, args: KinesisOrderedWorkerArgs, settings: KinesisSettings): Validator {
    const validator = new Validator(label);
    validateWorkerFunctionArgs(validator, args.function);
    validateAdaptive(validator, args.adaptiveConcurrency, ControlTarget.KinesisParallelizationFactor, settings.parallelizationFactor, args.function?.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds);
    validateBreaker(validator, args.circuitBreaker, Math.min(settings.retentionHours * 3600, settings.maxRecordAgeSeconds));
    const streamArn = plainValue(args.streamArn);
    return refuseAbsentChildren(validator, "KinesisOrderedWorker", args)
        .matches("streamArn", streamArn, /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/, "a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)")
        .rule(args.onDemand === true && args.streamArn !== undefined, "onDemand applies to a new stream only; omit it with streamArn.")
        .rule(args.onDemand === true && args.shardCount !== undefined, "shardCount and onDemand are mutually exclusive: an on-demand stream scales its shards itself.")
        .integer("shardCount", args.shardCount, 1, 20_000)
        .integer("retentionHours", args.retentionHours, 24, 8760)
        .integer("batchSize", args.batchSize, 1, 10_000)
        .integer("batchWindowSeconds", args.batchWindowSeconds, 0, 300)
        .integer("parallelizationFactor", args.parallelizationFactor, 1, 10)
        .oneOf("startingPosition", args.startingPosition, Object.values(StartingPosition))
        .integer("maxRetryAttempts", args.circuitBreaker ? undefined : args.maxRetryAttempts, 0, 10_000)
        .rule(
            args.circuitBreaker !== undefined && args.maxRetryAttempts !== undefined && args.maxRetryAttempts !== UNLIMITED_RETRIES,
            `maxRetryAttempts must be unset (or -1) with circuitBreaker: every trip and every failed probe fails the batch and counts as a retry, so a finite count would send the records to the failure queue, which keeps only their shard and sequence numbers, while the downstream is down; the mapping retries until maxRecordAgeSeconds (${settings.maxRecordAgeSeconds} s) instead; received ${args.maxRetryAttempts}.`,
        )
        .integer("maxRecordAgeSeconds", args.maxRecordAgeSeconds, 60, 604_800)
        .rule(
            Number.isInteger(settings.maxRecordAgeSeconds) && settings.maxRecordAgeSeconds > settings.retentionHours * 3600,
            `maxRecordAgeSeconds must not exceed the stream retention of ${settings.retentionHours * 3600} s (retentionHours ${settings.retentionHours}); received ${settings.maxRecordAgeSeconds}.`,
        )
        .integer("inBatchParallelism", args.inBatchParallelism, 1, 1000)
        .integer("reservedConcurrency", args.reservedConcurrency, 1, 1_000_000)
        .check(settings.maxConcurrency, (maxConcurrency) =>
            args.reservedConcurrency !== undefined && args.reservedConcurrency < maxConcurrency
                ? `reservedConcurrency must be at least shardCount × parallelizationFactor${args.adaptiveConcurrency ? " (its adaptive maximum)" : ""} = ${maxConcurrency}, or shards are throttled; received ${args.reservedConcurrency}.`
                : undefined,
        )
        .rule(args.adaptiveConcurrency !== undefined && args.onDemand === true, "adaptiveConcurrency needs a provisioned stream: concurrency in use is counted per shard, and an on-demand stream's shards change by themselves.")
        .rule(args.adaptiveConcurrency !== undefined && args.function?.wrap === false, "adaptiveConcurrency needs function.wrap: the runtime wrapper records the downstream statistics it steers by.")
        .rule(
            args.circuitBreaker !== undefined && args.adaptiveConcurrency !== undefined,
            "circuitBreaker and adaptiveConcurrency both drive the parallelization factor of a Kinesis mapping (the probe runs at factor 1, the close restores it); choose one.",
        )
        .rule(args.circuitBreaker !== undefined && args.function?.wrap === false, "circuitBreaker needs function.wrap: the runtime wrapper feeds the breaker and fails the batch while it is open.")
        .integer("idempotencyExpirySeconds", args.idempotencyExpirySeconds, 1, 31_536_000)
        .rule(
            Number.isInteger(settings.idempotencyExpirySeconds) && settings.idempotencyExpirySeconds < settings.maxRecordAgeSeconds,
            `idempotencyExpirySeconds must be at least maxRecordAgeSeconds (${settings.maxRecordAgeSeconds}), or a record redelivered late runs again; received ${settings.idempotencyExpirySeconds}.`,
        );
}

function kinesisStatements(streamArn: pulumi.Input<string>, table: aws.dynamodb.Table, failureQueue: aws.sqs.Queue): PolicyStatementArgs[] {
    return [
        {
            actions: ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
            resources: [streamArn],
        },
        { actions: TABLE_ITEM_ACTIONS, resources: [table.arn] },
        // The on-failure destination is written with the function's own role.
        { actions: ["sqs:SendMessage"], resources: [failureQueue.arn] },
    ];
}

/**
 * The iterator-age alarm fires at half of the time a record may wait (the retention, or the record-age
 * limit if shorter), and with a breaker at a quarter of it: before half, while the breaker is open.
 */
function kinesisAlarms(fn: aws.lambda.Function, failureQueue: aws.sqs.Queue, settings: KinesisSettings, withBreaker: boolean): AlarmSpec[] {
    const share = withBreaker ? 4 : 2;
    const waitLimitSeconds = Math.min(settings.retentionHours * 3600, settings.maxRecordAgeSeconds);
    const thresholdMs = (waitLimitSeconds * 1000) / share;
    return [
        {
            id: "iterator-age",
            description: `Records wait more than 1/${share} of the ${waitLimitSeconds} s they may wait (retention or record-age limit); after that they go to the failure queue or are lost.`,
            namespace: "AWS/Lambda",
            metricName: "IteratorAge",
            dimensions: { FunctionName: fn.name },
            statistic: "Maximum",
            threshold: thresholdMs,
        },
        queueNotEmptyAlarm("failures-not-empty", failureQueue, "Records exhausted their retries or age limit; the failure queue holds their positions: inspect and replay."),
        ...functionAlarms(fn, "failed batches are retried (bisected), then their records go to the failure queue."),
    ];
}

function kinesisWidgets(name: string, fn: aws.lambda.Function, failureQueue: aws.sqs.Queue, settings: KinesisSettings): WidgetSpec[] {
    const limit = settings.maxConcurrency === undefined ? "on demand" : pulumi.interpolate`shards × factor = ${settings.maxConcurrency}`;
    return [
        ...functionWidgets(name, fn, pulumi.interpolate`Concurrency in use (${limit})`),
        {
            title: "Iterator age and failure queue",
            metrics: pulumi.all([fn.name, failureQueue.name]).apply(([f, q]): MetricLine[] => [
                ["AWS/Lambda", "IteratorAge", "FunctionName", f, { stat: "Maximum" }],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { stat: "Maximum", yAxis: "right" }],
            ]),
        },
    ];
}
