/**
 * The Lambda function every worker is built on: bundled handler, its own role (logs to its own log
 * group only, plus what the pattern needs), a log group with retention, JSON logs, nodejs22.x, arm64.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { bundleHandler, bundleRuntimeHandler, RuntimeWrapper } from "./bundle";
import { assumeRolePolicy, policyStatementProblems, policyDocument, PolicyStatementArgs } from "./iam";
import { plainValue, Validator } from "./validation";
import { ENV } from "../../contracts/environment";
import { attachInlinePolicy } from "./inlinePolicies";
import { ChildArgsPatch } from "./escapeHatches";
import { LAMBDA_TRACING_STATEMENT, lambdaTracingActive } from "./tracing";

/** CPU architecture of a worker function. */
export const Architecture = {
    Arm64: "arm64",
    X86_64: "x86_64",
} as const;
export type Architecture = (typeof Architecture)[keyof typeof Architecture];

/** The Node.js versions of Lambda a worker function may run on (the bundle targets the same version). */
export const NodeRuntime = {
    Node20: "nodejs20.x",
    Node22: "nodejs22.x",
    Node24: "nodejs24.x",
} as const;
export type NodeRuntime = (typeof NodeRuntime)[keyof typeof NodeRuntime];

/** X-Ray tracing of a worker function. */
export const TracingMode = {
    /** Trace only requests that arrive with a sampled trace header. */
    PassThrough: "PassThrough",
    /** Sample and trace requests itself (adds the X-Ray write permissions to the role). */
    Active: "Active",
} as const;
export type TracingMode = (typeof TracingMode)[keyof typeof TracingMode];

/** Subnets and security groups for a function that must reach a downstream inside a VPC. */
export interface WorkerVpcArgs {
    /**
     * Private subnet ids, e.g. `vpc.privateSubnetIds` of an `awsx.ec2.Vpc`.
     * @example vpc.privateSubnetIds
     */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Security group ids attached to the function's network interfaces.
     * @example [workerSecurityGroup.id]
     */
    securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
}

/** The function every worker runs: shared by all worker components. */
export interface WorkerFunctionArgs {
    /**
     * `"path/to/module.exportName"`, the path relative to the Pulumi program's working directory.
     * The component bundles it with esbuild together with the pattern's runtime wrapper.
     * @example "handlers/orders.handle"
     */
    handler: string;
    /**
     * Function timeout in seconds, 1–900.
     * @default 30
     * @example 60
     */
    timeoutSeconds?: number;
    /**
     * Memory in MB, 128–10240.
     * @default 256
     * @example 1024
     */
    memorySize?: number;
    /**
     * Extra environment variables (they may override `NODE_OPTIONS=--enable-source-maps`); the pattern's own
     * variables win over them. With the pattern's own, at most 4,096 bytes as Lambda measures them (their
     * JSON); checked at deploy time.
     * @default {}
     * @example { DOWNSTREAM_URL: "https://erp.internal" }
     */
    environment?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
    /**
     * Extra IAM statements for the function's role, e.g. access to the downstream system.
     * Wildcard actions are rejected. They join the pattern's own in the role's inline policies, which IAM
     * caps at 10,240 characters per role (checked at deploy time).
     * @default []
     * @example [{ actions: ["secretsmanager:GetSecretValue"], resources: [secret.arn] }]
     */
    policyStatements?: pulumi.Input<PolicyStatementArgs>[];
    /**
     * CPU architecture: `arm64` or `x86_64`.
     * @default "arm64"
     * @example "x86_64"
     */
    architecture?: Architecture;
    /**
     * Days to keep the function's logs; one of the periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30,
     * 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653).
     * @default 30
     * @example 90
     */
    logRetentionDays?: number;
    /**
     * Run the function in a VPC (adds the network-interface permissions Lambda needs there).
     * @default none (outside any VPC)
     * @example { subnetIds: vpc.privateSubnetIds, securityGroupIds: [workerSecurityGroup.id] }
     */
    vpc?: WorkerVpcArgs;
    /**
     * `true`: the handler is the plain business function and the pattern's runtime wrapper adds
     * idempotency, ordering and metrics. `false`: the export is used as the Lambda handler as-is.
     * @default true
     * @example false
     */
    wrap?: boolean;
    /**
     * Bundle the AWS SDK v3 instead of using the copy in the Lambda Node.js runtime.
     * @default false
     * @example true
     */
    bundleAwsSdk?: boolean;
    /**
     * Lambda layer version ARNs, at most 5.
     * @default none
     * @example ["arn:aws:lambda:us-east-1:123456789012:layer:otel:3"]
     */
    layers?: pulumi.Input<string>[];
    /**
     * X-Ray tracing: `PassThrough` or `Active` (`Active` adds `xray:PutTraceSegments` and
     * `xray:PutTelemetryRecords`, which AWS scopes to no resource; so does `tracingConfig: { mode: "Active" }`
     * in the component's `transform.function`).
     * @default none (Lambda's own default, PassThrough)
     * @example "Active"
     */
    tracingMode?: TracingMode;
    /**
     * Size of `/tmp` in MB, 512–10240.
     * @default none (Lambda's default, 512)
     * @example 2048
     */
    ephemeralStorageMb?: number;
    /**
     * The Node.js runtime: `nodejs20.x`, `nodejs22.x` or `nodejs24.x`; the bundle targets the same version.
     * @default "nodejs22.x"
     * @example "nodejs24.x"
     */
    runtime?: NodeRuntime;
}

/** What a pattern adds to the shared function settings. */
export interface WorkerFunctionSpec {
    /** `ClassName "name"`, for messages. */
    label: string;
    /** The pattern's runtime wrapper, used when `function.wrap` is not false. */
    wrapper: RuntimeWrapper;
    /** Environment the pattern's runtime reads (merged over the user's). */
    environment: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
    /** The pattern's own IAM statements (its table, queues, streams). */
    statements: pulumi.Input<PolicyStatementArgs>[];
    /** Reserved concurrency; omitted means none. */
    reservedConcurrency?: pulumi.Input<number>;
    /** Runtime modules imported for their side effects (see `BundleRequest.activations`). */
    activations?: string[];
    /** Function settings that something other than Pulumi manages at run time (adaptive concurrency). */
    ignoreChanges?: string[];
    /** The `transform` entry merged into the function's args, read for what needs permissions (Active tracing). */
    functionPatch?: ChildArgsPatch;
}

/** A function the package provides (controller, prober, semaphore handlers). */
export interface RuntimeFunctionSpec {
    /** `ClassName "name"`, for messages. */
    label: string;
    /** Module under `runtime/` that exports `handler`, e.g. `"handlers/controller"`. */
    module: string;
    /** Environment the handler reads. */
    environment: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
    /** What to do when the environment is over {@link LAMBDA_ENVIRONMENT_LIMIT_BYTES}, for the message. @default "shorten or drop variables" */
    environmentAdvice?: string;
    /** What the handler may do. */
    statements: pulumi.Input<PolicyStatementArgs>[];
    /** @default 60 */
    timeoutSeconds?: number;
    /** The `transform` entry merged into the function's args, read for what needs permissions (Active tracing). */
    functionPatch?: ChildArgsPatch;
}

export interface WorkerFunction {
    function: aws.lambda.Function;
    role: aws.iam.Role;
    logGroup: aws.cloudwatch.LogGroup;
}

/** Defaults of the shared function settings, in one place for code and docs. */
export const WORKER_FUNCTION_DEFAULTS = { timeoutSeconds: 30, memorySize: 256, logRetentionDays: 30, runtime: NodeRuntime.Node22 } as const;

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Adds the messages for bad shared function settings to `validator`. */
export function validateWorkerFunctionArgs(validator: Validator, args: WorkerFunctionArgs | undefined): void {
    if (!args || typeof args.handler !== "string") {
        validator.rule(true, 'function.handler is required: "path/module.exportName".');
        return;
    }
    validator
        .integer("function.timeoutSeconds", args.timeoutSeconds, 1, 900)
        .integer("function.memorySize", args.memorySize, 128, 10240)
        .oneOf("function.architecture", args.architecture, Object.values(Architecture))
        .oneOf("function.runtime", args.runtime, Object.values(NodeRuntime))
        .oneOf("function.tracingMode", args.tracingMode, Object.values(TracingMode))
        .integer("function.ephemeralStorageMb", args.ephemeralStorageMb, 512, 10240)
        .rule(Array.isArray(args.layers) && args.layers.length > 5, `function.layers may name at most 5 layers (the Lambda limit); received ${args.layers?.length}.`)
        .rule(
            args.logRetentionDays !== undefined && !LOG_RETENTION_DAYS.includes(args.logRetentionDays),
            `function.logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(", ")}; received ${args.logRetentionDays}.`,
        );
    const statements = (plainValue(args.policyStatements) ?? []).map(plainValue).filter((s) => s !== undefined);
    for (const problem of policyStatementProblems(statements as Array<{ effect?: unknown; actions: string[]; resources: unknown[] }>)) {
        validator.rule(true, `function.${problem}`);
    }
}

/** Creates the role, log group and function of a worker under `parent`. */
export function createWorkerFunction(
    name: string,
    args: WorkerFunctionArgs,
    spec: WorkerFunctionSpec,
    parent: pulumi.Resource,
): WorkerFunction {
    const bundle = bundleHandler(spec.label, {
        handler: args.handler,
        wrapper: args.wrap === false ? undefined : spec.wrapper,
        activations: spec.activations,
        bundleAwsSdk: args.bundleAwsSdk,
        runtime: args.runtime,
    });
    return createFunction(
        name,
        {
            archive: bundle.archive,
            label: spec.label,
            settings: args,
            environment: functionEnvironment(args.environment, spec.environment),
            environmentAdvice: "shorten or drop variables of function.environment",
            statements: [...spec.statements, ...(args.policyStatements ?? [])],
            reservedConcurrency: spec.reservedConcurrency,
            ignoreChanges: spec.ignoreChanges,
            functionPatch: spec.functionPatch,
        },
        parent,
    );
}

/**
 * What Lambda allows for all of a function's environment variables together, in bytes, as it measures
 * them: the variables map as compact JSON, UTF-8 (its refusal quotes that JSON as "String measured").
 */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * Bytes of an environment as Lambda measures it against {@link LAMBDA_ENVIRONMENT_LIMIT_BYTES}: quotes,
 * colons, commas and escapes count, so a JSON value counts each of its `"` twice.
 * @example environmentBytes({ A: "1" }) // 9, the length of {"A":"1"}
 */
export function environmentBytes(environment: { [key: string]: string }): number {
    return Buffer.byteLength(JSON.stringify(environment));
}

/** Creates the role, log group and function of a handler the package provides. */
export function createRuntimeFunction(name: string, spec: RuntimeFunctionSpec, parent: pulumi.Resource): WorkerFunction {
    const bundle = bundleRuntimeHandler(spec.label, spec.module);
    return createFunction(
        name,
        {
            archive: bundle.archive,
            label: spec.label,
            settings: { timeoutSeconds: spec.timeoutSeconds ?? 60 },
            environment: functionEnvironment(undefined, spec.environment),
            environmentAdvice: spec.environmentAdvice ?? "shorten or drop variables",
            statements: spec.statements,
            functionPatch: spec.functionPatch,
        },
        parent,
    );
}

interface FunctionParts {
    label: string;
    archive: pulumi.asset.AssetArchive;
    settings: Omit<WorkerFunctionArgs, "handler" | "environment" | "policyStatements">;
    environment: pulumi.Output<{ [key: string]: string }>;
    environmentAdvice: string;
    statements: pulumi.Input<PolicyStatementArgs>[];
    reservedConcurrency?: pulumi.Input<number>;
    ignoreChanges?: string[];
    functionPatch?: ChildArgsPatch;
}

function createFunction(name: string, parts: FunctionParts, parent: pulumi.Resource): WorkerFunction {
    const { settings } = parts;
    checkEnvironmentSize(name, parts, parent);
    const logGroup = new aws.cloudwatch.LogGroup(
        `${name}-logs`,
        { retentionInDays: settings.logRetentionDays ?? WORKER_FUNCTION_DEFAULTS.logRetentionDays },
        { parent },
    );
    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com") }, { parent });
    const statements = [...workerBaseStatements(logGroup, settings.vpc, lambdaTracingActive(settings.tracingMode, parts.functionPatch)), ...parts.statements];
    const rolePolicy = attachInlinePolicy(`${name}-policy`, role, policyDocument(statements), parts.label, parent);
    const fn = new aws.lambda.Function(
        `${name}-fn`,
        {
            role: role.arn,
            runtime: settings.runtime ?? WORKER_FUNCTION_DEFAULTS.runtime,
            handler: "index.handler",
            code: parts.archive,
            architectures: [settings.architecture ?? Architecture.Arm64],
            timeout: settings.timeoutSeconds ?? WORKER_FUNCTION_DEFAULTS.timeoutSeconds,
            memorySize: settings.memorySize ?? WORKER_FUNCTION_DEFAULTS.memorySize,
            reservedConcurrentExecutions: parts.reservedConcurrency,
            loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
            environment: { variables: parts.environment },
            vpcConfig: settings.vpc ? { subnetIds: settings.vpc.subnetIds, securityGroupIds: settings.vpc.securityGroupIds } : undefined,
            layers: settings.layers,
            tracingConfig: settings.tracingMode ? { mode: settings.tracingMode } : undefined,
            ephemeralStorage: settings.ephemeralStorageMb !== undefined ? { size: settings.ephemeralStorageMb } : undefined,
        },
        { parent, dependsOn: [rolePolicy], ignoreChanges: parts.ignoreChanges },
    );
    return { function: fn, role, logGroup };
}

/** Fails the deployment when the function's environment, known only then, is over what Lambda allows. */
function checkEnvironmentSize(name: string, parts: FunctionParts, parent: pulumi.Resource): void {
    new Validator(parts.label)
        .check(parts.environment, (environment) => {
            const bytes = environmentBytes(environment);
            return bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES
                ? `the environment variables of ${name}-fn would be ${bytes} bytes as Lambda measures them (their JSON), over the ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} it allows; ${parts.environmentAdvice}.`
                : undefined;
        })
        .throwIfInvalid(parent);
}

/**
 * Logs to its own group; in a VPC, the network-interface actions Lambda needs; with active tracing (its
 * `tracingMode` or its `transform`), the X-Ray writes (AWS allows only `*` for both).
 */
function workerBaseStatements(logGroup: aws.cloudwatch.LogGroup, vpc: WorkerVpcArgs | undefined, tracingActive: boolean): pulumi.Input<PolicyStatementArgs>[] {
    const logs: PolicyStatementArgs = {
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [pulumi.interpolate`${logGroup.arn}:*`],
    };
    const tracing = tracingActive ? [LAMBDA_TRACING_STATEMENT] : [];
    if (vpc === undefined) return [logs, ...tracing];
    const network: PolicyStatementArgs = {
        actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ],
        resources: ["*"],
    };
    return [logs, network, ...tracing];
}

/** Merges environment maps; later ones win. */
export function mergeEnvironments(...environments: Array<pulumi.Input<{ [key: string]: pulumi.Input<string> }> | undefined>): pulumi.Output<{ [key: string]: string }> {
    return pulumi.all(environments.map((env) => pulumi.output(env ?? {}))).apply((resolved): { [key: string]: string } => Object.assign({}, ...resolved));
}

function functionEnvironment(
    user: WorkerFunctionArgs["environment"],
    pattern: WorkerFunctionSpec["environment"],
): pulumi.Output<{ [key: string]: string }> {
    return pulumi.all([user ?? {}, pattern]).apply(([userVars, patternVars]): { [key: string]: string } => ({
        [ENV.nodeOptions]: "--enable-source-maps",
        ...userVars,
        ...patternVars,
    }));
}
