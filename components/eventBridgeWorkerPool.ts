import * as aws from "@pulumi/aws";
import { operationsManifest } from "./internal/operations";
import * as pulumi from "@pulumi/pulumi";
import { adaptiveAlarm, adaptiveChildren, AdaptiveConcurrencyArgs, AdaptiveTransformArgs, adaptiveWidget, attachAdaptive, prepareAdaptive, statisticsStatement, validateAdaptive } from "./adaptiveConcurrency";
import { reserveConcurrency } from "./internal/budget";
import { ControlTarget } from "./internal/control";
import { PolicyStatementArgs } from "./internal/iam";
import { AlarmSpec, claimDashboardName, createAlarms, createDashboard, MetricLine, RUNTIME_METRIC_NAMESPACE, WidgetSpec } from "./internal/observability";
import { functionAlarms, functionWidgets, queueNotEmptyAlarm } from "./internal/workerAlarms";
import { attachQueuePolicy, createQueue } from "./internal/queues";
import { createTable, TABLE_ITEM_ACTIONS } from "./internal/tables";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches, workerChildren, WorkerTransformArgs } from "./internal/escapeHatches";
import { workerEnvironment } from "./internal/workerEnvironment";
import { componentLabel, deriveInput, Validator } from "./internal/validation";
import { eventPatternJson } from "./internal/eventPatterns";
import { createWorkerFunction, mergeEnvironments, validateWorkerFunctionArgs, WORKER_FUNCTION_DEFAULTS, WorkerFunctionArgs } from "./internal/workerFunction";
import { EVENTBRIDGE_WORKER_POOL_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { refuseAbsentChildren } from "./internal/optionalChildren";

/** Defaults of {@link EventBridgeWorkerPoolArgs}. */
export const EVENTBRIDGE_WORKER_POOL_DEFAULTS = {
    eventBusName: "default",
    maxRetryAttempts: 2,
    maxEventAgeSeconds: 21_600,
    targetMaxRetryAttempts: 185,
    targetMaxEventAgeSeconds: 86_400,
} as const;

/** `transform` entries of an {@link EventBridgeWorkerPool}: plain objects merged into that child's args. */
export interface EventBridgeWorkerPoolTransformArgs extends WorkerTransformArgs, AdaptiveTransformArgs {
    /**
     * Merged into the rule's args (`aws.cloudwatch.EventRuleArgs`).
     * @default none
     * @example { description: "orders to the ERP pool" }
     */
    rule?: { [key: string]: any };
    /**
     * Merged into the rule target's args (`aws.cloudwatch.EventTargetArgs`).
     * @default none
     * @example { inputPath: "$.detail" }
     */
    target?: { [key: string]: any };
    /**
     * Merged into the dead-letter queue's args (`aws.sqs.QueueArgs`).
     * @default none
     * @example { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false }
     */
    deadLetterQueue?: { [key: string]: any };
}

export interface EventBridgeWorkerPoolArgs extends EscapeHatchArgs {
    /**
     * The worker function. With `wrap` on (the default) the handler is a plain
     * `(event, ctx) => result` and runs at most once per event id.
     * @example { handler: "handlers/orders.handle", timeoutSeconds: 60 }
     */
    function: WorkerFunctionArgs;
    /**
     * EventBridge event pattern that selects the events to process; at most 2,048 characters as JSON,
     * EventBridge's default quota (up to 4,096 warns that only a raised quota takes it; more fails the
     * deployment).
     * @example { source: ["shop.orders"], "detail-type": ["OrderPlaced"] }
     */
    eventPattern: pulumi.Input<{ [key: string]: any }>;
    /**
     * Name of the event bus the rule listens on.
     * @default "default"
     * @example "shop-events"
     */
    eventBusName?: pulumi.Input<string>;
    /**
     * Reserved concurrency of the function, 1–1000000: the size of the "thread pool", i.e. the most calls the
     * downstream ever sees at once. Taken out of the account's regional pool and checked against the
     * concurrency budget (at least 100 must stay unreserved). May come from another stack (an Output): it is
     * then checked, and counted in the budget, when it resolves.
     * @example 10
     */
    reservedConcurrency: pulumi.Input<number>;
    /**
     * Lambda asynchronous retries after a function error, 0–2.
     * @default 2
     * @example 0
     */
    maxRetryAttempts?: number;
    /**
     * How long Lambda keeps retrying an event (throttles included), 60–21600 s.
     * @default 21600
     * @example 3600
     */
    maxEventAgeSeconds?: number;
    /**
     * EventBridge retries when it cannot hand the event to Lambda, 0–185.
     * @default 185
     * @example 10
     */
    targetMaxRetryAttempts?: number;
    /**
     * How long EventBridge keeps retrying the hand-off, 60–86400 s.
     * @default 86400
     * @example 3600
     */
    targetMaxEventAgeSeconds?: number;
    /**
     * How long a processed event id is remembered, up to 31536000 s. Must cover the redelivery window
     * (`targetMaxEventAgeSeconds + maxEventAgeSeconds`) or late duplicates run again.
     * @default targetMaxEventAgeSeconds + maxEventAgeSeconds (108000 with the defaults)
     * @example 172800
     */
    idempotencyExpirySeconds?: number;
    /**
     * How long an in-progress claim blocks duplicates before another invocation may take it over, up to
     * 86400 s. At least the function timeout, so a running invocation is never taken over.
     * @default function.timeoutSeconds + 60 (90 with the default timeout)
     * @example 300
     */
    idempotencyLeaseSeconds?: number;
    /**
     * Throttled invocations per minute above which the throttle alarm fires (3 minutes in a row).
     * A pool at its limit throttles by design; the async queue absorbs it.
     * @default 0
     * @example 50
     */
    throttleAlarmThreshold?: number;
    /**
     * SNS topic ARNs notified when an alarm fires or recovers.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Let the pool size follow the downstream: reserved concurrency moves between the bounds with
     * downstream latency and error rate. `reservedConcurrency` is the starting size; the budget counts
     * `maxConcurrency`. Later `pulumi up` runs leave the managed size alone.
     * @default none (the pool stays at `reservedConcurrency`)
     * @example { mode: "Controller", minConcurrency: 2, maxConcurrency: 50, latencyTargetMs: 200 }
     */
    adaptiveConcurrency?: AdaptiveConcurrencyArgs;
    /**
     * Escape hatch: plain objects merged into one child's args each (function, role, logGroup, table,
     * rule, target, deadLetterQueue, controlTable), and under `adaptiveController` those of the adaptive controller
     * (function, role, logGroup, rule). For code-level changes from TypeScript, Pulumi's own `transforms`
     * resource option also reaches every child.
     * @default none
     * @example { function: { description: "orders pool" }, role: { permissionsBoundary: boundary.arn } }
     * @example { adaptiveController: { role: { permissionsBoundary: boundary.arn } } } // with adaptiveConcurrency mode "Controller"
     */
    transform?: EventBridgeWorkerPoolTransformArgs;
}

/**
 * Pattern 1, reserved concurrency as a thread pool: EventBridge → Lambda with reserved concurrency.
 *
 * Both retry layers end in one encrypted dead-letter queue (EventBridge target DLQ and the Lambda
 * on-failure destination), and the wrapper makes processing idempotent on the event id in DynamoDB,
 * because asynchronous delivery is at-least-once. Alarms and a dashboard come with it.
 *
 * @example
 * const pool = new EventBridgeWorkerPool("orders", {
 *     function: { handler: "handlers/orders.handle" },
 *     eventPattern: { source: ["shop.orders"] },
 *     reservedConcurrency: 10,
 * });
 */
export class EventBridgeWorkerPool extends pulumi.ComponentResource {
    /** The worker function. */
    public readonly function: aws.lambda.Function;
    /** The worker function's role (add policies to it for what the handler calls). */
    public readonly role: aws.iam.Role;
    /** The worker function's log group. */
    public readonly logGroup: aws.cloudwatch.LogGroup;
    /** The rule that selects the events. */
    public readonly rule: aws.cloudwatch.EventRule;
    /** Where events end after both retry layers fail. */
    public readonly deadLetterQueue: aws.sqs.Queue;
    /** Processed and in-progress event ids. */
    public readonly idempotencyTable: aws.dynamodb.Table;
    /** The pool size: the function's reserved concurrency (the starting size with adaptive concurrency). */
    public readonly reservedConcurrency: pulumi.Output<number>;
    /** The most concurrent downstream calls the pool can make (one per execution; adaptive: its maximum). */
    public readonly maxDownstreamConcurrency: pulumi.Output<number>;
    /** The CloudWatch dashboard name. */
    public readonly dashboardName: pulumi.Output<string>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: EventBridgeWorkerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:EventBridgeWorkerPool", name, {}, withEscapeHatches(opts, args, poolChildren(name)));
        checkConstruction(EVENTBRIDGE_WORKER_POOL_ARGUMENTS, name, args);
        const label = componentLabel("EventBridgeWorkerPool", name);
        const settings = resolvePoolSettings(args);
        validatePoolArgs(label, args, settings).throwIfInvalid(this);
        claimDashboardName(name, label, this);
        const adaptive = args.adaptiveConcurrency;
        const peakConcurrency = deriveInput(args.reservedConcurrency, (size) => Math.max(size, adaptive?.maxConcurrency ?? 0));
        reserveConcurrency(this, { component: label, concurrency: peakConcurrency });
        const control = adaptive ? prepareAdaptive(name, adaptive, ControlTarget.ReservedConcurrency, {}, this) : undefined;

        this.deadLetterQueue = createQueue(`${name}-dlq`, {}, this);
        this.idempotencyTable = createTable(`${name}-idempotency`, { hashKey: "id" }, this);
        const worker = createWorkerFunction(
            name,
            args.function,
            {
                label,
                wrapper: { module: "eventBridgeWorker", exportName: "eventBridgeWorker" },
                environment: mergeEnvironments(workerEnvironment(name, this.idempotencyTable, settings), control?.environment),
                statements: [...poolStatements(this.idempotencyTable, this.deadLetterQueue), ...(control ? [statisticsStatement(control)] : [])],
                reservedConcurrency: args.reservedConcurrency,
                activations: control ? [control.activation] : undefined,
                ignoreChanges: control ? ["reservedConcurrentExecutions"] : undefined,
                functionPatch: args.transform?.function,
            },
            this,
        );
        ({ function: this.function, role: this.role, logGroup: this.logGroup } = worker);
        new aws.lambda.FunctionEventInvokeConfig(
            `${name}-async`,
            {
                functionName: this.function.name,
                maximumRetryAttempts: settings.maxRetryAttempts,
                maximumEventAgeInSeconds: settings.maxEventAgeSeconds,
                destinationConfig: { onFailure: { destination: this.deadLetterQueue.arn } },
            },
            { parent: this },
        );
        if (adaptive && control) {
            attachAdaptive(name, adaptive, control, { label, target: ControlTarget.ReservedConcurrency, function: this.function, role: worker.role, alarmActions: args.alarmActions, controllerTransform: args.transform?.adaptiveController }, this);
        }
        this.rule = this.createRuleAndTarget(name, args, settings);
        attachQueuePolicy(`${name}-dlq-policy`, this.deadLetterQueue, [{ service: "events.amazonaws.com", sourceArn: this.rule.arn }], this);
        const alarms = poolAlarms(this.function, this.deadLetterQueue, args, settings);
        createAlarms(name, adaptive ? [...alarms, adaptiveAlarm(name)] : alarms, args.alarmActions, this);
        const widgets = poolWidgets(name, this.function, this.deadLetterQueue, args.reservedConcurrency);
        const dashboard = createDashboard(name, adaptive ? [...widgets, adaptiveWidget(name)] : widgets, this);

        this.reservedConcurrency = pulumi.output(args.reservedConcurrency);
        this.maxDownstreamConcurrency = pulumi.output(peakConcurrency);
        this.dashboardName = dashboard.dashboardName;
        this.operations = operationsManifest(this, {
            componentType: "EventBridgeWorkerPool",
            name,
            functionName: this.function.name,
            idempotencyTableName: this.idempotencyTable.name,
            deadLetterQueue: { url: this.deadLetterQueue.url, arn: this.deadLetterQueue.arn },
            dashboardName: this.dashboardName,
            controller: adaptive && control && { mode: adaptive.mode, tableName: control.table.name, target: { kind: ControlTarget.ReservedConcurrency, functionName: this.function.name } },
        });
        this.registerOutputs({
            function: this.function,
            role: this.role,
            logGroup: this.logGroup,
            rule: this.rule,
            deadLetterQueue: this.deadLetterQueue,
            idempotencyTable: this.idempotencyTable,
            reservedConcurrency: this.reservedConcurrency,
            maxDownstreamConcurrency: this.maxDownstreamConcurrency,
            dashboardName: this.dashboardName,
            operations: this.operations,
        });
    }

    private createRuleAndTarget(name: string, args: EventBridgeWorkerPoolArgs, settings: PoolSettings): aws.cloudwatch.EventRule {
        const eventBusName = args.eventBusName ?? EVENTBRIDGE_WORKER_POOL_DEFAULTS.eventBusName;
        const rule = new aws.cloudwatch.EventRule(
            `${name}-rule`,
            { eventBusName, eventPattern: eventPatternJson(componentLabel("EventBridgeWorkerPool", name), "eventPattern", args.eventPattern, this, "match fewer values, or split it over several pools"), state: "ENABLED" },
            { parent: this },
        );
        const permission = new aws.lambda.Permission(
            `${name}-invoke`,
            { action: "lambda:InvokeFunction", function: this.function.name, principal: "events.amazonaws.com", sourceArn: rule.arn },
            { parent: this },
        );
        new aws.cloudwatch.EventTarget(
            `${name}-target`,
            {
                rule: rule.name,
                eventBusName,
                arn: this.function.arn,
                retryPolicy: {
                    maximumRetryAttempts: settings.targetMaxRetryAttempts,
                    maximumEventAgeInSeconds: settings.targetMaxEventAgeSeconds,
                },
                deadLetterConfig: { arn: this.deadLetterQueue.arn },
            },
            { parent: this, dependsOn: [permission] },
        );
        return rule;
    }
}

/** The children `transform` can reach, by key (`adaptiveController` goes to the adaptive controller). */
function poolChildren(name: string): ChildCatalog<Exclude<keyof EventBridgeWorkerPoolTransformArgs, "adaptiveController">> {
    return {
        ...workerChildren(name),
        rule: { type: CHILD_TYPES.rule, name: `${name}-rule` },
        target: { type: CHILD_TYPES.eventTarget, name: `${name}-target` },
        deadLetterQueue: { type: CHILD_TYPES.queue, name: `${name}-dlq` },
        ...adaptiveChildren(name),
    };
}

/** Every setting of the pool with its default applied. */
export interface PoolSettings {
    maxRetryAttempts: number;
    maxEventAgeSeconds: number;
    targetMaxRetryAttempts: number;
    targetMaxEventAgeSeconds: number;
    /** `targetMaxEventAgeSeconds + maxEventAgeSeconds`: how long duplicates can keep arriving. */
    redeliveryWindowSeconds: number;
    idempotencyExpirySeconds: number;
    idempotencyLeaseSeconds: number;
    timeoutSeconds: number;
}

/** Applies the defaults; pure. */
export function resolvePoolSettings(args: EventBridgeWorkerPoolArgs): PoolSettings {
    const d = EVENTBRIDGE_WORKER_POOL_DEFAULTS;
    const maxEventAgeSeconds = args.maxEventAgeSeconds ?? d.maxEventAgeSeconds;
    const targetMaxEventAgeSeconds = args.targetMaxEventAgeSeconds ?? d.targetMaxEventAgeSeconds;
    const timeoutSeconds = args.function?.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds;
    const redeliveryWindowSeconds = targetMaxEventAgeSeconds + maxEventAgeSeconds;
    return {
        maxRetryAttempts: args.maxRetryAttempts ?? d.maxRetryAttempts,
        maxEventAgeSeconds,
        targetMaxRetryAttempts: args.targetMaxRetryAttempts ?? d.targetMaxRetryAttempts,
        targetMaxEventAgeSeconds,
        redeliveryWindowSeconds,
        idempotencyExpirySeconds: args.idempotencyExpirySeconds ?? redeliveryWindowSeconds,
        idempotencyLeaseSeconds: args.idempotencyLeaseSeconds ?? timeoutSeconds + 60,
        timeoutSeconds,
    };
}

/** Collects every problem with the arguments; pure. */
export function validatePoolArgs(label: string, args: EventBridgeWorkerPoolArgs, settings: PoolSettings): Validator {
    const validator = new Validator(label);
    validateWorkerFunctionArgs(validator, args.function);
    validator
        .eventPattern("eventPattern", args.eventPattern)
        .integer("reservedConcurrency", args.reservedConcurrency, 1, 1_000_000)
        .integer("maxRetryAttempts", args.maxRetryAttempts, 0, 2)
        .integer("maxEventAgeSeconds", args.maxEventAgeSeconds, 60, 21_600)
        .integer("targetMaxRetryAttempts", args.targetMaxRetryAttempts, 0, 185)
        .integer("targetMaxEventAgeSeconds", args.targetMaxEventAgeSeconds, 60, 86_400)
        .integer("idempotencyExpirySeconds", args.idempotencyExpirySeconds, 1, 31_536_000)
        .integer("idempotencyLeaseSeconds", args.idempotencyLeaseSeconds, 1, 86_400)
        .integer("throttleAlarmThreshold", args.throttleAlarmThreshold, 0, 1_000_000)
        .rule(args.adaptiveConcurrency !== undefined && args.function?.wrap === false, "adaptiveConcurrency needs function.wrap: the runtime wrapper records the downstream statistics it steers by.")
        .rule(
            Number.isInteger(settings.idempotencyExpirySeconds) && settings.idempotencyExpirySeconds < settings.redeliveryWindowSeconds,
            `idempotencyExpirySeconds must be at least the redelivery window of ${settings.redeliveryWindowSeconds} s ` +
                `(EventBridge retries for targetMaxEventAgeSeconds ${settings.targetMaxEventAgeSeconds} s, then Lambda retries for ` +
                `maxEventAgeSeconds ${settings.maxEventAgeSeconds} s), or a late duplicate runs again; received ${settings.idempotencyExpirySeconds}.`,
        )
        .rule(
            Number.isInteger(settings.idempotencyLeaseSeconds) && settings.idempotencyLeaseSeconds < settings.timeoutSeconds,
            `idempotencyLeaseSeconds must be at least function.timeoutSeconds (${settings.timeoutSeconds}), or a running invocation ` +
                `could be taken over by a duplicate; received ${settings.idempotencyLeaseSeconds}.`,
        );
    validateAdaptive(validator, args.adaptiveConcurrency, ControlTarget.ReservedConcurrency, args.reservedConcurrency, args.function?.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds);
    return refuseAbsentChildren(validator, "EventBridgeWorkerPool", args);
}

function poolStatements(table: aws.dynamodb.Table, dlq: aws.sqs.Queue): PolicyStatementArgs[] {
    return [
        { actions: TABLE_ITEM_ACTIONS, resources: [table.arn] },
        // The on-failure destination is written with the function's own role.
        { actions: ["sqs:SendMessage"], resources: [dlq.arn] },
    ];
}

function poolAlarms(fn: aws.lambda.Function, dlq: aws.sqs.Queue, args: EventBridgeWorkerPoolArgs, settings: PoolSettings): AlarmSpec[] {
    const lambda = { namespace: "AWS/Lambda", dimensions: { FunctionName: fn.name } };
    const [errors, throttles] = functionAlarms(fn, "Lambda retries them, then sends them to the DLQ.", args.throttleAlarmThreshold ?? 0);
    return [
        queueNotEmptyAlarm("dlq-not-empty", dlq, "Events failed both retry layers and wait in the dead-letter queue: inspect, fix, redrive."),
        { ...throttles, description: "The pool has been throttling for 3 minutes: events queue up and age; raise reservedConcurrency if the downstream allows." },
        {
            ...lambda,
            id: "async-event-age",
            description: "Events wait more than half of maxEventAgeSeconds before they run; they will soon be dropped to the DLQ.",
            metricName: "AsyncEventAge",
            statistic: "Maximum",
            threshold: (settings.maxEventAgeSeconds * 1000) / 2,
        },
        {
            ...lambda,
            id: "async-events-dropped",
            description: "Lambda dropped asynchronous events (age or retries exhausted); they went to the DLQ.",
            metricName: "AsyncEventsDropped",
            statistic: "Sum",
            threshold: 0,
        },
        errors,
    ];
}

function poolWidgets(name: string, fn: aws.lambda.Function, dlq: aws.sqs.Queue, reserved: pulumi.Input<number>): WidgetSpec[] {
    return [
        ...functionWidgets(name, fn, pulumi.interpolate`Concurrency in use (pool size ${reserved})`),
        {
            title: "Async event age and dead-letter queue",
            metrics: pulumi.all([fn.name, dlq.name]).apply(([f, q]): MetricLine[] => [
                ["AWS/Lambda", "AsyncEventAge", "FunctionName", f, { stat: "Maximum" }],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { stat: "Maximum", yAxis: "right" }],
            ]),
        },
        {
            title: "Duplicates skipped and in flight",
            metrics: pulumi.output<MetricLine[]>([
                [RUNTIME_METRIC_NAMESPACE, "DuplicatesSkipped", "Worker", name],
                [RUNTIME_METRIC_NAMESPACE, "InFlightDuplicates", "Worker", name],
            ]),
        },
    ];
}
