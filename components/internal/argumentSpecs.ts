/**
 * The argument contract of every component, one line per argument, mirroring the Args interfaces
 * (tests/components/arguments.test.ts compares each spec with the inferred multi-language schema, so an
 * argument added to an interface without its line here fails that test). Adding an argument is adding
 * its line: `tags: map(text()),`.
 */
import type { NamedComponent } from "./componentNames";
import { anyValue, ArgumentFields, ArgumentSpec as GenericSpec, expecting, flag, input, list, map, numeric, object, required, text } from "./argumentSpec";

/** A component's contract, named by its class. */
export type ArgumentSpec = GenericSpec & { component: NamedComponent };

/** `PolicyStatementArgs`. */
const POLICY_STATEMENT = object({
    effect: text(),
    actions: required(list(text())),
    resources: required(list(input(text()))),
});

/** `WorkerVpcArgs`. */
const WORKER_VPC = object({
    subnetIds: required(input(list(input(text())))),
    securityGroupIds: required(input(list(input(text())))),
});

/** `WorkerFunctionArgs`. */
const WORKER_FUNCTION = object({
    handler: required(text(), '"path/module.exportName"'),
    timeoutSeconds: numeric(),
    memorySize: numeric(),
    environment: input(map(input(text()))),
    policyStatements: list(input(POLICY_STATEMENT)),
    architecture: text(),
    logRetentionDays: numeric(),
    vpc: WORKER_VPC,
    wrap: flag(),
    bundleAwsSdk: flag(),
    layers: list(input(text())),
    tracingMode: text(),
    ephemeralStorageMb: numeric(),
    runtime: text(),
});

/** `EscapeHatchArgs.tags`. */
const TAGS = input(map(input(text())));

/**
 * A `transform` argument: per child key, a plain object merged into that child's args (its values may be Outputs,
 * as a child's own args may: `{ role: { permissionsBoundary: boundary.arn } }`); `nested` adds the `transform` of a
 * nested component under its own key.
 */
function transformOf(children: readonly string[], nested: ArgumentFields = {}): ReturnType<typeof object> {
    return object({ ...Object.fromEntries(children.map((child) => [child, map(input(anyValue()))])), ...nested });
}

/** `WorkerTransformArgs`: the children every worker has. */
const WORKER_CHILDREN = ["function", "role", "logGroup", "table"] as const;

/** `ControllerFunctionTransformArgs`: the children of every scheduled controller. */
const CONTROLLER_FUNCTION_CHILDREN = ["function", "role", "logGroup", "rule"] as const;

/** `AdaptiveTransformArgs`: a worker's `transform.adaptiveController`, the adaptive controller's children. */
const ADAPTIVE_TRANSFORM: ArgumentFields = { adaptiveController: transformOf(CONTROLLER_FUNCTION_CHILDREN) };

/** `AdaptiveTransformArgs`: the worker's control table (either mode). */
const ADAPTIVE_CHILDREN = ["controlTable"] as const;

/** `BreakerTransformArgs`: the breaker's prober, its role and its table. */
const BREAKER_CHILDREN = ["prober", "proberRole", "breakerTable"] as const;

/** `ControlTuningArgs`: shared by `ConcurrencyController` and `adaptiveConcurrency`. */
const CONTROL_TUNING: ArgumentFields = {
    minConcurrency: required(numeric()),
    maxConcurrency: required(numeric()),
    latencyTargetMs: numeric(),
    errorRateThreshold: numeric(),
    downstream: text(),
    dryRun: flag(),
};

/** `SharedControlPlaneBudgetArgs`: a `ControlPlaneBudget`'s table, given to a controller or a self-tuning worker. */
const SHARED_CONTROL_PLANE_BUDGET = object({
    tableName: required(input(text())),
    tableArn: required(input(text())),
    requestsPerSecond: numeric(),
});

/** `AdaptiveConcurrencyArgs`. */
const ADAPTIVE_CONCURRENCY = object({
    ...CONTROL_TUNING,
    mode: required(text()),
    intervalMinutes: numeric(),
    controlPlaneBudget: SHARED_CONTROL_PLANE_BUDGET,
});

/** `CircuitBreakerArgs`. */
const CIRCUIT_BREAKER = object({
    errorThreshold: numeric(),
    minRequests: numeric(),
    windowSeconds: numeric(),
    openSeconds: numeric(),
    maxOpenSeconds: numeric(),
    successThreshold: numeric(),
    probeIntervalMinutes: numeric(),
});

/** SNS topic ARNs, as every component takes them. */
const ALARM_ACTIONS = input(list(input(text())));

/** An object whose values may be anything (an event pattern, an ASL definition). */
const JSON_OBJECT = input(map(anyValue()));

/** An EventBridge event pattern. */
const EVENT_PATTERN = expecting(JSON_OBJECT, 'a non-empty object such as { source: ["shop.orders"] }');

export const EVENTBRIDGE_WORKER_POOL_ARGUMENTS: ArgumentSpec = {
    component: "EventBridgeWorkerPool",
    fields: {
        function: required(WORKER_FUNCTION),
        eventPattern: required(EVENT_PATTERN),
        eventBusName: input(text()),
        reservedConcurrency: required(input(numeric())),
        maxRetryAttempts: numeric(),
        maxEventAgeSeconds: numeric(),
        targetMaxRetryAttempts: numeric(),
        targetMaxEventAgeSeconds: numeric(),
        idempotencyExpirySeconds: numeric(),
        idempotencyLeaseSeconds: numeric(),
        throttleAlarmThreshold: numeric(),
        alarmActions: ALARM_ACTIONS,
        adaptiveConcurrency: ADAPTIVE_CONCURRENCY,
        tags: TAGS,
        transform: transformOf([...WORKER_CHILDREN, ...ADAPTIVE_CHILDREN, ...["rule", "target", "deadLetterQueue"]], ADAPTIVE_TRANSFORM),
    },
};

export const KINESIS_ORDERED_WORKER_ARGUMENTS: ArgumentSpec = {
    component: "KinesisOrderedWorker",
    fields: {
        function: required(WORKER_FUNCTION),
        streamArn: input(text()),
        shardCount: input(numeric()),
        onDemand: flag(),
        retentionHours: numeric(),
        batchSize: numeric(),
        batchWindowSeconds: numeric(),
        parallelizationFactor: numeric(),
        startingPosition: text(),
        bisectOnError: flag(),
        maxRetryAttempts: numeric(),
        maxRecordAgeSeconds: numeric(),
        inBatchParallelism: numeric(),
        kplDeaggregation: flag(),
        reservedConcurrency: numeric(),
        idempotencyExpirySeconds: numeric(),
        alarmActions: ALARM_ACTIONS,
        adaptiveConcurrency: ADAPTIVE_CONCURRENCY,
        circuitBreaker: CIRCUIT_BREAKER,
        tags: TAGS,
        transform: transformOf([...WORKER_CHILDREN, ...ADAPTIVE_CHILDREN, ...BREAKER_CHILDREN, ...["stream", "eventSourceMapping", "failureQueue"]], ADAPTIVE_TRANSFORM),
    },
};

export const FIFO_TOPIC_WORKER_ARGUMENTS: ArgumentSpec = {
    component: "FifoTopicWorker",
    fields: {
        function: required(WORKER_FUNCTION),
        topicArn: input(text()),
        contentBasedDeduplication: flag(),
        maxConcurrency: required(numeric(), "the event source mapping's maximum concurrency, 2–1000"),
        batchSize: numeric(),
        batchWindowSeconds: numeric(),
        visibilityTimeoutSeconds: numeric(),
        maxReceiveCount: numeric(),
        messageRetentionSeconds: numeric(),
        inBatchParallelism: numeric(),
        reservedConcurrency: numeric(),
        idempotencyExpirySeconds: numeric(),
        oldestMessageAgeAlarmSeconds: numeric(),
        alarmActions: ALARM_ACTIONS,
        adaptiveConcurrency: ADAPTIVE_CONCURRENCY,
        circuitBreaker: CIRCUIT_BREAKER,
        tags: TAGS,
        transform: transformOf([...WORKER_CHILDREN, ...ADAPTIVE_CHILDREN, ...BREAKER_CHILDREN, ...["topic", "queue", "deadLetterQueue", "deliveryDeadLetterQueue", "eventSourceMapping"]], ADAPTIVE_TRANSFORM),
    },
};

export const CONCURRENCY_CONTROLLER_ARGUMENTS: ArgumentSpec = {
    component: "ConcurrencyController",
    fields: {
        ...CONTROL_TUNING,
        target: required(text()),
        functionName: required(input(text())),
        eventSourceMappingArn: input(text()),
        eventSourceArn: input(text()),
        queueName: input(text()),
        shardCount: input(numeric()),
        schedule: text(),
        tableName: input(text()),
        tableArn: input(text()),
        workerName: text(),
        alarmActions: ALARM_ACTIONS,
        controlPlaneBudget: SHARED_CONTROL_PLANE_BUDGET,
        tags: TAGS,
        transform: transformOf([...CONTROLLER_FUNCTION_CHILDREN, "table"]),
    },
};

export const CONCURRENCY_CONTROLLER_GROUP_ARGUMENTS: ArgumentSpec = {
    component: "ConcurrencyControllerGroup",
    fields: {
        targets: required(
            list(
                object({
                    ...CONTROL_TUNING,
                    name: required(text()),
                    target: required(text()),
                    functionName: required(input(text())),
                    eventSourceMappingArn: input(text()),
                    eventSourceArn: input(text()),
                    queueName: input(text()),
                    shardCount: input(numeric()),
                }),
            ),
            "one entry per setting to drive, 1–166",
        ),
        schedule: text(),
        tableName: input(text()),
        tableArn: input(text()),
        alarmActions: ALARM_ACTIONS,
        controlPlaneBudget: SHARED_CONTROL_PLANE_BUDGET,
        tags: TAGS,
        transform: transformOf([...CONTROLLER_FUNCTION_CHILDREN, "table"]),
    },
};

export const CONTROL_PLANE_BUDGET_ARGUMENTS: ArgumentSpec = {
    component: "ControlPlaneBudget",
    fields: {
        pointInTimeRecovery: flag(),
        tags: TAGS,
        transform: transformOf(["table"]),
    },
};

/** `StepFunctionsSemaphoreArgs`: also the base of `SemaphoreStateMachineArgs`. */
const SEMAPHORE_FIELDS: ArgumentFields = {
    limit: required(input(numeric())),
    maxHoldSeconds: numeric(),
    waitTimeoutSeconds: numeric(),
    heartbeatSeconds: numeric(),
    sweepIntervalMinutes: numeric(),
    alarmActions: ALARM_ACTIONS,
};

/** `StepFunctionsSemaphoreTransformArgs`: the table, the queue, the four functions and their roles. */
const SEMAPHORE_CHILDREN = ["table", "deadLetterQueue", "acquire", "release", "cleanup", "sweeper", "acquireRole", "releaseRole", "cleanupRole", "sweeperRole"] as const;

export const STEP_FUNCTIONS_SEMAPHORE_ARGUMENTS: ArgumentSpec = {
    component: "StepFunctionsSemaphore",
    fields: {
        ...SEMAPHORE_FIELDS,
        protectedStateMachineArns: input(list(input(text()))),
        tags: TAGS,
        transform: transformOf(SEMAPHORE_CHILDREN),
    },
};

export const SEMAPHORE_STATE_MACHINE_ARGUMENTS: ArgumentSpec = {
    component: "SemaphoreStateMachine",
    fields: {
        ...SEMAPHORE_FIELDS,
        definition: required(expecting(JSON_OBJECT, "an object with StartAt and States")),
        type: text(),
        policyStatements: list(input(POLICY_STATEMENT)),
        tags: TAGS,
        transform: transformOf(["stateMachine", "role", "logGroup"], { semaphore: transformOf(SEMAPHORE_CHILDREN) }),
    },
};

export const ISOLATED_WORKLOAD_ACCOUNT_ARGUMENTS: ArgumentSpec = {
    component: "IsolatedWorkloadAccount",
    fields: {
        accountName: text(),
        email: text(),
        accountId: text(),
        parentId: input(text()),
        roleName: text(),
        region: required(text()),
        lambdaConcurrencyQuota: numeric(),
        lambdaConcurrencyQuotaInForce: numeric(),
        closeOnDeletion: flag(),
        eventBusSourceAccountIds: list(input(text())),
        eventBusOrganizationId: input(text()),
        tags: TAGS,
        transform: transformOf(["account", "eventBus"]),
    },
};

export const CROSS_ACCOUNT_EVENT_FORWARDER_ARGUMENTS: ArgumentSpec = {
    component: "CrossAccountEventForwarder",
    fields: {
        eventPattern: required(EVENT_PATTERN),
        targetEventBusArn: required(input(text())),
        sourceEventBusName: input(text()),
        maxRetryAttempts: numeric(),
        maxEventAgeSeconds: numeric(),
        alarmActions: ALARM_ACTIONS,
        tags: TAGS,
        transform: transformOf(["rule", "target", "role", "deadLetterQueue"]),
    },
};

/** Every component's contract, by class name. */
export const ARGUMENT_SPECS: readonly ArgumentSpec[] = [
    EVENTBRIDGE_WORKER_POOL_ARGUMENTS,
    KINESIS_ORDERED_WORKER_ARGUMENTS,
    FIFO_TOPIC_WORKER_ARGUMENTS,
    CONCURRENCY_CONTROLLER_ARGUMENTS,
    CONCURRENCY_CONTROLLER_GROUP_ARGUMENTS,
    CONTROL_PLANE_BUDGET_ARGUMENTS,
    STEP_FUNCTIONS_SEMAPHORE_ARGUMENTS,
    SEMAPHORE_STATE_MACHINE_ARGUMENTS,
    ISOLATED_WORKLOAD_ACCOUNT_ARGUMENTS,
    CROSS_ACCOUNT_EVENT_FORWARDER_ARGUMENTS,
];
