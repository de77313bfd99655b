import * as aws from "@pulumi/aws";
import { operationsManifest } from "./internal/operations";
import * as pulumi from "@pulumi/pulumi";
import { ENV, FifoIdempotencyKey } from "../contracts/environment";
import { AdaptiveConcurrencyArgs, AdaptiveTransformArgs, validateAdaptive } from "./adaptiveConcurrency";
import { BreakerTransformArgs, CircuitBreakerArgs, validateBreaker } from "./internal/circuitBreaker";
import { ControlTarget } from "./internal/control";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches, WorkerTransformArgs } from "./internal/escapeHatches";
import { partitionOf, PolicyStatementArgs } from "./internal/iam";
import { AlarmSpec, MetricLine, WidgetSpec } from "./internal/observability";
import { attachQueuePolicy, createQueue, MAX_RETENTION_SECONDS } from "./internal/queues";
import { TABLE_ITEM_ACTIONS } from "./internal/tables";
import { plainValue, Validator } from "./internal/validation";
import { functionAlarms, functionWidgets, queueNotEmptyAlarm } from "./internal/workerAlarms";
import { validateWorkerFunctionArgs, WORKER_FUNCTION_DEFAULTS, WorkerFunctionArgs } from "./internal/workerFunction";
import { admitOrderedWorker, buildOrderedWorker, orderedWorkerChildren, orderedWorkerOutputs, OrderedSourceKind, OrderedSourceSpec } from "./orderedWorker";
import { FIFO_TOPIC_WORKER_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { refuseAbsentChildren } from "./internal/optionalChildren";

/** Defaults of {@link FifoTopicWorkerArgs}. */
export const FIFO_TOPIC_WORKER_DEFAULTS = {
    contentBasedDeduplication: true,
    batchSize: 10,
    maxReceiveCount: 5,
    /** With `circuitBreaker`: failed probes use up receives of waiting messages. */
    maxReceiveCountWithBreaker: 10,
    inBatchParallelism: 10,
    messageRetentionSeconds: 345_600,
    oldestMessageAgeAlarmSeconds: 900,
} as const;

/** `transform` entries of a {@link FifoTopicWorker}: plain objects merged into that child's args. */
export interface FifoTopicWorkerTransformArgs extends WorkerTransformArgs, AdaptiveTransformArgs, BreakerTransformArgs {
    /**
     * Merged into the new topic's args (`aws.sns.TopicArgs`); with `topicArn` no topic is created and the key is an
     * argument error.
     * @default none
     * @example { archivePolicy: JSON.stringify({ MessageRetentionPeriod: 7 }) }
     */
    topic?: { [key: string]: any };
    /**
     * Merged into the FIFO queue's args (`aws.sqs.QueueArgs`). A customer-managed key's policy must admit
     * SNS (`sns.amazonaws.com`: `kms:GenerateDataKey*`, `kms:Decrypt`; else deliveries go to the delivery
     * DLQ) and the function's role (`kms:Decrypt`); the component grants no KMS action.
     * @default none
     * @example { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false }
     */
    queue?: { [key: string]: any };
    /**
     * Merged into the FIFO dead-letter queue's args (`aws.sqs.QueueArgs`).
     * @default none
     * @example { messageRetentionSeconds: 604800 }
     */
    deadLetterQueue?: { [key: string]: any };
    /**
     * Merged into the delivery dead-letter queue's args (`aws.sqs.QueueArgs`): the FIFO queue of the
     * subscription's redrive policy, where SNS puts messages it could not deliver to the worker queue.
     * @default none
     * @example { messageRetentionSeconds: 604800 }
     */
    deliveryDeadLetterQueue?: { [key: string]: any };
    /**
     * Merged into the event source mapping's args (`aws.lambda.EventSourceMappingArgs`).
     * @default none
     * @example { filterCriteria: { filters: [{ pattern: JSON.stringify({ body: { kind: ["entry"] } }) }] } }
     */
    eventSourceMapping?: { [key: string]: any };
}

export interface FifoTopicWorkerArgs extends EscapeHatchArgs {
    /**
     * The worker function. With `wrap` on (the default) the handler is a plain `(message, ctx) => void`
     * that sees the messages of one message group in order.
     * @example { handler: "handlers/ledger.handle" }
     */
    function: WorkerFunctionArgs;
    /**
     * Subscribe to this existing SNS FIFO topic instead of creating one (the name must end in `.fifo`). It
     * must be in the worker's region: the subscription and its delivery DLQ are created with the worker's
     * provider (a topic of another region fails the deployment).
     * @default a new encrypted FIFO topic that only this account may publish to
     * @example "arn:aws:sns:us-east-1:123456789012:ledger.fifo"
     */
    topicArn?: pulumi.Input<string>;
    /**
     * Deduplicate the new topic's messages by a SHA-256 of the body; for an existing topic, state whether
     * it does. It also chooses the worker's idempotency key (env `FIFO_IDEMPOTENCY_KEY`): with content-based
     * deduplication the SQS message id (`MessageId`: a redelivery of the same message never runs twice, while
     * a new message with the same body sent after SQS's 5-minute deduplication window runs, as SQS accepted
     * it as new); with `false` publishers supply deduplication ids and the key is that id
     * (`DeduplicationId`: a message re-sent with the same id is skipped for `idempotencyExpirySeconds`, which
     * is what a publisher-chosen id asks for).
     * @default true
     * @example false
     */
    contentBasedDeduplication?: boolean;
    /**
     * The event source mapping's maximum concurrency, 2–1000: at most this many batches run at once.
     * Concurrency is also bounded by the number of message groups with messages waiting.
     * @example 5
     */
    maxConcurrency: number;
    /**
     * Messages per invocation, 1–10 (the FIFO limit).
     * @default 10
     * @example 5
     */
    batchSize?: number;
    /**
     * Not supported: AWS rejects batching windows on FIFO queues. Leave unset (or 0).
     * @default unset (no batching window)
     * @example 0
     */
    batchWindowSeconds?: number;
    /**
     * Visibility timeout of the queue, at least the function timeout and at most 43200 s. A message whose
     * invocation timed out comes back once per visibility timeout and is refused as in flight until its
     * idempotency claim's lease (function timeout + 60 s, from a claim up to one timeout after the receive)
     * passes, each time using up a receive: so `(maxReceiveCount − 1) × visibilityTimeoutSeconds` must be at
     * least `2 × timeout + 60` (with `function.wrap`).
     * @default 6 × function.timeoutSeconds (AWS's recommendation), at least 2 × timeout + 60, at most 43200 (180 with the default timeout)
     * @example 300
     */
    visibilityTimeoutSeconds?: number;
    /**
     * Receives before a message moves to the FIFO dead-letter queue, 1–1000; at least 10 with
     * `circuitBreaker` (every failed half-open probe uses up one receive of a waiting message).
     * @default 5; 10 with `circuitBreaker`
     * @example 10
     */
    maxReceiveCount?: number;
    /**
     * Seconds the queue keeps unprocessed messages, 60–1209600.
     * @default 345600 (4 days)
     * @example 1209600
     */
    messageRetentionSeconds?: number;
    /**
     * Message groups processed at once inside one batch, 1–10 (env `IN_BATCH_PARALLELISM`).
     * @default 10
     * @example 5
     */
    inBatchParallelism?: number;
    /**
     * Reserved concurrency of the function. Optional; below `maxConcurrency` (or its adaptive maximum) it
     * throttles messages back to the queue until they reach the DLQ, so that is rejected.
     * @default none (no reservation)
     * @example 20
     */
    reservedConcurrency?: number;
    /**
     * How long a processed message's deduplication id is remembered, 300–1209600 s. It must cover every
     * redelivery of a message (a backlog or an open breaker can delay them): at least
     * `maxReceiveCount × visibilityTimeoutSeconds`, or `messageRetentionSeconds` when that is shorter (SQS
     * delivers no message older than its retention). Longer also skips a message re-sent with the same
     * content after SQS's own 5-minute deduplication window.
     * @default messageRetentionSeconds, at least 300 (345600 with the default retention)
     * @example 604800
     */
    idempotencyExpirySeconds?: number;
    /**
     * Age in seconds of the oldest waiting message above which the backlog alarm fires, 60–1209600.
     * @default 900
     * @example 300
     */
    oldestMessageAgeAlarmSeconds?: number;
    /**
     * SNS topic ARNs notified when an alarm fires or recovers.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Let the mapping's maximum concurrency follow the downstream (2–1000); `maxConcurrency` is the
     * starting value.
     * @default none (the mapping stays at `maxConcurrency`)
     * @example { mode: "Controller", minConcurrency: 2, maxConcurrency: 20, latencyTargetMs: 250 }
     */
    adaptiveConcurrency?: AdaptiveConcurrencyArgs;
    /**
     * Stop receiving while the downstream fails: the mapping is disabled (messages stay in the queue),
     * probed with one message per batch, and restored when probes succeed. Failed probes use up receives
     * of waiting messages, so `maxReceiveCount` is then at least 10.
     * @default none (no breaker)
     * @example { errorThreshold: 0.5, minRequests: 20 }
     */
    circuitBreaker?: CircuitBreakerArgs;
    /**
     * Escape hatch: plain objects merged into one child's args each (function, role, logGroup, table,
     * topic, queue, deadLetterQueue, deliveryDeadLetterQueue, eventSourceMapping, controlTable, the breaker's prober, proberRole and
     * breakerTable), and under
     * `adaptiveController` those of the adaptive controller (function, role, logGroup, rule). For
     * code-level changes from TypeScript, Pulumi's own `transforms` resource option also reaches every child.
     * @default none
     * @example { queue: { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false } }
     * @example { adaptiveController: { role: { permissionsBoundary: boundary.arn } } } // with adaptiveConcurrency mode "Controller"
     */
    transform?: FifoTopicWorkerTransformArgs;
}

/**
 * Pattern 2 on SNS FIFO → SQS FIFO: messages are processed in order per message group, with
 * concurrency set by the event source mapping's maximum concurrency instead of reserved concurrency.
 *
 * The queue runs in high-throughput mode with a FIFO dead-letter queue, a raw-delivery subscription
 * and a policy admitting only the topic. The wrapper runs groups in parallel, keeps each group in
 * order, fails the rest of a group after a failure, and deduplicates on the deduplication id.
 *
 * @example
 * const ledger = new FifoTopicWorker("ledger", {
 *     function: { handler: "handlers/ledger.handle" },
 *     maxConcurrency: 5,
 * });
 */
export class FifoTopicWorker extends pulumi.ComponentResource {
    /** The worker function. */
    public readonly function: aws.lambda.Function;
    /** The worker function's role (add policies to it for what the handler calls). */
    public readonly role: aws.iam.Role;
    /** The worker function's log group. */
    public readonly logGroup: aws.cloudwatch.LogGroup;
    /** ARN of the FIFO topic (new or existing). */
    public readonly topicArn: pulumi.Output<string>;
    /** The FIFO queue subscribed to the topic. */
    public readonly queue: aws.sqs.Queue;
    /** The FIFO dead-letter queue. */
    public readonly deadLetterQueue: aws.sqs.Queue;
    /**
     * The subscription's FIFO dead-letter queue: messages SNS could not deliver to {@link queue} (its
     * policy or its key refused them), kept 14 days; the `delivery-dlq-not-empty` alarm watches it.
     */
    public readonly deliveryDeadLetterQueue: aws.sqs.Queue;
    /** The event source mapping. */
    public readonly eventSourceMapping: aws.lambda.EventSourceMapping;
    /** Processed deduplication ids. */
    public readonly idempotencyTable: aws.dynamodb.Table;
    /** Concurrent invocations at most: the mapping's maximum concurrency (its adaptive maximum, if higher). */
    public readonly maxConcurrency: pulumi.Output<number>;
    /** Concurrent downstream calls at most: `maxConcurrency` × min(`inBatchParallelism`, `batchSize`). */
    public readonly maxDownstreamConcurrency: pulumi.Output<number>;
    /** The CloudWatch dashboard name. */
    public readonly dashboardName: pulumi.Output<string>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: FifoTopicWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:FifoTopicWorker", name, {}, withEscapeHatches(opts, args, fifoChildren(name)));
        checkConstruction(FIFO_TOPIC_WORKER_ARGUMENTS, name, args);
        const { label, settings } = admitOrderedWorker(this, name, args, { className: "FifoTopicWorker", resolve: resolveFifoSettings, validate: validateFifoArgs });

        if (args.topicArn) checkTopicRegion(label, args.topicArn, this);
        this.topicArn = args.topicArn ? pulumi.output(args.topicArn) : this.createTopic(name, settings).arn;
        this.deadLetterQueue = createQueue(`${name}-dlq`, { fifo: true }, this);
        // SQS moves messages here itself; the policy only denies access without TLS.
        attachQueuePolicy(`${name}-dlq-policy`, this.deadLetterQueue, [], this);
        const queue = createQueue(
            `${name}-queue`,
            {
                fifo: true,
                visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
                messageRetentionSeconds: settings.messageRetentionSeconds,
                deadLetter: { queueArn: this.deadLetterQueue.arn, maxReceiveCount: settings.maxReceiveCount },
            },
            this,
        );
        this.queue = queue;
        const fromTopic = [{ service: "sns.amazonaws.com", sourceArn: this.topicArn }];
        const queuePolicy = attachQueuePolicy(`${name}-queue-policy`, queue, fromTopic, this);
        this.deliveryDeadLetterQueue = createQueue(`${name}-delivery-dlq`, { fifo: true }, this);
        const deliveryDlqPolicy = attachQueuePolicy(`${name}-delivery-dlq-policy`, this.deliveryDeadLetterQueue, fromTopic, this);
        new aws.sns.TopicSubscription(
            `${name}-subscription`,
            {
                topic: this.topicArn,
                protocol: "sqs",
                endpoint: queue.arn,
                rawMessageDelivery: true,
                redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deliveryDeadLetterQueue.arn }),
            },
            { parent: this, dependsOn: [queuePolicy, deliveryDlqPolicy] },
        );
        const dlqs = { processing: this.deadLetterQueue, delivery: this.deliveryDeadLetterQueue };
        const worker = buildOrderedWorker(name, args, fifoSource(name, label, settings, args, queue, dlqs), this);
        ({ function: this.function, role: this.role, logGroup: this.logGroup, idempotencyTable: this.idempotencyTable, eventSourceMapping: this.eventSourceMapping } = worker);
        ({ maxConcurrency: this.maxConcurrency, maxDownstreamConcurrency: this.maxDownstreamConcurrency, dashboardName: this.dashboardName } = worker);
        this.operations = operationsManifest(this, {
            componentType: "FifoTopicWorker",
            name,
            functionName: this.function.name,
            topicArn: this.topicArn,
            queue: { url: queue.url, arn: queue.arn },
            deadLetterQueue: { url: this.deadLetterQueue.url, arn: this.deadLetterQueue.arn },
            deliveryDeadLetterQueue: { url: this.deliveryDeadLetterQueue.url, arn: this.deliveryDeadLetterQueue.arn },
            mappingUuid: this.eventSourceMapping.uuid,
            idempotencyTableName: this.idempotencyTable.name,
            dashboardName: this.dashboardName,
            ...worker.controlReferences,
        });
        this.registerOutputs({
            ...orderedWorkerOutputs(worker),
            topicArn: this.topicArn,
            queue,
            deadLetterQueue: this.deadLetterQueue,
            deliveryDeadLetterQueue: this.deliveryDeadLetterQueue,
            operations: this.operations,
        });
    }

    /** An encrypted FIFO topic that only the owner account may publish to, over TLS. */
    private createTopic(name: string, settings: FifoSettings): aws.sns.Topic {
        const topic = new aws.sns.Topic(
            `${name}-topic`,
            { fifoTopic: true, contentBasedDeduplication: settings.contentBasedDeduplication, kmsMasterKeyId: "alias/aws/sns" },
            { parent: this },
        );
        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const partition = partitionOf(this);
        new aws.sns.TopicPolicy(
            `${name}-topic-policy`,
            {
                arn: topic.arn,
                policy: pulumi.all([topic.arn, accountId, partition]).apply(([arn, account, awsPartition]) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            { Sid: "OwnerPublishOnly", Effect: "Allow", Principal: { AWS: `arn:${awsPartition}:iam::${account}:root` }, Action: ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"], Resource: arn },
                            { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sns:*", Resource: arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
                        ],
                    }),
                ),
            },
            { parent: this },
        );
        return topic;
    }
}

/** An SQS FIFO queue's wrapper, and the mapping settings run-time control owns on it. */
const FIFO_SOURCE: OrderedSourceKind = {
    wrapper: { module: "fifoWorker", exportName: "fifoWorker" },
    target: ControlTarget.SqsMaximumConcurrency,
    managedFields: { adaptive: ["scalingConfig"], breaker: ["enabled", "batchSize"] },
};

/** The worker's two dead-letter queues: messages that failed `maxReceiveCount` times, and messages SNS could not deliver. */
interface FifoDeadLetterQueues {
    processing: aws.sqs.Queue;
    delivery: aws.sqs.Queue;
}

/** The queue as the ordered-worker skeleton sees it. */
function fifoSource(name: string, label: string, settings: FifoSettings, args: FifoTopicWorkerArgs, queue: aws.sqs.Queue, dlqs: FifoDeadLetterQueues): OrderedSourceSpec<number> {
    return {
        kind: FIFO_SOURCE,
        label,
        eventSourceArn: queue.arn,
        queueName: queue.name,
        settings,
        environment: { [ENV.fifoIdempotencyKey]: settings.idempotencyKey },
        statements: (table) => fifoStatements(queue, table),
        mapping: { batchSize: settings.batchSize, scalingConfig: { maximumConcurrency: args.maxConcurrency } },
        // The mapping's maximum, or its adaptive maximum if higher; a batch runs up to batchSize groups at once.
        concurrency: { maxConcurrency: Math.max(args.maxConcurrency, args.adaptiveConcurrency?.maxConcurrency ?? 0), keysPerInvocation: Math.min(settings.inBatchParallelism, settings.batchSize) },
        alarms: (fn) => fifoAlarms(fn, queue, dlqs, settings),
        widgets: (fn) => fifoWidgets(name, fn, queue, dlqs, args.maxConcurrency),
    };
}

/** The children `transform` can reach, by key (`adaptiveController` goes to the adaptive controller). */
function fifoChildren(name: string): ChildCatalog<Exclude<keyof FifoTopicWorkerTransformArgs, "adaptiveController">> {
    const queue = (suffix: string) => ({ type: CHILD_TYPES.queue, name: `${name}-${suffix}` });
    return {
        ...orderedWorkerChildren(name),
        topic: { type: CHILD_TYPES.topic, name: `${name}-topic` },
        queue: queue("queue"),
        deadLetterQueue: queue("dlq"),
        deliveryDeadLetterQueue: queue("delivery-dlq"),
    };
}

/** Every setting with its default applied. */
export interface FifoSettings {
    contentBasedDeduplication: boolean;
    /** What the idempotency key is built from: the message id with content-based deduplication, else the publisher's id. */
    idempotencyKey: FifoIdempotencyKey;
    batchSize: number;
    visibilityTimeoutSeconds: number;
    maxReceiveCount: number;
    messageRetentionSeconds: number;
    inBatchParallelism: number;
    timeoutSeconds: number;
    oldestMessageAgeAlarmSeconds: number;
    /** How long a processed deduplication id is remembered: as long as a message can be redelivered. */
    idempotencyExpirySeconds: number;
    /** The in-progress lease: the function timeout plus a minute. */
    idempotencyLeaseSeconds: number;
}

/** Applies the defaults; pure. */
export function resolveFifoSettings(args: FifoTopicWorkerArgs): FifoSettings {
    const d = FIFO_TOPIC_WORKER_DEFAULTS;
    const timeoutSeconds = args.function?.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds;
    const messageRetentionSeconds = args.messageRetentionSeconds ?? d.messageRetentionSeconds;
    const visibilityTimeoutSeconds = args.visibilityTimeoutSeconds ?? Math.min(Math.max(6 * timeoutSeconds, claimedRedeliverySeconds(timeoutSeconds)), 43_200);
    const maxReceiveCount = args.maxReceiveCount ?? (args.circuitBreaker ? d.maxReceiveCountWithBreaker : d.maxReceiveCount);
    const contentBasedDeduplication = args.contentBasedDeduplication ?? d.contentBasedDeduplication;
    return {
        contentBasedDeduplication,
        idempotencyKey: contentBasedDeduplication ? FifoIdempotencyKey.MessageId : FifoIdempotencyKey.DeduplicationId,
        batchSize: args.batchSize ?? d.batchSize,
        visibilityTimeoutSeconds,
        maxReceiveCount,
        messageRetentionSeconds,
        inBatchParallelism: args.inBatchParallelism ?? d.inBatchParallelism,
        timeoutSeconds,
        oldestMessageAgeAlarmSeconds: args.oldestMessageAgeAlarmSeconds ?? d.oldestMessageAgeAlarmSeconds,
        idempotencyExpirySeconds: args.idempotencyExpirySeconds ?? Math.max(messageRetentionSeconds, MIN_FIFO_IDEMPOTENCY_EXPIRY_SECONDS),
        idempotencyLeaseSeconds: timeoutSeconds + 60,
    };
}

/** The shortest idempotency expiry: SQS's own deduplication window, 5 minutes. */
const MIN_FIFO_IDEMPOTENCY_EXPIRY_SECONDS = 300;

/**
 * How long after its first processing a message can still come back: one visibility timeout per receive
 * left, but never past its retention (SQS deletes a message older than that, in flight or not).
 */
function redeliveryWindowSeconds(settings: FifoSettings): number {
    return Math.min(settings.maxReceiveCount * settings.visibilityTimeoutSeconds, settings.messageRetentionSeconds);
}

/**
 * How long after its receive a message whose invocation timed out may still meet its claim: the claim is
 * made up to one timeout after the receive (the batch's earlier messages run first) and leased for
 * timeout + 60 s (the components' idempotency lease).
 */
function claimedRedeliverySeconds(timeoutSeconds: number): number {
    return 2 * timeoutSeconds + 60;
}

/** Whether every redelivery of a message whose invocation timed out could still meet its claim's lease. */
function redeliveriesEndBeforeLease(settings: FifoSettings): boolean {
    const { visibilityTimeoutSeconds: visibility, maxReceiveCount: receives } = settings;
    return Number.isInteger(visibility) && Number.isInteger(receives) && receives >= 2 && visibility >= settings.timeoutSeconds && (receives - 1) * visibility < claimedRedeliverySeconds(settings.timeoutSeconds);
}

/**
 * Fails the deployment when an existing topic, known only then, is in another region than the worker: the
 * subscription is created with the worker's provider, which AWS refuses for a topic of another region, and
 * its delivery DLQ must be in the subscription's region.
 */
function checkTopicRegion(label: string, topicArn: pulumi.Input<string>, parent: pulumi.Resource): void {
    const region = aws.getRegionOutput({}, { parent }).region;
    new Validator(label)
        .check(pulumi.all([topicArn, region]), ([arn, workerRegion]) => {
            const topicRegion = arn.split(":")[3];
            return topicRegion !== undefined && topicRegion !== workerRegion
                ? `topicArn must be a topic in the worker's region (${workerRegion}): SNS subscribes the queue with the worker's provider, and the subscription and its delivery DLQ must be in the topic's region; received ${JSON.stringify(arn)}. Deploy the worker with a provider in ${topicRegion}.`
                : undefined;
        })
        .throwIfInvalid(parent);
}

/** Collects every problem with the arguments; pure. */
export function validateFifoArgs(label: string, args: FifoTopicWorkerArgs, settings: FifoSettings): Validator {
    const validator = new Validator(label);
    validateWorkerFunctionArgs(validator, args.function);
    validateAdaptive(validator, args.adaptiveConcurrency, ControlTarget.SqsMaximumConcurrency, args.maxConcurrency, args.function?.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds);
    validateBreaker(validator, args.circuitBreaker);
    const peak = Math.max(args.maxConcurrency, args.adaptiveConcurrency?.maxConcurrency ?? 0);
    return refuseAbsentChildren(validator, "FifoTopicWorker", args)
        .matches("topicArn", plainValue(args.topicArn), /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+\.fifo$/, "the ARN of an SNS FIFO topic (its name ends in .fifo)")
        .rule(args.maxConcurrency === undefined, "maxConcurrency is required: the event source mapping's maximum concurrency, 2–1000.")
        .integer("maxConcurrency", args.maxConcurrency, 2, 1000)
        .integer("batchSize", args.batchSize, 1, 10)
        .rule(
            args.batchWindowSeconds !== undefined && args.batchWindowSeconds !== 0,
            `batchWindowSeconds must be 0 or unset: AWS does not support batching windows on FIFO queues; received ${args.batchWindowSeconds}.`,
        )
        .integer("visibilityTimeoutSeconds", args.visibilityTimeoutSeconds, 0, 43_200)
        .rule(
            Number.isInteger(settings.visibilityTimeoutSeconds) && settings.visibilityTimeoutSeconds < settings.timeoutSeconds,
            `visibilityTimeoutSeconds must be at least function.timeoutSeconds (${settings.timeoutSeconds}; AWS recommends 6 × = ${6 * settings.timeoutSeconds}), ` +
                `or messages reappear while still being processed; received ${settings.visibilityTimeoutSeconds}.`,
        )
        .integer("maxReceiveCount", args.maxReceiveCount, 1, 1000)
        .rule(
            args.function?.wrap !== false && redeliveriesEndBeforeLease(settings),
            `visibilityTimeoutSeconds × (maxReceiveCount − 1) must be at least 2 × function.timeoutSeconds + 60 = ${claimedRedeliverySeconds(settings.timeoutSeconds)} s ` +
                `(the idempotency lease of timeout + 60 s, from a claim up to one timeout after the receive): a message whose invocation timed out comes back once per visibility timeout ` +
                `and is refused as in flight until the lease passes, so it would reach the DLQ without running again; ` +
                `received ${settings.visibilityTimeoutSeconds} × ${settings.maxReceiveCount - 1} = ${settings.visibilityTimeoutSeconds * (settings.maxReceiveCount - 1)}.`,
        )
        .rule(
            args.circuitBreaker !== undefined && typeof args.maxReceiveCount === "number" && args.maxReceiveCount < FIFO_TOPIC_WORKER_DEFAULTS.maxReceiveCountWithBreaker,
            `maxReceiveCount must be at least ${FIFO_TOPIC_WORKER_DEFAULTS.maxReceiveCountWithBreaker} with circuitBreaker: every failed half-open probe uses up one receive of a waiting message, and at maxReceiveCount the message moves to the DLQ while its group goes on without it; received ${args.maxReceiveCount}.`,
        )
        .integer("messageRetentionSeconds", args.messageRetentionSeconds, 60, MAX_RETENTION_SECONDS)
        .integer("inBatchParallelism", args.inBatchParallelism, 1, 10)
        .integer("oldestMessageAgeAlarmSeconds", args.oldestMessageAgeAlarmSeconds, 60, MAX_RETENTION_SECONDS)
        .integer("idempotencyExpirySeconds", args.idempotencyExpirySeconds, MIN_FIFO_IDEMPOTENCY_EXPIRY_SECONDS, MAX_RETENTION_SECONDS)
        .rule(
            Number.isInteger(settings.idempotencyExpirySeconds) && settings.idempotencyExpirySeconds < redeliveryWindowSeconds(settings),
            `idempotencyExpirySeconds must cover the redeliveries of a message: maxReceiveCount × visibilityTimeoutSeconds = ${settings.maxReceiveCount * settings.visibilityTimeoutSeconds}, ` +
                `or messageRetentionSeconds (${settings.messageRetentionSeconds}) when that is shorter; received ${settings.idempotencyExpirySeconds}.`,
        )
        .integer("reservedConcurrency", args.reservedConcurrency, 1, 1_000_000)
        .rule(
            args.reservedConcurrency !== undefined && Number.isInteger(peak) && args.reservedConcurrency < peak,
            `reservedConcurrency must be at least maxConcurrency${args.adaptiveConcurrency ? " (its adaptive maximum)" : ""} (${peak}), or throttled messages return to the queue until they reach the DLQ; received ${args.reservedConcurrency}.`,
        )
        .rule(args.adaptiveConcurrency !== undefined && args.function?.wrap === false, "adaptiveConcurrency needs function.wrap: the runtime wrapper records the downstream statistics it steers by.")
        .rule(args.circuitBreaker !== undefined && args.function?.wrap === false, "circuitBreaker needs function.wrap: the runtime wrapper feeds the breaker and fails the batch while it is open.");
}

function fifoStatements(queue: aws.sqs.Queue, table: aws.dynamodb.Table): PolicyStatementArgs[] {
    return [
        { actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"], resources: [queue.arn] },
        { actions: TABLE_ITEM_ACTIONS, resources: [table.arn] },
    ];
}

function fifoAlarms(fn: aws.lambda.Function, queue: aws.sqs.Queue, dlqs: FifoDeadLetterQueues, settings: FifoSettings): AlarmSpec[] {
    return [
        queueNotEmptyAlarm("dlq-not-empty", dlqs.processing, "Messages failed maxReceiveCount times and wait in the FIFO dead-letter queue; their groups moved on without them."),
        queueNotEmptyAlarm(
            "delivery-dlq-not-empty",
            dlqs.delivery,
            "SNS could not deliver messages to the worker queue (its policy or its KMS key refused them); they wait in the delivery dead-letter queue and never reached the worker.",
        ),
        {
            id: "oldest-message-age",
            description: `The oldest waiting message is older than ${settings.oldestMessageAgeAlarmSeconds} s: the workers do not keep up or a group is blocked.`,
            namespace: "AWS/SQS",
            metricName: "ApproximateAgeOfOldestMessage",
            dimensions: { QueueName: queue.name },
            statistic: "Maximum",
            threshold: settings.oldestMessageAgeAlarmSeconds,
        },
        ...functionAlarms(fn, "the failed messages and the rest of their groups return to the queue, then reach the DLQ."),
    ];
}

function fifoWidgets(name: string, fn: aws.lambda.Function, queue: aws.sqs.Queue, dlqs: FifoDeadLetterQueues, maxConcurrency: number): WidgetSpec[] {
    return [
        ...functionWidgets(name, fn, `Concurrency in use (ESM maximum ${maxConcurrency})`),
        {
            title: "Backlog: oldest message age, visible and dead-lettered messages",
            metrics: pulumi.all([queue.name, dlqs.processing.name, dlqs.delivery.name]).apply(([q, d, undelivered]): MetricLine[] => [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q, { stat: "Maximum" }],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { stat: "Maximum", yAxis: "right" }],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", d, { stat: "Maximum", yAxis: "right" }],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", undelivered, { stat: "Maximum", yAxis: "right" }],
            ]),
        },
    ];
}
