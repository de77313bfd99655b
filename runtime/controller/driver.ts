/**
 * The drivers of the control loop (one interval: `loop.ts`):
 * - `createControllerHandler`: the scheduled `ConcurrencyController` function (one target), and
 *   `runControlIntervals` for a controller of several targets with one batched GetMetricData call, each
 *   target isolated from the others' failures (`createControllerGroupHandler` fails the invocation after
 *   all ran when one failed);
 * - `registerSelfTuning`: the worker's own invocations record statistics and, when an interval ends, one
 *   invocation across all environments wins the lease, decides and changes its own function's (or mapping's) setting;
 * - `registerControlStatistics`: the workers' half of the controller mode (statistics only).
 *
 * Statistics are kept per execution environment and written once per flush period (`statistics.ts`).
 * Decisions wait one flush period after the interval ends (the settle time), then start at an offset per
 * target; self-tuning environments add their own jitter and look at the lease (an eventually consistent
 * read, half a read unit) before claiming it, so the boundary brings no burst of failed conditional writes.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { randomUUID } from "node:crypto";
import { CONTROL_MODES, CONTROL_TIMING_DEFAULTS, controlGroupSettingsFromEnv, controlModeFromEnv, controlSettingsFromEnv, isControlGroupSettings } from "../../contracts/controller";
import { ENV, optionalJsonObject } from "../../contracts/environment";
import { ConfigurationError, ControllerError } from "../../contracts/errors";
import { DownstreamSample, registerInvocationObserver } from "../context";
import { createLogger, LineWriter } from "../log";
import { ConcurrencyActuator, ConcurrencyActuatorPort } from "./actuator";
import { DynamoDbControlPlaneBudget } from "./budget";
import { MetricSignals, MetricSource, readMetricSignals, readMetricSignalsBatch } from "./cloudwatch";
import { ControllerParams, decideConcurrency } from "./decision";
import { claimCurrent, ControlOutcome, currentInterval, DecideConcurrency, decideAndApply, Loop, MetricReader, pausedOutcome, recordStatistics, reportFailure, targetOffsetMs } from "./loop";
import { ControllerPauseStore } from "./pause";
import { StatisticsBuffer } from "./statistics";
import { ControllerStore, ControllerStorePort, IntervalClaim } from "./store";
import { ControlledTarget, targetKey } from "./targets";

export { CONTROL_MODES };

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
    /**
     * How often an execution environment writes its downstream statistics (its first calls at once, then
     * at most once per period, and at its first invocation after an interval ended). Decisions wait this
     * long after an interval ends. An environment frozen or killed loses at most one period of calls.
     * @default 10
     * @example 5
     */
    statisticsFlushSeconds?: number;
    /**
     * Statistics partitions per target (each takes 1,000 WCU/s of environment writes).
     * @default 4
     * @example 16
     */
    statisticsShards?: number;
    /**
     * Window after the settle time over which self-tuning environments spread their claims and targets
     * their decisions, seconds.
     * @default 10
     * @example 20
     */
    claimSpreadSeconds?: number;
    /**
     * The account's shared control-plane budget table (string key `pk`): every Lambda control-plane call
     * of every target takes a token from it first.
     * @default none: calls are serialised per process only
     * @example "control-plane-budget"
     */
    controlPlaneBudgetTable?: string;
    /**
     * Requests per second the budget allows all targets of the account together, in (0, 14]; the bucket
     * holds 15 minus this (at least 1), so no second sees more than 15.
     * @default 10
     * @example 12
     */
    controlPlaneRequestsPerSecond?: number;
}

/** Clients and hooks of a control loop; tests and extensions replace them. */
export interface ControlLoopDependencies {
    /**
     * Client for the controller table (and the control-plane budget).
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
     * @default new ConcurrencyActuator() (with the shared budget when `controlPlaneBudgetTable` is set)
     * @example new ConcurrencyActuator({ maxAttempts: 8 })
     */
    actuator?: ConcurrencyActuatorPort;
    /**
     * The lease, decisions and statistics.
     * @default new ControllerStore(dynamodb, tableName, targetKey(target), { shards: statisticsShards,
     * statsTtlSeconds: max(3600, 10 × intervalSeconds) })
     * @example new ControllerStore(client, "orders-control", "ReservedConcurrency:orders", { shards: 8 })
     */
    store?: ControllerStorePort;
    /**
     * The decision function.
     * @default decideConcurrency
     * @example (params, current, signals) => decideConcurrency({ ...params, minSamples: 5 }, current, signals)
     */
    decide?: DecideConcurrency;
    /**
     * The current time, epoch milliseconds.
     * @default Date.now
     * @example () => 1_700_000_000_000
     */
    clock?: () => number;
    /**
     * How the scheduled controller waits for its offset in the interval.
     * @default setTimeout
     * @example async (ms) => void (clock += ms)
     */
    sleep?: (ms: number) => Promise<void>;
    /**
     * Uniform random numbers in [0, 1): a self-tuning environment's claim jitter.
     * @default Math.random
     * @example () => 0
     */
    random?: () => number;
    /**
     * This decider's name in the lease (each claim adds a random suffix).
     * @default a random UUID per process (execution environment)
     * @example "scheduled-controller"
     */
    owner?: string;
    /**
     * This execution environment's statistics item id.
     * @default a random UUID per process
     * @example "env-1"
     */
    environmentId?: string;
    /**
     * Where log and metric lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

const PROCESS_ID = randomUUID();

/** A won claim of an interval and its owner token (see `claimCurrent`). */
type WonClaim = { claim: IntervalClaim; token: string };

/**
 * Runs one control interval for `config.target` now; see `loop.ts` for the steps. A step that throws is
 * reported once — one ERROR line `control interval failed; the next interval reads the setting again` with
 * the target and the error, and the `ControllerFailures` metric — and the interval rejects with its error.
 * @param config target, bounds, table and metrics
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example const outcome = await runControlInterval(config); // { status: "decided", decision: { limit: 42, reason: "demand", … }, … }
 */
export function runControlInterval(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): Promise<ControlOutcome> {
    return runInterval(resolve(config, deps), config, deps.cloudwatch ?? new CloudWatchClient({}));
}

/** The ERROR line of a failed interval of one target run alone (the scheduled controller, self-tuning). */
const INTERVAL_FAILED = "control interval failed; the next interval reads the setting again";

/** The ERROR line of a failed target of a controller group. */
const GROUP_TARGET_FAILED = "control interval failed for this target; the group's other targets run on";

/** One target's interval, alone; a failure is reported once ({@link reportFailure}) and rejects. */
async function runInterval(loop: Loop, config: ControlLoopConfig, cloudwatch: CloudWatchClient): Promise<ControlOutcome> {
    const interval = currentInterval(loop);
    try {
        const won = await claimOrNotLeader(loop);
        return "claim" in won ? await runClaimed(loop, config, won, (window) => readMetricSignals(cloudwatch, config.metrics, window)) : won;
    } catch (error) {
        reportFailure(loop, config, interval, error, INTERVAL_FAILED);
        throw error;
    }
}

/** A won claim of the current interval, or the loser's "not-leader" outcome. */
async function claimOrNotLeader(loop: Loop): Promise<WonClaim | ControlOutcome> {
    const won = await claimCurrent(loop);
    return won.claim ? won : { status: "not-leader", interval: won.interval };
}

/** The rest of an interval after winning its claim: hold while paused, else decide and apply. */
async function runClaimed(loop: Loop, config: ControlLoopConfig, won: WonClaim, readMetrics: MetricReader): Promise<ControlOutcome> {
    return (await pausedOutcome(loop, config, won.claim.interval)) ?? decideAndApply(loop, config, won, readMetrics);
}

/**
 * The scheduled controller's Lambda handler: one control interval per invocation, started at the
 * target's offset in the interval (after the settle time; it waits when invoked earlier).
 * @param config target, bounds, table and metrics
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example export const handler = createControllerHandler(controlConfigFromEnv());
 */
export function createControllerHandler(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): () => Promise<ControlOutcome> {
    const loop = resolve(config, deps);
    const cloudwatch = deps.cloudwatch ?? new CloudWatchClient({});
    return async () => {
        await waitForOffset(loop);
        return runInterval(loop, config, cloudwatch);
    };
}

/**
 * One control interval for each of several targets with a single batched `GetMetricData` (up to 166
 * targets per call), their changes one after another. The targets must share the interval and metrics delay.
 *
 * Each target runs as its own controller would (`runControlInterval`), isolated from the others: an error
 * out of its claim, pause read, statistics, setting read or change (after the actuator's retries) becomes
 * its `{ status: "failed", interval, error }` outcome, with one ERROR line `control interval failed for
 * this target; the group's other targets run on` (the target, its function, the interval and the error)
 * and the target's `ControllerFailures` metric, and the other targets decide and apply as if it had
 * succeeded. As for one target, a failed target's interval stays claimed (unclaimed when its claim was
 * refused before it was written) and its next interval starts from the setting in force. The batched
 * `GetMetricData` is the one read the targets share: when it fails, every target that won its claim (and
 * is not paused) fails with that error, and every setting holds.
 * @param configs one configuration per target
 * @param deps clients and hooks shared by all targets
 * @returns one outcome per target, in the order of `configs`; it never rejects for a target's fault
 * @throws ConfigurationError when the targets' intervals or metrics delays differ (before anything is claimed)
 * @example
 * const outcomes = await runControlIntervals([ordersConfig, paymentsConfig]);
 * const failed = outcomes.filter((o) => o.status === "failed"); // [{ status: "failed", interval, error }]
 */
export async function runControlIntervals(configs: readonly ControlLoopConfig[], deps: ControlLoopDependencies = {}): Promise<ControlOutcome[]> {
    requireSharedTiming(configs);
    const shared = { ...deps, dynamodb: deps.dynamodb ?? new DynamoDBClient({}), cloudwatch: deps.cloudwatch ?? new CloudWatchClient({}) };
    const actuator = shared.actuator ?? defaultActuator(configs[0] ?? {}, shared.dynamodb, deps.write);
    const loops = configs.map((config) => resolve(config, { ...shared, actuator }));
    const claims = await Promise.all(loops.map((loop, i) => isolated(loop, configs[i], currentInterval(loop), () => claimOrNotLeader(loop))));
    const claimed = claims.flatMap((won, i) => ("claim" in won ? [i] : []));
    const readShare = batchedMetrics(shared.cloudwatch, claimed.map((i) => configs[i].metrics));
    const outcomes: ControlOutcome[] = [];
    for (const [i, won] of claims.entries()) {
        const readMetrics: MetricReader = (window) => readShare(window, claimed.indexOf(i));
        outcomes.push("claim" in won ? await isolated(loops[i], configs[i], won.claim.interval, () => runClaimed(loops[i], configs[i], won, readMetrics)) : won);
    }
    return outcomes;
}

function requireSharedTiming(configs: readonly ControlLoopConfig[]): void {
    const timings = new Set(configs.map((c) => `${c.intervalSeconds ?? CONTROL_TIMING_DEFAULTS.intervalSeconds}/${c.metricsDelaySeconds ?? CONTROL_TIMING_DEFAULTS.metricsDelaySeconds}`));
    if (timings.size > 1) throw new ConfigurationError(`runControlIntervals: every target needs the same intervalSeconds and metricsDelaySeconds; received ${[...timings].join(", ")}.`);
}

/** Runs one target's step of a group's interval; what it throws becomes that target's "failed" outcome (reported once). */
async function isolated<T>(loop: Loop, config: ControlLoopConfig, interval: number, step: () => Promise<T>): Promise<T | ControlOutcome> {
    try {
        return await step();
    } catch (error) {
        reportFailure(loop, config, interval, error, GROUP_TARGET_FAILED);
        return { status: "failed", interval, error };
    }
}

/** Reads each window's signals of all `sources` once, in one batched call, and gives each target its share (by index). */
function batchedMetrics(cloudwatch: CloudWatchClient, sources: readonly MetricSource[]): (window: { start: Date; end: Date }, index: number) => Promise<MetricSignals> {
    const batches = new Map<number, Promise<MetricSignals[]>>();
    return async (window, index) => {
        const batch = batches.get(window.start.getTime()) ?? readMetricSignalsBatch(cloudwatch, sources, window);
        batches.set(window.start.getTime(), batch);
        return (await batch)[index];
    };
}

/** One failed target of a controller group's interval, as {@link ControllerGroupIntervalError} lists it. */
export interface GroupTargetFailure {
    /**
     * The target's function (`metrics.functionName`; the target's key when the configuration has none).
     * @example "orders-worker"
     */
    functionName: string;
    /**
     * The target's key ({@link targetKey}): its lease, statistics and pause items.
     * @example "SqsMaximumConcurrency:arn:aws:sqs:eu-west-1:123456789012:orders.fifo"
     */
    target: string;
    /** The interval that failed. */
    interval: number;
    /** What the target's step threw. */
    error: unknown;
}

/**
 * A controller group's interval in which at least one target failed, thrown by
 * {@link createControllerGroupHandler} after every target has run, so that the group function's `Errors`
 * metric (and the group's error alarm) counts it as one controller's failed interval would be counted.
 * The message names the failed targets by function name.
 * @example
 * try {
 *     await handler();
 * } catch (error) {
 *     // "control interval failed for 1 of 3 targets: payments (ECONNRESET: socket hang up); the other targets ran"
 *     if (error instanceof ControllerGroupIntervalError) report(error.failures.map((f) => f.functionName));
 * }
 */
export class ControllerGroupIntervalError extends ControllerError {
    override name = "ControllerGroupIntervalError";

    /**
     * @param outcomes every target's outcome, in the order of the configurations
     * @param failures the failed targets, in the same order
     */
    constructor(
        readonly outcomes: readonly ControlOutcome[],
        readonly failures: readonly GroupTargetFailure[],
    ) {
        const named = failures.map((f) => `${f.functionName} (${errorSummary(f.error)})`).join(", ");
        super(`control interval failed for ${failures.length} of ${outcomes.length} targets: ${named}; the other targets ran`);
    }
}

/** The failed targets of a group's outcomes (`outcomes[i]` belongs to `configs[i]`). */
function groupFailures(configs: readonly ControlLoopConfig[], outcomes: readonly ControlOutcome[]): GroupTargetFailure[] {
    return outcomes.flatMap((outcome, i) =>
        outcome.status === "failed" ? [{ functionName: targetName(configs[i]), target: targetKey(configs[i].target), interval: outcome.interval, error: outcome.error }] : [],
    );
}

function targetName(config: ControlLoopConfig): string {
    return config.metrics.functionName ?? targetKey(config.target);
}

function errorSummary(error: unknown): string {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The scheduled handler of a controller of several targets (`ConcurrencyControllerGroup`): each invocation
 * waits until every target's offset in the interval has come (the settle time and the targets' offsets,
 * at most half the claim spread later), then runs {@link runControlIntervals}.
 *
 * When any target failed, the invocation fails — after every target has run — with a
 * {@link ControllerGroupIntervalError} naming the failed targets (its `outcomes` hold every target's), so
 * the function's `Errors` metric and the group's error alarm fire as a single controller's would; returning
 * the outcomes instead would leave a target that fails every interval invisible to the alarm. The schedule
 * does not retry a failed invocation (the next interval's does the work).
 * @param configs one configuration per target (same interval and metrics delay)
 * @param deps clients and hooks shared by all targets
 * @throws ControllerGroupIntervalError when at least one target's interval failed
 * @example export const handler = createControllerGroupHandler(controlGroupConfigFromEnv());
 */
export function createControllerGroupHandler(configs: readonly ControlLoopConfig[], deps: ControlLoopDependencies = {}): () => Promise<ControlOutcome[]> {
    const dynamodb = deps.dynamodb ?? new DynamoDBClient({});
    const shared = { ...deps, dynamodb, cloudwatch: deps.cloudwatch ?? new CloudWatchClient({}), actuator: deps.actuator ?? defaultActuator(configs[0] ?? {}, dynamodb, deps.write) };
    // The loops here only time the start; runControlIntervals runs each interval.
    const latest = configs.map((config) => resolve(config, shared)).sort((a, b) => targetOffsetMs(b) - targetOffsetMs(a))[0];
    return async () => {
        if (latest) await waitForOffset(latest);
        const outcomes = await runControlIntervals(configs, shared);
        const failures = groupFailures(configs, outcomes);
        if (failures.length > 0) throw new ControllerGroupIntervalError(outcomes, failures);
        return outcomes;
    };
}

/**
 * The scheduled controller function's handler from its environment: a group's configuration
 * (`{ shared, targets }`) runs {@link createControllerGroupHandler} (whose invocation fails with a
 * {@link ControllerGroupIntervalError} when a target failed), any other {@link createControllerHandler}.
 * @param env the environment (default `process.env`)
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @throws ConfigurationError listing every problem of the configuration
 * @example export const handler = controllerHandlerFromEnv();
 */
export function controllerHandlerFromEnv(env: NodeJS.ProcessEnv = process.env, deps: ControlLoopDependencies = {}): () => Promise<ControlOutcome | ControlOutcome[]> {
    const value = optionalJsonObject(env, ENV.concurrencyControlConfig);
    if (value !== undefined && isControlGroupSettings(value)) return createControllerGroupHandler(controlGroupConfigFromEnv(env), deps);
    return createControllerHandler(controlConfigFromEnv(env), deps);
}

/**
 * Reads a controller group's configurations (one per target) from `CONCURRENCY_CONTROL_CONFIG`,
 * validated by the contract (`controlGroupSettingsFromEnv` of `contracts/controller.ts`).
 * @param env the environment (default `process.env`)
 * @throws ConfigurationError listing every problem, each naming its target (`targets[2]: …`)
 * @example const configs = controlGroupConfigFromEnv({ CONCURRENCY_CONTROL_CONFIG: JSON.stringify({ shared, targets }) });
 */
export function controlGroupConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ControlLoopConfig[] {
    return controlGroupSettingsFromEnv(env) as ControlLoopConfig[];
}

/**
 * Controller mode, worker side: every invocation adds its downstream calls to the environment's totals,
 * written once per flush period (see `statisticsFlushSeconds`). Returns a function that stops it.
 * @param config target, table and interval (the rest is unused here)
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example registerControlStatistics(controlConfigFromEnv());
 */
export function registerControlStatistics(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): () => void {
    const loop = resolve(config, deps);
    return registerInvocationObserver(async (samples) => {
        await recordStatistics(loop, counted(config, samples));
    });
}

/**
 * Self-tuning mode: records statistics like {@link registerControlStatistics}; after an interval ends
 * and this environment's offset in the new one has come (the settle time, the target's offset and this
 * environment's jitter), its next invocation looks at the lease and, if nobody holds the interval yet,
 * claims it; the winner decides and applies. The target and `metrics.functionName` may omit what the
 * worker cannot know at deploy time (its own function name, its own mapping's UUID): they are resolved
 * when first used. Returns a function that stops it.
 * @param config target (the worker's own function or mapping), bounds, table and metrics
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @example registerSelfTuning({ ...config, target: { kind: "SqsMaximumConcurrency", eventSourceArn: queueArn }, metrics: { backlog: "SqsAgeOfOldestMessage", queueName } });
 */
export function registerSelfTuning(config: ControlLoopConfig, deps: ControlLoopDependencies = {}): () => void {
    // Inside a worker invocation: fewer retries than the scheduled controller, so a throttled control
    // plane cannot hold a pool slot for long.
    const dynamodb = deps.dynamodb ?? new DynamoDBClient({});
    const loop = resolve(config, { ...deps, dynamodb, actuator: deps.actuator ?? defaultActuator(config, dynamodb, deps.write, SELF_TUNING_MAX_ATTEMPTS) });
    const cloudwatch = deps.cloudwatch ?? new CloudWatchClient({});
    const offsetMs = targetOffsetMs(loop) + loop.random() * Math.floor(loop.spreadMs / 2);
    let lastTried = -1;
    return registerInvocationObserver(async (samples, lambdaContext) => {
        await recordStatistics(loop, counted(config, samples));
        const interval = currentInterval(loop);
        if (interval <= lastTried || loop.clock() < interval * loop.intervalMs + offsetMs) return;
        if (!hasTimeToDecide(lambdaContext)) {
            loop.log.info("self-tuning decision left to the next invocation: too little time left", { interval, remainingMs: lambdaContext?.getRemainingTimeInMillis?.() });
            return;
        }
        lastTried = interval;
        if ((await loop.store.readControl(false)).interval >= interval) return;
        await runInterval(loop, config, cloudwatch);
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

/**
 * What `runtime/activation/adaptiveConcurrency.ts` does at cold start: registers the worker side of the
 * loop that `CONCURRENCY_CONTROL_MODE` names — `Controller`: {@link registerControlStatistics};
 * `SelfTuning`: {@link registerSelfTuning} — configured from `CONCURRENCY_CONTROL_CONFIG`
 * ({@link controlConfigFromEnv}). Returns a function that stops it.
 * @param env the environment (default `process.env`)
 * @param deps clients and hooks (defaults: real AWS clients, `Date.now`)
 * @throws ConfigurationError when the mode is not one of {@link CONTROL_MODES}, or the configuration is missing or invalid (listing every problem)
 * @example const stop = activateAdaptiveConcurrency({ CONCURRENCY_CONTROL_MODE: "SelfTuning", CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });
 */
export function activateAdaptiveConcurrency(env: NodeJS.ProcessEnv = process.env, deps: ControlLoopDependencies = {}): () => void {
    const mode = controlModeFromEnv(env);
    const config = controlConfigFromEnv(env);
    return mode === "Controller" ? registerControlStatistics(config, deps) : registerSelfTuning(config, deps);
}

/**
 * Reads a {@link ControlLoopConfig} from the JSON in `CONCURRENCY_CONTROL_CONFIG` (set by the components),
 * validated by the contract (`contracts/controller.ts`).
 * @param env the environment (default `process.env`)
 * @throws ConfigurationError listing every problem: unset, not a JSON object, a field missing, of the
 *   wrong type or out of range (`null`, `min > max`, `intervalSeconds: 0` or `"abc"`, …), an unknown field
 * @example const config = controlConfigFromEnv({ CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });
 */
export function controlConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ControlLoopConfig {
    return controlSettingsFromEnv(env) as ControlLoopConfig;
}

function resolve(config: ControlLoopConfig, deps: ControlLoopDependencies): Loop {
    const intervalSeconds = config.intervalSeconds ?? CONTROL_TIMING_DEFAULTS.intervalSeconds;
    const flushSeconds = config.statisticsFlushSeconds ?? CONTROL_TIMING_DEFAULTS.statisticsFlushSeconds;
    const dynamodb = deps.dynamodb ?? new DynamoDBClient({});
    const key = targetKey(config.target);
    const clock = deps.clock ?? Date.now;
    const storeOptions = { statsTtlSeconds: Math.max(3600, 10 * intervalSeconds), shards: config.statisticsShards };
    return {
        store: deps.store ?? new ControllerStore(dynamodb, config.tableName, key, storeOptions),
        pauses: new ControllerPauseStore(dynamodb, config.tableName, key),
        actuator: deps.actuator ?? defaultActuator(config, dynamodb, deps.write),
        decide: deps.decide ?? decideConcurrency,
        clock,
        sleep: deps.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms))),
        random: deps.random ?? Math.random,
        owner: deps.owner ?? PROCESS_ID,
        environmentId: deps.environmentId ?? PROCESS_ID,
        // The first write of an environment is due at once (it counts from the epoch).
        buffer: new StatisticsBuffer(flushSeconds * 1000, 0),
        log: createLogger({ fields: { controller: key }, write: deps.write }),
        write: deps.write,
        intervalMs: intervalSeconds * 1000,
        metricsDelayMs: (config.metricsDelaySeconds ?? CONTROL_TIMING_DEFAULTS.metricsDelaySeconds) * 1000,
        settleMs: flushSeconds * 1000,
        spreadMs: (config.claimSpreadSeconds ?? CONTROL_TIMING_DEFAULTS.claimSpreadSeconds) * 1000,
        key,
    };
}

/** Control-plane attempts per call inside a self-tuning worker's invocation. */
const SELF_TUNING_MAX_ATTEMPTS = 3;

/** The Lambda actuator, taking tokens from the account's budget when the configuration names its table. */
function defaultActuator(
    config: Pick<ControlLoopConfig, "controlPlaneBudgetTable" | "controlPlaneRequestsPerSecond">,
    dynamodb: DynamoDBClient,
    write?: LineWriter,
    maxAttempts?: number,
): ConcurrencyActuator {
    const budget = config.controlPlaneBudgetTable
        ? new DynamoDbControlPlaneBudget({ client: dynamodb, tableName: config.controlPlaneBudgetTable, requestsPerSecond: config.controlPlaneRequestsPerSecond })
        : undefined;
    return new ConcurrencyActuator({ budget, write, maxAttempts });
}

async function waitForOffset(loop: Loop): Promise<void> {
    const sinceStart = loop.clock() - currentInterval(loop) * loop.intervalMs;
    const offset = targetOffsetMs(loop);
    if (sinceStart < offset) await loop.sleep(offset - sinceStart);
}

function counted(config: ControlLoopConfig, samples: readonly DownstreamSample[]): readonly DownstreamSample[] {
    return config.downstream === undefined ? samples : samples.filter((s) => s.name === config.downstream);
}
