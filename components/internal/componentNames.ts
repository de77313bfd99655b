/**
 * The physical names each component creates, planned from its name and arguments before any child
 * exists, so a name that would pass offline but fail `pulumi up` ("name '…' plus 7 random chars is
 * longer than maximum length 64") is refused at construction with the limit in the message.
 *
 * Each plan lists every child whose type has a name limit (naming.ts); tests/components/names.test.ts
 * compares each plan with the children the component really registers.
 */
import * as pulumi from "@pulumi/pulumi";
import type { AdaptiveConcurrencyArgs } from "../adaptiveConcurrency";
import type { ConcurrencyControllerArgs } from "../concurrencyController";
import type { ConcurrencyControllerGroupArgs } from "../concurrencyControllerGroup";
import type { EventBridgeWorkerPoolArgs } from "../eventBridgeWorkerPool";
import type { FifoTopicWorkerArgs } from "../fifoTopicWorker";
import type { IsolatedWorkloadAccountArgs } from "../isolatedWorkloadAccount";
import type { KinesisOrderedWorkerArgs } from "../kinesisOrderedWorker";
import type { CircuitBreakerArgs } from "./circuitBreaker";
import { longestFittingName, nameOverruns, PlannedName } from "./naming";
import { configurationError } from "./validation";

const TYPE = {
    function: "aws:lambda/function:Function",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
    rule: "aws:cloudwatch/eventRule:EventRule",
    bus: "aws:cloudwatch/eventBus:EventBus",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    dashboard: "aws:cloudwatch/dashboard:Dashboard",
    queue: "aws:sqs/queue:Queue",
    table: "aws:dynamodb/table:Table",
    stream: "aws:kinesis/stream:Stream",
    topic: "aws:sns/topic:Topic",
    stateMachine: "aws:sfn/stateMachine:StateMachine",
    account: "aws:organizations/account:Account",
} as const;

/**
 * The documented longest component name per component: every child fits for any name up to it, with
 * every option on. Longer names are accepted when the options in use leave room.
 */
export const MAX_COMPONENT_NAME_LENGTH = {
    EventBridgeWorkerPool: 31,
    KinesisOrderedWorker: 31,
    FifoTopicWorker: 31,
    ConcurrencyController: 40,
    ConcurrencyControllerGroup: 40,
    ControlPlaneBudget: 241,
    StepFunctionsSemaphore: 39,
    SemaphoreStateMachine: 29,
    IsolatedWorkloadAccount: 244,
    CrossAccountEventForwarder: 51,
} as const;

/** A component this module plans names for. */
export type NamedComponent = keyof typeof MAX_COMPONENT_NAME_LENGTH;

/**
 * The physical names `component` named `name` will create with `args` (children of every type with a
 * name limit).
 * @example plannedNames("ConcurrencyController", "orders", args) // [{ type: "aws:dynamodb/table:Table", logicalName: "orders-table" }, …]
 */
export function plannedNames(component: NamedComponent, name: string, args: unknown): PlannedName[] {
    return PLANS[component](name, args as never);
}

/**
 * Throws a `ConfigurationError` when a child's physical name would exceed AWS's limit, naming the
 * child, its length, the limit and the longest name that fits with these arguments.
 * @example checkPhysicalNames("FifoTopicWorker", "a".repeat(45), args)
 */
export function checkPhysicalNames(component: NamedComponent, name: string, args: unknown): void {
    const planned = plannedNames(component, name, args);
    const [worst] = nameOverruns(planned);
    if (!worst) return;
    const { planned: child, length, limit } = worst;
    const label = `${component} "${name}"`;
    if (child.fixed) {
        throw configurationError(`${label}: the ${limit.noun} name "${child.physicalName}" is ${length} characters, over AWS's ${limit.max}.`);
    }
    const longest = longestFittingName(name.length, planned);
    throw configurationError(
        `${label}: name '${name}' (${name.length} characters) is too long for ${component}: its ${limit.noun} name would be ${length} characters ` +
            `(child "${child.logicalName}"${child.physicalName === undefined ? " plus Pulumi's 8-character suffix" : ""}), over AWS's ${limit.max}; ` +
            `use at most ${longest} characters (${MAX_COMPONENT_NAME_LENGTH[component]} fit with every option).`,
    );
}

/** The role, inline policy, log group and function every package function is built from. */
function functionNames(name: string): PlannedName[] {
    return [
        { type: TYPE.logGroup, logicalName: `${name}-logs` },
        { type: TYPE.role, logicalName: `${name}-role` },
        { type: TYPE.rolePolicy, logicalName: `${name}-policy` },
        { type: TYPE.function, logicalName: `${name}-fn` },
    ];
}

function alarmNames(name: string, ids: string[]): PlannedName[] {
    return ids.map((id) => ({ type: TYPE.alarm, logicalName: `${name}-${id}` }));
}

/** The dashboard's explicit name, `<project>-<stack>-<name><suffix>` (see observability.ts; a controller's suffix is `-controller`). */
function dashboardNames(name: string, suffix = ""): PlannedName[] {
    return [{ type: TYPE.dashboard, logicalName: `${name}-dashboard`, physicalName: `${pulumi.getProject()}-${pulumi.getStack()}-${name}${suffix}` }];
}

function scheduleNames(name: string): PlannedName[] {
    return [{ type: TYPE.rule, logicalName: `${name}-schedule` }];
}

function controllerNames(name: string, args: Pick<ConcurrencyControllerArgs, "tableName">): PlannedName[] {
    return [
        ...(args.tableName === undefined ? [{ type: TYPE.table, logicalName: `${name}-table` }] : []),
        ...functionNames(`${name}-controller`),
        ...scheduleNames(name),
        ...alarmNames(name, ["errors"]),
        ...dashboardNames(name, "-controller"),
    ];
}

/** What `adaptiveConcurrency` adds to a worker named `name`. */
function adaptiveNames(name: string, adaptive: AdaptiveConcurrencyArgs | undefined): PlannedName[] {
    if (!adaptive) return [];
    const driver = adaptive.mode === "Controller" ? controllerNames(`${name}-adaptive`, { tableName: "given" }) : [{ type: TYPE.rolePolicy, logicalName: `${name}-self-tuning` }];
    return [{ type: TYPE.table, logicalName: `${name}-control` }, ...driver, ...alarmNames(name, ["controller-failures"])];
}

/** What `circuitBreaker` adds to a worker named `name`. */
function breakerNames(name: string, breaker: CircuitBreakerArgs | undefined): PlannedName[] {
    if (!breaker) return [];
    return [
        { type: TYPE.table, logicalName: `${name}-breaker` },
        ...functionNames(`${name}-prober`),
        ...scheduleNames(`${name}-prober`),
        { type: TYPE.rolePolicy, logicalName: `${name}-breaker-policy` },
        ...alarmNames(name, ["breaker-open", "prober-errors"]),
    ];
}

function semaphoreNames(name: string): PlannedName[] {
    return [
        { type: TYPE.table, logicalName: `${name}-table` },
        { type: TYPE.queue, logicalName: `${name}-dlq` },
        ...["acquire", "release", "cleanup", "sweeper"].flatMap((role) => [
            ...functionNames(`${name}-${role}`),
            { type: TYPE.rolePolicy, logicalName: `${name}-${role}-describe` },
        ]),
        { type: TYPE.rule, logicalName: `${name}-cleanup-rule` },
        ...scheduleNames(`${name}-sweeper`),
        ...alarmNames(name, ["dlq-not-empty", "acquire-errors", "release-errors", "cleanup-errors", "sweeper-errors"]),
        ...dashboardNames(name),
    ];
}

const PLANS: { [C in NamedComponent]: (name: string, args: any) => PlannedName[] } = {
    EventBridgeWorkerPool: (name: string, args: EventBridgeWorkerPoolArgs) => [
        { type: TYPE.queue, logicalName: `${name}-dlq` },
        { type: TYPE.table, logicalName: `${name}-idempotency` },
        ...functionNames(name),
        { type: TYPE.rule, logicalName: `${name}-rule` },
        ...alarmNames(name, ["dlq-not-empty", "throttles", "async-event-age", "async-events-dropped", "errors"]),
        ...dashboardNames(name),
        ...adaptiveNames(name, args.adaptiveConcurrency),
    ],
    KinesisOrderedWorker: (name: string, args: KinesisOrderedWorkerArgs) => [
        ...(args.streamArn === undefined ? [{ type: TYPE.stream, logicalName: `${name}-stream` }] : []),
        { type: TYPE.queue, logicalName: `${name}-failures` },
        { type: TYPE.table, logicalName: `${name}-idempotency` },
        ...functionNames(name),
        ...alarmNames(name, ["iterator-age", "failures-not-empty", "errors", "throttles"]),
        ...dashboardNames(name),
        ...adaptiveNames(name, args.adaptiveConcurrency),
        ...breakerNames(name, args.circuitBreaker),
    ],
    FifoTopicWorker: (name: string, args: FifoTopicWorkerArgs) => [
        ...(args.topicArn === undefined ? [{ type: TYPE.topic, logicalName: `${name}-topic`, fifo: true }] : []),
        { type: TYPE.queue, logicalName: `${name}-dlq`, fifo: true },
        { type: TYPE.queue, logicalName: `${name}-queue`, fifo: true },
        { type: TYPE.queue, logicalName: `${name}-delivery-dlq`, fifo: true },
        { type: TYPE.table, logicalName: `${name}-idempotency` },
        ...functionNames(name),
        ...alarmNames(name, ["dlq-not-empty", "delivery-dlq-not-empty", "oldest-message-age", "errors", "throttles"]),
        ...dashboardNames(name),
        ...adaptiveNames(name, args.adaptiveConcurrency),
        ...breakerNames(name, args.circuitBreaker),
    ],
    ConcurrencyController: (name: string, args: ConcurrencyControllerArgs) => controllerNames(name, args),
    ConcurrencyControllerGroup: (name: string, args: ConcurrencyControllerGroupArgs) => [
        ...(args.tableName === undefined ? [{ type: TYPE.table, logicalName: `${name}-table` }] : []),
        ...functionNames(`${name}-controller`),
        ...scheduleNames(name),
        ...alarmNames(name, ["errors"]),
    ],
    ControlPlaneBudget: (name: string) => [{ type: TYPE.table, logicalName: `${name}-table` }],
    StepFunctionsSemaphore: (name: string) => semaphoreNames(name),
    SemaphoreStateMachine: (name: string) => [
        ...semaphoreNames(`${name}-semaphore`),
        { type: TYPE.logGroup, logicalName: `${name}-logs`, physicalName: `/aws/vendedlogs/states/${name}-${"x".repeat(26)}` },
        { type: TYPE.role, logicalName: `${name}-role` },
        { type: TYPE.rolePolicy, logicalName: `${name}-policy` },
        { type: TYPE.stateMachine, logicalName: `${name}-state-machine` },
    ],
    IsolatedWorkloadAccount: (name: string, args: IsolatedWorkloadAccountArgs) => [
        ...(args.accountId === undefined && args.accountName !== undefined
            ? [{ type: TYPE.account, logicalName: `${name}-account`, physicalName: args.accountName, fixed: true }]
            : []),
        ...(args.eventBusSourceAccountIds !== undefined || args.eventBusOrganizationId !== undefined ? [{ type: TYPE.bus, logicalName: `${name}-bus` }] : []),
    ],
    CrossAccountEventForwarder: (name: string) => [
        { type: TYPE.rule, logicalName: `${name}-rule` },
        { type: TYPE.role, logicalName: `${name}-role` },
        { type: TYPE.rolePolicy, logicalName: `${name}-policy` },
        { type: TYPE.queue, logicalName: `${name}-dlq` },
        ...alarmNames(name, ["dlq-not-empty"]),
    ],
};
