/**
 * Wiring of the circuit breaker into Lambda: configuration from the environment ({@link BREAKER_ENV}),
 * the scheduled prober's handler, the batch guard that feeds an ordered worker's downstream outcomes to
 * the breaker and fails the batch while it is open, and an invocation observer that only feeds them.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { DownstreamSample, InvocationObserver } from "../context";
import { LineWriter } from "../log";
import { BatchGuard, registerBatchGuard } from "../ordering/batchGuard";
import { BREAKER_POLICY_ENV, breakerSettingsFromEnv } from "../../contracts/breaker";
import { ENV } from "../../contracts/environment";
import { CircuitBreaker, Outcomes, TickReport } from "./breaker";
import { BreakerState } from "./decision";

/**
 * Environment variables {@link breakerFromEnv} reads (names from `ENV` of `contracts/environment.ts`,
 * validated by `breakerSettingsFromEnv` of `contracts/breaker.ts`); the policy ones are optional
 * (defaults of {@link DEFAULT_BREAKER_POLICY}).
 * - `BREAKER_TABLE_NAME` (required).
 * - The mapping: `BREAKER_MAPPING_UUID` (the prober, created after the mapping), or else
 *   `BREAKER_EVENT_SOURCE_ARN` (the worker itself, which cannot know its mapping's UUID: the running
 *   function's mapping from that stream or queue is looked up when the breaker first drives it).
 * - `BREAKER_ID`: the breaker's item in the table, the same for the worker and its prober; required with
 *   `BREAKER_EVENT_SOURCE_ARN`, else it defaults to the mapping UUID.
 * - `BREAKER_ERROR_THRESHOLD`, `BREAKER_MIN_REQUESTS`, `BREAKER_WINDOW_SECONDS`, `BREAKER_OPEN_SECONDS`,
 *   `BREAKER_MAX_OPEN_SECONDS`, `BREAKER_BACKOFF_MULTIPLIER`, `BREAKER_SUCCESS_THRESHOLD`: {@link BreakerPolicy}.
 * - `BREAKER_PROBE_LEASE_SECONDS` (default 960), `BREAKER_FLUSH_SECONDS` (default 5).
 */
export const BREAKER_ENV = {
    tableName: ENV.breakerTableName,
    mappingUuid: ENV.breakerMappingUuid,
    eventSourceArn: ENV.breakerEventSourceArn,
    id: ENV.breakerId,
    probeLeaseSeconds: ENV.breakerProbeLeaseSeconds,
    flushSeconds: ENV.breakerFlushSeconds,
    policy: BREAKER_POLICY_ENV,
} as const;

/** Options of {@link breakerFromEnv} and {@link createProberHandler}; everything defaults to the Lambda environment. */
export interface BreakerHandlerOptions {
    /**
     * Where the configuration is read from.
     * @default process.env
     * @example { BREAKER_TABLE_NAME: "breakers", BREAKER_ID: "orders-worker", BREAKER_EVENT_SOURCE_ARN: streamArn }
     */
    env?: Record<string, string | undefined>;
    /**
     * DynamoDB client.
     * @default new DynamoDBClient({})
     * @example new DynamoDBClient({ endpoint })
     */
    dynamo?: DynamoDBClient;
    /**
     * Lambda client.
     * @default new LambdaClient({})
     * @example new LambdaClient({ maxAttempts: 5 })
     */
    lambda?: LambdaClient;
    /**
     * Where transition log lines and metrics go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/**
 * Builds a {@link CircuitBreaker} from {@link BREAKER_ENV}.
 * @throws ConfigurationError listing every variable that is missing, malformed or out of range
 * @example
 * const breaker = breakerFromEnv(); // the prober: BREAKER_TABLE_NAME, BREAKER_ID, BREAKER_MAPPING_UUID
 * const own = breakerFromEnv({ env: { BREAKER_TABLE_NAME: "breakers", BREAKER_ID: "orders-worker", BREAKER_EVENT_SOURCE_ARN: streamArn } });
 */
export function breakerFromEnv(options: BreakerHandlerOptions = {}): CircuitBreaker {
    const env = options.env ?? process.env;
    const settings = breakerSettingsFromEnv(env);
    const mapping = settings.mappingUuid
        ? { mappingUuid: settings.mappingUuid, id: settings.id }
        : { eventSourceArn: settings.eventSourceArn, functionName: env.AWS_LAMBDA_FUNCTION_NAME, id: settings.id };
    return new CircuitBreaker({
        tableName: settings.tableName,
        ...mapping,
        probeLeaseSeconds: settings.probeLeaseSeconds,
        flushSeconds: settings.flushSeconds,
        policy: settings.policy,
        dynamo: options.dynamo,
        lambda: options.lambda,
        write: options.write,
    });
}

/**
 * The scheduled prober function (e.g. every minute): one {@link CircuitBreaker.tick} per run.
 * @example export const handler = createProberHandler();
 */
export function createProberHandler(options: BreakerHandlerOptions = {}): () => Promise<TickReport> {
    const breaker = breakerFromEnv(options);
    return () => breaker.tick();
}

/**
 * Downstream calls and failures among one invocation's samples.
 * @example outcomesOf([{ name: "api", ok: false, latencyMs: 5, at: 0 }]) // { requests: 1, errors: 1 }
 */
export function outcomesOf(samples: readonly DownstreamSample[]): Outcomes {
    return { requests: samples.length, errors: samples.filter((s) => !s.ok).length };
}

/**
 * An invocation observer (see `registerInvocationObserver`) that records every invocation's
 * `ctx.downstream` outcomes in `breaker`; invocations without downstream calls cost nothing.
 * @example registerInvocationObserver(breakerObserver(breakerFromEnv()));
 */
export function breakerObserver(breaker: CircuitBreaker): InvocationObserver {
    return async (samples) => {
        if (samples.length > 0) await breaker.record(outcomesOf(samples));
    };
}

/**
 * A batch guard (see `registerBatchGuard`) for an ordered worker: records the batch's `ctx.downstream`
 * outcomes in `breaker` (one write, like {@link breakerObserver}; nothing for a batch without calls) and
 * rejects the batch while the breaker is open, so nothing of it is checkpointed (Kinesis; on SQS FIFO the
 * succeeded messages are deleted as usual and the failed ones come back). A half-open breaker lets its probe batches through: a failed probe reopens it, and that batch is
 * rejected. A storage error rejects the guard, which the wrappers log and treat as closed.
 * @example registerBatchGuard(breakerGuard(breakerFromEnv()));
 */
export function breakerGuard(breaker: CircuitBreaker): BatchGuard {
    return async (samples) => {
        if (samples.length === 0) return undefined;
        const state = await breaker.record(outcomesOf(samples));
        return state === BreakerState.Open ? { reason: "circuit breaker open", fields: { breaker: breaker.id, state } } : undefined;
    };
}

/**
 * What `runtime/activation/circuitBreaker.ts` does at cold start: builds the breaker from the environment
 * ({@link breakerFromEnv}) and registers it as a batch guard ({@link breakerGuard}) of the ordered
 * wrappers. Returns a function that removes the guard.
 * @param options environment and clients (defaults: `process.env`, real AWS clients)
 * @throws Error naming the variable when the environment is incomplete or malformed
 * @example const stop = activateCircuitBreaker({ env: { BREAKER_TABLE_NAME: "breakers", BREAKER_ID: "orders-worker", BREAKER_EVENT_SOURCE_ARN: streamArn } });
 */
export function activateCircuitBreaker(options: BreakerHandlerOptions = {}): () => void {
    return registerBatchGuard(breakerGuard(breakerFromEnv(options)));
}
