/**
 * The circuit-breaker contract: the policy, its defaults and ranges, and the breaker's environment
 * (`BREAKER_*` of {@link ENV}) read with one validation that lists every problem at once, so the
 * components and the runtime check the same way and a bad setting fails the cold start with one
 * {@link ConfigurationError}. No dependencies beyond `contracts/`.
 */
import { SettingsProblems } from "./controller";
import { ENV, Environment, optionalInteger, optionalNumber, optionalString } from "./environment";

/** Thresholds and timings of a breaker; defaults in {@link DEFAULT_BREAKER_POLICY}, ranges in {@link breakerPolicyProblems}. */
export interface BreakerPolicy {
    /**
     * Error rate (errors / calls) in a window that trips the breaker, in (0, 1].
     * @default 0.5
     * @example 0.25
     */
    errorThreshold: number;
    /**
     * Calls a window needs before it can trip (the volume floor), so one failure at low traffic cannot.
     * @default 20
     * @example 50
     */
    minRequests: number;
    /**
     * Length of a counting window, seconds.
     * @default 60
     * @example 30
     */
    windowSeconds: number;
    /**
     * Open time after the trip, seconds; each failed probe multiplies it by `backoffMultiplier`.
     * @default 30
     * @example 60
     */
    openSeconds: number;
    /**
     * Longest open time, seconds. On Kinesis keep it well under the stream's retention.
     * @default 900
     * @example 3600
     */
    maxOpenSeconds: number;
    /**
     * Growth of the open time per failed probe (≥ 1).
     * @default 2
     * @example 1.5
     */
    backoffMultiplier: number;
    /**
     * Probe successes in half-open that close the breaker.
     * @default 3
     * @example 1
     */
    successThreshold: number;
}

/** Defaults of {@link BreakerPolicy}. */
export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
    errorThreshold: 0.5,
    minRequests: 20,
    windowSeconds: 60,
    openSeconds: 30,
    maxOpenSeconds: 900,
    backoffMultiplier: 2,
    successThreshold: 3,
};

/** Defaults of the breaker's runtime settings besides the policy. */
export const BREAKER_RUNTIME_DEFAULTS = {
    /** Seconds a half-open probe may take to report. */
    probeLeaseSeconds: 960,
    /** Seconds an execution environment keeps its counts before writing them (the longest extra trip delay). */
    flushSeconds: 5,
} as const;

/**
 * Every problem of a complete policy, each naming the field and the value; empty when valid.
 * @param policy the policy with defaults filled in
 * @example breakerPolicyProblems({ ...DEFAULT_BREAKER_POLICY, openSeconds: 0 }) // ["openSeconds must be a number > 0; received 0"]
 */
export function breakerPolicyProblems(policy: BreakerPolicy): string[] {
    const problems = new SettingsProblems();
    const expect = (field: keyof BreakerPolicy, ok: boolean, expected: string) => problems.check(ok, `${field} must be ${expected}; received ${show(policy[field])}`);
    expect("errorThreshold", isNumber(policy.errorThreshold) && policy.errorThreshold > 0 && policy.errorThreshold <= 1, "a number in (0, 1]");
    for (const field of ["minRequests", "successThreshold"] as const) expect(field, Number.isInteger(policy[field]) && policy[field] >= 1, "an integer ≥ 1");
    for (const field of ["windowSeconds", "openSeconds", "maxOpenSeconds"] as const) expect(field, isNumber(policy[field]) && policy[field] > 0, "a number > 0");
    if (isNumber(policy.openSeconds) && isNumber(policy.maxOpenSeconds) && policy.maxOpenSeconds > 0) {
        expect("maxOpenSeconds", policy.maxOpenSeconds >= policy.openSeconds, `at least openSeconds (${policy.openSeconds})`);
    }
    expect("backoffMultiplier", isNumber(policy.backoffMultiplier) && policy.backoffMultiplier >= 1, "a number ≥ 1");
    return problems.list;
}

/** The breaker's settings as the environment gives them. */
export interface BreakerSettings {
    /** `BREAKER_TABLE_NAME`. */
    tableName: string;
    /** `BREAKER_MAPPING_UUID` (the prober). @default undefined */
    mappingUuid?: string;
    /** `BREAKER_EVENT_SOURCE_ARN` (the worker). @default undefined */
    eventSourceArn?: string;
    /** `BREAKER_ID`; required with `eventSourceArn`. @default the mapping UUID */
    id?: string;
    /** `BREAKER_PROBE_LEASE_SECONDS`, > 0. @default 960 */
    probeLeaseSeconds: number;
    /** `BREAKER_FLUSH_SECONDS`, an integer in [0, 60]; 0 writes every batch. @default 5 */
    flushSeconds: number;
    /** The `BREAKER_*` policy variables with defaults filled in. */
    policy: BreakerPolicy;
}

/** Which variable holds which policy field. */
export const BREAKER_POLICY_ENV: Record<keyof BreakerPolicy, string> = {
    errorThreshold: ENV.breakerErrorThreshold,
    minRequests: ENV.breakerMinRequests,
    windowSeconds: ENV.breakerWindowSeconds,
    openSeconds: ENV.breakerOpenSeconds,
    maxOpenSeconds: ENV.breakerMaxOpenSeconds,
    backoffMultiplier: ENV.breakerBackoffMultiplier,
    successThreshold: ENV.breakerSuccessThreshold,
};

const INTEGER_FIELDS: readonly (keyof BreakerPolicy)[] = ["minRequests", "successThreshold"];

/**
 * Reads and validates the breaker's environment: `" "` or `"0x1"` are refused rather than read as 0 or 1.
 * @param env the environment
 * @throws ConfigurationError listing every problem
 * @example breakerSettingsFromEnv({ BREAKER_TABLE_NAME: "breakers", BREAKER_ID: "orders", BREAKER_EVENT_SOURCE_ARN: streamArn })
 */
export function breakerSettingsFromEnv(env: Environment): BreakerSettings {
    const problems = new SettingsProblems();
    const tableName = optionalString(env, ENV.breakerTableName);
    problems.check(tableName !== undefined && tableName.trim() !== "", `environment variable ${ENV.breakerTableName} is required`);
    const mappingUuid = optionalString(env, ENV.breakerMappingUuid);
    const eventSourceArn = optionalString(env, ENV.breakerEventSourceArn);
    const id = optionalString(env, ENV.breakerId);
    problems.check(mappingUuid !== undefined || eventSourceArn !== undefined, `environment variable ${ENV.breakerMappingUuid} or ${ENV.breakerEventSourceArn} is required`);
    problems.check(mappingUuid !== undefined || eventSourceArn === undefined || id !== undefined, `environment variable ${ENV.breakerId} is required with ${ENV.breakerEventSourceArn}`);
    const probeLeaseSeconds = problems.parse(() => optionalNumber(env, ENV.breakerProbeLeaseSeconds, { min: 1 }));
    const flushSeconds = problems.parse(() => optionalInteger(env, ENV.breakerFlushSeconds, { min: 0, max: 60 }));
    const policy = { ...DEFAULT_BREAKER_POLICY };
    for (const [field, variable] of Object.entries(BREAKER_POLICY_ENV) as [keyof BreakerPolicy, string][]) {
        // A variable that does not parse is reported here and keeps its default for the range checks below.
        const value = problems.parse(() => (INTEGER_FIELDS.includes(field) ? optionalInteger(env, variable) : optionalNumber(env, variable)));
        if (value !== undefined) policy[field] = value;
    }
    breakerPolicyProblems(policy).forEach((problem) => problems.check(false, `${policyVariable(problem)}: ${problem}`));
    problems.throwIfAny("Circuit breaker environment");
    return {
        tableName: tableName!,
        mappingUuid,
        eventSourceArn,
        id,
        probeLeaseSeconds: probeLeaseSeconds ?? BREAKER_RUNTIME_DEFAULTS.probeLeaseSeconds,
        flushSeconds: flushSeconds ?? BREAKER_RUNTIME_DEFAULTS.flushSeconds,
        policy,
    };
}

/** The variable a policy problem is about (the problem starts with the field name). */
function policyVariable(problem: string): string {
    const field = problem.split(" ")[0] as keyof BreakerPolicy;
    return BREAKER_POLICY_ENV[field] ?? "policy";
}

function show(value: unknown): string {
    return typeof value === "number" ? String(value) : JSON.stringify(value);
}

function isNumber(value: unknown): value is number {
    return typeof value === "number" && Number.isFinite(value);
}
