/**
 * Lambda handlers of the Step Functions semaphore, configured from the environment
 * ({@link SEMAPHORE_ENV}, validated at cold start: a missing or malformed variable is a
 * `ConfigurationError` naming it). The `StepFunctionsSemaphore` component bundles each one as its own
 * function: acquire (the `.waitForTaskToken` state), release (the release states), cleanup (the
 * EventBridge rule on FAILED / TIMED_OUT / ABORTED executions) and the sweeper (a schedule).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import { ENV, Environment, optionalInteger, requiredInteger, requiredString } from "../../contracts/environment";
import { createLogger, Logger } from "../log";
import { MetricName, Metrics } from "../metrics";
import { SemaphoreEventError } from "./errors";
import { AcquireOutcome, AcquireRequest, ReleaseOutcome, Semaphore, SemaphoreOptions, SweepReport } from "./semaphore";

/**
 * Environment variables the handlers read (names from `contracts/environment.ts`).
 * - `SEMAPHORE_TABLE_NAME` (required): the semaphore table.
 * - `SEMAPHORE_NAME` (required): the semaphore's name.
 * - `SEMAPHORE_LIMIT` (required): permits, an integer ≥ 1.
 * - `SEMAPHORE_LEASE_SECONDS` (optional, default 900): the holders' lease, an integer ≥ 1.
 */
export const SEMAPHORE_ENV = {
    tableName: ENV.semaphoreTableName,
    name: ENV.semaphoreName,
    limit: ENV.semaphoreLimit,
    leaseSeconds: ENV.semaphoreLeaseSeconds,
} as const;

/** Execution statuses whose EventBridge event makes the cleanup handler release the execution's permit. */
export const CLEANUP_STATUSES: readonly string[] = ["FAILED", "TIMED_OUT", "ABORTED"];

/** The longest a Standard execution runs (one year): the largest lease that means anything. */
const MAX_LEASE_SECONDS = 31_536_000;

/** Options of the handler factories; everything defaults to the Lambda environment. */
export interface SemaphoreHandlerOptions {
    /**
     * Where the configuration is read from.
     * @default process.env
     * @example { SEMAPHORE_TABLE_NAME: "t", SEMAPHORE_NAME: "api", SEMAPHORE_LIMIT: "2" }
     */
    env?: Environment;
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
    /**
     * Metrics (flushed at the end of every invocation).
     * @default new Metrics({ worker: name })
     * @example new Metrics({ worker: "erp", write: (line) => lines.push(line) })
     */
    metrics?: Metrics;
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

/** The semaphore's settings as read from the environment. */
export type SemaphoreEnvironmentSettings = Pick<SemaphoreOptions, "tableName" | "name" | "limit" | "leaseSeconds">;

/**
 * Reads and validates {@link SEMAPHORE_ENV}.
 * @throws ConfigurationError naming the variable that is missing or malformed
 * @example readSemaphoreEnvironment(process.env) // { tableName: "t", name: "erp", limit: 5, leaseSeconds: 900 }
 */
export function readSemaphoreEnvironment(env: Environment): SemaphoreEnvironmentSettings {
    return {
        tableName: requiredString(env, SEMAPHORE_ENV.tableName),
        name: requiredString(env, SEMAPHORE_ENV.name),
        limit: requiredInteger(env, SEMAPHORE_ENV.limit, { min: 1 }),
        leaseSeconds: optionalInteger(env, SEMAPHORE_ENV.leaseSeconds, { min: 1, max: MAX_LEASE_SECONDS }) ?? 900,
    };
}

/**
 * Builds a {@link Semaphore} from {@link SEMAPHORE_ENV}.
 * @throws ConfigurationError naming the variable that is missing or malformed
 * @example const semaphore = semaphoreFromEnv();
 */
export function semaphoreFromEnv(options: SemaphoreHandlerOptions = {}): Semaphore {
    const settings = readSemaphoreEnvironment(options.env ?? process.env);
    return new Semaphore({ ...settings, dynamo: options.dynamo, sfn: options.sfn, logger: options.logger, metrics: options.metrics });
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
 * The cleanup function for the execution status-change rule: releases on {@link CLEANUP_STATUSES}, ignores
 * other statuses. An event without `detail.executionArn` and `detail.status` (strings) is refused: an error
 * line, a `SemaphoreRejectedEvents` metric and a {@link SemaphoreEventError}, so Lambda retries it and then
 * sends it to the dead-letter queue, whose alarm fires. Nothing is released for it.
 * @example export const handler = createCleanupHandler();
 */
export function createCleanupHandler(
    options: SemaphoreHandlerOptions = {},
): (event: ExecutionStatusChangeEvent) => Promise<ReleaseOutcome | { ignored: string }> {
    const settings = readSemaphoreEnvironment(options.env ?? process.env);
    const log = options.logger ?? createLogger({ fields: { semaphore: settings.name } });
    const metrics = options.metrics ?? new Metrics({ worker: settings.name });
    const semaphore = new Semaphore({ ...settings, dynamo: options.dynamo, sfn: options.sfn, logger: log, metrics });
    return async (event) => {
        const problem = statusChangeProblem(event);
        if (problem !== undefined) {
            log.error("semaphore cleanup event rejected", { problem });
            metrics.add(MetricName.SemaphoreRejectedEvents, "Count", 1);
            metrics.flush();
            throw new SemaphoreEventError(`Semaphore cleanup: ${problem}; expected a "Step Functions Execution Status Change" event. Nothing was released.`);
        }
        const { executionArn, status } = event.detail;
        return CLEANUP_STATUSES.includes(status) ? semaphore.release(executionArn) : { ignored: status };
    };
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

/** What is wrong with a status-change event (its shape only: the detail may carry execution input), or undefined. */
function statusChangeProblem(event: unknown): string | undefined {
    if (typeof event !== "object" || event === null) return `the event is ${JSON.stringify(event) ?? "undefined"}, not an object`;
    const detail = (event as { detail?: unknown }).detail;
    if (typeof detail !== "object" || detail === null) return `the event has no detail object (keys: ${Object.keys(event).join(", ") || "none"})`;
    const { executionArn, status } = detail as { executionArn?: unknown; status?: unknown };
    if (typeof executionArn !== "string" || executionArn === "") return `detail.executionArn is ${JSON.stringify(executionArn) ?? "undefined"}, not an execution ARN`;
    if (typeof status !== "string" || status === "") return `detail.status is ${JSON.stringify(status) ?? "undefined"}, not an execution status`;
    return undefined;
}
