/**
 * Idempotency settings of a runtime wrapper: explicit options first, then the environment variables
 * the deploy-time components set (read with the contract's strict parsers), then the pattern's defaults.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ENV, Environment, optionalBoolean, optionalInteger, optionalString } from "../../contracts/environment";
import { ConfigurationError } from "../../contracts/errors";
import { IdempotencyPersistence } from "./persistence";
import { DEFAULT_MAX_STORED_RESULT_BYTES } from "./records";
import { IdempotencyStore } from "./store";

/** Idempotency options shared by the runtime wrappers. */
export interface IdempotencyOptions {
    /**
     * Whether duplicates are detected. With `false` no table is used and every delivery runs the function.
     * @default env `IDEMPOTENCY_ENABLED` ("true" | "false"), else true
     * @example false
     */
    idempotency?: boolean;
    /**
     * A ready store (any {@link IdempotencyPersistence}: share one `IdempotencyStore` between handlers,
     * or pass an `InMemoryIdempotencyStore` in tests), used instead of building one from the options
     * below. Used whenever `idempotency` is not `false` (`IDEMPOTENCY_ENABLED` does not apply to it).
     * @default a DynamoDB store built from the options and the environment
     * @example new InMemoryIdempotencyStore()
     */
    idempotencyStore?: IdempotencyPersistence;
    /**
     * The idempotency table (string key `id`, TTL on `expiresAt`). Required while idempotency is on.
     * @default env `IDEMPOTENCY_TABLE_NAME`
     * @example "orders-idempotency"
     */
    tableName?: string;
    /**
     * Record lifetime in seconds; must cover the event source's whole redelivery window and be at least the lease.
     * @default env `IDEMPOTENCY_EXPIRY_SECONDS`, else the pattern's window
     * @example 108000
     */
    expirySeconds?: number;
    /**
     * Lease of an in-progress claim in seconds, independent of the Lambda timeout.
     * @default env `IDEMPOTENCY_LEASE_SECONDS`, else 960
     * @example 120
     */
    leaseSeconds?: number;
    /**
     * Completed records cached in memory per execution environment (0 = off).
     * @default env `IDEMPOTENCY_LOCAL_CACHE_SIZE`, else 0
     * @example 1000
     */
    localCacheSize?: number;
    /**
     * Largest result JSON (UTF-8 bytes) stored with a completed record; a larger one completes the key
     * without it (a warning line, metric `ResultsNotStored`), so the function never runs twice for it.
     * @default env `IDEMPOTENCY_MAX_STORED_RESULT_BYTES`, else 393,216 (384 KiB)
     * @example 16384
     */
    maxStoredResultBytes?: number;
    /**
     * DynamoDB client for the store.
     * @default new DynamoDBClient({}) (SDK default configuration; `AWS_ENDPOINT_URL_DYNAMODB` applies)
     * @example new DynamoDBClient({ maxAttempts: 5 })
     */
    client?: DynamoDBClient;
    /**
     * Clock in epoch milliseconds (for tests).
     * @default Date.now
     * @example () => clock.now
     */
    now?: () => number;
}

/**
 * Default lease: 960 s, above Lambda's 900 s maximum timeout, so no claim can lapse while its
 * invocation may still be running, whatever the function's timeout (Powertools ties the lease to the
 * remaining time instead, which lets a takeover race side effects that outlive the invocation).
 * The price: after a crash or timeout the key stays blocked until the lease passes, and Lambda's
 * async retries (about 1 and 2 minutes later) meet the in-progress error, so the event goes to the
 * DLQ. Components therefore set `IDEMPOTENCY_LEASE_SECONDS` from the function's timeout.
 */
export const DEFAULT_LEASE_SECONDS = 960;

/**
 * The wrapper's store from options, environment and defaults; `undefined` when idempotency is off.
 * Called when the handler is created (cold start), so a bad setting fails there, not at the first event.
 * @param defaultExpirySeconds the pattern's redelivery window
 * @param owner the wrapper's name, used in error messages
 * @param env the environment
 * @throws ConfigurationError idempotency on without a table name, a malformed environment value, or inconsistent settings
 * @example const store = idempotencyStoreFrom(options, 108000, "eventBridgeWorker");
 */
export function idempotencyStoreFrom(
    options: IdempotencyOptions,
    defaultExpirySeconds: number,
    owner: string,
    env: Environment = process.env,
): IdempotencyPersistence | undefined {
    if (options.idempotency === false) return undefined;
    if (options.idempotencyStore) return options.idempotencyStore;
    if (!(options.idempotency ?? optionalBoolean(env, ENV.idempotencyEnabled) ?? true)) return undefined;
    const tableName = options.tableName ?? optionalString(env, ENV.idempotencyTableName);
    if (!tableName) {
        throw new ConfigurationError(
            `${owner}: idempotency is on but no table is configured; set the tableName option or ${ENV.idempotencyTableName} (or idempotency: false)`,
        );
    }
    return new IdempotencyStore({
        tableName,
        client: options.client,
        expirySeconds: options.expirySeconds ?? optionalInteger(env, ENV.idempotencyExpirySeconds, { min: 1 }) ?? defaultExpirySeconds,
        leaseSeconds: options.leaseSeconds ?? optionalInteger(env, ENV.idempotencyLeaseSeconds, { min: 1 }) ?? DEFAULT_LEASE_SECONDS,
        localCacheSize: options.localCacheSize ?? optionalInteger(env, ENV.idempotencyLocalCacheSize, { min: 0 }) ?? 0,
        maxStoredResultBytes:
            options.maxStoredResultBytes ?? optionalInteger(env, ENV.idempotencyMaxStoredResultBytes, { min: 0, max: DEFAULT_MAX_STORED_RESULT_BYTES }) ?? DEFAULT_MAX_STORED_RESULT_BYTES,
        now: options.now,
    });
}
