/**
 * Lambda entry of the scheduled `ConcurrencyController` (one control interval per invocation) and of the
 * `ConcurrencyControllerGroup` (one interval for each of its targets, their metrics in one batched call):
 * the configuration in `CONCURRENCY_CONTROL_CONFIG` says which.
 */
import { controllerHandlerFromEnv } from "../controller";

export const handler = controllerHandlerFromEnv();
