/**
 * Lambda handlers of the Step Functions semaphore, configured from the environment
 * ({@link SEMAPHORE_ENV}). The `StepFunctionsSemaphore` component bundles each one as its own function:
 * acquire (the `.waitForTaskToken` state), release (the release states), cleanup (the EventBridge rule on
 * FAILED / TIMED_OUT / ABORTED executions) and the sweeper (a schedule).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import { Logger } from "../log";
import { AcquireOutcome, AcquireRequest, ReleaseOutcome, Semaphore, SweepReport } from "./semaphore";

/**
 * Environment variables the handlers read.
 * - `SEMAPHORE_TABLE_NAME` (required): the semaphore table.
 * - `SEMAPHORE_NAME` (required): the semaphore's name.
 * - `SEMAPHORE_LIMIT` (required): permits, a positive integer.
 * - `SEMAPHORE_LEASE_SECONDS` (optional, default 900): the holders' lease.
 */
export const SEMAPHORE_ENV = {
    tableName: "SEMAPHORE_TABLE_NAME",
    name: "SEMAPHORE_NAME",
    limit: "SEMAPHORE_LIMIT",
    leaseSeconds: "SEMAPHORE_LEASE_SECONDS",
} as const;

/** Execution statuses whose EventBridge event makes the cleanup handler release the execution's permit. */
export const CLEANUP_STATUSES: readonly string[] = ["FAILED", "TIMED_OUT", "ABORTED"];

/** Options of the handler factories; everything defaults to the Lambda environment. */
export interface SemaphoreHandlerOptions {
    /**
     * Where the configuration is read from.
     * @default process.env
     * @example { SEMAPHORE_TABLE_NAME: "t", SEMAPHORE_NAME: "api", SEMAPHORE_LIMIT: "2" }
     */
    env?: Record<string, string | undefined>;
    /**
     * DynamoDB client.
     * @default new DynamoDBClient({})
     * @example new DynamoDBClient({ endpoint })
     */
    dynamo?: DynamoDBClient;
    /**
     * Step Functions client.
     * @default new SFNClient({})
     * @example new SFNClient({ maxAttempts: 5 })
     */
    sfn?: SFNClient;
    /**
     * Logger.
     * @default createLogger({ fields: { semaphore: name } })
     * @example createLogger({ level: "WARN" })
     */
    logger?: Logger;
}

/** The payload of the release state: `{ "executionArn.$": "$$.Execution.Id" }`. */
export interface ReleaseEvent {
    /** The releasing execution. */
    executionArn: string;
}

/** The part of an EventBridge "Step Functions Execution Status Change" event the cleanup reads. */
export interface ExecutionStatusChangeEvent {
    /** The event's detail. */
    detail: {
        /** The execution whose status changed. */
        executionArn: string;
        /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE. */
        status: string;
    };
}

/**
 * Builds a {@link Semaphore} from {@link SEMAPHORE_ENV}; throws naming the variable when one is missing or invalid.
 * @example const semaphore = semaphoreFromEnv();
 */
export function semaphoreFromEnv(options: SemaphoreHandlerOptions = {}): Semaphore {
    const env = options.env ?? process.env;
    return new Semaphore({
        tableName: required(env, SEMAPHORE_ENV.tableName),
        name: required(env, SEMAPHORE_ENV.name),
        limit: integer(env, SEMAPHORE_ENV.limit, required(env, SEMAPHORE_ENV.limit)),
        leaseSeconds: integer(env, SEMAPHORE_ENV.leaseSeconds, env[SEMAPHORE_ENV.leaseSeconds] ?? "900"),
        dynamo: options.dynamo,
        sfn: options.sfn,
        logger: options.logger,
    });
}

/**
 * The acquire function: payload `{ token, executionArn }`; fails loudly without either.
 * @example export const handler = createAcquireHandler();
 */
export function createAcquireHandler(options: SemaphoreHandlerOptions = {}): (event: AcquireRequest) => Promise<{ outcome: AcquireOutcome }> {
    const semaphore = semaphoreFromEnv(options);
    return async (event) => ({ outcome: await semaphore.acquire(event) });
}

/**
 * The release function: payload `{ executionArn }`; releases the permit and drops the waiter.
 * @example export const handler = createReleaseHandler();
 */
export function createReleaseHandler(options: SemaphoreHandlerOptions = {}): (event: ReleaseEvent) => Promise<ReleaseOutcome> {
    const semaphore = semaphoreFromEnv(options);
    return (event) => semaphore.release(event?.executionArn);
}

/**
 * The cleanup function for the execution status-change rule: releases on {@link CLEANUP_STATUSES}, ignores other statuses.
 * @example export const handler = createCleanupHandler();
 */
export function createCleanupHandler(
    options: SemaphoreHandlerOptions = {},
): (event: ExecutionStatusChangeEvent) => Promise<ReleaseOutcome | { ignored: string }> {
    const semaphore = semaphoreFromEnv(options);
    return async ({ detail }) => (CLEANUP_STATUSES.includes(detail.status) ? semaphore.release(detail.executionArn) : { ignored: detail.status });
}

/**
 * The scheduled sweeper. Schedule it more often than the acquire state's `HeartbeatSeconds`: it is
 * what heartbeats the waiting tasks.
 * @example export const handler = createSweeperHandler();
 */
export function createSweeperHandler(options: SemaphoreHandlerOptions = {}): () => Promise<SweepReport> {
    const semaphore = semaphoreFromEnv(options);
    return () => semaphore.sweep();
}

function required(env: Record<string, string | undefined>, name: string): string {
    const value = env[name];
    if (!value) throw new Error(`Semaphore configuration: environment variable ${name} is required.`);
    return value;
}

function integer(env: Record<string, string | undefined>, name: string, raw: string): number {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) {
        throw new Error(`Semaphore configuration: ${name} must be a positive integer; received ${JSON.stringify(env[name])}.`);
    }
    return value;
}
