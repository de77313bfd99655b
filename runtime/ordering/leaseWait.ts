/**
 * How a record of a checkpointed source (Kinesis) meets a claim left in progress by an earlier invocation
 * (one that timed out, or whose release after a failure did not reach the table). Lambda retries a stream
 * batch within seconds and counts each retry against `maximumRetryAttempts`, so failing the record at once
 * could use every retry inside one lease and send the record to the failure destination without running
 * it. The record waits instead, within a share of the invocation's remaining time; a lease that outlasts
 * that share is still waited on that long before the record fails, so every retry uses up that much of
 * the lease. Pure: the wrapper sleeps.
 */

/** Added to a lease's remaining time before the claim is tried again: clocks of two hosts differ a little. */
export const LEASE_WAIT_SLACK_MS = 1000;

/** The share of the invocation's remaining time a record may wait; the rest runs it and the batch. */
export { LEASE_WAIT_SHARE } from "../../contracts/idempotency";

/** One wait for a claim's lease. */
export interface LeaseWait {
    /** How long to wait, in ms. */
    waitMs: number;
    /** Whether the lease will have passed then (try the claim again), or not (fail the record after the wait). */
    passes: boolean;
}

/**
 * The wait for a claim whose lease has `leaseRemainingMs` (> 0, as the store reports it) left, with `budgetMs` of waiting left; `undefined`
 * (fail at once) when the store could not tell the lease or nothing is left to wait.
 * @example leaseWait(20_000, 60_000) // { waitMs: 21_000, passes: true }
 * @example leaseWait(80_000, 15_000) // { waitMs: 15_000, passes: false }
 */
export function leaseWait(leaseRemainingMs: number | undefined, budgetMs: number): LeaseWait | undefined {
    if (leaseRemainingMs === undefined || !(budgetMs > 0)) return undefined;
    const needed = leaseRemainingMs + LEASE_WAIT_SLACK_MS;
    return needed <= budgetMs ? { waitMs: needed, passes: true } : { waitMs: budgetMs, passes: false };
}
