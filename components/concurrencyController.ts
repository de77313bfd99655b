import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { partitionOf, PolicyStatementArgs } from "./internal/iam";
import { claimDashboardName, createAlarms, dashboardName } from "./internal/observability";
import { controllerDashboardBody } from "./internal/controllerDashboard";
import { operationsManifest } from "./internal/operations";
import { ControlledTargetReference } from "../contracts/operations";
import {
    controlLoopConfig,
    controlPlaneBudgetStatements,
    ControlTarget,
    ControlTargetFields,
    ControlledSettingArgs,
    controllerTable,
    ScheduledControllerTransformArgs,
    ControlTuningArgs,
    scheduleIntervalSeconds,
    SharedControlPlaneBudgetArgs,
    validateControlPlaneBudget,
    validateTargetFields,
    validateTuning,
} from "./internal/control";
import { componentLabel, Validator } from "./internal/validation";
import { functionErrorsAlarm } from "./internal/workerAlarms";
import { scheduleFunction } from "./internal/schedule";
import { createRuntimeFunction } from "./internal/workerFunction";
import { CONTROLLER_LEASE_ACTIONS } from "../contracts/controller";
import { CHILD_TYPES, EscapeHatchArgs, workerFunctionChildren, withEscapeHatches } from "./internal/escapeHatches";
import { ENV } from "../contracts/environment";
import { CONCURRENCY_CONTROLLER_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { refuseAbsentChildren } from "./internal/optionalChildren";

export { ControlledSettingArgs, ControlTarget, ControlTuningArgs, SharedControlPlaneBudgetArgs };

/** `transform` entries of a {@link ConcurrencyController}: plain objects merged into that child's args. */
/** Merged into the args of the controller's children (see {@link ScheduledControllerTransformArgs}). */
export interface ConcurrencyControllerTransformArgs extends ScheduledControllerTransformArgs {}

export interface ConcurrencyControllerArgs extends ControlledSettingArgs, EscapeHatchArgs {
    /**
     * How often the controller runs: `rate(N minute|minutes|hour|hours)`, at most 24 hours. One decision per run; at most
     * one change per target per interval (a DynamoDB lease).
     * @default "rate(1 minute)"
     * @example "rate(5 minutes)"
     */
    schedule?: string;
    /**
     * Use this statistics table instead of creating one (a worker that records statistics for its own
     * controller creates the table before its function). Give it with `tableArn`. It needs string keys
     * `pk` and `sk` and TTL on `expiresAt`, which the statistics and the CLI's audit entries rely on.
     * @default a new table
     * @example "orders-control"
     */
    tableName?: pulumi.Input<string>;
    /**
     * ARN of `tableName`, for IAM. Give it with `tableName`.
     * @default the new table's ARN
     * @example "arn:aws:dynamodb:us-east-1:123456789012:table/orders-control"
     */
    tableArn?: pulumi.Input<string>;
    /**
     * The `Worker` dimension of the decision metrics, to put them beside the worker's.
     * @default this controller's name
     * @example "orders"
     */
    workerName?: string;
    /**
     * SNS topic ARNs notified when the controller's error alarm fires.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * The account's shared Lambda control-plane budget (a `ControlPlaneBudget`): every change this
     * controller makes takes a token from it first, so all controllers of the account and Region together
     * stay under the control plane's 15 requests/s. Adds `dynamodb:GetItem` and `dynamodb:PutItem` on that table.
     * @default none (calls are serialised and retried within this controller only)
     * @example { tableName: budget.tableName, tableArn: budget.tableArn, requestsPerSecond: 10 }
     */
    controlPlaneBudget?: SharedControlPlaneBudgetArgs;
    /**
     * Escape hatch: plain objects merged into one child's args each (function, role, logGroup, table,
     * rule). For code-level changes from TypeScript, Pulumi's own `transforms` resource option also
     * reaches every child.
     * @default none
     * @example { function: { memorySize: 512 } }
     */
    transform?: ConcurrencyControllerTransformArgs;
}

/**
 * Pattern 3, a controller process: a scheduled function that reads the worker's downstream latency and
 * error rate (recorded by the worker's `ctx.downstream`) and its CloudWatch signals (throttles,
 * concurrency in use, backlog age), decides the next limit, and applies it — reserved concurrency, SQS
 * maximum concurrency or Kinesis parallelization factor — within bounds, never leaving the account under
 * 100 unreserved executions. IAM reaches only the one target.
 *
 * Workers built by this package create one for themselves with `adaptiveConcurrency: { mode: "Controller" }`.
 *
 * @example
 * new ConcurrencyController("orders", {
 *     target: "ReservedConcurrency", functionName: fn.name,
 *     minConcurrency: 2, maxConcurrency: 50, latencyTargetMs: 200,
 * });
 */
export class ConcurrencyController extends pulumi.ComponentResource {
    /** The scheduled controller function. */
    public readonly function: aws.lambda.Function;
    /** The controller function's role. */
    public readonly role: aws.iam.Role;
    /** The controller function's log group. */
    public readonly logGroup: aws.cloudwatch.LogGroup;
    /** The statistics, lease and decision table. */
    public readonly tableName: pulumi.Output<string>;
    /** Its ARN: a function that records statistics for this controller needs `dynamodb:PutItem` on it, and nothing more. */
    public readonly tableArn: pulumi.Output<string>;
    /**
     * Environment for a function you wire yourself (`wrap: false`) so its invocations record statistics
     * for this controller (`CONCURRENCY_CONTROL_MODE`, `CONCURRENCY_CONTROL_CONFIG`); the function calls
     * `activateAdaptiveConcurrency()` from `serverless-concurrency/runtime` at load and times its
     * downstream calls through the runtime's `ctx.downstream`. The workers' `adaptiveConcurrency` option
     * does all of this itself.
     */
    public readonly workerEnvironment: pulumi.Output<{ [key: string]: string }>;
    /** The dashboard: decisions by reason, the limit against the concurrency in use, paused intervals, the controller's errors. */
    public readonly dashboardName: pulumi.Output<string>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: ConcurrencyControllerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:ConcurrencyController", name, {}, withEscapeHatches(opts, args, controllerChildren(name)));
        checkConstruction(CONCURRENCY_CONTROLLER_ARGUMENTS, name, args);
        const label = componentLabel("ConcurrencyController", name);
        validateControllerArgs(label, args).throwIfInvalid(this);
        claimDashboardName(`${name}-controller`, label, this);

        ({ tableName: this.tableName, tableArn: this.tableArn } = controllerTable(name, args, this));
        const intervalSeconds = scheduleIntervalSeconds(args.schedule ?? "rate(1 minute)")!;
        const source = { target: args.target, tuning: args, tableName: this.tableName, intervalSeconds, eventSourceArn: args.eventSourceArn, queueName: args.queueName, shardCount: args.shardCount };
        const config = controlLoopConfig({ ...source, identity: { functionName: args.functionName, eventSourceMappingArn: args.eventSourceMappingArn }, budget: args.controlPlaneBudget });
        // For the worker, the same config without what it cannot know before its mapping exists.
        const workerConfig = controlLoopConfig(source);
        const worker = createRuntimeFunction(
            `${name}-controller`,
            {
                label,
                module: "handlers/controller",
                environment: { [ENV.workerName]: args.workerName ?? name, [ENV.concurrencyControlConfig]: config },
                statements: controllerStatements([args], this.tableArn, args.controlPlaneBudget, this),
                functionPatch: args.transform?.function,
            },
            this,
        );
        ({ function: this.function, role: this.role, logGroup: this.logGroup } = worker);
        scheduleFunction(name, this.function, { expression: args.schedule ?? "rate(1 minute)", intervalSeconds }, this);
        createAlarms(name, [functionErrorsAlarm(this.function, "The controller function returned errors: a control interval failed; the setting stays as it was.")], args.alarmActions, this);
        this.workerEnvironment = workerConfig.apply((json): { [key: string]: string } => ({ [ENV.concurrencyControlMode]: "Controller", [ENV.concurrencyControlConfig]: json }));
        this.dashboardName = createControllerDashboard(name, args, this.function, this).dashboardName;
        this.operations = operationsManifest(this, {
            componentType: "ConcurrencyController",
            name,
            dashboardName: this.dashboardName,
            controller: { mode: "Controller", tableName: this.tableName, target: controlledTarget(args), functionName: this.function.name },
        });
        this.registerOutputs({
            function: this.function,
            role: this.role,
            logGroup: this.logGroup,
            tableName: this.tableName,
            tableArn: this.tableArn,
            workerEnvironment: this.workerEnvironment,
            dashboardName: this.dashboardName,
            operations: this.operations,
        });
    }
}

/**
 * The `${name}-dashboard` of {@link controllerDashboardBody}, named like the workers' dashboards with
 * `-controller` after the name: dashboard names are global in an account, and a controller is often named
 * like the worker it drives, whose dashboard PutDashboard would otherwise overwrite.
 */
function createControllerDashboard(name: string, args: ConcurrencyControllerArgs, controllerFunction: aws.lambda.Function, parent: pulumi.Resource): aws.cloudwatch.Dashboard {
    const region = aws.getRegionOutput({}, { parent }).region;
    const perUnit = args.target === ControlTarget.KinesisParallelizationFactor ? args.shardCount : undefined;
    const body = pulumi
        .all([pulumi.output(args.functionName), controllerFunction.name, region, pulumi.output(perUnit)])
        .apply(([workerFunctionName, controllerFunctionName, regionName, executionsPerUnit]) =>
            controllerDashboardBody({ workerName: args.workerName ?? name, workerFunctionName, targetKind: args.target, region: regionName, executionsPerUnit, controllerFunctionName }),
        );
    return new aws.cloudwatch.Dashboard(`${name}-dashboard`, { dashboardName: dashboardName(`${name}-controller`), dashboardBody: body }, { parent });
}

/** The setting driven, as the manifest names it: the function, or the mapping (its UUID is the ARN's last part) and its source. */
function controlledTarget(args: ConcurrencyControllerArgs): pulumi.Input<ControlledTargetReference> {
    if (args.target === ControlTarget.ReservedConcurrency) return pulumi.output(args.functionName).apply((functionName) => ({ kind: args.target, functionName }));
    return pulumi.all([args.eventSourceMappingArn!, args.eventSourceArn!]).apply(([mappingArn, eventSourceArn]) => ({ kind: args.target, uuid: mappingArn.split(":").pop()!, eventSourceArn }));
}

/** The children `transform` can reach, by key. */
function controllerChildren(name: string) {
    return {
        ...workerFunctionChildren(`${name}-controller`),
        table: { type: CHILD_TYPES.table, name: `${name}-table` },
        rule: { type: CHILD_TYPES.rule, name: `${name}-schedule` },
    };
}

/** Collects every problem with the arguments; pure. */
export function validateControllerArgs(label: string, args: ConcurrencyControllerArgs): Validator {
    const validator = refuseAbsentChildren(new Validator(label), "ConcurrencyController", args).oneOf("target", args.target, Object.values(ControlTarget));
    if (!Object.values(ControlTarget).includes(args.target)) return validator;
    validateControlPlaneBudget(validator, args.controlPlaneBudget, "controlPlaneBudget");
    return validateTargetFields(validateTuning(validator, args, args.target), args)
        .rule(
            args.schedule !== undefined && scheduleIntervalSeconds(args.schedule) === undefined,
            `schedule must be "rate(N minute|minutes|hour|hours)", at most 24 hours (the longest control interval); received ${JSON.stringify(args.schedule)}.`,
        )
        .rule((args.tableName === undefined) !== (args.tableArn === undefined), "tableName and tableArn go together.");
}

/** A target as the IAM statements see it: the function it reads, the setting it changes. */
export type ControlledTargetArgs = ControlTargetFields & { functionName: pulumi.Input<string> };

/**
 * Only the targets (their functions' reserved concurrency, their mappings), the table, the budget, and
 * the two read APIs that AWS scopes to no resource.
 */
export function controllerStatements(targets: readonly ControlledTargetArgs[], tableArn: pulumi.Input<string>, budget: SharedControlPlaneBudgetArgs | undefined, parent: pulumi.Resource): PolicyStatementArgs[] {
    const identity = aws.getCallerIdentityOutput({}, { parent });
    const region = aws.getRegionOutput({}, { parent });
    const partition = partitionOf(parent);
    const functions = targets.filter((t) => t.target === ControlTarget.ReservedConcurrency);
    const mappings = targets.filter((t) => t.target !== ControlTarget.ReservedConcurrency);
    const statements: PolicyStatementArgs[] = [];
    if (functions.length > 0) {
        statements.push({
            actions: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"],
            resources: functions.map((t) => pulumi.interpolate`arn:${partition}:lambda:${region.region}:${identity.accountId}:function:${t.functionName}`),
        });
    }
    if (mappings.length > 0) statements.push({ actions: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], resources: mappings.map((t) => t.eventSourceMappingArn!) });
    statements.push({ actions: ["cloudwatch:GetMetricData", ...(functions.length > 0 ? ["lambda:GetAccountSettings"] : [])], resources: ["*"] });
    return [...statements, { actions: CONTROLLER_LEASE_ACTIONS, resources: [tableArn] }, ...controlPlaneBudgetStatements(budget)];
}
