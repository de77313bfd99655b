/**
 * The operations manifest: what an operator tool needs to find a deployed component's live state —
 * names of its tables, function, mapping, queues and state machine, its region and account — as a plain
 * JSON object every component exports as its `operations` output. A versioned marker key makes a
 * manifest recognisable wherever it sits in a stack's outputs, so `pulumi stack output --json` is all
 * the CLI reads. No dependencies: components build it, the CLI reads it.
 *
 * @example
 * { "serverless-concurrency/operations": 1, "componentType": "FifoTopicWorker", "name": "ledger",
 *   "region": "eu-west-1", "account": "123456789012", "functionName": "ledger-1a2b", … }
 */

/** The marker key; its value is the manifest's format version. */
export const OPERATIONS_MARKER = "serverless-concurrency/operations";

/** The manifest format this package writes and reads. A reader refuses any other version. */
export const OPERATIONS_VERSION = 1;

/**
 * The TTL attribute (N, epoch seconds) of every table a component creates, the tables a manifest names
 * included: DynamoDB deletes an item once that time has passed. The CLI's audit entries set it too.
 */
export const TABLE_TTL_ATTRIBUTE = "expiresAt";

/** The component types that export a manifest. */
export const OPERATIONS_COMPONENT_TYPES = [
    "EventBridgeWorkerPool",
    "KinesisOrderedWorker",
    "FifoTopicWorker",
    "ConcurrencyController",
    "StepFunctionsSemaphore",
    "SemaphoreStateMachine",
    "IsolatedWorkloadAccount",
    "CrossAccountEventForwarder",
] as const;

/** One of {@link OPERATIONS_COMPONENT_TYPES}. */
export type OperationsComponentType = (typeof OPERATIONS_COMPONENT_TYPES)[number];

/** An SQS queue, by both of the names the APIs want. */
export interface QueueReference {
    /**
     * The queue URL (SQS data-plane calls).
     * @example "https://sqs.eu-west-1.amazonaws.com/123456789012/ledger-dlq.fifo"
     */
    url: string;
    /**
     * The queue ARN (message move tasks, metrics by name).
     * @example "arn:aws:sqs:eu-west-1:123456789012:ledger-dlq.fifo"
     */
    arn: string;
}

/** The setting a controller drives, in the shape of the runtime's `ControlledTarget`. */
export interface ControlledTargetReference {
    /**
     * `ReservedConcurrency`, `SqsMaximumConcurrency` or `KinesisParallelizationFactor`.
     * @example "SqsMaximumConcurrency"
     */
    kind: "ReservedConcurrency" | "SqsMaximumConcurrency" | "KinesisParallelizationFactor";
    /**
     * The function whose reserved concurrency is driven (kind `ReservedConcurrency`).
     * @default undefined
     * @example "orders-worker-1a2b"
     */
    functionName?: string;
    /**
     * The mapping's UUID (mapping kinds).
     * @default undefined
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    uuid?: string;
    /**
     * The mapping's stream or queue ARN (mapping kinds); it keys the controller's items.
     * @default undefined
     * @example "arn:aws:sqs:eu-west-1:123456789012:ledger-queue.fifo"
     */
    eventSourceArn?: string;
}

/** Adaptive concurrency of a worker, or a `ConcurrencyController` itself. */
export interface ControllerReference {
    /**
     * `Controller` (a scheduled function decides) or `SelfTuning` (the worker's invocations decide).
     * @example "Controller"
     */
    mode: "Controller" | "SelfTuning";
    /**
     * The statistics, lease, decision and pause table (keys `pk`, `sk`).
     * @example "orders-control-9f8e"
     */
    tableName: string;
    /** The setting it drives. */
    target: ControlledTargetReference;
    /**
     * The scheduled controller function (mode `Controller`).
     * @default undefined
     * @example "orders-adaptive-controller-7c6d"
     */
    functionName?: string;
}

/** A circuit breaker's state item. */
export interface BreakerReference {
    /**
     * The breaker table (key `id`).
     * @example "payments-breaker-5a4b"
     */
    tableName: string;
    /**
     * The breaker's id (its item), the worker's name.
     * @example "payments"
     */
    id: string;
}

/** A Step Functions semaphore's items. */
export interface SemaphoreReference {
    /**
     * The semaphore table (keys `pk`, `sk`).
     * @example "erp-table-3c2d"
     */
    tableName: string;
    /**
     * The semaphore's name (its partition key).
     * @example "erp"
     */
    name: string;
    /**
     * Permits.
     * @example 5
     */
    limit: number;
}

/** What every manifest carries. */
export interface ManifestBase {
    /** The marker and format version. */
    [OPERATIONS_MARKER]: typeof OPERATIONS_VERSION;
    /** The component's class. */
    componentType: OperationsComponentType;
    /**
     * The component's Pulumi name.
     * @example "ledger"
     */
    name: string;
    /**
     * Region of its resources.
     * @example "eu-west-1"
     */
    region: string;
    /**
     * Account of its resources.
     * @example "123456789012"
     */
    account: string;
    /**
     * Its CloudWatch dashboard.
     * @default undefined (components without one)
     * @example "shop-prod-ledger"
     */
    dashboardName?: string;
}

/** Pattern 1. */
export interface EventBridgeWorkerPoolManifest extends ManifestBase {
    componentType: "EventBridgeWorkerPool";
    /** The worker function. */
    functionName: string;
    /** The idempotency table (key `id`); audit entries go here too. */
    idempotencyTableName: string;
    /** Dead-letter queue of both retry layers (EventBridge target and Lambda on-failure). */
    deadLetterQueue: QueueReference;
    /** Adaptive concurrency, when on. @default undefined */
    controller?: ControllerReference;
}

/** Pattern 2, Kinesis. */
export interface KinesisOrderedWorkerManifest extends ManifestBase {
    componentType: "KinesisOrderedWorker";
    /** The worker function. */
    functionName: string;
    /** The stream consumed. */
    streamArn: string;
    /** The event source mapping's UUID. */
    mappingUuid: string;
    /** The idempotency table (key `id`); audit entries go here too. */
    idempotencyTableName: string;
    /** On-failure destination of the mapping (records' positions, not the records). */
    failureQueue: QueueReference;
    /** Adaptive concurrency, when on. @default undefined */
    controller?: ControllerReference;
    /** The circuit breaker, when on. @default undefined */
    breaker?: BreakerReference;
}

/** Pattern 2, SNS FIFO → SQS FIFO. */
export interface FifoTopicWorkerManifest extends ManifestBase {
    componentType: "FifoTopicWorker";
    /** The worker function. */
    functionName: string;
    /** The topic the queue subscribes to. */
    topicArn: string;
    /** The FIFO queue the mapping reads. */
    queue: QueueReference;
    /** The FIFO dead-letter queue (redrive policy of `queue`). */
    deadLetterQueue: QueueReference;
    /**
     * The FIFO delivery dead-letter queue (redrive policy of the subscription): what SNS could not deliver
     * to `queue`. Absent in manifests exported before it existed.
     */
    deliveryDeadLetterQueue?: QueueReference;
    /** The event source mapping's UUID. */
    mappingUuid: string;
    /** The idempotency table (key `id`); audit entries go here too. */
    idempotencyTableName: string;
    /** Adaptive concurrency, when on. @default undefined */
    controller?: ControllerReference;
    /** The circuit breaker, when on. @default undefined */
    breaker?: BreakerReference;
}

/** Pattern 3, a controller used directly. */
export interface ConcurrencyControllerManifest extends ManifestBase {
    componentType: "ConcurrencyController";
    /** The controller (mode `Controller`, with its function). */
    controller: ControllerReference;
}

/** Pattern 3, the semaphore. */
export interface StepFunctionsSemaphoreManifest extends ManifestBase {
    componentType: "StepFunctionsSemaphore";
    /** The semaphore's items. */
    semaphore: SemaphoreReference;
    /** Status-change events the cleanup could not process, and failed sweeps. */
    deadLetterQueue: QueueReference;
}

/** Pattern 3, a state machine protected by its own semaphore. */
export interface SemaphoreStateMachineManifest extends ManifestBase {
    componentType: "SemaphoreStateMachine";
    /** The protected state machine. */
    stateMachineArn: string;
    /** Its semaphore's items. */
    semaphore: SemaphoreReference;
}

/** An isolated workload account (its `region`/`account` are those of the management side that created it). */
export interface IsolatedWorkloadAccountManifest extends ManifestBase {
    componentType: "IsolatedWorkloadAccount";
    /**
     * The workload account's id.
     * @example "222222222222"
     */
    workloadAccountId: string;
    /**
     * The role the management side assumes in it.
     * @example "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
     */
    roleArn: string;
    /**
     * Its event bus for the source accounts, when created.
     * @default undefined
     * @example "arn:aws:events:eu-west-1:222222222222:event-bus/workload"
     */
    eventBusArn?: string;
}

/** Events forwarded to another account's bus. */
export interface CrossAccountEventForwarderManifest extends ManifestBase {
    componentType: "CrossAccountEventForwarder";
    /**
     * The forwarding rule.
     * @example "orders-forward-rule-3f9a1c2"
     */
    ruleName: string;
    /**
     * The bus events go to.
     * @example "arn:aws:events:eu-west-1:222222222222:event-bus/workload"
     */
    targetEventBusArn: string;
    /** Events EventBridge could not deliver to the target bus. */
    deadLetterQueue: QueueReference;
}

/** Any manifest; `componentType` tells which. */
export type OperationsManifest =
    | EventBridgeWorkerPoolManifest
    | KinesisOrderedWorkerManifest
    | FifoTopicWorkerManifest
    | ConcurrencyControllerManifest
    | StepFunctionsSemaphoreManifest
    | SemaphoreStateMachineManifest
    | IsolatedWorkloadAccountManifest
    | CrossAccountEventForwarderManifest;

/** The fields a component supplies; the marker, region and account are added by the builder. */
export type ManifestFields<M extends OperationsManifest = OperationsManifest> = M extends OperationsManifest
    ? Omit<M, typeof OPERATIONS_MARKER | "region" | "account">
    : never;

/** Required string fields per component type (beyond the base), checked by {@link manifestProblems}. */
const REQUIRED_FIELDS: Record<OperationsComponentType, string[]> = {
    EventBridgeWorkerPool: ["functionName", "idempotencyTableName", "deadLetterQueue.url", "deadLetterQueue.arn"],
    KinesisOrderedWorker: ["functionName", "streamArn", "mappingUuid", "idempotencyTableName", "failureQueue.url", "failureQueue.arn"],
    FifoTopicWorker: ["functionName", "topicArn", "queue.url", "queue.arn", "deadLetterQueue.url", "deadLetterQueue.arn", "mappingUuid", "idempotencyTableName"],
    ConcurrencyController: ["controller.tableName"],
    StepFunctionsSemaphore: ["semaphore.tableName", "semaphore.name", "deadLetterQueue.url", "deadLetterQueue.arn"],
    SemaphoreStateMachine: ["stateMachineArn", "semaphore.tableName", "semaphore.name"],
    IsolatedWorkloadAccount: ["workloadAccountId", "roleArn"],
    CrossAccountEventForwarder: ["ruleName", "targetEventBusArn", "deadLetterQueue.url", "deadLetterQueue.arn"],
};

/**
 * Why `value` is not a manifest this version reads: an empty list when it is one.
 * @example manifestProblems({ "serverless-concurrency/operations": 2 }) // ["format version 2 is not supported (this reader knows version 1)"]
 */
export function manifestProblems(value: unknown): string[] {
    if (!isRecord(value) || !(OPERATIONS_MARKER in value)) return ["not an operations manifest (no marker)"];
    const version = value[OPERATIONS_MARKER];
    if (version !== OPERATIONS_VERSION) return [`format version ${JSON.stringify(version)} is not supported (this reader knows version ${OPERATIONS_VERSION})`];
    const type = value.componentType;
    if (!OPERATIONS_COMPONENT_TYPES.includes(type as OperationsComponentType)) {
        return [`componentType must be one of ${OPERATIONS_COMPONENT_TYPES.join(", ")}; received ${JSON.stringify(type)}`];
    }
    const required = ["name", "region", "account", ...REQUIRED_FIELDS[type as OperationsComponentType]];
    const problems = required.filter((path) => !isNonEmptyString(at(value, path))).map((path) => `${path} must be a non-empty string`);
    const semaphore = value.semaphore;
    if (isRecord(semaphore) && !(Number.isInteger(semaphore.limit) && (semaphore.limit as number) >= 1)) problems.push("semaphore.limit must be a positive integer");
    return [...problems, ...optionalReferenceProblems(value)];
}

/** The fields an optional `controller`, `breaker` or `deliveryDeadLetterQueue` needs when present. */
function optionalReferenceProblems(value: Record<string, unknown>): string[] {
    const required: string[] = [];
    if (isRecord(value.breaker)) required.push("breaker.tableName", "breaker.id");
    if (value.deliveryDeadLetterQueue !== undefined) required.push("deliveryDeadLetterQueue.url", "deliveryDeadLetterQueue.arn");
    if (isRecord(value.controller)) {
        required.push("controller.tableName", "controller.mode");
        const kind = at(value, "controller.target.kind");
        if (kind === "ReservedConcurrency") required.push("controller.target.functionName");
        else if (kind === "SqsMaximumConcurrency" || kind === "KinesisParallelizationFactor") required.push("controller.target.uuid", "controller.target.eventSourceArn");
        else return [`controller.target.kind must be ReservedConcurrency, SqsMaximumConcurrency or KinesisParallelizationFactor; received ${JSON.stringify(kind)}`];
    }
    return required.filter((path) => !isNonEmptyString(at(value, path))).map((path) => `${path} must be a non-empty string`);
}

/**
 * Whether `value` is a manifest of the current version, with every required field.
 * @example if (isOperationsManifest(outputs.ledger?.operations)) console.log(outputs.ledger.operations.queue.url);
 */
export function isOperationsManifest(value: unknown): value is OperationsManifest {
    return manifestProblems(value).length === 0;
}

/** An object that carries the marker but cannot be read. */
export interface RejectedManifest {
    /**
     * Where it sits in the outputs, as a JSON-path-like string.
     * @example "ledger.operations"
     */
    path: string;
    /**
     * The `name` it carries, when that is a non-empty string.
     * @example "ledger"
     */
    name?: string;
    /** Why it was rejected. */
    problems: string[];
}

/** What {@link findManifests} found. */
export interface ManifestSearch {
    /** Every readable manifest, in document order. */
    manifests: OperationsManifest[];
    /** Marked objects that are not readable (another version, missing fields). */
    rejected: RejectedManifest[];
    /**
     * Where the outputs hold {@link SECRET_PLACEHOLDER}: a secret output that `pulumi stack output --json` hid
     * (without `--show-secrets`). A manifest there (an `operations` output made secret by a secret input, such as
     * a StackReference output) cannot be read; other secrets are no manifests. JSON-path-like, as {@link RejectedManifest.path}.
     * @example ["ledgerOperations"]
     */
    hiddenSecrets: string[];
}

/** What `pulumi stack output --json` prints in place of a secret output's value unless given `--show-secrets`. */
export const SECRET_PLACEHOLDER = "[secret]";

/**
 * Every manifest anywhere in a stack's outputs (the JSON of `pulumi stack output --json`): at any depth
 * of nested objects and arrays, the same manifest found twice (e.g. exported under two names) counted once.
 * @param stackOutputs the parsed outputs
 * @example findManifests(JSON.parse(outputsJson)).manifests.map((m) => m.name) // ["orders", "ledger"]
 */
export function findManifests(stackOutputs: unknown): ManifestSearch {
    const search: ManifestSearch = { manifests: [], rejected: [], hiddenSecrets: [] };
    const seen = new Set<string>();
    const hidden = (path: string) => search.hiddenSecrets.push(path || "(root)");
    visit(stackOutputs, "", hidden, (value, path) => {
        const problems = manifestProblems(value);
        if (problems.length > 0) {
            search.rejected.push({ path, ...(isNonEmptyString(value.name) ? { name: value.name } : {}), problems });
            return;
        }
        const manifest = value as unknown as OperationsManifest;
        const identity = `${manifest.componentType}\u0000${manifest.name}\u0000${manifest.account}\u0000${manifest.region}`;
        if (!seen.has(identity)) search.manifests.push(manifest);
        seen.add(identity);
    });
    return search;
}

/**
 * Walks `value` depth first; calls `found` for each marked object (and does not descend into it) and `hidden` for
 * each {@link SECRET_PLACEHOLDER}.
 */
function visit(value: unknown, path: string, hidden: (path: string) => void, found: (value: Record<string, unknown>, path: string) => void): void {
    if (value === SECRET_PLACEHOLDER) hidden(path);
    if (Array.isArray(value)) {
        value.forEach((item, index) => visit(item, `${path}[${index}]`, hidden, found));
        return;
    }
    if (!isRecord(value)) return;
    if (OPERATIONS_MARKER in value) {
        found(value, path || "(root)");
        return;
    }
    for (const [key, child] of Object.entries(value)) visit(child, path ? `${path}.${key}` : key, hidden, found);
}

function at(value: Record<string, unknown>, path: string): unknown {
    return path.split(".").reduce<unknown>((current, key) => (isRecord(current) ? current[key] : undefined), value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
    return typeof value === "string" && value.trim() !== "";
}
