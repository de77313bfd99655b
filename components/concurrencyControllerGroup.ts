import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { controllerStatements } from "./concurrencyController";
import { CONCURRENCY_CONTROLLER_GROUP_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import {
    controlLoopSettings,
    ControlTarget,
    ControlledSettingArgs,
    controllerTable,
    ScheduledControllerTransformArgs,
    scheduleIntervalSeconds,
    SharedControlPlaneBudgetArgs,
    validateControlPlaneBudget,
    validateTargetFields,
    validateTuning,
} from "./internal/control";
import { CHILD_TYPES, EscapeHatchArgs, workerFunctionChildren, withEscapeHatches } from "./internal/escapeHatches";
import { createAlarms } from "./internal/observability";
import { refuseAbsentChildren } from "./internal/optionalChildren";
import { operationsManifest } from "./internal/operations";
import { scheduleFunction } from "./internal/schedule";
import { componentLabel, Validator } from "./internal/validation";
import { functionErrorsAlarm } from "./internal/workerAlarms";
import { createRuntimeFunction } from "./internal/workerFunction";
import { CONTROL_GROUP_QUERIES_PER_TARGET, GET_METRIC_DATA_MAX_QUERIES, MAX_CONTROL_GROUP_TARGETS } from "../contracts/controller";
import { ENV } from "../contracts/environment";

/** `transform` entries of a {@link ConcurrencyControllerGroup}: plain objects merged into that child's args. */
/** Merged into the args of the group's children (see {@link ScheduledControllerTransformArgs}). */
export interface ConcurrencyControllerGroupTransformArgs extends ScheduledControllerTransformArgs {}

/** One setting a {@link ConcurrencyControllerGroup} drives: what a `ConcurrencyController` takes, without schedule and table. */
export interface ControlGroupTargetArgs extends ControlledSettingArgs {
    /**
     * The target's name in the group: 1–64 letters, digits, `-` and `_`, unique. It names the target's
     * `workerEnvironment` entry and its operations manifest (`<group>/<name>`).
     * @example "orders"
     */
    name: string;
}

export interface ConcurrencyControllerGroupArgs extends EscapeHatchArgs {
    /**
     * The settings to drive, 1–166: one scheduled function decides for all of them each interval and
     * reads all their CloudWatch signals with one `GetMetricData` call (3 queries per target, 500 per
     * call). The whole configuration travels in the function's environment, which Lambda caps at 4 KB of
     * JSON: about 9 mapping targets or 16 reserved-concurrency targets with names of about 25 characters
     * (checked at deploy time).
     * @example [{ name: "orders", target: "ReservedConcurrency", functionName: orders.name, minConcurrency: 2, maxConcurrency: 50 }]
     */
    targets: ControlGroupTargetArgs[];
    /**
     * How often the group runs, for every target: `rate(N minute|minutes|hour|hours)`, at most 24 hours. At most one
     * change per target per interval.
     * @default "rate(1 minute)"
     * @example "rate(5 minutes)"
     */
    schedule?: string;
    /**
     * Use this statistics table instead of creating one; give it with `tableArn`. It needs string keys `pk`
     * and `sk` and TTL on `expiresAt`, which the statistics and the CLI's audit entries rely on.
     * @default a new table, shared by the targets (their items are keyed by target)
     * @example "shop-control"
     */
    tableName?: pulumi.Input<string>;
    /**
     * ARN of `tableName`, for IAM. Give it with `tableName`.
     * @default the new table's ARN
     * @example "arn:aws:dynamodb:us-east-1:123456789012:table/shop-control"
     */
    tableArn?: pulumi.Input<string>;
    /**
     * SNS topic ARNs notified when the group's error alarm fires.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * The account's shared Lambda control-plane budget (a `ControlPlaneBudget`): every change of every
     * target takes a token from it first. Adds `dynamodb:GetItem` and `dynamodb:PutItem` on that table.
     * @default none (the group's changes are serialised and retried within its function only)
     * @example { tableName: budget.tableName, tableArn: budget.tableArn, requestsPerSecond: 10 }
     */
    controlPlaneBudget?: SharedControlPlaneBudgetArgs;
    /**
     * Escape hatch: plain objects merged into one child's args each (function, role, logGroup, table, rule).
     * @default none
     * @example { function: { memorySize: 512 } }
     */
    transform?: ConcurrencyControllerGroupTransformArgs;
}

/**
 * Pattern 3 for many targets: one scheduled function runs one control interval for each of its targets
 * (reserved concurrency, SQS maximum concurrency, Kinesis parallelization factor — mixed as needed),
 * reading all their CloudWatch signals with a single batched `GetMetricData` call and applying their
 * changes one after another. Each target is decided exactly as by its own `ConcurrencyController`
 * (same lease, statistics and pause items), at a fraction of the functions, schedules and metric calls.
 * IAM reaches only the listed functions and mappings. Decision metrics carry the target's function
 * name as their `Worker` dimension.
 *
 * @example
 * new ConcurrencyControllerGroup("shop", {
 *     targets: [
 *         { name: "orders", target: "ReservedConcurrency", functionName: orders.name, minConcurrency: 2, maxConcurrency: 50 },
 *         { name: "ledger", target: "SqsMaximumConcurrency", functionName: ledger.name, eventSourceMappingArn: mapping.arn,
 *           eventSourceArn: queue.arn, queueName: queue.name, minConcurrency: 2, maxConcurrency: 20 },
 *     ],
 *     controlPlaneBudget: { tableName: budget.tableName, tableArn: budget.tableArn },
 * });
 */
export class ConcurrencyControllerGroup extends pulumi.ComponentResource {
    /** The scheduled controller function. */
    public readonly function: aws.lambda.Function;
    /** The controller function's role. */
    public readonly role: aws.iam.Role;
    /** The controller function's log group. */
    public readonly logGroup: aws.cloudwatch.LogGroup;
    /** The statistics, lease and decision table of every target. */
    public readonly tableName: pulumi.Output<string>;
    /** Its ARN: a function that records statistics for one of the targets needs `dynamodb:PutItem` on it, and nothing more. */
    public readonly tableArn: pulumi.Output<string>;
    /**
     * Per target name, the environment for its function (`CONCURRENCY_CONTROL_MODE`,
     * `CONCURRENCY_CONTROL_CONFIG`) so its invocations record statistics for the group; see
     * `ConcurrencyController.workerEnvironment`.
     */
    public readonly workerEnvironment: pulumi.Output<{ [key: string]: { [key: string]: string } }>;
    /**
     * What an operator tool needs to find each target's live state: a list of one `ConcurrencyController`
     * manifest per target (contracts/operations.ts), named `<group>/<target name>`, so the CLI's status,
     * pause and resume work per target. Typed `any` for the multi-language schema.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: ConcurrencyControllerGroupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:ConcurrencyControllerGroup", name, {}, withEscapeHatches(opts, args, groupChildren(name)));
        checkConstruction(CONCURRENCY_CONTROLLER_GROUP_ARGUMENTS, name, args);
        const label = componentLabel("ConcurrencyControllerGroup", name);
        validateGroupArgs(label, args).throwIfInvalid(this);

        ({ tableName: this.tableName, tableArn: this.tableArn } = controllerTable(name, args, this));
        const intervalSeconds = scheduleIntervalSeconds(args.schedule ?? "rate(1 minute)")!;
        const budget = args.controlPlaneBudget;
        const source = (t: ControlGroupTargetArgs) => ({ target: t.target, tuning: t, tableName: this.tableName, intervalSeconds, eventSourceArn: t.eventSourceArn, queueName: t.queueName, shardCount: t.shardCount });
        const perTarget = args.targets.map((t) => controlLoopSettings({ ...source(t), identity: { functionName: t.functionName, eventSourceMappingArn: t.eventSourceMappingArn } }));
        const config = pulumi.all([this.tableName, budget?.tableName, pulumi.all(perTarget)]).apply(([tableName, budgetTable, targets]) =>
            JSON.stringify({
                shared: { tableName, intervalSeconds, controlPlaneBudgetTable: budgetTable, controlPlaneRequestsPerSecond: budget?.requestsPerSecond },
                targets: targets.map(({ tableName: _shared, intervalSeconds: _alsoShared, ...own }) => own),
            }),
        );
        const environment = { [ENV.concurrencyControlConfig]: config };
        const worker = createRuntimeFunction(
            `${name}-controller`,
            {
                label,
                module: "handlers/controller",
                environment,
                environmentAdvice: `the configuration of its ${args.targets.length} targets is in it: split them into several groups`,
                statements: controllerStatements(args.targets, this.tableArn, budget, this),
                functionPatch: args.transform?.function,
            },
            this,
        );
        ({ function: this.function, role: this.role, logGroup: this.logGroup } = worker);
        scheduleFunction(name, this.function, { expression: args.schedule ?? "rate(1 minute)", intervalSeconds }, this);
        createAlarms(name, [functionErrorsAlarm(this.function, "The controller function returned errors: a control interval failed for at least one target (the ControllerGroupIntervalError and the log name each); the other targets were decided as usual.")], args.alarmActions, this);
        // For each worker, its own config without what it cannot know before its mapping exists.
        const workerConfigs = args.targets.map((t) => controlLoopSettings(source(t)).apply((settings) => JSON.stringify(settings)));
        this.workerEnvironment = pulumi
            .all(workerConfigs)
            .apply((configs): { [key: string]: { [key: string]: string } } =>
                Object.fromEntries(configs.map((json, i) => [args.targets[i].name, { [ENV.concurrencyControlMode]: "Controller", [ENV.concurrencyControlConfig]: json }])),
            );
        this.operations = pulumi.all(
            args.targets.map((t) =>
                operationsManifest(this, {
                    componentType: "ConcurrencyController",
                    name: `${name}/${t.name}`,
                    controller: { mode: "Controller", tableName: this.tableName, target: controlledTarget(t), functionName: this.function.name },
                }),
            ),
        );
        this.registerOutputs({
            function: this.function,
            role: this.role,
            logGroup: this.logGroup,
            tableName: this.tableName,
            tableArn: this.tableArn,
            workerEnvironment: this.workerEnvironment,
            operations: this.operations,
        });
    }
}

/** The setting a target drives, as the manifest names it (a mapping's UUID is its ARN's last part). */
function controlledTarget(t: ControlGroupTargetArgs) {
    if (t.target === ControlTarget.ReservedConcurrency) return pulumi.output(t.functionName).apply((functionName) => ({ kind: t.target, functionName }));
    return pulumi.all([t.eventSourceMappingArn!, t.eventSourceArn!]).apply(([mappingArn, eventSourceArn]) => ({ kind: t.target, uuid: mappingArn.split(":").pop()!, eventSourceArn }));
}

/** The children `transform` can reach, by key. */
function groupChildren(name: string) {
    return {
        ...workerFunctionChildren(`${name}-controller`),
        table: { type: CHILD_TYPES.table, name: `${name}-table` },
        rule: { type: CHILD_TYPES.rule, name: `${name}-schedule` },
    };
}

/** A target name: it becomes an output key and part of a manifest name. */
const TARGET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Collects every problem with the arguments; pure. */
export function validateGroupArgs(label: string, args: ConcurrencyControllerGroupArgs): Validator {
    const validator = refuseAbsentChildren(new Validator(label), "ConcurrencyControllerGroup", args);
    const targets = args.targets;
    validator.rule(
        targets.length < 1 || targets.length > MAX_CONTROL_GROUP_TARGETS,
        `targets must list 1 to ${MAX_CONTROL_GROUP_TARGETS} targets (${CONTROL_GROUP_QUERIES_PER_TARGET} GetMetricData queries each, ${GET_METRIC_DATA_MAX_QUERIES} per call, so one call reads them all); received ${targets.length}. Split them into several groups.`,
    );
    const seen = new Map<string, number>();
    targets.forEach((t, i) => {
        const prefix = `targets[${i}].`;
        validator.matches(`${prefix}name`, t.name, TARGET_NAME, "1–64 letters, digits, - or _");
        const first = seen.get(t.name);
        validator.rule(first !== undefined, `${prefix}name ${JSON.stringify(t.name)} is already the name of targets[${first}]; each target needs its own name.`);
        if (first === undefined) seen.set(t.name, i);
        validator.oneOf(`${prefix}target`, t.target, Object.values(ControlTarget));
        if (!Object.values(ControlTarget).includes(t.target)) return;
        validateTargetFields(validateTuning(validator, t, t.target, prefix), t, prefix);
    });
    validateControlPlaneBudget(validator, args.controlPlaneBudget, "controlPlaneBudget");
    return validator
        .rule(
            args.schedule !== undefined && scheduleIntervalSeconds(args.schedule) === undefined,
            `schedule must be "rate(N minute|minutes|hour|hours)", at most 24 hours (the longest control interval); received ${JSON.stringify(args.schedule)}.`,
        )
        .rule((args.tableName === undefined) !== (args.tableArn === undefined), "tableName and tableArn go together.");
}

