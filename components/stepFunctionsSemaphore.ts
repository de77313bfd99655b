import * as aws from "@pulumi/aws";
import { operationsManifest } from "./internal/operations";
import * as pulumi from "@pulumi/pulumi";
import { policyDocument, PolicyStatementArgs } from "./internal/iam";
import { AlarmSpec, claimDashboardName, createAlarms, createDashboard, MetricLine, RUNTIME_METRIC_NAMESPACE, WidgetSpec } from "./internal/observability";
import { attachQueuePolicy, createQueue } from "./internal/queues";
import { rateInMinutes, scheduleFunction } from "./internal/schedule";
import { acquireState, AslDefinition, AslState, protect, releaseState, SemaphoreAslArgs } from "./internal/semaphoreAsl";
import { createTable, TABLE_ITEM_ACTIONS } from "./internal/tables";
import { ENV } from "../contracts/environment";
import { MAX_SEMAPHORE_LIMIT } from "../contracts/semaphore";
import { componentLabel, isDeferred, plainValue, Validator } from "./internal/validation";
import { eventPatternJson } from "./internal/eventPatterns";
import { queueNotEmptyAlarm } from "./internal/workerAlarms";
import { createRuntimeFunction, WorkerFunction } from "./internal/workerFunction";
import { STEP_FUNCTIONS_SEMAPHORE_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches, workerFunctionChildren } from "./internal/escapeHatches";
import { ConfigurationError } from "../contracts/errors";
import { attachInlinePolicy } from "./internal/inlinePolicies";

/** Defaults of {@link StepFunctionsSemaphoreArgs}. */
export const STEP_FUNCTIONS_SEMAPHORE_DEFAULTS = {
    maxHoldSeconds: 900,
    waitTimeoutSeconds: 3600,
    heartbeatSeconds: 300,
    sweepIntervalMinutes: 1,
} as const;

export { MAX_SEMAPHORE_LIMIT };

/** The longest Lambda keeps an asynchronous event (6 hours). */
const MAX_ASYNC_EVENT_AGE_SECONDS = 21_600;

/** The longest a Standard execution runs (one year): the cap of the wait and of the lease. */
const MAX_EXECUTION_SECONDS = 31_536_000;

/*
 * The table keys, environment variables and statuses below are what `runtime/semaphore` expects. Components
 * never import the runtime, so they are repeated here; a test checks them against `SEMAPHORE_TABLE_KEYS`,
 * `SEMAPHORE_ENV` and `CLEANUP_STATUSES`.
 */

/** Key attributes of the semaphore table (both strings). */
const TABLE_KEYS = { hashKey: "pk", rangeKey: "sk" };

/** Execution statuses whose status-change event makes the cleanup function release the execution's permit. */
export const CLEANUP_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"];

/**
 * The metrics the semaphore's runtime emits (namespace `ServerlessConcurrency`, dimension `Worker` = the
 * semaphore's name), which its dashboard shows; a test checks them against the runtime's `MetricName`.
 */
export const SEMAPHORE_METRICS = {
    grants: "SemaphoreGrants",
    releases: "SemaphoreReleases",
    waitTime: "SemaphoreWaitTime",
    permitsInUse: "SemaphorePermitsInUse",
    waiters: "SemaphoreWaiters",
    reclaims: "SemaphoreReclaims",
    redeliveries: "SemaphoreRedeliveries",
    deadWaiters: "SemaphoreDeadWaiters",
    rejectedEvents: "SemaphoreRejectedEvents",
} as const;

/** `arn:<partition>:states:<region>:<account>:stateMachine:<name>`, the only shape a protected state machine's ARN may have. */
const STATE_MACHINE_ARN = /^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** The semaphore's permits, timings and alarms: shared by `StepFunctionsSemaphore` and `SemaphoreStateMachine`. */
export interface SemaphoreSettingsArgs {
    /**
     * Permits, 1–10,000: at most this many executions hold the semaphore at once, so the protected downstream
     * sees at most this many calls from the workflows. Lowering it never over-grants: holders above the new
     * limit finish and give their permits back. May come from another stack (an Output): it is then checked
     * when it resolves.
     * @example 5
     */
    limit: pulumi.Input<number>;
    /**
     * A holder's lease in seconds, 1–31536000. Once it has expired and the holder's execution is no longer
     * running, the sweeper takes the permit back (the backstop for the best-effort cleanup rule). Use at least
     * the longest time an execution holds the permit.
     * @default 900
     * @example 3600
     */
    maxHoldSeconds?: number;
    /**
     * Longest wait for a permit in seconds, 2–31536000 and more than two sweep intervals (120 ×
     * `sweepIntervalMinutes`: the shortest `heartbeatSeconds`, which must stay below it): `TimeoutSeconds` of
     * the acquire state. Then the execution fails with `States.Timeout` through the release path.
     * @default 3600
     * @example 86400
     */
    waitTimeoutSeconds?: number;
    /**
     * `HeartbeatSeconds` of the acquire state: a waiter that hears nothing for this long fails
     * (`States.HeartbeatTimeout`) instead of waiting on a semaphore whose sweeper has stopped. At least twice
     * the sweep interval (the sweeper sends the heartbeats) and less than `waitTimeoutSeconds`.
     * @default 300, or twice the sweep interval when that is longer, at most waitTimeoutSeconds − 1
     * @example 600
     */
    heartbeatSeconds?: number;
    /**
     * Minutes between sweeps, 1–1440. Each sweep heartbeats the waiting executions, reclaims expired permits
     * of executions that are no longer running, and wakes waiters while permits are free.
     * @default 1
     * @example 2
     */
    sweepIntervalMinutes?: number;
    /**
     * SNS topic ARNs notified when an alarm fires or recovers.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
}

/** `transform` entries of a {@link StepFunctionsSemaphore}: plain objects merged into that child's args. */
export interface StepFunctionsSemaphoreTransformArgs {
    /**
     * Merged into the semaphore table's args (`aws.dynamodb.TableArgs`).
     * @default none
     * @example { deletionProtectionEnabled: true }
     */
    table?: { [key: string]: any };
    /**
     * Merged into the dead-letter queue's args (`aws.sqs.QueueArgs`). A customer-managed key must admit, in its
     * key policy, every writer (`kms:GenerateDataKey*`, `kms:Decrypt`): EventBridge (`events.amazonaws.com`), for
     * cleanup events it could not deliver, and the cleanup and sweeper roles, with which Lambda sends their
     * failed runs; the component grants no KMS action.
     * @default none
     * @example { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false }
     */
    deadLetterQueue?: { [key: string]: any };
    /**
     * Merged into the acquire function's args (`aws.lambda.FunctionArgs`).
     * @default none
     * @example { memorySize: 512 }
     */
    acquire?: { [key: string]: any };
    /**
     * Merged into the release function's args (`aws.lambda.FunctionArgs`).
     * @default none
     * @example { memorySize: 512 }
     */
    release?: { [key: string]: any };
    /**
     * Merged into the cleanup function's args (`aws.lambda.FunctionArgs`).
     * @default none
     * @example { description: "erp semaphore cleanup" }
     */
    cleanup?: { [key: string]: any };
    /**
     * Merged into the sweeper function's args (`aws.lambda.FunctionArgs`).
     * @default none
     * @example { tracingConfig: { mode: "Active" } }
     */
    sweeper?: { [key: string]: any };
    /**
     * Merged into the acquire function's role (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    acquireRole?: { [key: string]: any };
    /**
     * Merged into the release function's role (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    releaseRole?: { [key: string]: any };
    /**
     * Merged into the cleanup function's role (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    cleanupRole?: { [key: string]: any };
    /**
     * Merged into the sweeper function's role (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    sweeperRole?: { [key: string]: any };
}

/** The children `transform` can reach, by key: the table, the queue, each function and each function's role. */
function semaphoreChildren(name: string): ChildCatalog<keyof StepFunctionsSemaphoreTransformArgs> {
    const children = (role: keyof SemaphoreFunctions) => workerFunctionChildren(`${name}-${role}`);
    return {
        table: { type: CHILD_TYPES.table, name: `${name}-table` },
        deadLetterQueue: { type: CHILD_TYPES.queue, name: `${name}-dlq` },
        acquire: children("acquire").function,
        release: children("release").function,
        cleanup: children("cleanup").function,
        sweeper: children("sweeper").function,
        acquireRole: children("acquire").role,
        releaseRole: children("release").role,
        cleanupRole: children("cleanup").role,
        sweeperRole: children("sweeper").role,
    };
}

export interface StepFunctionsSemaphoreArgs extends SemaphoreSettingsArgs, EscapeHatchArgs {
    /**
     * ARNs of the state machines whose executions use this semaphore
     * (`arn:aws:states:<region>:<account>:stateMachine:<name>`). When given, the cleanup rule matches only
     * their executions and the functions may call `states:DescribeExecution` only on their executions,
     * the child executions of their Distributed Map states included. Each machine adds two entries to the
     * cleanup rule's pattern: about 10 fit EventBridge's default 2,048 characters. A machine whose definition uses this semaphore's states cannot pass its own ARN here (the ARN
     * depends on the definition): name the machine yourself and build the ARN, or use
     * `SemaphoreStateMachine`, which does this for you.
     * @default every state machine in the account and region
     * @example [pulumi.interpolate`arn:aws:states:${region}:${account}:stateMachine:orders`]
     */
    protectedStateMachineArns?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Escape hatch: plain objects merged into one child's args each (table, deadLetterQueue, the acquire,
     * release, cleanup and sweeper functions, and their roles acquireRole, releaseRole, cleanupRole,
     * sweeperRole). For code-level changes from TypeScript, Pulumi's own `transforms` resource option also
     * reaches every child.
     * @default none
     * @example { table: { deletionProtectionEnabled: true }, sweeper: { memorySize: 256 }, acquireRole: { permissionsBoundary: boundary.arn } }
     */
    transform?: StepFunctionsSemaphoreTransformArgs;
}

/** Every timing of the semaphore with its default applied. */
export interface SemaphoreSettings {
    limit: pulumi.Input<number>;
    maxHoldSeconds: number;
    waitTimeoutSeconds: number;
    heartbeatSeconds: number;
    sweepIntervalMinutes: number;
}

/**
 * Pattern 3, a semaphore for Step Functions (Standard) workflows that call a fragile system.
 *
 * The acquire state waits on `.waitForTaskToken` in a FIFO queue, without polling; release hands the permit
 * straight to the oldest live waiter. A rule on FAILED / TIMED_OUT / ABORTED executions releases their
 * permits, and a scheduled sweeper heartbeats waiters and reclaims what the rule missed. Failed cleanups end
 * in a dead-letter queue; every function has an error alarm.
 *
 * @example
 * const semaphore = new StepFunctionsSemaphore("erp", { limit: 5 });
 * new aws.sfn.StateMachine("orders", {
 *     roleArn: role.arn,
 *     definition: semaphore.protect({ StartAt: "CallErp", States: { CallErp: { Type: "Task", Resource: fn.arn, End: true } } }),
 * });
 */
export class StepFunctionsSemaphore extends pulumi.ComponentResource {
    /** The semaphore table: shard items of four permits, queue places and one item per execution with its task token. */
    public readonly table: aws.dynamodb.Table;
    /** The function the acquire state invokes. */
    public readonly acquireFunction: aws.lambda.Function;
    /** The function the release states invoke. */
    public readonly releaseFunction: aws.lambda.Function;
    /** The function the cleanup rule invokes for FAILED, TIMED_OUT and ABORTED executions. */
    public readonly cleanupFunction: aws.lambda.Function;
    /** The scheduled sweeper: heartbeats, reclaims, redeliveries. */
    public readonly sweeperFunction: aws.lambda.Function;
    /** The role of the acquire function. */
    public readonly acquireRole: aws.iam.Role;
    /** The role of the release function. */
    public readonly releaseRole: aws.iam.Role;
    /** The role of the cleanup function. */
    public readonly cleanupRole: aws.iam.Role;
    /** The role of the sweeper function. */
    public readonly sweeperRole: aws.iam.Role;
    /** The rule on execution status changes that invokes the cleanup function. */
    public readonly cleanupRule: aws.cloudwatch.EventRule;
    /** The schedule of the sweeper. */
    public readonly sweeperSchedule: aws.cloudwatch.EventRule;
    /** The dead-letter queue of the cleanup and the sweeper. */
    public readonly deadLetterQueue: aws.sqs.Queue;
    /** The dashboard: permits in use against the limit, waiters, wait time, grants and releases, repairs. */
    public readonly dashboard: aws.cloudwatch.Dashboard;
    /** Name of the semaphore table. */
    public readonly tableName: pulumi.Output<string>;
    /** ARN of the function the acquire state invokes; grant the state machine `lambda:InvokeFunction` on it. */
    public readonly acquireFunctionArn: pulumi.Output<string>;
    /** ARN of the function the release states invoke; grant the state machine `lambda:InvokeFunction` on it. */
    public readonly releaseFunctionArn: pulumi.Output<string>;
    /** URL of the dead-letter queue: status-change events the cleanup could not process, and failed sweeps. */
    public readonly deadLetterQueueUrl: pulumi.Output<string>;
    /** Permits. */
    public readonly limit: pulumi.Output<number>;
    /** `TimeoutSeconds` of the acquire state. */
    public readonly waitTimeoutSeconds: pulumi.Output<number>;
    /** `HeartbeatSeconds` of the acquire state. */
    public readonly heartbeatSeconds: pulumi.Output<number>;
    /** Name of the dashboard. */
    public readonly dashboardName: pulumi.Output<string>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: StepFunctionsSemaphoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:StepFunctionsSemaphore", name, {}, withEscapeHatches(opts, args, semaphoreChildren(name)));
        checkConstruction(STEP_FUNCTIONS_SEMAPHORE_ARGUMENTS, name, args);
        const settings = resolveSemaphoreSettings(args);
        validateSemaphoreArgs(new Validator(componentLabel("StepFunctionsSemaphore", name)), args, settings).throwIfInvalid(this);
        claimDashboardName(name, componentLabel("StepFunctionsSemaphore", name), this);

        const table = createTable(`${name}-table`, TABLE_KEYS, this);
        const deadLetterQueue = createQueue(`${name}-dlq`, {}, this);
        const protectedMachines = protectedStateMachines(args.protectedStateMachineArns);
        const functions = createSemaphoreFunctions(name, settings, table, deadLetterQueue, protectedMachines, args.transform, this);
        const cleanupRule = subscribeCleanup(name, functions.cleanup.function, deadLetterQueue, protectedMachines, this);
        // A sweep late by a whole interval is worth nothing (the next one is due); a failed sweep goes to the DLQ.
        const sweeperSchedule = scheduleFunction(
            `${name}-sweeper`,
            functions.sweeper.function,
            { expression: rateInMinutes(settings.sweepIntervalMinutes), intervalSeconds: 60 * settings.sweepIntervalMinutes, onFailureDestination: deadLetterQueue.arn },
            this,
        );
        attachQueuePolicy(`${name}-dlq-policy`, deadLetterQueue, [{ service: "events.amazonaws.com", sourceArn: cleanupRule.arn }], this);
        createAlarms(name, semaphoreAlarms(functions, deadLetterQueue), args.alarmActions, this);
        const dashboard = createDashboard(name, semaphoreWidgets(name, settings.limit, functions), this);

        this.table = table;
        this.acquireFunction = functions.acquire.function;
        this.releaseFunction = functions.release.function;
        this.cleanupFunction = functions.cleanup.function;
        this.sweeperFunction = functions.sweeper.function;
        this.acquireRole = functions.acquire.role;
        this.releaseRole = functions.release.role;
        this.cleanupRole = functions.cleanup.role;
        this.sweeperRole = functions.sweeper.role;
        this.cleanupRule = cleanupRule;
        this.sweeperSchedule = sweeperSchedule;
        this.deadLetterQueue = deadLetterQueue;
        this.dashboard = dashboard;
        this.tableName = table.name;
        this.acquireFunctionArn = functions.acquire.function.arn;
        this.releaseFunctionArn = functions.release.function.arn;
        this.deadLetterQueueUrl = deadLetterQueue.url;
        this.limit = pulumi.output(settings.limit);
        this.waitTimeoutSeconds = pulumi.output(settings.waitTimeoutSeconds);
        this.heartbeatSeconds = pulumi.output(settings.heartbeatSeconds);
        this.dashboardName = dashboard.dashboardName;
        this.operations = operationsManifest(this, {
            componentType: "StepFunctionsSemaphore",
            name,
            semaphore: { tableName: table.name, name, limit: this.limit },
            deadLetterQueue: { url: deadLetterQueue.url, arn: deadLetterQueue.arn },
            dashboardName: this.dashboardName,
        });
        this.registerOutputs({
            table,
            acquireFunction: this.acquireFunction,
            releaseFunction: this.releaseFunction,
            cleanupFunction: this.cleanupFunction,
            sweeperFunction: this.sweeperFunction,
            acquireRole: this.acquireRole,
            releaseRole: this.releaseRole,
            cleanupRole: this.cleanupRole,
            sweeperRole: this.sweeperRole,
            cleanupRule,
            sweeperSchedule,
            deadLetterQueue,
            dashboard,
            tableName: this.tableName,
            acquireFunctionArn: this.acquireFunctionArn,
            releaseFunctionArn: this.releaseFunctionArn,
            deadLetterQueueUrl: this.deadLetterQueueUrl,
            limit: this.limit,
            waitTimeoutSeconds: this.waitTimeoutSeconds,
            heartbeatSeconds: this.heartbeatSeconds,
            dashboardName: this.dashboardName,
            operations: this.operations,
        });
    }

    /**
     * The acquire state: waits until the semaphore grants a permit, then goes to `next` with its input
     * unchanged. Give it a Catch that releases, or use {@link protect}. A bad `next` throws here.
     * @example States: { Acquire: semaphore.acquireState("CallErp"), CallErp: {…, Next: "Release"}, Release: semaphore.releaseState() }
     */
    acquireState(next: string): pulumi.Output<AslState> {
        checkNow("acquireState", (placeholders) => acquireState(placeholders, next));
        return this.aslArgs().apply((args) => acquireState(args, next));
    }

    /**
     * The release state: gives this execution's permit to the next waiter (or back), keeping the state's
     * input; ends the execution when `next` is omitted.
     * @example semaphore.releaseState("Notify")
     */
    releaseState(next?: string): pulumi.Output<AslState> {
        checkNow("releaseState", (placeholders) => releaseState(placeholders, next));
        return this.aslArgs().apply((args) => releaseState(args, next));
    }

    /**
     * The whole definition wrapped so it runs holding a permit and every path after acquire releases it
     * (success → release → end; any error → release → Fail with the original error), as the JSON string
     * `aws.sfn.StateMachine` takes. Values inside the definition may be Outputs. A definition known now that
     * lacks `StartAt`/`States` or uses a state name of the semaphore throws here; one known only at deploy
     * time fails the deployment with the same message.
     * @example definition: semaphore.protect({ StartAt: "CallErp", States: { CallErp: { Type: "Task", Resource: fn.arn, End: true } } })
     */
    protect(definition: pulumi.Input<{ [key: string]: any }>): pulumi.Output<string> {
        const problem = definitionProblem(definition);
        if (problem !== undefined) throw new ConfigurationError(`StepFunctionsSemaphore.protect: ${problem}`);
        return pulumi
            .all([this.aslArgs(), pulumi.output(definition)])
            .apply(([args, resolved]) => JSON.stringify(checked("protect", () => protect(args, resolved as AslDefinition))));
    }

    private aslArgs(): pulumi.Output<SemaphoreAslArgs> {
        return pulumi
            .all([this.acquireFunctionArn, this.releaseFunctionArn, this.waitTimeoutSeconds, this.heartbeatSeconds])
            .apply(([acquireFunctionArn, releaseFunctionArn, waitTimeoutSeconds, heartbeatSeconds]) => ({
                acquireFunctionArn,
                releaseFunctionArn,
                waitTimeoutSeconds,
                heartbeatSeconds,
            }));
    }
}

/** Applies the defaults; pure. */
export function resolveSemaphoreSettings(args: SemaphoreSettingsArgs): SemaphoreSettings {
    const d = STEP_FUNCTIONS_SEMAPHORE_DEFAULTS;
    const waitTimeoutSeconds = args.waitTimeoutSeconds ?? d.waitTimeoutSeconds;
    const sweepIntervalMinutes = args.sweepIntervalMinutes ?? d.sweepIntervalMinutes;
    const defaultHeartbeat = Math.min(Math.max(d.heartbeatSeconds, minimumHeartbeatSeconds(sweepIntervalMinutes)), waitTimeoutSeconds - 1);
    return {
        limit: args.limit,
        maxHoldSeconds: args.maxHoldSeconds ?? d.maxHoldSeconds,
        waitTimeoutSeconds,
        heartbeatSeconds: args.heartbeatSeconds ?? defaultHeartbeat,
        sweepIntervalMinutes,
    };
}

/** Adds every problem with the semaphore's arguments to `validator`; pure. */
export function validateSemaphoreArgs(
    validator: Validator,
    args: SemaphoreSettingsArgs & Pick<StepFunctionsSemaphoreArgs, "protectedStateMachineArns">,
    settings: SemaphoreSettings,
): Validator {
    validator
        .integer("limit", args.limit, 1, MAX_SEMAPHORE_LIMIT, "every sweep reads each shard item of four permits")
        .integer("maxHoldSeconds", args.maxHoldSeconds, 1, MAX_EXECUTION_SECONDS)
        .integer("waitTimeoutSeconds", args.waitTimeoutSeconds, 2, MAX_EXECUTION_SECONDS)
        .integer("sweepIntervalMinutes", args.sweepIntervalMinutes, 1, 1440);
    const arns = plainValue(args.protectedStateMachineArns);
    for (const arn of Array.isArray(arns) ? arns : []) {
        const problem = typeof arn === "string" ? stateMachineArnProblem(arn) : undefined;
        validator.rule(problem !== undefined, problem ?? "");
    }
    const { waitTimeoutSeconds: wait, sweepIntervalMinutes: sweep, heartbeatSeconds: heartbeat } = settings;
    if (!isIntegerIn(wait, 2, MAX_EXECUTION_SECONDS) || !isIntegerIn(sweep, 1, 1440)) return validator;
    const minHeartbeat = minimumHeartbeatSeconds(sweep);
    const twoSweeps = `two sweep intervals at sweepIntervalMinutes ${sweep}`;
    if (wait <= minHeartbeat) {
        return validator.rule(
            true,
            `waitTimeoutSeconds must be more than ${minHeartbeat} (${twoSweeps}: the shortest heartbeatSeconds, which must stay below waitTimeoutSeconds); received ${wait}.`,
        );
    }
    return validator.rule(
        !isIntegerIn(heartbeat, minHeartbeat, wait - 1),
        `heartbeatSeconds must be an integer from ${minHeartbeat} (${twoSweeps}: the sweeper sends the heartbeats and one sweep may be late) ` +
            `to ${wait - 1} (below waitTimeoutSeconds); received ${heartbeat}.`,
    );
}

/**
 * The problem `protect` would report for `definition`, or undefined. Checks only a definition whose
 * `StartAt` and `States` are known now; the rest is checked when the definition resolves at deploy time.
 */
export function definitionProblem(definition: pulumi.Input<{ [key: string]: any }> | undefined): string | undefined {
    const plain = plainValue(definition);
    if (definition !== undefined && (plain === undefined || isDeferred(plain.StartAt) || isDeferred(plain.States))) return undefined;
    try {
        protect(PLACEHOLDER_ASL_ARGS, plain as AslDefinition);
        return undefined;
    } catch (error) {
        return (error as Error).message;
    }
}

/**
 * Heartbeats come from the sweeper, and one sweep may run late: the heartbeat must cover two intervals.
 * EventBridge schedules fire once a minute at best.
 */
function minimumHeartbeatSeconds(sweepIntervalMinutes: number): number {
    return 2 * 60 * sweepIntervalMinutes;
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
    return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** Function ARNs for checking a state name or definition before the real ARNs are known. */
const PLACEHOLDER_ASL_ARGS: SemaphoreAslArgs = {
    acquireFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:placeholder-acquire",
    releaseFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:placeholder-release",
};

/** Runs an ASL builder on placeholder ARNs, so a bad argument fails at the call instead of at deploy time. */
function checkNow(method: string, build: (placeholders: SemaphoreAslArgs) => unknown): void {
    checked(method, () => build(PLACEHOLDER_ASL_ARGS));
}

/** Runs `build`, naming the method in the error it throws. */
function checked<T>(method: string, build: () => T): T {
    try {
        return build();
    } catch (error) {
        throw new ConfigurationError(`StepFunctionsSemaphore.${method}: ${(error as Error).message}`);
    }
}

interface SemaphoreFunctions {
    acquire: WorkerFunction;
    release: WorkerFunction;
    cleanup: WorkerFunction;
    sweeper: WorkerFunction;
}

/** A protected state machine, parsed from its ARN. */
interface ProtectedStateMachine {
    arn: string;
    partition: string;
    region: string;
    account: string;
    name: string;
}

/** The problem with a protected state machine ARN, or undefined. */
function stateMachineArnProblem(arn: string): string | undefined {
    if (STATE_MACHINE_ARN.test(arn)) return undefined;
    return `protectedStateMachineArns must hold state machine ARNs (arn:<partition>:states:<region>:<account>:stateMachine:<name>); received ${JSON.stringify(arn)}.`;
}

/** The protected machines parsed (a malformed ARN known only at deploy time fails the deployment with the validation message), or undefined. */
function protectedStateMachines(arns: pulumi.Input<pulumi.Input<string>[]> | undefined): pulumi.Output<ProtectedStateMachine[]> | undefined {
    if (arns === undefined) return undefined;
    return pulumi.output(arns).apply((resolved) =>
        resolved.map((arn) => {
            const match = STATE_MACHINE_ARN.exec(arn);
            if (!match) throw new ConfigurationError(`StepFunctionsSemaphore: ${stateMachineArnProblem(arn)}`);
            const [, partition, region, account, name] = match;
            return { arn, partition, region, account, name };
        }),
    );
}

/**
 * The four functions, each with only what it does: all of them read and write the table, wake waiters
 * (SendTaskSuccess) and check whether an execution whose token answered "dead" still runs
 * (DescribeExecution, in a policy of its own: it names the protected machines, which may be created after
 * the functions); the sweeper also lists waiters (Query) and heartbeats them; cleanup and sweeper write
 * their on-failure destination, the dead-letter queue. Task tokens are not resources IAM can name, so
 * the task-token actions take `*`.
 */
function createSemaphoreFunctions(
    name: string,
    settings: SemaphoreSettings,
    table: aws.dynamodb.Table,
    deadLetterQueue: aws.sqs.Queue,
    protectedMachines: pulumi.Output<ProtectedStateMachine[]> | undefined,
    transform: StepFunctionsSemaphoreTransformArgs | undefined,
    parent: pulumi.Resource,
): SemaphoreFunctions {
    const label = componentLabel("StepFunctionsSemaphore", name);
    const environment = {
        [ENV.semaphoreTableName]: table.name,
        [ENV.semaphoreName]: name,
        [ENV.semaphoreLimit]: pulumi.output(settings.limit).apply(String),
        [ENV.semaphoreLeaseSeconds]: String(settings.maxHoldSeconds),
    };
    // Every function reads the queue's head (Query) besides the item writes.
    const tableItems: PolicyStatementArgs = { actions: [...TABLE_ITEM_ACTIONS, "dynamodb:Query"], resources: [table.arn] };
    const wakeWaiters: PolicyStatementArgs = { actions: ["states:SendTaskSuccess"], resources: ["*"] };
    // An acquire under a second token checks with a heartbeat whether the recorded token is dead.
    const wakeOrCheckWaiters: PolicyStatementArgs = { actions: ["states:SendTaskSuccess", "states:SendTaskHeartbeat"], resources: ["*"] };
    const onFailure: PolicyStatementArgs = { actions: ["sqs:SendMessage"], resources: [deadLetterQueue.arn] };
    const describe = policyDocument([pulumi.output(executionArns(protectedMachines, parent)).apply((resources) => ({ actions: ["states:DescribeExecution"], resources }))]);
    const create = (role: keyof SemaphoreFunctions, handler: string, statements: pulumi.Input<PolicyStatementArgs>[], timeoutSeconds?: number) => {
        const functionPatch = transform?.[role];
        const fn = createRuntimeFunction(`${name}-${role}`, { label, module: `handlers/${handler}`, environment, statements, timeoutSeconds, functionPatch }, parent);
        attachInlinePolicy(`${name}-${role}-describe`, fn.role, describe, label, parent);
        return fn;
    };
    return {
        acquire: create("acquire", "semaphoreAcquire", [tableItems, wakeOrCheckWaiters]),
        release: create("release", "semaphoreRelease", [tableItems, wakeWaiters]),
        cleanup: create("cleanup", "semaphoreCleanup", [tableItems, wakeWaiters, onFailure]),
        sweeper: create(
            "sweeper",
            "semaphoreSweeper",
            [tableItems, wakeOrCheckWaiters, onFailure],
            // A sweep may take up to one interval (Lambda allows 15 minutes); the next one starts then.
            Math.min(900, 60 * settings.sweepIntervalMinutes),
        ),
    };
}

/**
 * The executions the functions may describe: those of the protected machines when known (with the child
 * workflow executions their Distributed Map states start, `execution:<machine>/<map run label>:<id>`),
 * else every execution in the provider's account and region.
 */
function executionArns(protectedMachines: pulumi.Output<ProtectedStateMachine[]> | undefined, parent: pulumi.Resource): pulumi.Output<string[]> {
    if (protectedMachines) {
        return protectedMachines.apply((machines) =>
            machines.flatMap((m) => [`arn:${m.partition}:states:${m.region}:${m.account}:execution:${m.name}:*`, `arn:${m.partition}:states:${m.region}:${m.account}:execution:${m.name}/*`]),
        );
    }
    const partition = aws.getPartitionOutput({}, { parent }).partition;
    const region = aws.getRegionOutput({}, { parent }).region;
    const account = aws.getCallerIdentityOutput({}, { parent }).accountId;
    return pulumi.interpolate`arn:${partition}:states:${region}:${account}:execution:*:*`.apply((arn) => [arn]);
}

/**
 * The rule on executions that ended without running their Catch (FAILED, TIMED_OUT, ABORTED), its target
 * (EventBridge retries for a day, then the dead-letter queue) and the async invoke config (Lambda retries
 * twice, then the dead-letter queue). The event is best effort: the sweeper is the backstop.
 */
function subscribeCleanup(
    name: string,
    cleanup: aws.lambda.Function,
    deadLetterQueue: aws.sqs.Queue,
    protectedMachines: pulumi.Output<ProtectedStateMachine[]> | undefined,
    parent: pulumi.Resource,
): aws.cloudwatch.EventRule {
    // A Distributed Map's child workflow executions report their machine as `<machine ARN>/<map run label>`.
    const detail = (machines: ProtectedStateMachine[] | undefined) =>
        machines ? { status: CLEANUP_STATUSES, stateMachineArn: machines.flatMap((m) => [m.arn, { prefix: `${m.arn}/` }]) } : { status: CLEANUP_STATUSES };
    const eventPattern = eventPatternJson(
        componentLabel("StepFunctionsSemaphore", name),
        "the cleanup rule's pattern (two entries per protectedStateMachineArns)",
        pulumi.output(protectedMachines).apply((machines) => ({ source: ["aws.states"], "detail-type": ["Step Functions Execution Status Change"], detail: detail(machines) })),
        parent,
        "protect fewer state machines with one semaphore, or name none: the rule then matches every machine's executions, and the cleanup releases nothing for an execution that holds no permit",
    );
    const rule = new aws.cloudwatch.EventRule(`${name}-cleanup-rule`, { eventPattern, state: "ENABLED" }, { parent });
    const permission = new aws.lambda.Permission(
        `${name}-cleanup-invoke`,
        { action: "lambda:InvokeFunction", function: cleanup.name, principal: "events.amazonaws.com", sourceArn: rule.arn },
        { parent },
    );
    new aws.cloudwatch.EventTarget(
        `${name}-cleanup-target`,
        {
            rule: rule.name,
            arn: cleanup.arn,
            retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 },
            deadLetterConfig: { arn: deadLetterQueue.arn },
        },
        { parent, dependsOn: [permission] },
    );
    new aws.lambda.FunctionEventInvokeConfig(
        `${name}-cleanup-async`,
        {
            functionName: cleanup.name,
            maximumRetryAttempts: 2,
            maximumEventAgeInSeconds: MAX_ASYNC_EVENT_AGE_SECONDS,
            destinationConfig: { onFailure: { destination: deadLetterQueue.arn } },
        },
        { parent },
    );
    return rule;
}

/**
 * The dashboard: permits in use against the limit and waiters (sampled by each sweep, Maximum), wait time
 * (p50, p99, Maximum), grants and releases, the repairs (reclaims, redeliveries, dead waiters, refused
 * events), and the functions' errors.
 */
function semaphoreWidgets(name: string, limit: pulumi.Input<number>, functions: SemaphoreFunctions): WidgetSpec[] {
    const metric = (metricName: string, options: { stat?: string; label?: string; id?: string }): MetricLine => [
        RUNTIME_METRIC_NAMESPACE,
        metricName,
        "Worker",
        name,
        options,
    ];
    const m = SEMAPHORE_METRICS;
    const errors: MetricLine[] = (Object.keys(functions) as Array<keyof SemaphoreFunctions>).map((role) => [
        "AWS/Lambda",
        "Errors",
        "FunctionName",
        functions[role].function.name as unknown as string,
        { stat: "Sum", label: `${role} errors` },
    ]);
    return [
        {
            title: "Permits in use vs limit",
            metrics: [metric(m.permitsInUse, { stat: "Maximum", label: "permits in use", id: "inUse" }), [{ expression: pulumi.interpolate`FILL(inUse, 0) * 0 + ${limit}` as unknown as string, label: "limit", id: "limit" }]],
        },
        { title: "Waiters", metrics: [metric(m.waiters, { stat: "Maximum", label: "waiters" })] },
        {
            title: "Wait time (ms)",
            metrics: [metric(m.waitTime, { stat: "p50", label: "p50" }), metric(m.waitTime, { stat: "p99", label: "p99" }), metric(m.waitTime, { stat: "Maximum", label: "max" })],
        },
        { title: "Grants and releases", metrics: [metric(m.grants, { stat: "Sum", label: "grants" }), metric(m.releases, { stat: "Sum", label: "releases" })] },
        {
            title: "Repairs: sweeper reclaims, redeliveries, dead waiters, refused events",
            metrics: [
                metric(m.reclaims, { stat: "Sum", label: "reclaims" }),
                metric(m.redeliveries, { stat: "Sum", label: "redeliveries" }),
                metric(m.deadWaiters, { stat: "Sum", label: "dead waiters" }),
                metric(m.rejectedEvents, { stat: "Sum", label: "refused cleanup events" }),
            ],
        },
        { title: "Function errors", metrics: pulumi.all(errors.map((line) => pulumi.all(line as pulumi.Input<MetricLine[number]>[]))) as pulumi.Output<MetricLine[]> },
    ];
}

function semaphoreAlarms(functions: SemaphoreFunctions, deadLetterQueue: aws.sqs.Queue): AlarmSpec[] {
    const errors = (role: keyof SemaphoreFunctions, meaning: string): AlarmSpec => ({
        id: `${role}-errors`,
        description: `The semaphore's ${role} function returned errors: ${meaning}`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: functions[role].function.name },
        statistic: "Sum",
        threshold: 0,
    });
    return [
        queueNotEmptyAlarm(
            "dlq-not-empty",
            deadLetterQueue,
            "Status-change events the cleanup could not process, or failed sweeps, wait in the dead-letter queue: " +
                "permits of ended executions stay held until a sweep reclaims them after maxHoldSeconds. Inspect and fix.",
        ),
        errors("acquire", "Step Functions retries the acquire state; an execution whose retries run out fails through the release path."),
        errors("release", "Step Functions retries the release state; a permit it could not release waits for the cleanup rule or the sweeper."),
        errors("cleanup", "Lambda retries the event, then sends it to the dead-letter queue; the sweeper reclaims the permit after maxHoldSeconds."),
        errors("sweeper", "waiting executions get no heartbeats and fail after heartbeatSeconds, and expired permits are not reclaimed."),
    ];
}
