/**
 * What the controller and the workers' adaptive-concurrency option share: the targets with their AWS
 * ranges, the tuning arguments and their validation, and schedule parsing. Pure.
 */
import * as pulumi from "@pulumi/pulumi";
import { createTable } from "./tables";
import { Validator } from "./validation";

/** The setting a controller moves. */
export const ControlTarget = {
    /** The function's reserved concurrency (`PutFunctionConcurrency`); EventBridge worker pools. */
    ReservedConcurrency: "ReservedConcurrency",
    /** An SQS mapping's `ScalingConfig.MaximumConcurrency`, 2–1000; FIFO workers. */
    SqsMaximumConcurrency: "SqsMaximumConcurrency",
    /** A Kinesis mapping's `ParallelizationFactor`, 1–10 batches per shard; Kinesis workers. */
    KinesisParallelizationFactor: "KinesisParallelizationFactor",
} as const;
export type ControlTarget = (typeof ControlTarget)[keyof typeof ControlTarget];

/** The values AWS accepts for each target. */
export const CONTROL_TARGET_RANGES: Record<ControlTarget, { min: number; max: number }> = {
    ReservedConcurrency: { min: 1, max: 1_000_000 },
    SqsMaximumConcurrency: { min: 2, max: 1000 },
    KinesisParallelizationFactor: { min: 1, max: 10 },
};

/** The backlog-age metric that signals demand for each target. */
export const BACKLOG_METRIC: Record<ControlTarget, string> = {
    ReservedConcurrency: "AsyncEventAge",
    SqsMaximumConcurrency: "SqsAgeOfOldestMessage",
    KinesisParallelizationFactor: "IteratorAge",
};

/** Tuning shared by the controller and the workers' `adaptiveConcurrency` option. */
export interface ControlTuningArgs {
    /**
     * Lowest limit the controller may set, within the target's range (reserved concurrency 1–1000000,
     * SQS maximum concurrency 2–1000, Kinesis parallelization factor 1–10).
     * @example 2
     */
    minConcurrency: number;
    /**
     * Highest limit the controller may set, within the target's range (see `minConcurrency`) and at least
     * `minConcurrency`.
     * @example 50
     * @example 10 // a Kinesis parallelization factor, at most 10
     */
    maxConcurrency: number;
    /**
     * Downstream latency in ms (p90 of `ctx.downstream` calls), 1–900000, above which the limit comes down.
     * Without it the controller learns a baseline: a slowly decaying minimum of observed latency.
     * @default the learned baseline × 1.25
     * @example 200
     */
    latencyTargetMs?: number;
    /**
     * Downstream error rate, between 0 and 1 (both excluded), above which the limit is cut.
     * @default 0.05
     * @example 0.1
     */
    errorRateThreshold?: number;
    /**
     * Only `ctx.downstream` calls with this name count (a non-empty string).
     * @default all calls
     * @example "erp"
     */
    downstream?: string;
    /**
     * Log and emit decisions without changing anything.
     * @default false
     * @example true
     */
    dryRun?: boolean;
}

/**
 * The account's shared Lambda control-plane budget (a `ControlPlaneBudget`'s table): every
 * `PutFunctionConcurrency` / `UpdateEventSourceMapping` of this controller takes a token from it first,
 * so all controllers and self-tuning workers of the account and Region together stay under the 15
 * requests/s the Lambda control plane allows.
 */
export interface SharedControlPlaneBudgetArgs {
    /**
     * The budget table (string key `pk`): `ControlPlaneBudget.tableName`.
     * @example budget.tableName
     */
    tableName: pulumi.Input<string>;
    /**
     * Its ARN, for IAM (`dynamodb:GetItem`, `dynamodb:PutItem` on it only): `ControlPlaneBudget.tableArn`.
     * @example budget.tableArn
     */
    tableArn: pulumi.Input<string>;
    /**
     * Requests per second all users of the table may spend together, greater than 0 and at most 14 (the
     * bucket holds 15 minus this, at least 1, so no second sees more than 15). Give every user of one
     * table the same rate.
     * @default 10 (leaves room for deployments)
     * @example 12
     */
    requestsPerSecond?: number;
}

/** Highest `requestsPerSecond` of a shared budget: the contract's bound (contracts/controller.ts). */
export const MAX_CONTROL_PLANE_REQUESTS_PER_SECOND = 14;

/** Checks a `controlPlaneBudget` argument; `path` names it in messages. */
export function validateControlPlaneBudget(validator: Validator, budget: SharedControlPlaneBudgetArgs | undefined, path: string): Validator {
    const rate = budget?.requestsPerSecond;
    return validator.rule(
        rate !== undefined && !(typeof rate === "number" && Number.isFinite(rate) && rate > 0 && rate <= MAX_CONTROL_PLANE_REQUESTS_PER_SECOND),
        `${path}.requestsPerSecond must be a number greater than 0 and at most ${MAX_CONTROL_PLANE_REQUESTS_PER_SECOND}: the Lambda control plane allows 15 requests/s per account for PutFunctionConcurrency, UpdateEventSourceMapping and its other write APIs together, and the bucket adds at least 1 of burst; received ${rate}.`,
    );
}

/** What a budget's user may do on its table: the runtime's take is a consistent GetItem and a conditional PutItem. */
export const CONTROL_PLANE_BUDGET_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem"];

/** The IAM statement a budget's user needs; none without a budget. */
export function controlPlaneBudgetStatements(budget: SharedControlPlaneBudgetArgs | undefined): Array<{ actions: string[]; resources: pulumi.Input<string>[] }> {
    return budget ? [{ actions: CONTROL_PLANE_BUDGET_ACTIONS, resources: [budget.tableArn] }] : [];
}

/** A setting to drive and what identifies it: a `ConcurrencyController`'s arguments, or one target of a group. */
export interface ControlTargetFields {
    target: ControlTarget;
    eventSourceMappingArn?: pulumi.Input<string>;
    eventSourceArn?: pulumi.Input<string>;
    queueName?: pulumi.Input<string>;
    shardCount?: pulumi.Input<number>;
}

/** A Lambda function name as the controller's IAM resource `arn:…:function:<name>` and the metrics' `FunctionName` need it. */
const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** An event source mapping ARN, the resource of the controller's mapping statement. */
const MAPPING_ARN_PATTERN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:event-source-mapping:[0-9a-f-]{36}$/;

/**
 * Checks what a target needs besides its tuning; `prefix` names the argument path (`targets[2].`).
 * The function name and the mapping ARN go into IAM as they are, so their formats are checked (an
 * Output when it resolves): an ARN as the name would make a policy that never matches, a UUID as the
 * mapping ARN a policy AWS refuses.
 */
export function validateTargetFields(validator: Validator, fields: ControlTargetFields & { functionName: pulumi.Input<string> }, prefix = ""): Validator {
    const mappingTarget = fields.target !== ControlTarget.ReservedConcurrency;
    return validator
        .check(fields.functionName, (name) =>
            typeof name === "string" && FUNCTION_NAME_PATTERN.test(name)
                ? undefined
                : `${prefix}functionName must be a function name (1–64 letters, digits, hyphens or underscores), not an ARN: it goes into the controller's IAM resource arn:…:function:<functionName>; received ${JSON.stringify(name)}.`,
        )
        .check(fields.eventSourceMappingArn, (mappingArn) =>
            typeof mappingArn === "string" && MAPPING_ARN_PATTERN.test(mappingArn)
                ? undefined
                : `${prefix}eventSourceMappingArn must be an event source mapping ARN (arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>), not its UUID: it is the resource of the controller's IAM statement; received ${JSON.stringify(mappingArn)}.`,
        )
        .rule(
            mappingTarget && (fields.eventSourceMappingArn === undefined || fields.eventSourceArn === undefined),
            `${prefix}eventSourceMappingArn and ${prefix}eventSourceArn are required for target ${fields.target}.`,
        )
        .rule(fields.target === ControlTarget.SqsMaximumConcurrency && fields.queueName === undefined, `${prefix}queueName is required for target SqsMaximumConcurrency: the age of its oldest message is the backlog signal.`)
        .rule(fields.target === ControlTarget.KinesisParallelizationFactor && fields.shardCount === undefined, `${prefix}shardCount is required for target KinesisParallelizationFactor: concurrency in use is counted per shard.`)
        .integer(`${prefix}shardCount`, fields.shardCount, 1, 20_000);
}

/** The longest control interval the runtime accepts (`intervalSeconds` of `CONCURRENCY_CONTROL_CONFIG`). */
const MAX_INTERVAL_SECONDS = 86_400;

/**
 * Seconds between runs of `rate(N minute|minutes|hour|hours)`; `undefined` when it does not parse or is over 24 hours
 * (the runtime refuses a longer interval: the controller would deploy and fail every run).
 */
export function scheduleIntervalSeconds(schedule: string): number | undefined {
    const match = /^rate\((\d+) (minute|minutes|hour|hours)\)$/.exec(schedule);
    if (!match) return undefined;
    const count = Number(match[1]);
    const unitSeconds = match[2].startsWith("minute") ? 60 : 3600;
    const singular = !match[2].endsWith("s");
    return count >= 1 && singular === (count === 1) && count * unitSeconds <= MAX_INTERVAL_SECONDS ? count * unitSeconds : undefined;
}

/** Validates the tuning shared with the workers' option; `prefix` names the argument path. */
export function validateTuning(validator: Validator, tuning: ControlTuningArgs, target: ControlTarget, prefix = ""): Validator {
    const range = CONTROL_TARGET_RANGES[target];
    return validator
        .integer(`${prefix}minConcurrency`, tuning.minConcurrency, range.min, range.max)
        .integer(`${prefix}maxConcurrency`, tuning.maxConcurrency, range.min, range.max)
        .rule(
            Number.isInteger(tuning.minConcurrency) && Number.isInteger(tuning.maxConcurrency) && tuning.minConcurrency > tuning.maxConcurrency,
            `${prefix}minConcurrency (${tuning.minConcurrency}) must not exceed ${prefix}maxConcurrency (${tuning.maxConcurrency}).`,
        )
        .integer(`${prefix}latencyTargetMs`, tuning.latencyTargetMs, 1, 900_000)
        .rule(
            typeof tuning.errorRateThreshold === "number" && !(tuning.errorRateThreshold > 0 && tuning.errorRateThreshold < 1),
            `${prefix}errorRateThreshold must be a number greater than 0 and less than 1; received ${tuning.errorRateThreshold}.`,
        )
        .rule(tuning.downstream !== undefined && tuning.downstream.trim() === "", `${prefix}downstream must name a \`ctx.downstream\` call (a non-empty string); received ${JSON.stringify(tuning.downstream)}.`);
}


/** What a `CONCURRENCY_CONTROL_CONFIG` (the runtime's `ControlLoopConfig`) is built from. */
export interface ControlConfigSpec {
    target: ControlTarget;
    tuning: ControlTuningArgs;
    tableName: pulumi.Input<string>;
    intervalSeconds: number;
    /** Stream or queue of a mapping target: statistics and the lease are keyed by it on both sides. */
    eventSourceArn?: pulumi.Input<string>;
    /** Queue whose oldest message signals backlog (SQS target). */
    queueName?: pulumi.Input<string>;
    /** Shards of a Kinesis stream: concurrency in use is counted per shard. */
    shardCount?: pulumi.Input<number>;
    /**
     * The scheduled controller knows the function and mapping it drives. A worker does not (its mapping
     * is created after it): without `identity` the runtime resolves its own name and mapping.
     */
    identity?: { functionName: pulumi.Input<string>; eventSourceMappingArn?: pulumi.Input<string> };
    /** The account's shared control-plane budget, for a driver that changes settings (controller, self-tuning). */
    budget?: SharedControlPlaneBudgetArgs;
}

/** The JSON config the runtime's control loop reads. */
export function controlLoopConfig(spec: ControlConfigSpec): pulumi.Output<string> {
    return controlLoopSettings(spec).apply((settings) => JSON.stringify(settings));
}

/** The fields of the runtime's `ControlLoopConfig` a spec resolves to (`undefined` ones dropped by JSON). */
export function controlLoopSettings(spec: ControlConfigSpec): pulumi.Output<Record<string, unknown>> {
    const { identity, tuning } = spec;
    return pulumi
        .all([spec.tableName, spec.eventSourceArn, spec.queueName, identity?.functionName, identity?.eventSourceMappingArn, spec.shardCount, spec.budget?.tableName])
        .apply(([tableName, eventSourceArn, queueName, functionName, mappingArn, shardCount, budgetTable]): Record<string, unknown> => ({
            target: controlTargetConfig(spec.target, eventSourceArn, functionName, mappingArn),
            params: { min: tuning.minConcurrency, max: tuning.maxConcurrency, latencyTargetMs: tuning.latencyTargetMs, errorRateThreshold: tuning.errorRateThreshold },
            tableName,
            metrics: { functionName, backlog: BACKLOG_METRIC[spec.target], queueName },
            intervalSeconds: spec.intervalSeconds,
            executionsPerUnit: shardCount,
            downstream: tuning.downstream,
            dryRun: tuning.dryRun ?? false,
            controlPlaneBudgetTable: budgetTable,
            controlPlaneRequestsPerSecond: spec.budget?.requestsPerSecond,
        }));
}

function controlTargetConfig(target: ControlTarget, eventSourceArn?: string, functionName?: string, mappingArn?: string): object {
    if (target === ControlTarget.ReservedConcurrency) return { kind: target, functionName };
    return { kind: target, uuid: mappingArn?.split(":").pop(), eventSourceArn };
}

/**
 * The setting a controller moves and what it needs to read it: shared by `ConcurrencyController` and each
 * target of `ConcurrencyControllerGroup`.
 */
export interface ControlledSettingArgs extends ControlTuningArgs {
    /**
     * The setting to move: `ReservedConcurrency`, `SqsMaximumConcurrency` or `KinesisParallelizationFactor`.
     * @example "ReservedConcurrency"
     */
    target: ControlTarget;
    /**
     * The worker function: its metrics are read, and its reserved concurrency is the setting for `ReservedConcurrency`.
     * @example fn.name
     */
    functionName: pulumi.Input<string>;
    /**
     * ARN of the event source mapping; required for the mapping targets.
     * @default none (not needed for `ReservedConcurrency`)
     * @example "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:14e0db71-5d35-4eb5-b481-8945cf9d10c2"
     */
    eventSourceMappingArn?: pulumi.Input<string>;
    /**
     * ARN of the mapping's stream or queue; required for the mapping targets: statistics and the lease
     * are keyed by it, as the worker's runtime keys them.
     * @default none (not needed for `ReservedConcurrency`)
     * @example "arn:aws:sqs:us-east-1:123456789012:ledger-queue.fifo"
     */
    eventSourceArn?: pulumi.Input<string>;
    /**
     * Name of the SQS queue whose oldest message signals backlog. Needed for `SqsMaximumConcurrency`:
     * without it the controller's runs fail.
     * @default none (only the SQS target reads it)
     * @example "ledger-queue.fifo"
     */
    queueName?: pulumi.Input<string>;
    /**
     * Shards of the Kinesis stream, 1–20000: concurrency in use is divided by it. Required for
     * `KinesisParallelizationFactor`. May come from another stack (an Output): checked when it resolves.
     * @default none (only the Kinesis target reads it)
     * @example 4
     */
    shardCount?: pulumi.Input<number>;
}

/**
 * The controller function, its role and log group, and its schedule rule: what every scheduled controller
 * has, the adaptive controller a worker creates included (a worker's `transform.adaptiveController`). Each
 * field is merged into that child's args.
 */
export interface ControllerFunctionTransformArgs {
    /**
     * Merged into the controller function's args (`aws.lambda.FunctionArgs`).
     * @default none
     * @example { memorySize: 512 }
     */
    function?: { [key: string]: any };
    /**
     * Merged into the controller function role's args (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    role?: { [key: string]: any };
    /**
     * Merged into the controller function log group's args (`aws.cloudwatch.LogGroupArgs`).
     * @default none
     * @example { retentionInDays: 90 }
     */
    logGroup?: { [key: string]: any };
    /**
     * Merged into the schedule rule's args (`aws.cloudwatch.EventRuleArgs`).
     * @default none
     * @example { description: "shop controllers" }
     */
    rule?: { [key: string]: any };
}

/**
 * What a scheduled controller's `transform` reaches (`ConcurrencyController`, `ConcurrencyControllerGroup`):
 * the function's children and the schedule ({@link ControllerFunctionTransformArgs}) and the statistics table.
 */
export interface ScheduledControllerTransformArgs extends ControllerFunctionTransformArgs {
    /**
     * Merged into the statistics table's args (`aws.dynamodb.TableArgs`). Only when the component creates it (without
     * `tableName`); with `tableName` the key is an argument error.
     * @default none
     * @example { deletionProtectionEnabled: true }
     */
    table?: { [key: string]: any };
}

/**
 * A scheduled controller's statistics-and-lease table: the one it was given (`tableName` with `tableArn`),
 * or a new `<name>-table` keyed `pk`/`sk`.
 * @example const { tableName, tableArn } = controllerTable(name, args, this);
 */
export function controllerTable(name: string, given: { tableName?: pulumi.Input<string>; tableArn?: pulumi.Input<string> }, parent: pulumi.Resource): { tableName: pulumi.Output<string>; tableArn: pulumi.Output<string> } {
    if (given.tableName) return { tableName: pulumi.output(given.tableName), tableArn: pulumi.output(given.tableArn!) };
    const table = createTable(`${name}-table`, { hashKey: "pk", rangeKey: "sk" }, parent);
    return { tableName: table.name, tableArn: table.arn };
}
