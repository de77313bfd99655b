/**
 * The adaptive-concurrency contract: what `CONCURRENCY_CONTROL_MODE` and `CONCURRENCY_CONTROL_CONFIG`
 * may hold, and one validation that lists every problem at once. The components build the JSON and can
 * check it with {@link controlLoopSettingsProblems}; the runtime reads it with {@link controlSettingsFromEnv}
 * at cold start, so a bad setting fails there with one {@link ConfigurationError}, not at the first interval.
 * A controller of several targets (`ConcurrencyControllerGroup`) holds `{ shared, targets }` instead
 * ({@link ControlGroupSettings}, read with {@link controlGroupSettingsFromEnv}).
 * No dependencies beyond `contracts/`.
 */
import { ENV, Environment, optionalJsonObject } from "./environment";
import { ConfigurationError } from "./errors";

/** The kinds of setting a controller can drive. */
export const CONTROL_TARGET_KINDS = ["ReservedConcurrency", "SqsMaximumConcurrency", "KinesisParallelizationFactor"] as const;

/** One of {@link CONTROL_TARGET_KINDS}. */
export type ControlTargetKind = (typeof CONTROL_TARGET_KINDS)[number];

/**
 * The values AWS accepts for each kind. Reserved concurrency starts at 1: 0 would throttle every
 * invocation (and make asynchronous events skip their retries); its real ceiling is the account's
 * unreserved concurrency less 100, checked when applying.
 */
export const CONTROL_TARGET_RANGES: Record<ControlTargetKind, { min: number; max: number }> = {
    ReservedConcurrency: { min: 1, max: Number.MAX_SAFE_INTEGER },
    SqsMaximumConcurrency: { min: 2, max: 1000 },
    KinesisParallelizationFactor: { min: 1, max: 10 },
};

/** Where a worker's backlog age comes from. */
export const BACKLOG_METRICS = ["AsyncEventAge", "IteratorAge", "SqsAgeOfOldestMessage"] as const;

/**
 * What a worker's statistics do on the controller table: each execution environment replaces its own
 * statistics item (PutItem). Nothing else: a worker in mode Controller never reads the table.
 */
export const CONTROLLER_STATISTICS_ACTIONS = ["dynamodb:PutItem"];

/**
 * What the deciding side (the scheduled controller, a controller group, a self-tuning worker) does on
 * the controller table: the lease and decision (GetItem, UpdateItem), the pause item (GetItem), the
 * window's sum (Query). The statistics it needs come from the workers (`CONTROLLER_STATISTICS_ACTIONS`).
 */
export const CONTROLLER_LEASE_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"];

/** The values of `CONCURRENCY_CONTROL_MODE`. */
export const CONTROL_MODES = ["Controller", "SelfTuning"] as const;

/** One of {@link CONTROL_MODES}. */
export type ControlMode = (typeof CONTROL_MODES)[number];

/** Defaults of the loop's timing settings (seconds), shared by both sides. */
export const CONTROL_TIMING_DEFAULTS = {
    /** Length of a control interval. */
    intervalSeconds: 60,
    /** How far the CloudWatch window is shifted back for late metrics. */
    metricsDelaySeconds: 120,
    /** How often an execution environment writes its downstream statistics. */
    statisticsFlushSeconds: 10,
    /** Statistics partitions per target. */
    statisticsShards: 4,
    /** Self-tuning: the window after the settle time in which environments spread their claims. */
    claimSpreadSeconds: 10,
} as const;

/**
 * Collects problems from several checks so one error can list all of them.
 * @example
 * const problems = new SettingsProblems();
 * problems.check(min <= max, `min (${min}) must not exceed max (${max})`);
 * problems.throwIfAny("CONCURRENCY_CONTROL_CONFIG");
 */
export class SettingsProblems {
    /** The problems so far, in the order found. */
    readonly list: string[] = [];

    /**
     * Records `problem` unless `ok`.
     * @param ok whether the check passed
     * @param problem what is wrong, naming the setting and the value
     */
    check(ok: boolean, problem: string): void {
        if (!ok) this.list.push(problem);
    }

    /**
     * Runs a parser of `contracts/environment.ts`; its {@link ConfigurationError} becomes a problem.
     * @param parse the parser call
     * @returns the parsed value, `undefined` when it failed
     */
    parse<T>(parse: () => T): T | undefined {
        try {
            return parse();
        } catch (error) {
            if (!(error instanceof ConfigurationError)) throw error;
            this.list.push(error.message);
            return undefined;
        }
    }

    /**
     * @param subject what was validated, the start of the message
     * @throws ConfigurationError listing every problem, when there is one
     */
    throwIfAny(subject: string): void {
        if (this.list.length === 0) return;
        throw new ConfigurationError(`${subject} is invalid (${this.list.length} problem${this.list.length > 1 ? "s" : ""}):\n- ${this.list.join("\n- ")}`);
    }
}

/** The controlled setting, as the JSON carries it (the runtime's `ControlledTarget`). */
export interface ControlTargetSettings {
    /** Which setting. */
    kind: ControlTargetKind;
    /** Reserved concurrency: function name or ARN. @default the running function */
    functionName?: string;
    /** Mappings: the mapping's UUID. @default looked up from `eventSourceArn` */
    uuid?: string;
    /** Mappings: the stream or queue ARN. @default undefined (then `uuid` is required) */
    eventSourceArn?: string;
}

/** Bounds and tuning of the decision (the runtime's `ControllerParams`); tuning fields are numbers. */
export interface ControlParamsSettings {
    /** Lowest limit, an integer in the target's range. */
    min: number;
    /** Highest limit, an integer in the target's range, ≥ `min`. */
    max: number;
    /** Latency target in ms, > 0. @default a learned baseline */
    latencyTargetMs?: number;
    /** Error rate threshold in (0, 1). @default 0.05 */
    errorRateThreshold?: number;
    /** Further tuning of the decision (all numbers). */
    [tuning: string]: number | undefined;
}

/** What `CONCURRENCY_CONTROL_CONFIG` holds (the runtime's `ControlLoopConfig`). */
export interface ControlLoopSettings {
    /** The setting to drive. */
    target: ControlTargetSettings;
    /** Bounds and targets. */
    params: ControlParamsSettings;
    /** The controller table. */
    tableName: string;
    /** The worker's CloudWatch metrics. */
    metrics: { functionName?: string; backlog?: (typeof BACKLOG_METRICS)[number]; queueName?: string };
    /** Control interval, an integer in [1, 86400]. @default 60 */
    intervalSeconds?: number;
    /** CloudWatch delay, an integer in [0, 3600]. @default 120 */
    metricsDelaySeconds?: number;
    /** Latency percentile in (0, 1]. @default 0.9 */
    latencyPercentile?: number;
    /** Executions per unit of the limit (Kinesis shards), an integer ≥ 1. @default 1 */
    executionsPerUnit?: number;
    /** Only `ctx.downstream` calls of this name count. @default all */
    downstream?: string;
    /** Decide and log without changing anything. @default false */
    dryRun?: boolean;
    /** How often an environment writes its statistics, an integer in [1, 900] under the interval. @default 10 */
    statisticsFlushSeconds?: number;
    /** Statistics partitions per target, an integer in [1, 100]. @default 4 */
    statisticsShards?: number;
    /** Self-tuning claim spread, seconds in [0, interval). @default 10 */
    claimSpreadSeconds?: number;
    /** Table of the account's shared control-plane budget (string key `pk`). @default none: budget per process only */
    controlPlaneBudgetTable?: string;
    /** Control-plane requests per second all targets of the account may spend together, in (0, 14]. @default 10 */
    controlPlaneRequestsPerSecond?: number;
}

const TOP_LEVEL_FIELDS = [
    "target",
    "params",
    "tableName",
    "metrics",
    "intervalSeconds",
    "metricsDelaySeconds",
    "latencyPercentile",
    "executionsPerUnit",
    "downstream",
    "dryRun",
    "statisticsFlushSeconds",
    "statisticsShards",
    "claimSpreadSeconds",
    "controlPlaneBudgetTable",
    "controlPlaneRequestsPerSecond",
];
const TARGET_FIELDS = ["kind", "functionName", "uuid", "eventSourceArn"];
const METRICS_FIELDS = ["functionName", "backlog", "queueName"];

/**
 * Every problem of a control-loop configuration object, each naming the field and the value; empty when valid.
 * @param value the parsed JSON
 * @example controlLoopSettingsProblems({ ...config, intervalSeconds: 0 }) // ["intervalSeconds must be an integer in [1, 86400]; received 0"]
 */
export function controlLoopSettingsProblems(value: Record<string, unknown>): string[] {
    const problems = new SettingsProblems();
    unknownFields(problems, "", value, TOP_LEVEL_FIELDS);
    const kind = targetProblems(problems, value.target);
    paramsProblems(problems, value.params, kind);
    problems.check(isNonEmptyString(value.tableName), `tableName must be a non-empty string; received ${show(value.tableName)}`);
    metricsProblems(problems, value.metrics);
    timingProblems(problems, value);
    optionalField(problems, value, "latencyPercentile", (v) => isNumber(v) && v > 0 && v <= 1, "a number in (0, 1]");
    optionalField(problems, value, "executionsPerUnit", (v) => isInteger(v) && v >= 1, "an integer ≥ 1");
    optionalField(problems, value, "downstream", isNonEmptyString, "a non-empty string");
    optionalField(problems, value, "dryRun", (v) => typeof v === "boolean", "true or false");
    optionalField(problems, value, "controlPlaneBudgetTable", isNonEmptyString, "a non-empty string");
    optionalField(problems, value, "controlPlaneRequestsPerSecond", (v) => isNumber(v) && v > 0 && v <= 14, "a number in (0, 14] (the account's control plane allows 15 requests/s; the bucket adds at least 1 of burst)");
    return problems.list;
}

/**
 * Reads and validates `CONCURRENCY_CONTROL_CONFIG`.
 * @param env the environment
 * @throws ConfigurationError listing every problem when the variable is unset, not a JSON object, or invalid
 * @example const settings = controlSettingsFromEnv(process.env);
 */
export function controlSettingsFromEnv(env: Environment): ControlLoopSettings {
    const value = optionalJsonObject(env, ENV.concurrencyControlConfig);
    if (value === undefined) throw new ConfigurationError(`environment variable ${ENV.concurrencyControlConfig} is required (the JSON control-loop configuration)`);
    const problems = new SettingsProblems();
    controlLoopSettingsProblems(value).forEach((problem) => problems.check(false, problem));
    problems.throwIfAny(`environment variable ${ENV.concurrencyControlConfig}`);
    return value as unknown as ControlLoopSettings;
}

/**
 * `GetMetricData` queries per target of a controller group: throttles, concurrency in use and backlog age
 * (`metricQueries` of runtime/controller/cloudwatch.ts; the components always name a backlog metric).
 */
export const CONTROL_GROUP_QUERIES_PER_TARGET = 3;

/** Queries one `GetMetricData` call takes. */
export const GET_METRIC_DATA_MAX_QUERIES = 500;

/** Targets of one controller group: as many as one `GetMetricData` call reads (⌊500 ÷ 3⌋ = 166). */
export const MAX_CONTROL_GROUP_TARGETS = Math.floor(GET_METRIC_DATA_MAX_QUERIES / CONTROL_GROUP_QUERIES_PER_TARGET);

/**
 * What `CONCURRENCY_CONTROL_CONFIG` holds for a controller of several targets (`ConcurrencyControllerGroup`):
 * the fields every target shares once, then each target's own. A target's configuration is
 * `{ ...shared, ...target }`, a complete {@link ControlLoopSettings}. Lambda allows 4 KB of environment
 * variables per function, so what all targets share is written once.
 * @example
 * { "shared": { "tableName": "ctl-table", "intervalSeconds": 60 },
 *   "targets": [{ "target": { "kind": "ReservedConcurrency", "functionName": "orders" }, "params": { "min": 1, "max": 50 }, "metrics": { "functionName": "orders", "backlog": "AsyncEventAge" } }] }
 */
export interface ControlGroupSettings {
    /** Fields of {@link ControlLoopSettings} every target shares. @default {} */
    shared?: Partial<ControlLoopSettings>;
    /** Each target's own fields, 1 to {@link MAX_CONTROL_GROUP_TARGETS}. */
    targets: Array<Partial<ControlLoopSettings>>;
}

/**
 * Whether a parsed `CONCURRENCY_CONTROL_CONFIG` is a group's ({@link ControlGroupSettings}): it has `targets`.
 * @example isControlGroupSettings({ targets: [] }) // true
 */
export function isControlGroupSettings(value: Record<string, unknown>): boolean {
    return "targets" in value;
}

/**
 * Every problem of a controller group's configuration, each naming the field (`shared.…`, `targets[i]: …`)
 * and the value; empty when valid. Each target is checked as `{ ...shared, ...target }` by
 * {@link controlLoopSettingsProblems}; the targets must share `intervalSeconds` and `metricsDelaySeconds`
 * (one batched `GetMetricData` reads one window for all) and drive different settings.
 * @param value the parsed JSON
 * @example controlGroupSettingsProblems({ targets: [] }) // ["targets must be an array of 1 to 166 target configurations; received []"]
 */
export function controlGroupSettingsProblems(value: Record<string, unknown>): string[] {
    const problems = new SettingsProblems();
    unknownFields(problems, "", value, ["shared", "targets"]);
    const shared = value.shared ?? {};
    if (!isObject(shared)) problems.check(false, `shared must be an object; received ${show(value.shared)}`);
    else unknownFields(problems, "shared.", shared, TOP_LEVEL_FIELDS);
    const targets = value.targets;
    const countOk = Array.isArray(targets) && targets.length >= 1 && targets.length <= MAX_CONTROL_GROUP_TARGETS;
    problems.check(
        countOk,
        `targets must be an array of 1 to ${MAX_CONTROL_GROUP_TARGETS} target configurations (${CONTROL_GROUP_QUERIES_PER_TARGET} GetMetricData queries each, ${GET_METRIC_DATA_MAX_QUERIES} per call); received ${Array.isArray(targets) ? `${targets.length} targets` : show(targets)}`,
    );
    if (!countOk || !isObject(shared)) return problems.list;
    const sharedKnown = Object.fromEntries(Object.entries(shared).filter(([field]) => TOP_LEVEL_FIELDS.includes(field)));
    const merged: Array<Record<string, unknown> | undefined> = (targets as unknown[]).map((target, i) => {
        if (!isObject(target)) {
            problems.check(false, `targets[${i}] must be an object; received ${show(target)}`);
            return undefined;
        }
        const config = { ...sharedKnown, ...target };
        controlLoopSettingsProblems(config).forEach((problem) => problems.check(false, `targets[${i}]: ${problem}`));
        // A scheduled controller's "own function" is itself: a group names every function it reads and drives.
        if (isObject(config.target) && config.target.kind === "ReservedConcurrency") {
            problems.check(config.target.functionName !== undefined, `targets[${i}]: target.functionName is required in a group (the controller's own function is not a target)`);
        }
        if (isObject(config.metrics)) problems.check(config.metrics.functionName !== undefined, `targets[${i}]: metrics.functionName is required in a group (the controller's own metrics are not the target's)`);
        return config;
    });
    const timings = new Set(
        merged.filter(isObject).map((c) => `intervalSeconds ${show(c.intervalSeconds ?? CONTROL_TIMING_DEFAULTS.intervalSeconds)}, metricsDelaySeconds ${show(c.metricsDelaySeconds ?? CONTROL_TIMING_DEFAULTS.metricsDelaySeconds)}`),
    );
    problems.check(timings.size <= 1, `every target needs the same intervalSeconds and metricsDelaySeconds (one GetMetricData call reads one window for all); received ${[...timings].join("; ")}`);
    const seen = new Map<string, number>();
    merged.forEach((config, i) => {
        const key = config && settingKey(config.target);
        if (key === undefined) return;
        const first = seen.get(key);
        problems.check(first === undefined, `targets[${first}] and targets[${i}] drive the same setting (${key})`);
        if (first === undefined) seen.set(key, i);
    });
    return problems.list;
}

/**
 * Reads and validates a controller group's `CONCURRENCY_CONTROL_CONFIG`: one complete configuration per target.
 * @param env the environment
 * @throws ConfigurationError listing every problem when the variable is unset, not a JSON object, or invalid
 * @example const configs = controlGroupSettingsFromEnv(process.env); // [{ target: …, params: …, tableName: … }, …]
 */
export function controlGroupSettingsFromEnv(env: Environment): ControlLoopSettings[] {
    const value = optionalJsonObject(env, ENV.concurrencyControlConfig);
    if (value === undefined) throw new ConfigurationError(`environment variable ${ENV.concurrencyControlConfig} is required (the JSON control-loop configuration)`);
    const problems = new SettingsProblems();
    controlGroupSettingsProblems(value).forEach((problem) => problems.check(false, problem));
    problems.throwIfAny(`environment variable ${ENV.concurrencyControlConfig} (a controller group)`);
    const shared = (value.shared ?? {}) as Record<string, unknown>;
    return (value.targets as Array<Record<string, unknown>>).map((target) => ({ ...shared, ...target }) as unknown as ControlLoopSettings);
}

/** The setting a target drives, as text; `undefined` when the target does not name one. */
function settingKey(target: unknown): string | undefined {
    if (!isObject(target)) return undefined;
    // As the runtime's `targetKey`: a function by its name (an ARN's name part), a mapping by its source, else its UUID.
    const which = target.kind === "ReservedConcurrency" ? target.functionName : (target.eventSourceArn ?? target.uuid);
    if (typeof which !== "string") return undefined;
    return `${String(target.kind)}:${target.kind === "ReservedConcurrency" ? (/(?:^|:)function:([^:]+)/.exec(which)?.[1] ?? which) : which}`;
}

/**
 * Reads `CONCURRENCY_CONTROL_MODE`.
 * @param env the environment
 * @throws ConfigurationError when it is not one of {@link CONTROL_MODES}
 * @example controlModeFromEnv({ CONCURRENCY_CONTROL_MODE: "SelfTuning" }) // "SelfTuning"
 */
export function controlModeFromEnv(env: Environment): ControlMode {
    const mode = env[ENV.concurrencyControlMode];
    if (!CONTROL_MODES.includes(mode as ControlMode)) {
        throw new ConfigurationError(`environment variable ${ENV.concurrencyControlMode} must be one of ${CONTROL_MODES.join(", ")}; received ${show(mode)}`);
    }
    return mode as ControlMode;
}

function targetProblems(problems: SettingsProblems, target: unknown): ControlTargetKind | undefined {
    if (!isObject(target)) {
        problems.check(false, `target must be an object with a kind; received ${show(target)}`);
        return undefined;
    }
    unknownFields(problems, "target.", target, TARGET_FIELDS);
    const kind = CONTROL_TARGET_KINDS.find((k) => k === target.kind);
    problems.check(kind !== undefined, `target.kind must be one of ${CONTROL_TARGET_KINDS.join(", ")}; received ${show(target.kind)}`);
    for (const field of ["functionName", "uuid", "eventSourceArn"]) optionalField(problems, target, field, isNonEmptyString, "a non-empty string", "target.");
    if (kind && kind !== "ReservedConcurrency") {
        problems.check(target.uuid !== undefined || target.eventSourceArn !== undefined, `target: a ${kind} target needs eventSourceArn or uuid`);
    }
    return kind;
}

function paramsProblems(problems: SettingsProblems, params: unknown, kind: ControlTargetKind | undefined): void {
    if (!isObject(params)) {
        problems.check(false, `params must be an object with min and max; received ${show(params)}`);
        return;
    }
    const range = kind ? CONTROL_TARGET_RANGES[kind] : { min: 1, max: Number.MAX_SAFE_INTEGER };
    const rangeText = `an integer in [${range.min}, ${range.max}]${kind ? ` (${kind})` : ""}`;
    const inRange = (v: unknown) => isInteger(v) && v >= range.min && v <= range.max;
    problems.check(inRange(params.min), `params.min must be ${rangeText}; received ${show(params.min)}`);
    problems.check(inRange(params.max), `params.max must be ${rangeText}; received ${show(params.max)}`);
    if (inRange(params.min) && inRange(params.max)) {
        problems.check((params.min as number) <= (params.max as number), `params.min (${params.min}) must not exceed params.max (${params.max})`);
    }
    optionalField(problems, params, "latencyTargetMs", (v) => isNumber(v) && v > 0, "a number > 0", "params.");
    optionalField(problems, params, "errorRateThreshold", (v) => isNumber(v) && v > 0 && v < 1, "a number in (0, 1)", "params.");
    for (const [field, v] of Object.entries(params)) {
        if (["min", "max", "latencyTargetMs", "errorRateThreshold"].includes(field)) continue;
        problems.check(isNumber(v), `params.${field} must be a finite number; received ${show(v)}`);
    }
}

function metricsProblems(problems: SettingsProblems, metrics: unknown): void {
    if (!isObject(metrics)) {
        problems.check(false, `metrics must be an object; received ${show(metrics)}`);
        return;
    }
    unknownFields(problems, "metrics.", metrics, METRICS_FIELDS);
    optionalField(problems, metrics, "functionName", isNonEmptyString, "a non-empty string", "metrics.");
    optionalField(problems, metrics, "backlog", (v) => BACKLOG_METRICS.includes(v as never), `one of ${BACKLOG_METRICS.join(", ")}`, "metrics.");
    optionalField(problems, metrics, "queueName", isNonEmptyString, "a non-empty string", "metrics.");
    if (metrics.backlog === "SqsAgeOfOldestMessage") problems.check(metrics.queueName !== undefined, "metrics.queueName is required with the SqsAgeOfOldestMessage backlog metric");
}

function timingProblems(problems: SettingsProblems, value: Record<string, unknown>): void {
    const fields = new SettingsProblems();
    optionalField(fields, value, "intervalSeconds", (v) => isInteger(v) && v >= 1 && v <= 86_400, "an integer in [1, 86400]");
    optionalField(fields, value, "metricsDelaySeconds", (v) => isInteger(v) && v >= 0 && v <= 3600, "an integer in [0, 3600]");
    optionalField(fields, value, "statisticsFlushSeconds", (v) => isInteger(v) && v >= 1 && v <= 900, "an integer in [1, 900]");
    optionalField(fields, value, "statisticsShards", (v) => isInteger(v) && v >= 1 && v <= 100, "an integer in [1, 100]");
    optionalField(fields, value, "claimSpreadSeconds", (v) => isNumber(v) && v >= 0, "a number ≥ 0");
    fields.list.forEach((problem) => problems.check(false, problem));
    if (fields.list.length > 0) return; // the cross-field check needs valid fields
    const interval = (value.intervalSeconds as number | undefined) ?? CONTROL_TIMING_DEFAULTS.intervalSeconds;
    const flush = (value.statisticsFlushSeconds as number | undefined) ?? CONTROL_TIMING_DEFAULTS.statisticsFlushSeconds;
    const spread = (value.claimSpreadSeconds as number | undefined) ?? CONTROL_TIMING_DEFAULTS.claimSpreadSeconds;
    problems.check(
        flush + spread < interval,
        `statisticsFlushSeconds (${flush}) + claimSpreadSeconds (${spread}) must be less than intervalSeconds (${interval}): decisions wait one flush period after the interval ends, then spread their claims`,
    );
}

function optionalField(problems: SettingsProblems, object: Record<string, unknown>, field: string, ok: (v: unknown) => boolean, expected: string, prefix = ""): void {
    if (!(field in object) || object[field] === undefined) return;
    problems.check(ok(object[field]), `${prefix}${field} must be ${expected}; received ${show(object[field])}`);
}

function unknownFields(problems: SettingsProblems, prefix: string, object: Record<string, unknown>, known: readonly string[]): void {
    for (const field of Object.keys(object)) problems.check(known.includes(field), `${prefix}${field} is not a setting (known: ${known.join(", ")})`);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isNumber(value: unknown): value is number {
    return typeof value === "number" && Number.isFinite(value);
}

function isInteger(value: unknown): value is number {
    return Number.isInteger(value);
}

function isNonEmptyString(value: unknown): boolean {
    return typeof value === "string" && value.trim() !== "";
}

function show(value: unknown): string {
    return value === undefined ? "nothing" : JSON.stringify(value);
}
