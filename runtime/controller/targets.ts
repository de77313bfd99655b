/**
 * What a controller changes: a function's reserved concurrency, an SQS event source mapping's maximum
 * concurrency, or a Kinesis event source mapping's parallelization factor.
 */
import { CONTROL_TARGET_KINDS, CONTROL_TARGET_RANGES, ControlTargetKind } from "../../contracts/controller";
import { ConfigurationError } from "../../contracts/errors";
import { ownFunctionName } from "../eventSourceMappings";

/** The kinds of setting a controller can drive (the contract's `CONTROL_TARGET_KINDS`). */
export const TARGET_KINDS = CONTROL_TARGET_KINDS;

/** One of {@link TARGET_KINDS}. */
export type TargetKind = ControlTargetKind;

/** A function's reserved concurrency (`PutFunctionConcurrency`). */
export interface ReservedConcurrencyTarget {
    /** Discriminator. */
    kind: "ReservedConcurrency";
    /**
     * Function name or ARN. Omit it only in the worker itself (self-tuning, or a worker's statistics in
     * controller mode): the worker's function cannot know its deployed name before it exists.
     * @default the running function (`AWS_LAMBDA_FUNCTION_NAME`)
     * @example "orders-worker"
     */
    functionName?: string;
}

/** An SQS event source mapping's `ScalingConfig.MaximumConcurrency` (2–1000). */
export interface SqsMaximumConcurrencyTarget {
    /** Discriminator. */
    kind: "SqsMaximumConcurrency";
    /**
     * The mapping's UUID. Omit it in the worker itself (its mapping is created after it): the runtime
     * then looks up the running function's mapping for `eventSourceArn` the first time it reads the setting.
     * @default the running function's mapping for `eventSourceArn` (`resolveOwnMappingUuid`)
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    uuid?: string;
    /**
     * The mapping's event source: the queue ARN. Required without `uuid`. When set, it also names the target's
     * lease and statistics items ({@link targetKey}), so give it to the scheduled controller too whenever
     * the workers' configuration has it.
     * @default undefined
     * @example "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"
     */
    eventSourceArn?: string;
}

/** A Kinesis event source mapping's `ParallelizationFactor` (1–10 concurrent batches per shard). */
export interface KinesisParallelizationFactorTarget {
    /** Discriminator. */
    kind: "KinesisParallelizationFactor";
    /**
     * The mapping's UUID. Omit it in the worker itself (its mapping is created after it): the runtime
     * then looks up the running function's mapping for `eventSourceArn` the first time it reads the setting.
     * @default the running function's mapping for `eventSourceArn` (`resolveOwnMappingUuid`)
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    uuid?: string;
    /**
     * The mapping's event source: the stream ARN. Required without `uuid`. When set, it also names the target's
     * lease and statistics items ({@link targetKey}), so give it to the scheduled controller too whenever
     * the workers' configuration has it.
     * @default undefined
     * @example "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
     */
    eventSourceArn?: string;
}

/** A setting a controller drives. */
export type ControlledTarget = ReservedConcurrencyTarget | SqsMaximumConcurrencyTarget | KinesisParallelizationFactorTarget;

/** The values AWS accepts for each kind (the contract's `CONTROL_TARGET_RANGES`). */
export const TARGET_RANGES = CONTROL_TARGET_RANGES;

/**
 * A stable key for a target, used for its lease and statistics items, so it must come out the same in the
 * scheduled controller and in the workers, which cannot know their own mapping's UUID:
 * - reserved concurrency: `ReservedConcurrency:<function name>` (the name part of an ARN; the running
 *   function's name when omitted);
 * - mappings: `<kind>:<eventSourceArn>` when the source is given, else `<kind>:<uuid>`. Keying by the
 *   source costs the workers no lookup (a function has one mapping per source), so only the invocation
 *   that changes the setting ever resolves the UUID.
 * @param target the controlled setting
 * @throws ConfigurationError when a mapping target has neither `eventSourceArn` nor `uuid`, or a reserved-concurrency
 *   target has no `functionName` outside Lambda
 * @example
 * targetKey({ kind: "ReservedConcurrency", functionName: "arn:aws:lambda:eu-west-1:123456789012:function:orders" }) // "ReservedConcurrency:orders"
 * targetKey({ kind: "SqsMaximumConcurrency", eventSourceArn: queueArn, uuid }) // `SqsMaximumConcurrency:${queueArn}`
 */
export function targetKey(target: ControlledTarget): string {
    if (target.kind === "ReservedConcurrency") return `${target.kind}:${functionNameOf(target.functionName ?? ownFunctionName())}`;
    const id = target.eventSourceArn ?? target.uuid;
    if (!id) throw new ConfigurationError(`A ${target.kind} target needs eventSourceArn or uuid.`);
    return `${target.kind}:${id}`;
}

/** The name part of a function ARN (`…:function:<name>[:qualifier]`); a plain name as it is. */
function functionNameOf(nameOrArn: string): string {
    return /(?:^|:)function:([^:]+)/.exec(nameOrArn)?.[1] ?? nameOrArn;
}
