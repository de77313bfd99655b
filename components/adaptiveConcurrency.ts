/**
 * The workers' `adaptiveConcurrency` option (a module of the worker components, not a component: it
 * creates a `ConcurrencyController` child, so it sits beside the components rather than in internal/). Before the function: the statistics table, the activation
 * module and the environment the runtime reads. After it: a `ConcurrencyController` child (mode
 * Controller) or the IAM that lets the function change its own setting (mode SelfTuning). In either mode
 * the worker adds the failed-interval alarm and the dashboard widget described here to its own.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConcurrencyController } from "./concurrencyController";
import {
    ControllerFunctionTransformArgs,
    controlLoopConfig,
    controlPlaneBudgetStatements,
    ControlTarget,
    ControlTuningArgs,
    SharedControlPlaneBudgetArgs,
    validateControlPlaneBudget,
    validateTuning,
} from "./internal/control";
import { rateInMinutes } from "./internal/schedule";
import { policyDocument, PolicyStatementArgs } from "./internal/iam";
import { AlarmSpec, MetricLine, RUNTIME_METRIC_NAMESPACE, WidgetSpec } from "./internal/observability";
import { createTable } from "./internal/tables";
import { ChildCatalog, CHILD_TYPES } from "./internal/escapeHatches";
import { Validator } from "./internal/validation";
import { CONTROLLER_LEASE_ACTIONS, CONTROLLER_STATISTICS_ACTIONS } from "../contracts/controller";
import { ENV } from "../contracts/environment";
import { attachInlinePolicy } from "./internal/inlinePolicies";

/** Who runs the control loop. */
export const AdaptiveMode = {
    /** A separate scheduled function decides and applies (`ConcurrencyController`). */
    Controller: "Controller",
    /** The worker's own invocations decide under a DynamoDB lease and change their own setting. */
    SelfTuning: "SelfTuning",
} as const;
export type AdaptiveMode = (typeof AdaptiveMode)[keyof typeof AdaptiveMode];

/**
 * Adaptive concurrency for a worker: the limit moves with downstream latency and error rate, within
 * bounds. The managed setting is ignored by later `pulumi up` runs, so a deploy does not undo it.
 */
export interface AdaptiveConcurrencyArgs extends ControlTuningArgs {
    /**
     * `Controller` (a scheduled function) or `SelfTuning` (the function tunes itself under a lease).
     * @example "Controller"
     */
    mode: AdaptiveMode;
    /**
     * Minutes per control interval, 1–60: one decision, at most one change, per interval.
     * @default 1
     * @example 5
     */
    intervalMinutes?: number;
    /**
     * The account's shared Lambda control-plane budget (a `ControlPlaneBudget`): every change of the
     * setting — by the controller (mode `Controller`) or by the worker itself (mode `SelfTuning`) — takes a
     * token from it first. Adds `dynamodb:GetItem` and `dynamodb:PutItem` on that table to whichever role
     * makes the changes.
     * @default none (calls are serialised and retried per process only)
     * @example { tableName: budget.tableName, tableArn: budget.tableArn }
     */
    controlPlaneBudget?: SharedControlPlaneBudgetArgs;
}

/** The `transform` key of a worker that reaches the adaptive controller it creates (mode `Controller`). */
export interface AdaptiveTransformArgs {
    /**
     * Merged into the children of the worker's adaptive controller (mode `Controller`; the
     * `ConcurrencyController` `<name>-adaptive`): `function` (`<name>-adaptive-controller-fn`), `role`
     * (`<name>-adaptive-controller-role`), `logGroup` (`<name>-adaptive-controller-logs`) and `rule`
     * (`<name>-adaptive-schedule`). The controller has no table of its own (it shares the worker's
     * `<name>-control`, see `controlTable`). Only in mode `Controller`: without `adaptiveConcurrency`, or in mode
     * `SelfTuning`, there is no controller and the key is an argument error.
     * @default none
     * @example { role: { permissionsBoundary: boundary.arn }, function: { memorySize: 256 } }
     */
    adaptiveController?: ControllerFunctionTransformArgs;
    /**
     * Merged into the worker's control table (`<name>-control`, `aws.dynamodb.TableArgs`: the statistics, the
     * interval lease and the decisions; either mode; without `adaptiveConcurrency` the key is an argument error).
     * A customer-managed key must let the roles that use it (the worker's, and in mode `Controller` the
     * controller's) use it through DynamoDB (README, Escape hatches).
     * @default none
     * @example { deletionProtectionEnabled: true }
     */
    controlTable?: { [key: string]: any };
}

/** The catalog entry of {@link AdaptiveTransformArgs}' `controlTable` for a worker named `name`. */
export function adaptiveChildren(name: string): ChildCatalog<"controlTable"> {
    return { controlTable: { type: CHILD_TYPES.table, name: `${name}-control` } };
}

/** What the option adds before the function exists. */
export interface AdaptivePreparation {
    table: aws.dynamodb.Table;
    /** Runtime module the bundle imports to register the statistics or self-tuning observer. */
    activation: string;
    environment: pulumi.Output<{ [key: string]: string }>;
}

/** What the worker knows once its function (and mapping) exist. */
export interface AdaptiveAttachment {
    /** `ClassName "name"` of the worker, for messages. */
    label: string;
    target: ControlTarget;
    function: aws.lambda.Function;
    role: aws.iam.Role;
    eventSourceMappingArn?: pulumi.Input<string>;
    /** Stream or queue ARN: the self-tuning function finds its own mapping by it. */
    eventSourceArn?: pulumi.Input<string>;
    queueName?: pulumi.Input<string>;
    shardCount?: pulumi.Input<number>;
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /** The worker's `transform.adaptiveController`: the controller's own `transform`. */
    controllerTransform?: ControllerFunctionTransformArgs;
}

/**
 * A self-tuning decision runs inside an invocation and needs this much of it (the runtime skips the
 * decision with less than 15 s left); a shorter function timeout would never decide.
 */
export const SELF_TUNING_MIN_TIMEOUT_SECONDS = 30;

/**
 * Adds the messages for a bad option; `startingValue` is the worker's starting value of the setting
 * (checked when it resolves if it is an Output), `timeoutSeconds` the worker function's timeout.
 */
export function validateAdaptive(validator: Validator, adaptive: AdaptiveConcurrencyArgs | undefined, target: ControlTarget, startingValue: pulumi.Input<number>, timeoutSeconds: number): void {
    if (!adaptive) return;
    validator.rule(
        adaptive.mode === AdaptiveMode.SelfTuning && timeoutSeconds < SELF_TUNING_MIN_TIMEOUT_SECONDS,
        `adaptiveConcurrency mode SelfTuning needs function.timeoutSeconds of at least ${SELF_TUNING_MIN_TIMEOUT_SECONDS} (a decision runs inside an invocation with 15 s to spare); received ${timeoutSeconds}. Use mode Controller for short functions.`,
    );
    validator.oneOf("adaptiveConcurrency.mode", adaptive.mode, Object.values(AdaptiveMode));
    validateTuning(validator, adaptive, target, "adaptiveConcurrency.");
    validateControlPlaneBudget(validator, adaptive.controlPlaneBudget, "adaptiveConcurrency.controlPlaneBudget");
    const { minConcurrency: min, maxConcurrency: max } = adaptive;
    validator
        .integer("adaptiveConcurrency.intervalMinutes", adaptive.intervalMinutes, 1, 60)
        .check(startingValue, (initial) =>
            Number.isInteger(min) && Number.isInteger(max) && (initial < min || initial > max)
                ? `the starting value ${initial} must lie within adaptiveConcurrency.minConcurrency–maxConcurrency (${min}–${max}).`
                : undefined,
        );
}

/** The table, activation and environment, created before the function. */
export function prepareAdaptive(
    name: string,
    adaptive: AdaptiveConcurrencyArgs,
    target: ControlTarget,
    source: { eventSourceArn?: pulumi.Input<string>; queueName?: pulumi.Input<string>; shardCount?: pulumi.Input<number> },
    parent: pulumi.Resource,
): AdaptivePreparation {
    const table = createTable(`${name}-control`, { hashKey: "pk", rangeKey: "sk" }, parent);
    // No identity: the function cannot know its own name or mapping UUID at deploy time; the runtime resolves them.
    // The budget only where the worker changes its own setting; in mode Controller the controller does.
    const budget = adaptive.mode === AdaptiveMode.SelfTuning ? adaptive.controlPlaneBudget : undefined;
    const config = controlLoopConfig({ target, tuning: adaptive, tableName: table.name, intervalSeconds: (adaptive.intervalMinutes ?? 1) * 60, ...source, budget });
    return {
        table,
        activation: "activation/adaptiveConcurrency",
        environment: config.apply((json): { [key: string]: string } => ({ [ENV.concurrencyControlMode]: adaptive.mode, [ENV.concurrencyControlConfig]: json })),
    };
}

/** The controller (mode Controller) or the self-tuning permissions (mode SelfTuning). */
export function attachAdaptive(name: string, adaptive: AdaptiveConcurrencyArgs, prepared: AdaptivePreparation, worker: AdaptiveAttachment, parent: pulumi.Resource): void {
    if (adaptive.mode === AdaptiveMode.Controller) {
        // The controller takes the tuning only: `mode` and `intervalMinutes` are not its arguments.
        const { mode: _mode, intervalMinutes: _intervalMinutes, ...tuning } = adaptive;
        new ConcurrencyController(
            `${name}-adaptive`,
            {
                ...tuning,
                target: worker.target,
                functionName: worker.function.name,
                eventSourceMappingArn: worker.eventSourceMappingArn,
                eventSourceArn: worker.eventSourceArn,
                queueName: worker.queueName,
                shardCount: worker.shardCount,
                schedule: rateInMinutes(adaptive.intervalMinutes ?? 1),
                tableName: prepared.table.name,
                tableArn: prepared.table.arn,
                workerName: name,
                alarmActions: worker.alarmActions,
                transform: worker.controllerTransform,
            },
            { parent },
        );
        return;
    }
    // After the function: these statements name the function or mapping, which did not exist before it.
    attachInlinePolicy(`${name}-self-tuning`, worker.role, policyDocument([...selfTuningStatements(worker, prepared), ...controlPlaneBudgetStatements(adaptive.controlPlaneBudget)]), worker.label, parent);
}

/**
 * The alarm `<name>-controller-failures` on the runtime's `ControllerFailures` (either driver, dimension
 * `Worker`): a control interval of this worker failed. In mode SelfTuning it is the only alarm that fires
 * (the failure stays inside the invocation as a WARN line); in mode Controller it fires beside the
 * controller function's error alarm, on the worker's own dimension.
 */
export function adaptiveAlarm(name: string): AlarmSpec {
    return {
        id: "controller-failures",
        description:
            "The adaptive controller's interval failed for this worker: the concurrency setting stays as it was. " +
            "See the ERROR line 'control interval failed; the next interval reads the setting again' (the step's error) in the logs " +
            "of the worker (mode SelfTuning) or of its adaptive controller (mode Controller).",
        namespace: RUNTIME_METRIC_NAMESPACE,
        metricName: "ControllerFailures",
        dimensions: { Worker: name },
        statistic: "Sum",
        threshold: 0,
    };
}

/** A dashboard widget with the limit, the decisions by reason and the failed intervals (metrics of either driver). */
export function adaptiveWidget(name: string): WidgetSpec {
    return {
        title: "Adaptive concurrency: limit, decisions by reason and failed intervals",
        metrics: pulumi.output<MetricLine[]>([
            [RUNTIME_METRIC_NAMESPACE, "ConcurrencyLimit", "Worker", name, { stat: "Maximum" }],
            [
                {
                    expression: `SEARCH('{${RUNTIME_METRIC_NAMESPACE},Reason,Worker} MetricName="ControllerDecisions" Worker="${name}"', 'Sum', 60)`,
                    id: "decisions",
                    label: "decisions",
                    yAxis: "right",
                },
            ],
            [RUNTIME_METRIC_NAMESPACE, "ControllerFailures", "Worker", name, { stat: "Sum", label: "failed intervals", yAxis: "right" }],
        ]),
    };
}

/** The statistics the worker writes in either mode (before the function: the table exists already). */
export function statisticsStatement(prepared: AdaptivePreparation): PolicyStatementArgs {
    return { actions: CONTROLLER_STATISTICS_ACTIONS, resources: [prepared.table.arn] };
}

/** Mode SelfTuning: the lease, the decision, the pause and the window's sum, beside the statistics the worker writes anyway. */
function leaseStatement(prepared: AdaptivePreparation): PolicyStatementArgs {
    return { actions: CONTROLLER_LEASE_ACTIONS, resources: [prepared.table.arn] };
}

function selfTuningStatements(worker: AdaptiveAttachment, prepared: AdaptivePreparation): PolicyStatementArgs[] {
    if (worker.target === "ReservedConcurrency") {
        return [
            { actions: ["lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency"], resources: [worker.function.arn] },
            { actions: ["lambda:GetAccountSettings", "cloudwatch:GetMetricData"], resources: ["*"] },
            leaseStatement(prepared),
        ];
    }
    return [
        { actions: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], resources: [worker.eventSourceMappingArn!] },
        // Finding its own mapping by the source ARN: AWS scopes ListEventSourceMappings to no resource.
        { actions: ["lambda:ListEventSourceMappings", "cloudwatch:GetMetricData"], resources: ["*"] },
        leaseStatement(prepared),
    ];
}

