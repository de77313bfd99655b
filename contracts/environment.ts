/**
 * The contract between the components (which set a function's environment) and the runtime (which reads
 * it): every environment variable name, and one set of strict parsers used on both sides. No
 * dependencies. A value that does not parse is a {@link ConfigurationError} naming the variable, raised
 * at cold start rather than at the first event.
 */
import { ConfigurationError } from "./errors";

/** The environment a function sees (`process.env` or a test's plain object). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Names of the environment variables the components set and the runtime reads. */
export const ENV = {
    /** Read by Node.js itself: the components set `--enable-source-maps`. */
    nodeOptions: "NODE_OPTIONS",
    /** The `Worker` metric dimension and log field. */
    workerName: "WORKER_NAME",
    /** Idempotency on/off: "true" | "false". */
    idempotencyEnabled: "IDEMPOTENCY_ENABLED",
    /** The idempotency table. */
    idempotencyTableName: "IDEMPOTENCY_TABLE_NAME",
    /** Seconds a completed record is remembered. */
    idempotencyExpirySeconds: "IDEMPOTENCY_EXPIRY_SECONDS",
    /** Seconds an in-progress claim is honoured. */
    idempotencyLeaseSeconds: "IDEMPOTENCY_LEASE_SECONDS",
    /** Completed records cached per execution environment (0 = off). */
    idempotencyLocalCacheSize: "IDEMPOTENCY_LOCAL_CACHE_SIZE",
    /** Largest result JSON (UTF-8 bytes) stored with a completed record; a larger one completes the key without it. */
    idempotencyMaxStoredResultBytes: "IDEMPOTENCY_MAX_STORED_RESULT_BYTES",
    /**
     * What a FIFO worker's idempotency key is built from: "MessageId" (the SQS message id: a redelivery is a
     * duplicate, a new message with the same body is not; the right key for content-based deduplication) or
     * "DeduplicationId" (the publisher's deduplication id, remembered for the idempotency expiry).
     */
    fifoIdempotencyKey: "FIFO_IDEMPOTENCY_KEY",
    /** Keys (partition keys, message groups) processed in parallel in one batch. */
    inBatchParallelism: "IN_BATCH_PARALLELISM",
    /** Kinesis worker: "false" hands KPL-aggregated records over whole (default "true": their user records run). */
    kplDeaggregation: "KPL_DEAGGREGATION",
    /** Adaptive concurrency driver: "Controller" | "SelfTuning". */
    concurrencyControlMode: "CONCURRENCY_CONTROL_MODE",
    /** Adaptive concurrency configuration (JSON). */
    concurrencyControlConfig: "CONCURRENCY_CONTROL_CONFIG",
    /** Circuit breaker state table. */
    breakerTableName: "BREAKER_TABLE_NAME",
    /** The mapping the breaker drives (prober). */
    breakerMappingUuid: "BREAKER_MAPPING_UUID",
    /** The event source whose mapping the breaker drives (worker side). */
    breakerEventSourceArn: "BREAKER_EVENT_SOURCE_ARN",
    /** The breaker's id (its state item). */
    breakerId: "BREAKER_ID",
    /** Seconds a half-open probe is leased. */
    breakerProbeLeaseSeconds: "BREAKER_PROBE_LEASE_SECONDS",
    /** Breaker policy fields. */
    breakerErrorThreshold: "BREAKER_ERROR_THRESHOLD",
    breakerMinRequests: "BREAKER_MIN_REQUESTS",
    breakerWindowSeconds: "BREAKER_WINDOW_SECONDS",
    breakerOpenSeconds: "BREAKER_OPEN_SECONDS",
    breakerMaxOpenSeconds: "BREAKER_MAX_OPEN_SECONDS",
    breakerBackoffMultiplier: "BREAKER_BACKOFF_MULTIPLIER",
    breakerSuccessThreshold: "BREAKER_SUCCESS_THRESHOLD",
    /** Seconds an execution environment keeps the breaker's counts in memory before writing them. */
    breakerFlushSeconds: "BREAKER_FLUSH_SECONDS",
    /** Semaphore table, name, limit and lease. */
    semaphoreTableName: "SEMAPHORE_TABLE_NAME",
    semaphoreName: "SEMAPHORE_NAME",
    semaphoreLimit: "SEMAPHORE_LIMIT",
    semaphoreLeaseSeconds: "SEMAPHORE_LEASE_SECONDS",
} as const;

/** The values of {@link ENV}.fifoIdempotencyKey: what a FIFO worker's idempotency key is built from. */
export const FifoIdempotencyKey = {
    /** The SQS message id: a redelivery is a duplicate, a new message with the same body is not. */
    MessageId: "MessageId",
    /** The publisher's deduplication id, remembered for the idempotency expiry. */
    DeduplicationId: "DeduplicationId",
} as const;
export type FifoIdempotencyKey = (typeof FifoIdempotencyKey)[keyof typeof FifoIdempotencyKey];

/** One of the names in {@link ENV}. */
export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Bounds of a numeric variable. */
export interface NumberBounds {
    /** Smallest accepted value (inclusive). @default no lower bound */
    min?: number;
    /** Largest accepted value (inclusive). @default no upper bound */
    max?: number;
}

const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const INTEGER = /^-?\d+$/;

function describeBounds(kind: string, bounds: NumberBounds): string {
    if (bounds.min !== undefined && bounds.max !== undefined) return `${kind} in [${bounds.min}, ${bounds.max}]`;
    if (bounds.min !== undefined) return `${kind} ≥ ${bounds.min}`;
    if (bounds.max !== undefined) return `${kind} ≤ ${bounds.max}`;
    return kind;
}

function invalid(name: string, expected: string, raw: string): ConfigurationError {
    return new ConfigurationError(`environment variable ${name} must be ${expected}; received ${JSON.stringify(raw)}`);
}

/** The raw value, `undefined` when unset or empty (an empty variable means "not set"). */
function rawValue(env: Environment, name: string): string | undefined {
    const raw = env[name];
    return raw === undefined || raw === "" ? undefined : raw;
}

/**
 * A required string variable.
 * @throws ConfigurationError when unset, empty or only whitespace
 * @example requiredString(process.env, ENV.idempotencyTableName)
 */
export function requiredString(env: Environment, name: string): string {
    const raw = rawValue(env, name);
    if (raw === undefined || raw.trim() === "") throw new ConfigurationError(`environment variable ${name} is required`);
    return raw;
}

/**
 * An optional string variable; `undefined` when unset or empty.
 * @example optionalString(process.env, ENV.workerName)
 */
export function optionalString(env: Environment, name: string): string | undefined {
    return rawValue(env, name);
}

/**
 * An optional decimal number in plain notation: `" "`, `"0x1"`, `"1e"`, `"Infinity"` are refused, not read as 0 or 1.
 * @throws ConfigurationError naming the variable when malformed or out of bounds
 * @example optionalNumber(process.env, ENV.breakerErrorThreshold, { min: 0, max: 1 })
 */
export function optionalNumber(env: Environment, name: string, bounds: NumberBounds = {}): number | undefined {
    const raw = rawValue(env, name);
    if (raw === undefined) return undefined;
    const expected = describeBounds("a number", bounds);
    if (!DECIMAL.test(raw)) throw invalid(name, expected, raw);
    return checkBounds(name, Number(raw), raw, bounds, expected);
}

/**
 * An optional integer in plain decimal notation.
 * @throws ConfigurationError naming the variable when malformed or out of bounds
 * @example optionalInteger(process.env, ENV.inBatchParallelism, { min: 1, max: 1000 })
 */
export function optionalInteger(env: Environment, name: string, bounds: NumberBounds = {}): number | undefined {
    const raw = rawValue(env, name);
    if (raw === undefined) return undefined;
    const expected = describeBounds("an integer", bounds);
    if (!INTEGER.test(raw)) throw invalid(name, expected, raw);
    return checkBounds(name, Number(raw), raw, bounds, expected);
}

/**
 * A required integer.
 * @throws ConfigurationError when unset, malformed or out of bounds
 * @example requiredInteger(process.env, ENV.semaphoreLimit, { min: 1 })
 */
export function requiredInteger(env: Environment, name: string, bounds: NumberBounds = {}): number {
    const value = optionalInteger(env, name, bounds);
    if (value === undefined) throw new ConfigurationError(`environment variable ${name} is required (${describeBounds("an integer", bounds)})`);
    return value;
}

/**
 * An optional boolean: exactly "true" or "false".
 * @throws ConfigurationError naming the variable otherwise
 * @example optionalBoolean(process.env, ENV.idempotencyEnabled) ?? true
 */
export function optionalBoolean(env: Environment, name: string): boolean | undefined {
    const raw = rawValue(env, name);
    if (raw === undefined) return undefined;
    if (raw !== "true" && raw !== "false") throw invalid(name, `"true" or "false"`, raw);
    return raw === "true";
}

/**
 * An optional JSON object (not an array, not `null`).
 * @throws ConfigurationError naming the variable when it is not valid JSON or not an object
 * @example optionalJsonObject(process.env, ENV.concurrencyControlConfig)
 */
export function optionalJsonObject(env: Environment, name: string): Record<string, unknown> | undefined {
    const raw = rawValue(env, name);
    if (raw === undefined) return undefined;
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch (error) {
        throw new ConfigurationError(`environment variable ${name} must be a JSON object; it does not parse (${(error as Error).message})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(name, "a JSON object", raw.slice(0, 100));
    return value as Record<string, unknown>;
}

function checkBounds(name: string, value: number, raw: string, bounds: NumberBounds, expected: string): number {
    if (!Number.isFinite(value)) throw invalid(name, expected, raw);
    if (bounds.min !== undefined && value < bounds.min) throw invalid(name, expected, raw);
    if (bounds.max !== undefined && value > bounds.max) throw invalid(name, expected, raw);
    return value;
}
