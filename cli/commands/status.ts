/**
 * `status [NAME…] [--json]`: per component, each part of its live state read on its own, so a part that
 * cannot be read shows its error in place and the others still show.
 */
import type {
    BreakerReference,
    ControllerReference,
    ManifestSearch,
    OperationsManifest,
    QueueReference,
    RejectedManifest,
    SemaphoreReference,
} from "../../contracts/operations";
import { BreakerAdapter } from "../adapters/breaker";
import { ControllerAdapter } from "../adapters/controller";
import { SemaphoreAdapter } from "../adapters/semaphore";
import { mappingSettings, MetricReference, queueDepth, recentMaximum, reservedConcurrency } from "../adapters/aws";
import type { AwsClients } from "../aws";
import { describeAwsError } from "../failures";
import { EXIT } from "../io";
import { selectManifest } from "../outputs";

/** One part of a component's state: a value, or why it could not be read. */
export interface StatusPart {
    /** What it is, e.g. `dead-letter queue`. */
    label: string;
    /** The value read (JSON-able). */
    value?: unknown;
    /** One line: why it could not be read. */
    error?: string;
}

/** A component's state. */
export interface ComponentStatus {
    /** Its name. */
    name: string;
    /** Its type. */
    componentType: string;
    /** Its pattern, in words. */
    pattern: string;
    /** Region and account. */
    location: string;
    /** Its parts, in display order. */
    parts: StatusPart[];
}

/** How a part is read. */
type PartReader = { label: string; read: () => Promise<unknown> };

/** What status needs. */
export interface StatusContext {
    /** Clients for a component's region. */
    clientsFor: (manifest: OperationsManifest) => AwsClients;
    /** Clock, epoch ms. */
    now: () => number;
}

const PATTERNS: Record<OperationsManifest["componentType"], string> = {
    EventBridgeWorkerPool: "1 · reserved concurrency as a thread pool",
    KinesisOrderedWorker: "2 · Kinesis mapping, ordered per partition key",
    FifoTopicWorker: "2 · SNS FIFO → SQS FIFO mapping, ordered per message group",
    ConcurrencyController: "3 · scheduled concurrency controller",
    StepFunctionsSemaphore: "3 · Step Functions semaphore",
    SemaphoreStateMachine: "3 · state machine behind a semaphore",
    IsolatedWorkloadAccount: "isolated workload account",
    CrossAccountEventForwarder: "cross-account event forwarding",
};

/**
 * The state of the named components; all of them when `names` is empty, followed then by one entry per
 * manifest that could not be read (its one part, `manifest`, says why).
 * @throws UnknownComponentError for a name not in the manifests
 */
export async function readStatus({ manifests, rejected, hiddenSecrets }: ManifestSearch, names: readonly string[], context: StatusContext): Promise<ComponentStatus[]> {
    const chosen = names.length === 0 ? manifests : names.map((name) => selectManifest(manifests, name, rejected, hiddenSecrets));
    const statuses = await Promise.all(chosen.map((manifest) => componentStatus(manifest, context)));
    return names.length === 0 ? [...statuses, ...rejected.map(rejectedStatus)] : statuses;
}

function rejectedStatus(rejected: RejectedManifest): ComponentStatus {
    return {
        name: rejected.name ?? rejected.path,
        componentType: "unreadable manifest",
        pattern: "unknown",
        location: `at ${rejected.path || "the top level"} of the outputs`,
        parts: [{ label: "manifest", error: `not read: ${rejected.problems.join("; ")}` }],
    };
}

/** The exit code of a status: every part read {@link EXIT}`.ok`, some `partial`, none `failed`. */
export function statusExitCode(statuses: readonly ComponentStatus[]): number {
    const parts = statuses.flatMap((s) => s.parts);
    if (parts.every((p) => p.error === undefined)) return EXIT.ok;
    return parts.some((p) => p.error === undefined) ? EXIT.partial : EXIT.failed;
}

async function componentStatus(manifest: OperationsManifest, context: StatusContext): Promise<ComponentStatus> {
    const readers = partReaders(manifest, context);
    const parts = await Promise.all(
        readers.map(async ({ label, read }): Promise<StatusPart> => {
            try {
                return { label, value: await read() };
            } catch (error) {
                return { label, error: describeAwsError(error) };
            }
        }),
    );
    return { name: manifest.name, componentType: manifest.componentType, pattern: PATTERNS[manifest.componentType], location: `${manifest.region} / ${manifest.account}`, parts };
}

function partReaders(manifest: OperationsManifest, context: StatusContext): PartReader[] {
    const clients = context.clientsFor(manifest);
    const now = context.now();
    const metric = (label: string, reference: MetricReference, unit: "ms" | "s"): PartReader => ({
        label,
        read: async () => describeAge(await recentMaximum(clients.cloudwatch, reference, now), unit),
    });
    const lambdaMetric = (metricName: string, functionName: string): MetricReference => ({ namespace: "AWS/Lambda", metricName, dimensions: { FunctionName: functionName } });
    switch (manifest.componentType) {
        case "EventBridgeWorkerPool":
            return [
                { label: "reserved concurrency", read: () => reservedConcurrency(clients.lambda, manifest.functionName) },
                ...controllerReaders(manifest.controller, clients),
                queueReader("dead-letter queue", manifest.deadLetterQueue, clients),
                metric("async event age (max, 10 min)", lambdaMetric("AsyncEventAge", manifest.functionName), "ms"),
            ];
        case "KinesisOrderedWorker":
            return [
                { label: "mapping", read: () => mappingSettings(clients.lambda, manifest.mappingUuid) },
                ...controllerReaders(manifest.controller, clients),
                ...breakerReaders(manifest.breaker, manifest.mappingUuid, clients, context.now),
                queueReader("failure queue", manifest.failureQueue, clients),
                metric("iterator age (max, 10 min)", lambdaMetric("IteratorAge", manifest.functionName), "ms"),
            ];
        case "FifoTopicWorker":
            return [
                { label: "mapping", read: () => mappingSettings(clients.lambda, manifest.mappingUuid) },
                ...controllerReaders(manifest.controller, clients),
                ...breakerReaders(manifest.breaker, manifest.mappingUuid, clients, context.now),
                queueReader("queue", manifest.queue, clients),
                metric("oldest message age (max, 10 min)", { namespace: "AWS/SQS", metricName: "ApproximateAgeOfOldestMessage", dimensions: { QueueName: queueName(manifest.queue) } }, "s"),
                queueReader("dead-letter queue", manifest.deadLetterQueue, clients),
                ...(manifest.deliveryDeadLetterQueue ? [queueReader("delivery dead-letter queue", manifest.deliveryDeadLetterQueue, clients)] : []),
            ];
        case "ConcurrencyController":
            return controllerReaders(manifest.controller, clients, true);
        case "StepFunctionsSemaphore":
            return [...semaphoreReaders(manifest.semaphore, clients), queueReader("dead-letter queue", manifest.deadLetterQueue, clients)];
        case "SemaphoreStateMachine":
            return semaphoreReaders(manifest.semaphore, clients);
        case "IsolatedWorkloadAccount":
            // Nothing here moves at run time; its workers are components of their own.
            return [{ label: "workload account", read: async () => `${manifest.workloadAccountId} (role ${manifest.roleArn}${manifest.eventBusArn ? `, bus ${manifest.eventBusArn}` : ""})` }];
        case "CrossAccountEventForwarder":
            return [
                { label: "forwards to", read: async () => manifest.targetEventBusArn },
                queueReader("dead-letter queue", manifest.deadLetterQueue, clients),
            ];
    }
}

/**
 * The controller's parts; `withSetting` adds the live setting (a worker shows it in its own parts already).
 * The last decision says whether its limit is the setting in force: it is not after a change that failed
 * (the next interval decides again from the setting), in a dry run, while paused, or after someone else
 * changed the setting.
 */
function controllerReaders(reference: ControllerReference | undefined, clients: AwsClients, withSetting = false): PartReader[] {
    if (!reference) return [];
    const controller = new ControllerAdapter(reference, clients);
    let setting: Promise<number | undefined> | undefined;
    // One read serves both parts that show the setting.
    const readSetting = () => (setting ??= controller.setting());
    const parts: PartReader[] = [
        {
            label: "controller",
            read: async () => {
                const last = await controller.lastDecision();
                const lastDecision = last ? { interval: last.interval, claimedAt: new Date(last.claimedAt).toISOString(), decision: last.decision ?? "none stored" } : "no decision yet";
                const decided = last?.decision?.limit;
                if (decided === undefined) return { mode: reference.mode, target: controller.key, lastDecision };
                // (An unreadable setting shows as an error in its own part; the decision still shows here.)
                const inForce = await readSetting().then((value) => decided === value, () => "unknown: the setting could not be read");
                return { mode: reference.mode, target: controller.key, lastDecision, decidedLimitInForce: inForce };
            },
        },
        {
            label: "paused",
            read: async () => {
                const pause = await controller.pause();
                return pause ? { since: new Date(pause.pausedAt).toISOString(), by: pause.pausedBy, reason: pause.reason, pinnedLimit: pause.pinnedLimit } : false;
            },
        },
    ];
    if (withSetting) parts.push({ label: `setting (${reference.target.kind})`, read: async () => (await readSetting()) ?? "none" });
    return parts;
}

function breakerReaders(reference: BreakerReference | undefined, mappingUuid: string, clients: AwsClients, now: () => number): PartReader[] {
    if (!reference) return [];
    const breaker = new BreakerAdapter(reference, mappingUuid, clients, now);
    return [
        {
            label: "breaker",
            read: async () => {
                const record = await breaker.read();
                return {
                    state: record.state,
                    openUntil: record.openUntil > 0 ? new Date(record.openUntil).toISOString() : undefined,
                    probeSuccesses: record.probeSuccesses,
                    failedProbes: record.failedProbes,
                    window: { requests: record.windowRequests, errors: record.windowErrors },
                };
            },
        },
    ];
}

function semaphoreReaders(reference: SemaphoreReference, clients: AwsClients): PartReader[] {
    const semaphore = new SemaphoreAdapter(reference, clients);
    const view = semaphore.read();
    // One read serves the three parts; an unread view fails each of them in place.
    view.catch(() => undefined);
    return [
        { label: "permits", read: async () => `${(await view).inUse} in use of ${reference.limit}` },
        { label: "holders", read: async () => (await view).holders.map((h) => ({ executionArn: h.executionArn, since: new Date(h.grantedAt).toISOString(), leaseUntil: new Date(h.leaseUntil).toISOString() })) },
        { label: "waiters", read: async () => (await view).queue.map((q) => ({ executionArn: q.waiter?.executionArn ?? `(no waiter item for id ${q.id})`, since: q.waiter ? new Date(q.waiter.enqueuedAt).toISOString() : undefined })) },
    ];
}

function queueReader(label: string, queue: QueueReference, clients: AwsClients): PartReader {
    return { label, read: () => queueDepth(clients.sqs, queue.url) };
}

/** The queue name at the end of its ARN (the `QueueName` metric dimension). */
function queueName(queue: QueueReference): string {
    return queue.arn.split(":").pop() ?? queue.arn;
}

function describeAge(value: number | undefined, unit: "ms" | "s"): string {
    if (value === undefined) return "no data";
    const seconds = unit === "ms" ? value / 1000 : value;
    return `${Math.round(seconds)} s`;
}

/**
 * Plain-text rendering: one block per component, one line per part; an unread part reads `⚠ error: …`.
 * @example renderStatus(statuses).join("\n")
 */
export function renderStatus(statuses: readonly ComponentStatus[]): string[] {
    const lines: string[] = [];
    for (const status of statuses) {
        lines.push(`${status.name}  ${status.componentType}  (pattern ${status.pattern}; ${status.location})`);
        const width = Math.max(...status.parts.map((p) => p.label.length), 0);
        for (const part of status.parts) {
            const text = part.error !== undefined ? `⚠ error: ${part.error}` : renderValue(part.value);
            lines.push(`  ${part.label.padEnd(width)}  ${text}`);
        }
        lines.push("");
    }
    return lines;
}

function renderValue(value: unknown): string {
    if (value === undefined || value === null) return "none";
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
    if (Array.isArray(value)) return value.length === 0 ? "none" : value.map(renderValue).join("; ");
    return Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k} ${renderValue(v)}`)
        .join(", ");
}
