/**
 * The ordered workers' `circuitBreaker` option. Before the function: the state table, the activation
 * module, the environment and the worker's rights on the table (so its first batches can count and trip).
 * After the mapping: the scheduled prober, the worker's permission to disable its own mapping (the one
 * statement that needs the mapping's ARN), and the alarms on an open breaker and a failing prober.
 *
 * Open = the mapping disabled (the stream position and the queue's messages stay; nothing is lost);
 * half-open = the prober enables it with batch size 1 (and factor 1 on Kinesis) under a probe lease;
 * closed = the original settings restored. Reserved concurrency 0 is never used.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { rateInMinutes, scheduleFunction } from "./schedule";
import { policyDocument, PolicyStatementArgs } from "./iam";
import { AlarmSpec, MetricLine, RUNTIME_METRIC_NAMESPACE, WidgetSpec } from "./observability";
import { createTable } from "./tables";
import { ChildArgsPatch, ChildCatalog, CHILD_TYPES, workerFunctionChildren } from "./escapeHatches";
import { Validator } from "./validation";
import { functionErrorsAlarm } from "./workerAlarms";
import { createRuntimeFunction } from "./workerFunction";
import { ENV } from "../../contracts/environment";
import { attachInlinePolicy } from "./inlinePolicies";

/** When the breaker trips, how long it stays open, and how it closes. */
export interface CircuitBreakerArgs {
    /**
     * Downstream error rate (0–1] in a window that trips the breaker.
     * @default 0.5
     * @example 0.25
     */
    errorThreshold?: number;
    /**
     * Calls a window needs before it can trip (one failure at low traffic does not), 1–1000000.
     * @default 20
     * @example 50
     */
    minRequests?: number;
    /**
     * Length of the error-rate window in seconds, 1–3600.
     * @default 60
     * @example 120
     */
    windowSeconds?: number;
    /**
     * First open time in seconds, 1–86400; doubles after each failed probe, up to `maxOpenSeconds`.
     * @default 30
     * @example 60
     */
    openSeconds?: number;
    /**
     * Longest open time in seconds, 1–86400 and at least `openSeconds`; on Kinesis at most a quarter of
     * the time records may wait (the retention, or `maxRecordAgeSeconds` if shorter).
     * @default 900
     * @example 1800
     */
    maxOpenSeconds?: number;
    /**
     * Successful probes that close the breaker, 1–100.
     * @default 3
     * @example 5
     */
    successThreshold?: number;
    /**
     * Minutes between prober runs (the prober half-opens and closes), 1–60.
     * @default 1
     * @example 2
     */
    probeIntervalMinutes?: number;
}

/** The `transform` keys of a worker with `circuitBreaker` that reach its prober and table; without `circuitBreaker` each is an argument error. */
export interface BreakerTransformArgs {
    /**
     * Merged into the breaker's prober function (`<name>-prober-fn`, `aws.lambda.FunctionArgs`).
     * @default none
     * @example { memorySize: 256 }
     */
    prober?: { [key: string]: any };
    /**
     * Merged into the prober function's role (`<name>-prober-role`, `aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    proberRole?: { [key: string]: any };
    /**
     * Merged into the breaker's table (`<name>-breaker`, `aws.dynamodb.TableArgs`). A customer-managed key must let the
     * worker's and the prober's roles use it through DynamoDB (README, Escape hatches).
     * @default none
     * @example { deletionProtectionEnabled: true }
     */
    breakerTable?: { [key: string]: any };
}

/** The catalog entries of {@link BreakerTransformArgs} for a worker named `name`. */
export function breakerChildren(name: string): ChildCatalog<keyof BreakerTransformArgs> {
    const prober = workerFunctionChildren(`${name}-prober`);
    return { prober: prober.function, proberRole: prober.role, breakerTable: { type: CHILD_TYPES.table, name: `${name}-breaker` } };
}

/** What the option adds before the function exists. */
export interface BreakerPreparation {
    table: aws.dynamodb.Table;
    activation: string;
    environment: pulumi.Output<{ [key: string]: string }>;
    policy: pulumi.Output<{ [key: string]: string }>;
    /** The worker's statements that need no mapping ARN, for its policy created before the function. */
    statements: PolicyStatementArgs[];
}

/** Mapping settings the breaker changes at run time; `pulumi up` must not undo them. */
export const BREAKER_MANAGED_MAPPING_FIELDS = ["enabled", "batchSize", "parallelizationFactor"];

/** Adds the messages for a bad option. `waitLimitSeconds` (retention or record-age limit) bounds a Kinesis worker's open time. */
export function validateBreaker(validator: Validator, breaker: CircuitBreakerArgs | undefined, waitLimitSeconds?: number): void {
    if (!breaker) return;
    const p = "circuitBreaker.";
    validator
        .fraction(`${p}errorThreshold`, breaker.errorThreshold, 0, 1)
        .integer(`${p}minRequests`, breaker.minRequests, 1, 1_000_000)
        .integer(`${p}windowSeconds`, breaker.windowSeconds, 1, 3600)
        .integer(`${p}openSeconds`, breaker.openSeconds, 1, 86_400)
        .integer(`${p}maxOpenSeconds`, breaker.maxOpenSeconds, 1, 86_400)
        .integer(`${p}successThreshold`, breaker.successThreshold, 1, 100)
        .integer(`${p}probeIntervalMinutes`, breaker.probeIntervalMinutes, 1, 60)
        .rule(
            (breaker.maxOpenSeconds ?? 900) < (breaker.openSeconds ?? 30),
            `${p}maxOpenSeconds (${breaker.maxOpenSeconds ?? 900}) must be at least ${p}openSeconds (${breaker.openSeconds ?? 30}).`,
        )
        .rule(
            waitLimitSeconds !== undefined && (breaker.maxOpenSeconds ?? 900) > waitLimitSeconds / 4,
            `${p}maxOpenSeconds must be at most a quarter of the time records may wait (${waitLimitSeconds! / 4} s: the stream retention or maxRecordAgeSeconds), so records cannot age out while the breaker is open; received ${breaker.maxOpenSeconds ?? 900}.`,
        );
}

/** The state table, the activation and the environment, created before the function. */
export function prepareBreaker(name: string, breaker: CircuitBreakerArgs, eventSourceArn: pulumi.Input<string>, parent: pulumi.Resource): BreakerPreparation {
    const table = createTable(`${name}-breaker`, { hashKey: "id" }, parent);
    const policy = pulumi.output(policyEnvironment(breaker));
    const environment = pulumi.all([table.name, eventSourceArn, policy]).apply(([tableName, sourceArn, policyVars]): { [key: string]: string } => ({
        [ENV.breakerTableName]: tableName,
        [ENV.breakerId]: name,
        // The function cannot know its mapping's UUID at deploy time; the runtime finds it by the source.
        [ENV.breakerEventSourceArn]: sourceArn,
        ...policyVars,
    }));
    const statements: PolicyStatementArgs[] = [
        // The worker counts (UpdateItem ADD), reads and changes the state (GetItem, conditional PutItem).
        { actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources: [table.arn] },
        // Finding its own mapping by the source ARN: AWS scopes ListEventSourceMappings to no resource.
        { actions: ["lambda:ListEventSourceMappings"], resources: ["*"] },
    ];
    return { table, activation: "activation/circuitBreaker", environment, policy, statements };
}

/**
 * The prober, the worker's own permissions on its mapping, and the alarms: `breaker-open`, and
 * `prober-errors` (a failing prober repairs nothing and reports no state).
 */
export function attachBreaker(
    name: string,
    breaker: CircuitBreakerArgs,
    prepared: BreakerPreparation,
    worker: { role: aws.iam.Role; label: string; mapping: aws.lambda.EventSourceMapping; proberPatch?: ChildArgsPatch },
    parent: pulumi.Resource,
): AlarmSpec[] {
    // The prober's tick reads the state and writes transitions; it never counts (UpdateItem is the workers').
    const proberTableAccess: PolicyStatementArgs = { actions: ["dynamodb:GetItem", "dynamodb:PutItem"], resources: [prepared.table.arn] };
    const mappingAccess: PolicyStatementArgs = { actions: ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], resources: [worker.mapping.arn] };
    const prober = createRuntimeFunction(
        `${name}-prober`,
        {
            label: worker.label,
            module: "handlers/breakerProber",
            environment: pulumi.all([prepared.table.name, worker.mapping.uuid, prepared.policy]).apply(([tableName, uuid, policyVars]) => ({
                [ENV.workerName]: name,
                [ENV.breakerTableName]: tableName,
                [ENV.breakerId]: name,
                [ENV.breakerMappingUuid]: uuid,
                ...policyVars,
            })),
            statements: [proberTableAccess, mappingAccess],
            functionPatch: worker.proberPatch,
        },
        parent,
    );
    const minutes = breaker.probeIntervalMinutes ?? 1;
    scheduleFunction(`${name}-prober`, prober.function, { expression: rateInMinutes(minutes), intervalSeconds: minutes * 60 }, parent);
    // After the mapping exists: the worker trips the breaker itself, so it may disable its own mapping.
    // Its table rights are in its policy from before the function (`prepared.statements`).
    attachInlinePolicy(`${name}-breaker-policy`, worker.role, policyDocument([mappingAccess]), worker.label, parent);
    const open: AlarmSpec = {
        id: "breaker-open",
        description:
            "The circuit breaker is open (the event source mapping is disabled because the downstream is failing; it probes and closes by itself), " +
            "or its prober reported no state this period (see the prober-errors alarm): the mapping may stay disabled.",
        namespace: RUNTIME_METRIC_NAMESPACE,
        metricName: "CircuitBreakerState",
        dimensions: { Worker: name, Breaker: name },
        statistic: "Maximum",
        threshold: 0,
        periodSeconds: minutes * 60,
        // The prober reports the state every run, one run per period: no data means it did not run or failed.
        treatMissingData: "breaching",
        // Two periods in a row: one report that lands late (a scheduled run drifts, EMF extraction lags) does not page.
        evaluationPeriods: 2,
    };
    const proberErrors = functionErrorsAlarm(
        prober.function,
        "The circuit breaker's prober returned errors: while it fails, an open breaker neither half-opens nor closes and the mapping stays as it is. See the prober's logs.",
    );
    return [open, { ...proberErrors, id: "prober-errors" }];
}

/**
 * Dashboard widget: the breaker's state (0 closed, 1 half-open, 2 open), its transitions, and those an
 * operator forced with the CLI (`breaker open` / `breaker close` send them once more with `Forced` = `true`).
 */
export function breakerWidget(name: string): WidgetSpec {
    const transitions = [RUNTIME_METRIC_NAMESPACE, "CircuitBreakerTransitions", "Worker", name, "Breaker", name];
    return {
        title: "Circuit breaker: state (0 closed, 1 half-open, 2 open), transitions and forced transitions",
        metrics: pulumi.output<MetricLine[]>([
            [RUNTIME_METRIC_NAMESPACE, "CircuitBreakerState", "Worker", name, "Breaker", name, { stat: "Maximum", label: "state" }],
            [...transitions, { stat: "Sum", yAxis: "right", label: "transitions (forced included)" }],
            [...transitions, "Forced", "true", { stat: "Sum", yAxis: "right", label: "forced transitions (CLI breaker open/close)" }],
        ]),
    };
}

function policyEnvironment(breaker: CircuitBreakerArgs): { [key: string]: string } {
    const values: Array<[string, number | undefined]> = [
        [ENV.breakerErrorThreshold, breaker.errorThreshold],
        [ENV.breakerMinRequests, breaker.minRequests],
        [ENV.breakerWindowSeconds, breaker.windowSeconds],
        [ENV.breakerOpenSeconds, breaker.openSeconds],
        [ENV.breakerMaxOpenSeconds, breaker.maxOpenSeconds],
        [ENV.breakerSuccessThreshold, breaker.successThreshold],
    ];
    return Object.fromEntries(values.filter(([, value]) => value !== undefined).map(([key, value]) => [key, String(value)]));
}
