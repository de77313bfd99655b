/**
 * The base classes of every error this package throws, one per area, so a caller can tell a
 * configuration mistake from a throttle or a lost lease with `instanceof` instead of parsing messages.
 * No dependencies: imported by `components/`, `runtime/` and `cli/` alike.
 */

/** Base class of every error thrown by serverless-concurrency. */
export class ServerlessConcurrencyError extends Error {
    override name = "ServerlessConcurrencyError";
}

/**
 * A setting is missing, malformed or out of range: an argument of a component at construction, an
 * environment variable at a function's cold start, a configuration object passed to the runtime.
 * Never retryable: the same input fails the same way.
 * @example throw new ConfigurationError("environment variable SEMAPHORE_LIMIT must be an integer ≥ 1; received \"abc\"")
 */
export class ConfigurationError extends ServerlessConcurrencyError {
    override name = "ConfigurationError";
}

/**
 * Base class of the adaptive-concurrency controller's errors (the scheduled controller and self-tuning):
 * a control-plane budget that ran dry, a limit outside its target's range, a contended lease.
 * @example if (error instanceof ControllerError) log.warn("control interval failed", { error });
 */
export class ControllerError extends ServerlessConcurrencyError {
    override name = "ControllerError";
}

/**
 * Base class of the circuit breaker's errors: state writes that kept losing to concurrent writers.
 * @example if (error instanceof CircuitBreakerError) log.warn("breaker state unavailable", { error });
 */
export class CircuitBreakerError extends ServerlessConcurrencyError {
    override name = "CircuitBreakerError";
}

/**
 * Base class of the Step Functions semaphore's errors (a bad request, a refused token, the store
 * unavailable, a malformed status-change event), so callers can tell them apart with `instanceof`.
 * @example if (error instanceof SemaphoreError) log.warn("semaphore refused", { error })
 */
export class SemaphoreError extends ServerlessConcurrencyError {
    override name = "SemaphoreError";
}
