/**
 * Limits of the Step Functions semaphore shared by its runtime and its components.
 */

/**
 * The most permits one semaphore accepts. Permits live on shard items of four (runtime/semaphore/plan.ts),
 * so no write grows with the limit; what grows is the sweep, which reads every shard item once a minute:
 * 2,500 shard items and 40 room-hint items at this limit.
 */
export const MAX_SEMAPHORE_LIMIT = 10_000;
