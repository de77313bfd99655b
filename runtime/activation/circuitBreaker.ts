/**
 * Side-effect module the components bundle before an ordered worker's wrapper (`kinesisWorker`,
 * `fifoWorker`) when its `circuitBreaker` option is on. At cold start it builds the breaker from the
 * environment (`BREAKER_TABLE_NAME`, `BREAKER_ID`, `BREAKER_EVENT_SOURCE_ARN` and the optional policy
 * variables of `BREAKER_ENV`) and registers it as a batch guard: every batch's downstream outcomes feed the
 * breaker, and batches are failed while it is open ({@link activateCircuitBreaker}). A bad environment
 * fails the cold start. Not exported from `serverless-concurrency/runtime`: importing it has this effect.
 */
import { activateCircuitBreaker } from "../breaker/handlers";

/**
 * Removes the guard this module registered at cold start.
 * @example deactivate();
 */
export const deactivate = activateCircuitBreaker();
