/**
 * The skeleton both ordered workers (`KinesisOrderedWorker`, `FifoTopicWorker`) are built on: the
 * idempotency table, the mapping's run-time control (adaptive concurrency, circuit breaker), the wrapped
 * function with the contract's environment, the event source mapping with the settings run-time control
 * owns left to it, alarms and the dashboard. Each worker creates its source (stream; topic and queues)
 * and describes what differs in an {@link OrderedSourceSpec}.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../contracts/environment";
import { adaptiveChildren, AdaptiveConcurrencyArgs, AdaptiveTransformArgs } from "./adaptiveConcurrency";
import { reserveConcurrency } from "./internal/budget";
import { RuntimeWrapper } from "./internal/bundle";
import { breakerChildren, BreakerTransformArgs, CircuitBreakerArgs } from "./internal/circuitBreaker";
import { ControlTarget } from "./internal/control";
import { PolicyStatementArgs } from "./internal/iam";
import { CHILD_TYPES, workerChildren, WorkerTransformArgs } from "./internal/escapeHatches";
import { AlarmSpec, claimDashboardName, createAlarms, createDashboard, WidgetSpec } from "./internal/observability";
import { createTable } from "./internal/tables";
import { componentLabel, deriveInput, Validator } from "./internal/validation";
import { IdempotencyWindow, workerEnvironment } from "./internal/workerEnvironment";
import { createWorkerFunction, mergeEnvironments, WorkerFunctionArgs } from "./internal/workerFunction";
import { attachMappingControl, prepareMappingControl } from "./mappingControl";
import { BreakerReference, ControllerReference } from "../contracts/operations";
import { DeepInput } from "./internal/operations";

/** The arguments both ordered workers take and treat alike. */
export interface OrderedWorkerCommonArgs {
    function: WorkerFunctionArgs;
    reservedConcurrency?: number;
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    adaptiveConcurrency?: AdaptiveConcurrencyArgs;
    circuitBreaker?: CircuitBreakerArgs;
    transform?: WorkerTransformArgs & AdaptiveTransformArgs & BreakerTransformArgs;
}

/** What is fixed for a kind of source: its runtime wrapper and the mapping settings run-time control owns. */
export interface OrderedSourceKind {
    /** The runtime wrapper that processes this source's batches in order. */
    wrapper: RuntimeWrapper;
    /** The mapping setting adaptive concurrency moves. */
    target: ControlTarget;
    /** Mapping fields that adaptive concurrency, and the breaker, change at run time. */
    managedFields: { adaptive: string[]; breaker: string[] };
}

/** What one ordered source needs from the skeleton; everything else is the same for both. */
export interface OrderedSourceSpec<M extends number | undefined> {
    kind: OrderedSourceKind;
    /** `ClassName "name"`, for messages. */
    label: string;
    /** The stream or queue the mapping reads. */
    eventSourceArn: pulumi.Input<string>;
    /** The queue whose backlog signals demand (SQS). */
    queueName?: pulumi.Input<string>;
    /** Shards of a provisioned stream (Kinesis). */
    shardCount?: pulumi.Input<number>;
    /** Keys processed at once inside a batch, and the idempotency window. */
    settings: IdempotencyWindow & { inBatchParallelism: number };
    /** Variables this source's wrapper reads beyond the common ones. */
    environment?: { [key: string]: string };
    /** Reading the source (and writing its failure destination), given the idempotency table. */
    statements(table: aws.dynamodb.Table): PolicyStatementArgs[];
    /** The mapping's source-specific inputs (batching, retries, scaling, destinations). */
    mapping: Omit<aws.lambda.EventSourceMappingArgs, "functionName" | "eventSourceArn" | "functionResponseTypes">;
    /** Concurrent invocations at most (undefined when unknown), and keys one invocation runs at once. */
    concurrency: { maxConcurrency: pulumi.Input<M>; keysPerInvocation: number };
    /** The source's alarms and dashboard widgets for the worker function. */
    alarms(fn: aws.lambda.Function): AlarmSpec[];
    widgets(fn: aws.lambda.Function): WidgetSpec[];
}

/** The children and figures of the skeleton a worker exposes. */
export interface OrderedWorkerParts<M extends number | undefined> {
    function: aws.lambda.Function;
    role: aws.iam.Role;
    logGroup: aws.cloudwatch.LogGroup;
    idempotencyTable: aws.dynamodb.Table;
    eventSourceMapping: aws.lambda.EventSourceMapping;
    dashboardName: pulumi.Output<string>;
    maxConcurrency: pulumi.Output<M>;
    /** `maxConcurrency` × keys per invocation. */
    maxDownstreamConcurrency: pulumi.Output<M>;
    /** Run-time control as the operations manifest names it; a member is absent when its option is off. */
    controlReferences: OrderedControlReferences;
}

/** The `controller` and `breaker` members of an ordered worker's operations manifest. */
export interface OrderedControlReferences {
    controller?: DeepInput<ControllerReference>;
    breaker?: DeepInput<BreakerReference>;
}

/** The `transform` keys of the skeleton's children (function, role, logGroup, table, eventSourceMapping, the breaker's prober, its role and its table, the control table). */
export function orderedWorkerChildren(name: string) {
    return { ...workerChildren(name), eventSourceMapping: { type: CHILD_TYPES.eventSourceMapping, name: `${name}-esm` }, ...breakerChildren(name), ...adaptiveChildren(name) };
}

/** The skeleton's children as component outputs (`registerOutputs`). */
export function orderedWorkerOutputs(parts: OrderedWorkerParts<number | undefined>): { [key: string]: unknown } {
    const { controlReferences: _references, ...outputs } = parts;
    return outputs;
}

/** How a worker applies its defaults and checks its arguments (both pure). */
export interface OrderedWorkerRules<A, S> {
    className: string;
    resolve(args: A): S;
    validate(label: string, args: A, settings: S): Validator;
}

/**
 * Resolves the settings, fails construction with every problem at once, claims the dashboard name, then
 * budgets the reservation: all before any child exists.
 */
export function admitOrderedWorker<A extends OrderedWorkerCommonArgs, S>(parent: pulumi.Resource, name: string, args: A, rules: OrderedWorkerRules<A, S>): { label: string; settings: S } {
    const label = componentLabel(rules.className, name);
    const settings = rules.resolve(args);
    rules.validate(label, args, settings).throwIfInvalid(parent);
    claimDashboardName(name, label, parent);
    if (args.reservedConcurrency !== undefined) reserveConcurrency(parent, { component: label, concurrency: args.reservedConcurrency });
    return { label, settings };
}

/** Builds the skeleton under `parent` once the worker's source exists. */
export function buildOrderedWorker<M extends number | undefined>(name: string, args: OrderedWorkerCommonArgs, spec: OrderedSourceSpec<M>, parent: pulumi.Resource): OrderedWorkerParts<M> {
    const { adaptiveConcurrency: adaptive, circuitBreaker: breaker } = args;
    const idempotencyTable = createTable(`${name}-idempotency`, { hashKey: "id" }, parent);
    const { kind, concurrency } = spec;
    const control = prepareMappingControl(
        name,
        {
            adaptive,
            breaker,
            target: kind.target,
            eventSourceArn: spec.eventSourceArn,
            queueName: spec.queueName,
            shardCount: spec.shardCount,
            alarmActions: args.alarmActions,
            controllerTransform: args.transform?.adaptiveController,
            proberPatch: args.transform?.prober,
        },
        parent,
    );
    const worker = createWorkerFunction(
        name,
        args.function,
        {
            label: spec.label,
            wrapper: kind.wrapper,
            environment: mergeEnvironments(
                { ...workerEnvironment(name, idempotencyTable, spec.settings), [ENV.inBatchParallelism]: String(spec.settings.inBatchParallelism), ...spec.environment },
                ...control.environments,
            ),
            statements: [...spec.statements(idempotencyTable), ...control.statements],
            reservedConcurrency: args.reservedConcurrency,
            activations: control.activations,
            functionPatch: args.transform?.function,
        },
        parent,
    );
    const eventSourceMapping = new aws.lambda.EventSourceMapping(
        `${name}-esm`,
        { functionName: worker.function.arn, eventSourceArn: spec.eventSourceArn, ...spec.mapping, functionResponseTypes: ["ReportBatchItemFailures"] },
        { parent, dependsOn: [worker.function], ignoreChanges: managedMappingFields(kind.managedFields, adaptive, breaker) },
    );
    const controlled = attachMappingControl(name, control, { label: spec.label, function: worker.function, role: worker.role, mapping: eventSourceMapping }, parent);
    createAlarms(name, [...spec.alarms(worker.function), ...controlled.alarms], args.alarmActions, parent);
    const dashboard = createDashboard(name, [...spec.widgets(worker.function), ...controlled.widgets], parent);
    const maxDownstream = deriveInput(concurrency.maxConcurrency, (max) => (max === undefined ? undefined : max * concurrency.keysPerInvocation) as M);
    return {
        ...worker,
        idempotencyTable,
        eventSourceMapping,
        dashboardName: dashboard.dashboardName,
        maxConcurrency: pulumi.output(concurrency.maxConcurrency) as pulumi.Output<M>,
        maxDownstreamConcurrency: pulumi.output(maxDownstream) as pulumi.Output<M>,
        controlReferences: {
            controller: control.adaptive && {
                mode: args.adaptiveConcurrency!.mode,
                tableName: control.adaptive.table.name,
                target: { kind: kind.target, uuid: eventSourceMapping.uuid, eventSourceArn: spec.eventSourceArn },
            },
            breaker: control.breaker && { tableName: control.breaker.table.name, id: name },
        },
    };
}

/** Mapping settings that run-time control owns, so `pulumi up` leaves them alone. */
export function managedMappingFields(fields: OrderedSourceKind["managedFields"], adaptive: unknown, breaker: unknown): string[] | undefined {
    const managed = new Set([...(adaptive ? fields.adaptive : []), ...(breaker ? fields.breaker : [])]);
    return managed.size > 0 ? [...managed] : undefined;
}
