import * as aws from "@pulumi/aws";
import { operationsManifest } from "./internal/operations";
import * as pulumi from "@pulumi/pulumi";
import { policyStatementProblems, policyDocument, PolicyStatementArgs } from "./internal/iam";
import { componentLabel, plainValue, Validator } from "./internal/validation";
import { WORKER_FUNCTION_DEFAULTS } from "./internal/workerFunction";
import {
    definitionProblem,
    resolveSemaphoreSettings,
    SemaphoreSettingsArgs,
    StepFunctionsSemaphore,
    StepFunctionsSemaphoreTransformArgs,
    validateSemaphoreArgs,
} from "./stepFunctionsSemaphore";
import { SEMAPHORE_STATE_MACHINE_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches } from "./internal/escapeHatches";
import { attachInlinePolicy } from "./internal/inlinePolicies";
import { STATE_MACHINE_TRACING_STATEMENT, stateMachineTracingEnabled } from "./internal/tracing";

/** Step Functions workflow types. */
export const WorkflowType = {
    /** Long-running, exactly-once workflows; the only type that can wait on a task token. */
    Standard: "STANDARD",
    /** Short, high-volume workflows; request/response integrations only, so no semaphore. */
    Express: "EXPRESS",
} as const;
export type WorkflowType = (typeof WorkflowType)[keyof typeof WorkflowType];

/**
 * The CloudWatch Logs actions Step Functions needs to set up log delivery to a log group. They are
 * log-delivery APIs that name no log group, so IAM accepts only `*` for them.
 */
const LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

/** `transform` entries of a {@link SemaphoreStateMachine}: plain objects merged into that child's args. */
export interface SemaphoreStateMachineTransformArgs {
    /**
     * Merged into the state machine's args (`aws.sfn.StateMachineArgs`). `tracingConfiguration: { enabled: true }`
     * also grants the role the X-Ray calls a traced machine makes.
     * @default none
     * @example { tracingConfiguration: { enabled: true } }
     */
    stateMachine?: { [key: string]: any };
    /**
     * Merged into the state machine role's args (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    role?: { [key: string]: any };
    /**
     * Merged into the state machine log group's args (`aws.cloudwatch.LogGroupArgs`).
     * @default none
     * @example { kmsKeyId: logsKey.arn }
     */
    logGroup?: { [key: string]: any };
    /**
     * The `transform` of the machine's own semaphore (its table, dead-letter queue, four functions and
     * their roles), with the keys of `StepFunctionsSemaphore`'s `transform`.
     * @default none
     * @example { acquireRole: { permissionsBoundary: boundary.arn }, sweeperRole: { permissionsBoundary: boundary.arn } }
     */
    semaphore?: StepFunctionsSemaphoreTransformArgs;
}

/** The children of the machine itself that `transform` can reach, by key (`semaphore` goes to the semaphore). */
function stateMachineChildren(name: string): ChildCatalog<Exclude<keyof SemaphoreStateMachineTransformArgs, "semaphore">> {
    return {
        stateMachine: { type: CHILD_TYPES.stateMachine, name: `${name}-state-machine` },
        role: { type: CHILD_TYPES.role, name: `${name}-role` },
        logGroup: { type: CHILD_TYPES.logGroup, name: `${name}-logs` },
    };
}

export interface SemaphoreStateMachineArgs extends SemaphoreSettingsArgs, EscapeHatchArgs {
    /**
     * The workflow to run while holding a permit: an Amazon States Language definition with `StartAt` and
     * `States` (JSONPath). Values inside may be Outputs, such as a function ARN in a Task's `Resource`. Its
     * top-level states may not be named like the semaphore's (`AcquireSemaphore`, `SemaphoreProtectedWork`,
     * `ReleaseSemaphore`, `ReleaseSemaphoreAfterError`, `SemaphoreProtectedFailure`).
     * @example { StartAt: "CallErp", States: { CallErp: { Type: "Task", Resource: erpFunction.arn, End: true } } }
     */
    definition: pulumi.Input<{ [key: string]: any }>;
    /**
     * Workflow type. Only `STANDARD` is accepted: the semaphore waits on a task token
     * (`.waitForTaskToken`), which Express workflows do not support.
     * @default "STANDARD"
     * @example "STANDARD"
     */
    type?: WorkflowType;
    /**
     * IAM statements for what the workflow's own tasks call (the role already may invoke the semaphore's
     * functions and deliver logs). Wildcard actions are rejected. The role's inline policy holds at most
     * 10,240 characters, whitespace not counted (checked at deploy time).
     * @default []
     * @example [{ actions: ["lambda:InvokeFunction"], resources: [erpFunction.arn] }]
     */
    policyStatements?: pulumi.Input<PolicyStatementArgs>[];
    /**
     * Escape hatch: plain objects merged into one child's args each (stateMachine, role, logGroup), and under
     * `semaphore` the semaphore's own `transform` (its functions' roles included). `tags` also reach the
     * semaphore's children. For code-level changes from TypeScript, Pulumi's own `transforms` resource
     * option also reaches every child, the semaphore's included.
     * @default none
     * @example { stateMachine: { tracingConfiguration: { enabled: true } }, role: { permissionsBoundary: boundary.arn }, semaphore: { acquireRole: { permissionsBoundary: boundary.arn } } }
     */
    transform?: SemaphoreStateMachineTransformArgs;
}

/**
 * A ready Standard state machine whose whole definition runs under its own {@link StepFunctionsSemaphore}:
 * at most `limit` executions are past the acquire state at once, the rest wait in FIFO order, and every
 * path releases the permit. Its role may invoke the semaphore's acquire and release functions, deliver
 * logs (level ERROR, to its own log group) and do what `policyStatements` allow.
 *
 * @example
 * const machine = new SemaphoreStateMachine("orders", {
 *     limit: 2,
 *     definition: { StartAt: "CallErp", States: { CallErp: { Type: "Task", Resource: erp.arn, End: true } } },
 *     policyStatements: [{ actions: ["lambda:InvokeFunction"], resources: [erp.arn] }],
 * });
 */
export class SemaphoreStateMachine extends pulumi.ComponentResource {
    /** ARN of the state machine. */
    public readonly stateMachineArn: pulumi.Output<string>;
    /** Name of the state machine. */
    public readonly stateMachineName: pulumi.Output<string>;
    /** The log group the state machine logs its errors to. */
    public readonly logGroupName: pulumi.Output<string>;
    /** The semaphore's table. */
    public readonly semaphoreTableName: pulumi.Output<string>;
    /** Permits: the most executions that run the protected work at once. */
    public readonly limit: pulumi.Output<number>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: SemaphoreStateMachineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:SemaphoreStateMachine", name, {}, withEscapeHatches(opts, args, stateMachineChildren(name)));
        checkConstruction(SEMAPHORE_STATE_MACHINE_ARGUMENTS, name, args);
        validateStateMachineArgs(componentLabel("SemaphoreStateMachine", name), args).throwIfInvalid(this);

        const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const region = aws.getRegionOutput({}, { parent: this }).region;
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        // The semaphore's cleanup rule and DescribeExecution grant name this machine, which is created after
        // the semaphore (its definition needs the semaphore's function ARNs): its ARN is resolved below.
        const [machineArn, resolveMachineArn] = pulumi.deferredOutput<string>();
        const semaphore = new StepFunctionsSemaphore(
            `${name}-semaphore`,
            {
                protectedStateMachineArns: [machineArn],
                limit: args.limit,
                maxHoldSeconds: args.maxHoldSeconds,
                waitTimeoutSeconds: args.waitTimeoutSeconds,
                heartbeatSeconds: args.heartbeatSeconds,
                sweepIntervalMinutes: args.sweepIntervalMinutes,
                alarmActions: args.alarmActions,
                transform: args.transform?.semaphore,
            },
            { parent: this },
        );
        // Log groups under /aws/vendedlogs/ need no growing CloudWatch Logs resource policy.
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            { namePrefix: `/aws/vendedlogs/states/${name}-`, retentionInDays: WORKER_FUNCTION_DEFAULTS.logRetentionDays },
            { parent: this },
        );
        const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: stateMachineTrustPolicy(partition, region, account, machineNamePattern(`${name}-state-machine`, args.transform?.stateMachine)) }, { parent: this });
        const rolePolicy = attachInlinePolicy(`${name}-policy`, role, policyDocument(stateMachineStatements(semaphore, stateMachineTracingEnabled(args.transform?.stateMachine), args.policyStatements ?? [])), componentLabel("SemaphoreStateMachine", name), this);
        const stateMachine = new aws.sfn.StateMachine(
            `${name}-state-machine`,
            {
                type: WorkflowType.Standard,
                roleArn: role.arn,
                definition: semaphore.protect(args.definition),
                loggingConfiguration: { level: "ERROR", includeExecutionData: false, logDestination: pulumi.interpolate`${logGroup.arn}:*` },
            },
            { parent: this, dependsOn: [rolePolicy] },
        );
        resolveMachineArn(pulumi.interpolate`arn:${partition}:states:${region}:${account}:stateMachine:${stateMachine.name}`);

        this.stateMachineArn = stateMachine.arn;
        this.stateMachineName = stateMachine.name;
        this.logGroupName = logGroup.name;
        this.semaphoreTableName = semaphore.tableName;
        this.limit = semaphore.limit;
        this.operations = operationsManifest(this, {
            componentType: "SemaphoreStateMachine",
            name,
            stateMachineArn: this.stateMachineArn,
            semaphore: { tableName: semaphore.tableName, name: `${name}-semaphore`, limit: this.limit },
            dashboardName: semaphore.dashboardName,
        });
        this.registerOutputs({
            stateMachineArn: this.stateMachineArn,
            stateMachineName: this.stateMachineName,
            logGroupName: this.logGroupName,
            semaphoreTableName: this.semaphoreTableName,
            limit: this.limit,
            operations: this.operations,
        });
    }
}

/** Collects every problem with the arguments; pure. */
export function validateStateMachineArgs(label: string, args: SemaphoreStateMachineArgs): Validator {
    const validator = validateSemaphoreArgs(new Validator(label), args, resolveSemaphoreSettings(args))
        .oneOf("type", args.type, Object.values(WorkflowType))
        .rule(
            args.type === WorkflowType.Express,
            `type must be ${WorkflowType.Standard}: the semaphore waits on a task token (.waitForTaskToken), which only Standard workflows support; received "${WorkflowType.Express}".`,
        );
    const problem = definitionProblem(args.definition);
    validator.rule(problem !== undefined, problem ?? "");
    const statements = (plainValue(args.policyStatements) ?? []).map(plainValue).filter((s) => s !== undefined);
    for (const message of policyStatementProblems(statements as Array<{ effect?: unknown; actions: string[]; resources: unknown[] }>)) {
        validator.rule(true, message);
    }
    return validator;
}

/**
 * The trust policy of the machine's role: Step Functions, only on behalf of this component's state machine
 * (confused-deputy conditions `aws:SourceAccount` and `aws:SourceArn`). The role must exist before the
 * machine, so its exact ARN cannot be named; the condition names the machine's name pattern instead
 * ({@link machineNamePattern}).
 */
function stateMachineTrustPolicy(
    partition: pulumi.Output<string>,
    region: pulumi.Output<string>,
    account: pulumi.Output<string>,
    machineName: pulumi.Output<string>,
): pulumi.Output<string> {
    return pulumi.all([partition, region, account, machineName]).apply(([p, r, a, n]) =>
        JSON.stringify({
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: { Service: "states.amazonaws.com" },
                    Action: "sts:AssumeRole",
                    Condition: { StringEquals: { "aws:SourceAccount": a }, ArnLike: { "aws:SourceArn": `arn:${p}:states:${r}:${a}:stateMachine:${n}` } },
                },
            ],
        }),
    );
}

/**
 * The state machine's name as an `ArnLike` pattern: the `name` that `transform.stateMachine` sets, its
 * `namePrefix` followed by `*`, or else Pulumi's autoname (`<logical name>-` and a random suffix).
 * A trust condition on the autonamed prefix alone would refuse a machine renamed by `transform`, and
 * Step Functions would then fail to create it ("not authorized to assume the provided role").
 */
function machineNamePattern(logicalName: string, patch: { [key: string]: any } | undefined): pulumi.Output<string> {
    if (patch?.name !== undefined) return pulumi.output(patch.name as pulumi.Input<string>);
    if (patch?.namePrefix !== undefined) return pulumi.output(patch.namePrefix as pulumi.Input<string>).apply((prefix) => `${prefix}*`);
    return pulumi.output(`${logicalName}-*`);
}

/** Invoking the semaphore, delivering logs, with tracing turned on by `transform.stateMachine` the X-Ray calls, and the user's. */
function stateMachineStatements(semaphore: StepFunctionsSemaphore, tracing: boolean, userStatements: pulumi.Input<PolicyStatementArgs>[]): pulumi.Input<PolicyStatementArgs>[] {
    return [
        { actions: ["lambda:InvokeFunction"], resources: [semaphore.acquireFunctionArn, semaphore.releaseFunctionArn] },
        { actions: LOG_DELIVERY_ACTIONS, resources: ["*"] },
        ...(tracing ? [STATE_MACHINE_TRACING_STATEMENT] : []),
        ...userStatements,
    ];
}
