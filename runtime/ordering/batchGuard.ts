/**
 * Batch guards: checks the ordered wrappers (`kinesisWorker`, `fifoWorker`) run after every batch, with
 * the batch's downstream samples, that can reject the batch: on Kinesis every record is then reported
 * failed so the checkpoint does not move past it; on SQS the batch's own outcomes stand.
 * The circuit breaker is one (`breakerGuard`); `runtime/activation/circuitBreaker.ts` registers it.
 */
import type { Context } from "aws-lambda";
import type { DownstreamSample } from "../context";
import type { LogFields } from "../log";

/** Why a guard fails a whole batch; written on the batch's log line. */
export interface BatchRejection {
    /**
     * What happened, for the log line.
     * @example "circuit breaker open"
     */
    reason: string;
    /**
     * More fields for the log line.
     * @default {}
     * @example { breaker: "orders-worker", state: "open" }
     */
    fields?: LogFields;
}

/**
 * Called once after each ordered batch with its downstream samples; resolves to a {@link BatchRejection}
 * to reject the batch (see the module comment), or `undefined` to keep the records' own outcomes. A
 * rejection (a thrown error) is logged and keeps the outcomes: a guard never blocks processing by failing.
 */
export type BatchGuard = (samples: readonly DownstreamSample[], lambdaContext: Context) => Promise<BatchRejection | undefined>;

const guards = new Set<BatchGuard>();

/**
 * Adds a guard for every later batch of every ordered wrapper in this execution environment. Returns a
 * function that removes it again.
 * @example
 * const unregister = registerBatchGuard(async (samples) => (samples.some((s) => !s.ok) ? { reason: "downstream failed" } : undefined));
 */
export function registerBatchGuard(guard: BatchGuard): () => void {
    guards.add(guard);
    return () => {
        guards.delete(guard);
    };
}

/**
 * Runs every registered guard (all of them, at once) and returns the first rejection in registration
 * order; a guard that throws is reported through `onError` and counts as no rejection.
 * @example
 * const rejection = await checkBatchGuards(samples, context, (error) => log.warn("batch guard failed", { error }));
 */
export async function checkBatchGuards(
    samples: readonly DownstreamSample[],
    lambdaContext: Context,
    onError: (error: unknown) => void,
): Promise<BatchRejection | undefined> {
    const run = async (guard: BatchGuard) => {
        try {
            return await guard(samples, lambdaContext);
        } catch (error) {
            onError(error);
            return undefined;
        }
    };
    const verdicts = await Promise.all([...guards].map(run));
    return verdicts.find((verdict) => verdict !== undefined);
}
