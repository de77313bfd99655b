/**
 * Wiring of the circuit breaker into Lambda: configuration from the environment ({@link BREAKER_ENV}),
 * the scheduled prober's handler, and an invocation observer that feeds a worker's downstream outcomes
 * to the breaker.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { DownstreamSample, InvocationObserver } from "../context";
import { LineWriter } from "../log";
import { CircuitBreaker, Outcomes, TickReport } from "./breaker";
import { BreakerPolicy } from "./decision";

/**
 * Environment variables {@link breakerFromEnv} reads; the policy ones are optional (defaults of
 * {@link DEFAULT_BREAKER_POLICY}).
 * - `BREAKER_TABLE_NAME`, `BREAKER_MAPPING_UUID` (required); `BREAKER_ID` (default: the mapping UUID).
 * - `BREAKER_ERROR_THRESHOLD`, `BREAKER_MIN_REQUESTS`, `BREAKER_WINDOW_SECONDS`, `BREAKER_OPEN_SECONDS`,
 *   `BREAKER_MAX_OPEN_SECONDS`, `BREAKER_BACKOFF_MULTIPLIER`, `BREAKER_SUCCESS_THRESHOLD`: {@link BreakerPolicy}.
 * - `BREAKER_PROBE_LEASE_SECONDS` (default 960).
 */
export const BREAKER_ENV = {
    tableName: "BREAKER_TABLE_NAME",
    mappingUuid: "BREAKER_MAPPING_UUID",
    id: "BREAKER_ID",
    probeLeaseSeconds: "BREAKER_PROBE_LEASE_SECONDS",
    policy: {
        errorThreshold: "BREAKER_ERROR_THRESHOLD",
        minRequests: "BREAKER_MIN_REQUESTS",
        windowSeconds: "BREAKER_WINDOW_SECONDS",
        openSeconds: "BREAKER_OPEN_SECONDS",
        maxOpenSeconds: "BREAKER_MAX_OPEN_SECONDS",
        backoffMultiplier: "BREAKER_BACKOFF_MULTIPLIER",
        successThreshold: "BREAKER_SUCCESS_THRESHOLD",
    },
} as const;

/** Options of {@link breakerFromEnv} and {@link createProberHandler}; everything defaults to the Lambda environment. */
export interface BreakerHandlerOptions {
    /**
     * Where the configuration is read from.
     * @default process.env
     * @example { BREAKER_TABLE_NAME: "breakers", BREAKER_MAPPING_UUID: uuid }
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
 * Builds a {@link CircuitBreaker} from {@link BREAKER_ENV}; throws naming the variable when one is missing or not a number.
 * @example const breaker = breakerFromEnv();
 */
export function breakerFromEnv(options: BreakerHandlerOptions = {}): CircuitBreaker {
    const env = options.env ?? process.env;
    const policy: Partial<BreakerPolicy> = {};
    for (const [field, variable] of Object.entries(BREAKER_ENV.policy)) {
        const value = optionalNumber(env, variable);
        if (value !== undefined) policy[field as keyof BreakerPolicy] = value;
    }
    return new CircuitBreaker({
        tableName: required(env, BREAKER_ENV.tableName),
        mappingUuid: required(env, BREAKER_ENV.mappingUuid),
        id: env[BREAKER_ENV.id] || undefined,
        probeLeaseSeconds: optionalNumber(env, BREAKER_ENV.probeLeaseSeconds),
        policy,
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

function required(env: Record<string, string | undefined>, name: string): string {
    const value = env[name];
    if (!value) throw new Error(`Circuit breaker configuration: environment variable ${name} is required.`);
    return value;
}

function optionalNumber(env: Record<string, string | undefined>, name: string): number | undefined {
    const raw = env[name];
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (Number.isNaN(value)) throw new Error(`Circuit breaker configuration: ${name} must be a number; received ${JSON.stringify(raw)}.`);
    return value;
}
