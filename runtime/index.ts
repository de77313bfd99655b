/**
 * `serverless-concurrency/runtime`: the code that runs inside Lambda. The component wrappers bundle
 * these modules with the user's handler; teams that wire their own functions import them directly.
 * No Pulumi imports anywhere under runtime/.
 */
export * from "./idempotency";
export * from "./context";
export * from "./metrics";
export * from "./log";
export * from "./eventBridgeWorker";
export * from "./ordering";
export * from "./kinesisWorker";
export * from "./kinesisAggregation";
export * from "./fifoWorker";
export * from "./controller";
export * from "./breaker";
export * from "./semaphore";
export * from "./eventSourceMappings";
export * from "./controller/pause";
// Shared with the components and the CLI: the error classes (a component's ConfigurationError is `instanceof` these)
// and the guard that narrows a component's `operations` output.
export { CircuitBreakerError, ConfigurationError, ControllerError, SemaphoreError, ServerlessConcurrencyError } from "../contracts/errors";
export { isOperationsManifest, type OperationsManifest } from "../contracts/operations";
