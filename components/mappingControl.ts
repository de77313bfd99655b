/**
 * Run-time control of an ordered worker's event source mapping: its `adaptiveConcurrency` and
 * `circuitBreaker` options together. Before the function: tables, environment, IAM and activation
 * modules; after the mapping: the controller or self-tuning permissions, the prober, alarms and widgets.
 * (A module of the worker components, beside them because the adaptive option creates a component.)
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { adaptiveAlarm, AdaptiveConcurrencyArgs, AdaptivePreparation, adaptiveWidget, attachAdaptive, prepareAdaptive, statisticsStatement } from "./adaptiveConcurrency";
import { attachBreaker, BreakerPreparation, breakerWidget, CircuitBreakerArgs, prepareBreaker } from "./internal/circuitBreaker";
import { ControllerFunctionTransformArgs, ControlTarget } from "./internal/control";
import { ChildArgsPatch } from "./internal/escapeHatches";
import { PolicyStatementArgs } from "./internal/iam";
import { AlarmSpec, WidgetSpec } from "./internal/observability";

/** What the worker knows before its function exists. */
export interface MappingControlArgs {
    adaptive?: AdaptiveConcurrencyArgs;
    breaker?: CircuitBreakerArgs;
    /** The setting adaptive concurrency moves on this mapping. */
    target: ControlTarget;
    /** The stream or queue: the function finds its own mapping by it. */
    eventSourceArn: pulumi.Input<string>;
    queueName?: pulumi.Input<string>;
    shardCount?: pulumi.Input<number>;
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /** The worker's `transform.adaptiveController`, for the adaptive controller. */
    controllerTransform?: ControllerFunctionTransformArgs;
    /** The worker's `transform.prober`, for what the breaker prober's role needs (Active tracing). */
    proberPatch?: ChildArgsPatch;
}

/** The parts the worker's function needs. */
export interface PreparedMappingControl {
    args: MappingControlArgs;
    adaptive?: AdaptivePreparation;
    breaker?: BreakerPreparation;
    /** Environment maps to merge into the function's. */
    environments: Array<pulumi.Output<{ [key: string]: string }>>;
    statements: PolicyStatementArgs[];
    activations: string[];
}

/** Tables, environment, IAM and activations, created before the worker's function. */
export function prepareMappingControl(name: string, args: MappingControlArgs, parent: pulumi.Resource): PreparedMappingControl {
    const adaptive = args.adaptive
        ? prepareAdaptive(name, args.adaptive, args.target, { eventSourceArn: args.eventSourceArn, queueName: args.queueName, shardCount: args.shardCount }, parent)
        : undefined;
    const breaker = args.breaker ? prepareBreaker(name, args.breaker, args.eventSourceArn, parent) : undefined;
    const prepared = [adaptive, breaker].filter((part): part is AdaptivePreparation | BreakerPreparation => part !== undefined);
    return {
        args,
        adaptive,
        breaker,
        environments: prepared.map((part) => part.environment),
        statements: [...(adaptive ? [statisticsStatement(adaptive)] : []), ...(breaker?.statements ?? [])],
        activations: prepared.map((part) => part.activation),
    };
}

/** The controller or self-tuning permissions, the prober; returns the alarms and widgets to add. */
export function attachMappingControl(
    name: string,
    prepared: PreparedMappingControl,
    worker: { label: string; function: aws.lambda.Function; role: aws.iam.Role; mapping: aws.lambda.EventSourceMapping },
    parent: pulumi.Resource,
): { alarms: AlarmSpec[]; widgets: WidgetSpec[] } {
    const { args } = prepared;
    const alarms: AlarmSpec[] = [];
    const widgets: WidgetSpec[] = [];
    if (args.adaptive && prepared.adaptive) {
        attachAdaptive(
            name,
            args.adaptive,
            prepared.adaptive,
            {
                label: worker.label,
                target: args.target,
                function: worker.function,
                role: worker.role,
                eventSourceMappingArn: worker.mapping.arn,
                eventSourceArn: args.eventSourceArn,
                queueName: args.queueName,
                shardCount: args.shardCount,
                alarmActions: args.alarmActions,
                controllerTransform: args.controllerTransform,
            },
            parent,
        );
        alarms.push(adaptiveAlarm(name));
        widgets.push(adaptiveWidget(name));
    }
    if (args.breaker && prepared.breaker) {
        alarms.push(...attachBreaker(name, args.breaker, prepared.breaker, { role: worker.role, label: worker.label, mapping: worker.mapping, proberPatch: args.proberPatch }, parent));
        widgets.push(breakerWidget(name));
    }
    return { alarms, widgets };
}
