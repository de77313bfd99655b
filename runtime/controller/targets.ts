/**
 * What a controller changes: a function's reserved concurrency, an SQS event source mapping's maximum
 * concurrency, or a Kinesis event source mapping's parallelization factor.
 */

/** The kinds of setting a controller can drive. */
export const TARGET_KINDS = ["ReservedConcurrency", "SqsMaximumConcurrency", "KinesisParallelizationFactor"] as const;

/** One of {@link TARGET_KINDS}. */
export type TargetKind = (typeof TARGET_KINDS)[number];

/** A function's reserved concurrency (`PutFunctionConcurrency`). */
export interface ReservedConcurrencyTarget {
    /** Discriminator. */
    kind: "ReservedConcurrency";
    /**
     * Function name or ARN.
     * @example "orders-worker"
     */
    functionName: string;
}

/** An SQS event source mapping's `ScalingConfig.MaximumConcurrency` (2–1000). */
export interface SqsMaximumConcurrencyTarget {
    /** Discriminator. */
    kind: "SqsMaximumConcurrency";
    /**
     * The mapping's UUID.
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    uuid: string;
}

/** A Kinesis event source mapping's `ParallelizationFactor` (1–10 concurrent batches per shard). */
export interface KinesisParallelizationFactorTarget {
    /** Discriminator. */
    kind: "KinesisParallelizationFactor";
    /**
     * The mapping's UUID.
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    uuid: string;
}

/** A setting a controller drives. */
export type ControlledTarget = ReservedConcurrencyTarget | SqsMaximumConcurrencyTarget | KinesisParallelizationFactorTarget;

/**
 * The values AWS accepts for each kind. Reserved concurrency starts at 1 here: 0 would throttle every
 * invocation (and make asynchronous events skip their retries); its real ceiling is the account's
 * unreserved concurrency less 100, checked when applying.
 */
export const TARGET_RANGES: Record<TargetKind, { min: number; max: number }> = {
    ReservedConcurrency: { min: 1, max: Number.MAX_SAFE_INTEGER },
    SqsMaximumConcurrency: { min: 2, max: 1000 },
    KinesisParallelizationFactor: { min: 1, max: 10 },
};

/**
 * A stable key for a target, used for its lease and statistics items.
 * @param target the controlled setting
 * @example targetKey({ kind: "ReservedConcurrency", functionName: "orders" }) // "ReservedConcurrency:orders"
 */
export function targetKey(target: ControlledTarget): string {
    return `${target.kind}:${target.kind === "ReservedConcurrency" ? target.functionName : target.uuid}`;
}
