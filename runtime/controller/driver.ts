/**
 * The control loop both drivers run once per control interval, and the two drivers:
 * - `createControllerHandler`: the scheduled `ConcurrencyController` function;
 * - `registerSelfTuning`: the worker's own invocations record statistics and, when an interval ends, the
 *   one invocation that wins the lease decides and changes its own function's (or mapping's) setting;
 * - `registerControlStatistics`: the workers' half of the controller mode (statistics only).
 *
 * One interval: claim the interval's lease (losers stop there) → read the previous interval's statistics
 * (DynamoDB) and CloudWatch signals → read the target's current setting → `decideConcurrency` → apply a
 * changed limit (unless dry run) → store the decision → one structured log line and EMF metrics
 * (`ConcurrencyLimit`, `ControllerDecisions` by `Reason`). Missing statistics or metrics hold (the log line
 * lists what was missing); an API failure is logged and rethrown after the actuator's retries, and the
 * interval stays claimed, so a target never changes twice in one interval.
 */
import { randomUUID } from "node:crypto";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DownstreamSample, registerInvocationObserver } from "../context";
import { createLogger, LineWriter, Logger } from "../log";
import { Metrics } from "../metrics";
import { ApplyResult, ConcurrencyActuator } from "./actuator";
import { MetricSignals, MetricSource, readMetricSignals } from "./cloudwatch";
import { ConcurrencyDecision, ControllerParams, ControlSignals, decideConcurrency } from "./decision";
import { ControllerStore, histogramPercentile, WindowStats } from "./store";
import { ControlledTarget, TARGET_KINDS, targetKey } from "./targets";

/** Metric names the control loop emits (dimension `Worker` = the worker function). */
export const CONTROLLER_METRICS = {
    /** Count: the limit after each decision. */
    ConcurrencyLimit: "ConcurrencyLimit",
    /** Count: 1 per decision, with dimension `Reason`. */
    ControllerDecisions: "ControllerDecisions",
} as const;

/** Everything a control loop needs to know; the components pass it as JSON in the environment. */
export interface ControlLoopConfig {
    /** The setting to drive. */
    target: ControlledTarget;
    /** Bounds and targets of the decision. */
    params: ControllerParams;
    /**
     * The controller table ({@link CONTROLLER_TABLE_KEYS}).
     * @example "orders-controller"
     */
    tableName: string;
    /** The worker's CloudWatch metrics; the `Worker` dimension of the decision metrics is `WORKER_NAME`, else `functionName` (`workerName()` when both are absent). */
    metrics: MetricSource;
    /**
     * Length of a control interval; at most one change per target per interval.
     * @default 60
     * @example 120
     */
    intervalSeconds?: number;
    /**
     * How far back the CloudWatch window is shifted, because Lambda metrics arrive a minute or two late.
     * @default 120
     * @example 180
     */
    metricsDelaySeconds?: number;
    /**
     * Downstream latency percentile fed to the decision (0–1).
     * @default 0.9
     * @example 0.99
     */
    latencyPercentile?: number;
    /**
     * Concurrent executions per unit of the limit: the shard count for a Kinesis parallelization factor.
     * @default 1
     * @example 4
     */
    executionsPerUnit?: number;
    /**
     * Only `ctx.downstream` calls with this name count; all calls count when unset.
     * @default undefined
     * @example "payments-api"
     */
    downstream?: string;
    /**
     * Log and emit decisions without changing anything.
     * @default false
     * @example true
     */
    dryRun?: boolean;
}

/** Clients and hooks of a control loop; tests replace them. */
export interface ControlLoopDependencies {
    /**
     * Client for the controller table.
     * @default new DynamoDBClient({})
     * @example startDynalite().client
     */
    dynamodb?: DynamoDBClient;
    /**
     * Client for `GetMetricData`.
     * @default new CloudWatchClient({})
     * @example new CloudWatchClient({ region: "eu-west-1" })
     */
    cloudwatch?: CloudWatchClient;
    /**
     * Applies changed limits.
     * @default new ConcurrencyActuator()
     * @example new ConcurrencyActuator({ maxAttempts: 8 })
     */
    actuator?: ConcurrencyActuator;
    /**
     * The current time, epoch milliseconds.
     * @default Date.now
     * @example () => 1_700_000_000_000
     */
    clock?: () => number;
    /**
     * This decider's name in the lease.
     * @default a random UUID per process (execution environment)
     * @example "scheduled-controller"
     */
    owner?: string;
    /**
     * Where log and metric lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/** What one run of the loop did. */
export type ControlOutcome =
    | { status: "not-leader"; interval: number }
    | { status: "decided"; interval: number; previousLimit: number; decision: ConcurrencyDecision; applied?: ApplyResult; dryRun: boolean };

const PROCESS_OWNER = randomUUID();

/**
 * Runs one control interval for `config.target`; see the module comment for the steps.
 * @param config target, bounds, table and metrics
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example const outcome = await runControlInterval(config); // { status: "decided", decision: { limit: 42, reason: "demand", … }, … }
 */
export function runControlInterval(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): Promise<ControlOutcome> {
    return runInterval(resolve(config, deps), config);
}

async function runInterval(loop: Loop, config: ControlLoopConfig): Promise<ControlOutcome> {
    const interval = Math.floor(loop.clock() / loop.intervalMs);
    const claim = await loop.store.claimInterval(interval, loop.owner, loop.clock());
    if (!claim) return { status: "not-leader", interval };
    const [stats, metrics, setting] = await Promise.all([
        loop.store.readWindow(interval - 1),
        readMetricSignals(loop.cloudwatch, config.metrics, metricsWindow(loop, interval)),
        loop.actuator.read(config.target),
    ]);
    const previousLimit = setting ?? claim.previous?.limit ?? config.params.max;
    const signals = controlSignals(stats, metrics, config);
    const decided = decideConcurrency(config.params, { limit: previousLimit, baselineLatencyMs: claim.previous?.baselineLatencyMs }, signals);
    const applied = await applyDecision(loop, config, previousLimit, decided, signals, setting);
    const decision = applied?.limitedBy ? { ...decided, limit: applied.applied ?? previousLimit } : decided;
    await loop.store.saveDecision(interval, loop.owner, decision);
    report(loop, config, { interval, previousLimit, decision, signals, missing: missingSignals(stats, metrics), applied });
    return { status: "decided", interval, previousLimit, decision, applied, dryRun: config.dryRun ?? false };
}

/**
 * The scheduled controller's Lambda handler: one control interval per invocation.
 * @param config target, bounds, table and metrics
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example export const handler = createControllerHandler(controlConfigFromEnv());
 */
export function createControllerHandler(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): () => Promise<ControlOutcome> {
    const loop = resolve(config, deps);
    return () => runInterval(loop, config);
}

/**
 * Controller mode, worker side: every invocation adds its downstream calls to the interval's statistics
 * (one DynamoDB write per invocation). Returns a function that stops it.
 * @param config target, table and interval (the rest is unused here)
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example registerControlStatistics(controlConfigFromEnv());
 */
export function registerControlStatistics(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): () => void {
    const loop = resolve(config, deps);
    return registerInvocationObserver(async (samples) => {
        await recordStatistics(loop, config, samples);
    });
}

/**
 * Self-tuning mode: records statistics like {@link registerControlStatistics}, and the first invocation in
 * each execution environment after an interval ends tries the lease; the winner decides and applies.
 * The target and `metrics.functionName` may omit what the worker cannot know at deploy time (its own
 * function name, its own mapping's UUID): they are resolved when first used. Returns a function that stops it.
 * @param config target (the worker's own function or mapping), bounds, table and metrics
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example registerSelfTuning({ ...config, target: { kind: "SqsMaximumConcurrency", eventSourceArn: queueArn }, metrics: { backlog: "SqsAgeOfOldestMessage", queueName } });
 */
export function registerSelfTuning(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): () => void {
    // Inside a worker invocation: fewer retries than the scheduled controller, so a throttled control
    // plane cannot hold a pool slot for long.
    const loop = resolve(config, { ...deps, actuator: deps.actuator ?? new ConcurrencyActuator({ maxAttempts: 3 }) });
    let lastTried = -1;
    return registerInvocationObserver(async (samples, lambdaContext) => {
        await recordStatistics(loop, config, samples);
        const interval = Math.floor(loop.clock() / loop.intervalMs);
        if (interval <= lastTried) return;
        if (!hasTimeToDecide(lambdaContext)) {
            loop.log.info("self-tuning decision left to the next invocation: too little time left", { interval, remainingMs: lambdaContext?.getRemainingTimeInMillis?.() });
            return;
        }
        lastTried = interval;
        await runInterval(loop, config);
    });
}

/**
 * Time a self-tuning decision may need (reads, a control-plane call and its retries). With less left,
 * the invocation leaves the interval to the next one instead of running into its own timeout.
 */
export const SELF_TUNING_MIN_REMAINING_MS = 15_000;

function hasTimeToDecide(lambdaContext: { getRemainingTimeInMillis?: () => number } | undefined): boolean {
    const remaining = lambdaContext?.getRemainingTimeInMillis?.();
    return remaining === undefined || remaining >= SELF_TUNING_MIN_REMAINING_MS;
}

/** The values of `CONCURRENCY_CONTROL_MODE`: which worker side of the loop {@link activateAdaptiveConcurrency} registers. */
export const CONTROL_MODES = ["Controller", "SelfTuning"] as const;

/**
 * What `runtime/activation/adaptiveConcurrency.ts` does at cold start: registers the worker side of the
 * loop that `CONCURRENCY_CONTROL_MODE` names — `Controller`: {@link registerControlStatistics};
 * `SelfTuning`: {@link registerSelfTuning} — configured from `CONCURRENCY_CONTROL_CONFIG`
 * ({@link controlConfigFromEnv}). Returns a function that stops it.
 * @param env the environment (default `process.env`)
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @throws Error when the mode is not one of {@link CONTROL_MODES}, or the configuration is missing or malformed
 * @example const stop = activateAdaptiveConcurrency({ CONCURRENCY_CONTROL_MODE: "SelfTuning", CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });
 */
export function activateAdaptiveConcurrency(env: NodeJS.ProcessEnv = process.env, deps: ControlLoopDependencies = {}): () => void {
    const mode = env.CONCURRENCY_CONTROL_MODE;
    const register = mode === "Controller" ? registerControlStatistics : mode === "SelfTuning" ? registerSelfTuning : undefined;
    if (!register) throw new Error(`CONCURRENCY_CONTROL_MODE must be one of ${CONTROL_MODES.join(", ")}; received ${JSON.stringify(mode)}.`);
    return register(controlConfigFromEnv(env), deps);
}

/**
 * Reads a {@link ControlLoopConfig} from the JSON in `CONCURRENCY_CONTROL_CONFIG` (set by the components).
 * @param env the environment (default `process.env`)
 * @throws Error when the variable is missing or not JSON, lacks `target`, `params`, `tableName` or
 *   `metrics`, or names an unknown target kind
 * @example const config = controlConfigFromEnv({ CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });
 */
export function controlConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ControlLoopConfig {
    const text = env.CONCURRENCY_CONTROL_CONFIG;
    if (!text) throw new Error("CONCURRENCY_CONTROL_CONFIG is not set.");
    const config = parseConfig(text);
    const missing = (["target", "params", "tableName", "metrics"] as const).filter((field) => config[field] === undefined);
    if (missing.length > 0) throw new Error(`CONCURRENCY_CONTROL_CONFIG lacks ${missing.join(", ")}.`);
    if (!TARGET_KINDS.includes(config.target.kind)) {
        throw new Error(`CONCURRENCY_CONTROL_CONFIG target.kind must be one of ${TARGET_KINDS.join(", ")}; received ${JSON.stringify(config.target.kind)}.`);
    }
    return config;
}

function parseConfig(text: string): ControlLoopConfig {
    try {
        return JSON.parse(text) as ControlLoopConfig;
    } catch (error) {
        throw new Error(`CONCURRENCY_CONTROL_CONFIG is not valid JSON: ${(error as Error).message}`);
    }
}

/** A control loop's resolved dependencies. */
interface Loop {
    store: ControllerStore;
    cloudwatch: CloudWatchClient;
    actuator: ConcurrencyActuator;
    clock: () => number;
    owner: string;
    log: Logger;
    write?: LineWriter;
    intervalMs: number;
    metricsDelayMs: number;
}

function resolve(config: ControlLoopConfig, deps: ControlLoopDependencies): Loop {
    const intervalMs = (config.intervalSeconds ?? 60) * 1000;
    const dynamodb = deps.dynamodb ?? new DynamoDBClient({});
    return {
        store: new ControllerStore(dynamodb, config.tableName, targetKey(config.target), Math.max(3600, (10 * intervalMs) / 1000)),
        cloudwatch: deps.cloudwatch ?? new CloudWatchClient({}),
        actuator: deps.actuator ?? new ConcurrencyActuator(),
        clock: deps.clock ?? Date.now,
        owner: deps.owner ?? PROCESS_OWNER,
        log: createLogger({ fields: { controller: targetKey(config.target) }, write: deps.write }),
        write: deps.write,
        intervalMs,
        metricsDelayMs: (config.metricsDelaySeconds ?? 120) * 1000,
    };
}

async function recordStatistics(loop: Loop, config: ControlLoopConfig, samples: readonly DownstreamSample[]): Promise<void> {
    const counted = config.downstream === undefined ? samples : samples.filter((s) => s.name === config.downstream);
    await loop.store.recordCalls(Math.floor(loop.clock() / loop.intervalMs), counted, loop.clock());
}

/** The CloudWatch window of the interval before `interval`, shifted back by the metrics delay. */
function metricsWindow(loop: Loop, interval: number): { start: Date; end: Date } {
    const end = interval * loop.intervalMs - loop.metricsDelayMs;
    return { start: new Date(end - loop.intervalMs), end: new Date(end) };
}

function controlSignals(stats: WindowStats, metrics: MetricSignals, config: ControlLoopConfig): ControlSignals {
    return {
        latencyMs: histogramPercentile(stats.buckets, config.latencyPercentile ?? 0.9),
        errorRate: stats.calls > 0 ? stats.errors / stats.calls : 0,
        samples: stats.calls,
        throttles: metrics.throttles,
        inUse: (metrics.inUse ?? 0) / (config.executionsPerUnit ?? 1),
        backlogAgeMs: metrics.backlogAgeMs ?? 0,
        backlogGrowing: metrics.backlogGrowing,
    };
}

function missingSignals(stats: WindowStats, metrics: MetricSignals): string[] {
    const missing: [boolean, string][] = [
        [stats.calls === 0, "downstream statistics"],
        [metrics.inUse === undefined, "ConcurrentExecutions"],
    ];
    return missing.filter(([absent]) => absent).map(([, name]) => name);
}

async function applyDecision(
    loop: Loop,
    config: ControlLoopConfig,
    previousLimit: number,
    decision: ConcurrencyDecision,
    signals: ControlSignals,
    setting: number | undefined,
): Promise<ApplyResult | undefined> {
    if (config.dryRun || decision.limit === previousLimit) return undefined;
    try {
        return await loop.actuator.apply(config.target, decision.limit, { current: setting });
    } catch (error) {
        loop.log.error("concurrency change failed; the setting is unchanged", { target: config.target, previousLimit, limit: decision.limit, reason: decision.reason, signals, error });
        throw error;
    }
}

interface DecisionReport {
    interval: number;
    previousLimit: number;
    decision: ConcurrencyDecision;
    signals: ControlSignals;
    missing: string[];
    applied?: ApplyResult;
}

function report(loop: Loop, config: ControlLoopConfig, r: DecisionReport): void {
    loop.log.info("concurrency decision", {
        target: config.target,
        interval: r.interval,
        previousLimit: r.previousLimit,
        limit: r.decision.limit,
        reason: r.decision.reason,
        latencyTargetMs: r.decision.latencyTargetMs,
        signals: r.signals,
        missing: r.missing,
        changed: r.applied?.changed ?? false,
        limitedBy: r.applied?.limitedBy,
        dryRun: config.dryRun ?? false,
    });
    // `WORKER_NAME` (set by the components) puts decisions on the worker's dashboard; else the function name.
    const metrics = new Metrics({ worker: process.env.WORKER_NAME || config.metrics.functionName, properties: { dryRun: config.dryRun ?? false }, write: loop.write });
    metrics.add(CONTROLLER_METRICS.ConcurrencyLimit, "Count", r.decision.limit);
    metrics.add(CONTROLLER_METRICS.ControllerDecisions, "Count", 1, { Reason: r.decision.reason });
    metrics.flush();
}
