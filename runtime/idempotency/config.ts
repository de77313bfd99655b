/**
 * Idempotency settings of a runtime wrapper: explicit options first, then the environment variables
 * the deploy-time components set, then the pattern's defaults.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
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
     * The idempotency table (string key `id`, TTL on `expiresAt`). Required while idempotency is on.
     * @default env `IDEMPOTENCY_TABLE_NAME`
     * @example "orders-idempotency"
     */
    tableName?: string;
    /**
     * Record lifetime in seconds; must cover the event source's whole redelivery window.
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
 * Builds the wrapper's store from options, environment and defaults; `undefined` when idempotency is off.
 * @param defaultExpirySeconds the pattern's redelivery window
 * @param owner the wrapper's name, used in error messages
 * @throws Error when idempotency is on without a table name, or an environment value is malformed
 * @example const store = idempotencyStoreFrom(options, 108000, "eventBridgeWorker");
 */
export function idempotencyStoreFrom(options: IdempotencyOptions, defaultExpirySeconds: number, owner: string): IdempotencyStore | undefined {
    if (!(options.idempotency ?? envBoolean("IDEMPOTENCY_ENABLED") ?? true)) return undefined;
    const tableName = options.tableName ?? process.env.IDEMPOTENCY_TABLE_NAME;
    if (!tableName) {
        throw new Error(`${owner}: idempotency is on but no table is configured; set the tableName option or IDEMPOTENCY_TABLE_NAME (or idempotency: false)`);
    }
    return new IdempotencyStore({
        tableName,
        client: options.client,
        expirySeconds: options.expirySeconds ?? envInteger("IDEMPOTENCY_EXPIRY_SECONDS") ?? defaultExpirySeconds,
        leaseSeconds: options.leaseSeconds ?? envInteger("IDEMPOTENCY_LEASE_SECONDS") ?? DEFAULT_LEASE_SECONDS,
        localCacheSize: options.localCacheSize ?? envInteger("IDEMPOTENCY_LOCAL_CACHE_SIZE") ?? 0,
        now: options.now,
    });
}

function envInteger(name: string): number | undefined {
    const raw = process.env[name];
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value)) throw new Error(`environment variable ${name} must be an integer; received "${raw}"`);
    return value;
}

function envBoolean(name: string): boolean | undefined {
    const raw = process.env[name];
    if (raw === undefined || raw === "") return undefined;
    if (raw !== "true" && raw !== "false") throw new Error(`environment variable ${name} must be "true" or "false"; received "${raw}"`);
    return raw === "true";
}
