/**
 * What the Kinesis component and the ordered runtime wrappers agree on about claims left in progress:
 * the component sizes its default retry count by it (see `maxRetryAttempts`), the runtime waits by it
 * (`leaseWait` in runtime/ordering).
 */

/** The share of an invocation's remaining time a record of a checkpointed source may wait for a claim's lease. */
export const LEASE_WAIT_SHARE = 0.5;
