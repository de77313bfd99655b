/**
 * Amazon States Language for the Step Functions semaphore, as plain objects: the acquire state (a
 * `.waitForTaskToken` Lambda task), the release state, and {@link protect}, which wraps a definition so
 * every path after acquire releases. Pure: no Pulumi; ARNs come in as strings (the
 * `StepFunctionsSemaphore` component resolves its Outputs first).
 *
 * A protected definition:
 * ```
 * AcquireSemaphore ──► SemaphoreProtectedWork (Parallel: the original StartAt/States) ──► ReleaseSemaphore (end)
 *        │ Catch States.ALL                    │ Catch States.ALL
 *        └──────────────► ReleaseSemaphoreAfterError ──► SemaphoreProtectedFailure (Fail, re-raising Error/Cause)
 * ```
 * Standard workflows only (`.waitForTaskToken`). The wait has `TimeoutSeconds` and a shorter
 * `HeartbeatSeconds`: the semaphore's sweeper heartbeats waiting tasks, so a waiter whose sweeper stopped
 * fails instead of waiting forever. An execution that times out or is stopped cannot run a Catch: the
 * cleanup rule and the sweeper release its permit.
 */
import { ConfigurationError } from "../../contracts/errors";

/** One ASL state, as a plain object. */
export interface AslState {
    /** Task, Parallel, Pass, Choice, Wait, Succeed, Fail or Map. */
    Type: string;
    /** Any other field of the state. */
    [field: string]: unknown;
}

/** An ASL definition (or a branch): `StartAt` and `States`, plus top-level fields such as `Comment` or `TimeoutSeconds`. */
export interface AslDefinition {
    /** Name of the first state. */
    StartAt: string;
    /** The states by name. */
    States: Record<string, AslState>;
    /** Any other top-level field (`Comment`, `TimeoutSeconds`, `Version`). */
    [field: string]: unknown;
}

/** Where the semaphore's functions are and how long an execution may wait. */
export interface SemaphoreAslArgs {
    /**
     * ARN of the acquire function.
     * @example "arn:aws:lambda:us-east-1:123456789012:function:payments-semaphore-acquire"
     */
    acquireFunctionArn: string;
    /**
     * ARN of the release function.
     * @example "arn:aws:lambda:us-east-1:123456789012:function:payments-semaphore-release"
     */
    releaseFunctionArn: string;
    /**
     * Longest wait for a permit, seconds (`TimeoutSeconds` of the acquire state); then the execution fails
     * with `States.Timeout` through the release path.
     * @default 3600
     * @example 86400
     */
    waitTimeoutSeconds?: number;
    /**
     * `HeartbeatSeconds` of the acquire state: less than `waitTimeoutSeconds` and well above the sweeper's
     * interval (the sweeper sends the heartbeats).
     * @default 300, or waitTimeoutSeconds − 1 when that is smaller
     * @example 600
     */
    heartbeatSeconds?: number;
}

/** Names of the states the semaphore adds; a protected definition may not use them at its top level. */
export const SEMAPHORE_STATE_NAMES = {
    acquire: "AcquireSemaphore",
    work: "SemaphoreProtectedWork",
    release: "ReleaseSemaphore",
    releaseAfterError: "ReleaseSemaphoreAfterError",
    fail: "SemaphoreProtectedFailure",
} as const;

/**
 * Errors worth retrying; both functions are idempotent. Besides Lambda's own, `SemaphoreUnavailableError`:
 * the runtime's error (by name, as Lambda reports it) when DynamoDB or Step Functions failed beyond the
 * SDK's retries; the store is consistent after it. A retried acquire task has a new token, which takes the
 * place of the failed attempt's token in the queue (a granted execution's new token is refused instead).
 */
const LAMBDA_RETRY = {
    ErrorEquals: ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "SemaphoreUnavailableError"],
    IntervalSeconds: 1,
    MaxAttempts: 6,
    BackoffRate: 2,
};

/**
 * The partition of a function ARN (`aws`, `aws-us-gov`, `aws-cn`): the Step Functions integration ARNs
 * must be in the same one. Anything else (e.g. a placeholder) counts as `aws`.
 */
function partitionOfArn(functionArn: string): string {
    return /^arn:(aws[a-z-]*):/.exec(functionArn)?.[1] ?? "aws";
}

/**
 * The acquire state: waits (`.waitForTaskToken`, no polling) until the semaphore grants a permit, then
 * goes to `next` with its input unchanged. Add a Catch that releases, or use {@link protect}.
 * @example acquireState(args, "CallPaymentsApi")
 */
export function acquireState(args: SemaphoreAslArgs, next: string): AslState {
    const { acquireFunctionArn, waitTimeoutSeconds, heartbeatSeconds } = validArgs(args);
    return {
        Type: "Task",
        Comment: "Waits for a semaphore permit (the semaphore sends the task token's success).",
        Resource: `arn:${partitionOfArn(acquireFunctionArn)}:states:::lambda:invoke.waitForTaskToken`,
        Parameters: {
            FunctionName: acquireFunctionArn,
            Payload: { "token.$": "$$.Task.Token", "executionArn.$": "$$.Execution.Id" },
        },
        TimeoutSeconds: waitTimeoutSeconds,
        HeartbeatSeconds: heartbeatSeconds,
        ResultPath: null,
        Retry: [LAMBDA_RETRY],
        Next: stateName("next", next),
    };
}

/**
 * The release state: gives this execution's permit to the next waiter (or back) and drops its waiter,
 * keeping the state's input; ends the execution when `next` is omitted.
 * @example releaseState(args) // { Type: "Task", …, End: true }
 */
export function releaseState(args: SemaphoreAslArgs, next?: string): AslState {
    const { releaseFunctionArn } = validArgs(args);
    return {
        Type: "Task",
        Comment: "Releases this execution's semaphore permit.",
        Resource: `arn:${partitionOfArn(releaseFunctionArn)}:states:::lambda:invoke`,
        Parameters: { FunctionName: releaseFunctionArn, Payload: { "executionArn.$": "$$.Execution.Id" } },
        ResultPath: null,
        Retry: [LAMBDA_RETRY],
        ...(next === undefined ? { End: true } : { Next: stateName("next", next) }),
    };
}

/**
 * Wraps `definition` so it runs holding a permit and every path after acquire releases it: the original
 * states run as the one branch of a Parallel; success → release → end with the original output; any
 * error (in acquire or in the work) → release → Fail with the original Error and Cause. Top-level fields
 * other than `StartAt`/`States` (`Comment`, `TimeoutSeconds`, `Version`) stay at the top.
 * Throws naming the argument and the value for a definition without `StartAt`/`States`, with a `StartAt`
 * that names no state, with a JSONata `QueryLanguage`, or using a name of {@link SEMAPHORE_STATE_NAMES}.
 * @example
 * protect(args, { StartAt: "Call", States: { Call: { Type: "Task", Resource: arn, End: true } } })
 */
export function protect(args: SemaphoreAslArgs, definition: AslDefinition): AslDefinition {
    const { StartAt, States, ...topLevel } = validDefinition(definition);
    const names = SEMAPHORE_STATE_NAMES;
    // No ResultPath: the default ("$") replaces the input with { Error, Cause }, which the Fail state re-raises.
    const catchAll = { ErrorEquals: ["States.ALL"], Next: names.releaseAfterError };
    return {
        ...topLevel,
        StartAt: names.acquire,
        States: {
            [names.acquire]: { ...acquireState(args, names.work), Catch: [catchAll] },
            [names.work]: {
                Type: "Parallel",
                Comment: "The protected work, run while holding the permit.",
                Branches: [{ StartAt, States }],
                OutputPath: "$[0]",
                Catch: [catchAll],
                Next: names.release,
            },
            [names.release]: releaseState(args),
            [names.releaseAfterError]: releaseState(args, names.fail),
            [names.fail]: { Type: "Fail", Comment: "Re-raises the error that ended the protected work.", ErrorPath: "$.Error", CausePath: "$.Cause" },
        },
    };
}

function validArgs(args: SemaphoreAslArgs): Required<SemaphoreAslArgs> {
    const waitTimeoutSeconds = args.waitTimeoutSeconds ?? 3600;
    const heartbeatSeconds = args.heartbeatSeconds ?? Math.min(300, waitTimeoutSeconds - 1);
    check(typeof args.acquireFunctionArn === "string" && args.acquireFunctionArn !== "", "acquireFunctionArn", "a function ARN", args.acquireFunctionArn);
    check(typeof args.releaseFunctionArn === "string" && args.releaseFunctionArn !== "", "releaseFunctionArn", "a function ARN", args.releaseFunctionArn);
    check(Number.isInteger(waitTimeoutSeconds) && waitTimeoutSeconds >= 2, "waitTimeoutSeconds", "an integer of at least 2", waitTimeoutSeconds);
    const heartbeatOk = Number.isInteger(heartbeatSeconds) && heartbeatSeconds >= 1 && heartbeatSeconds < waitTimeoutSeconds;
    check(heartbeatOk, "heartbeatSeconds", `a positive integer less than waitTimeoutSeconds (${waitTimeoutSeconds})`, heartbeatSeconds);
    return { ...args, waitTimeoutSeconds, heartbeatSeconds };
}

function validDefinition(definition: AslDefinition): AslDefinition {
    check(isObject(definition), "definition", "an object with StartAt and States", definition);
    check(isObject(definition.States) && Object.keys(definition.States).length > 0, "definition.States", "a non-empty object of states", definition.States);
    const names = Object.keys(definition.States);
    check(names.includes(definition.StartAt), "definition.StartAt", `the name of one of definition.States (${names.join(", ")})`, definition.StartAt);
    const reserved: string[] = Object.values(SEMAPHORE_STATE_NAMES);
    const clash = names.find((name) => reserved.includes(name));
    if (clash !== undefined) {
        throw new ConfigurationError(`definition.States must not use the semaphore's state names (${reserved.join(", ")}); received a state named ${format(clash)}.`);
    }
    const language = definition.QueryLanguage;
    check(language === undefined || language === "JSONPath", "definition.QueryLanguage", "JSONPath (or absent)", language);
    return definition;
}

function stateName(arg: string, value: string): string {
    check(typeof value === "string" && value !== "", arg, "a state name", value);
    return value;
}

function check(ok: boolean, arg: string, expected: string, received: unknown): void {
    if (!ok) throw new ConfigurationError(`${arg} must be ${expected}; received ${format(received)}.`);
}

/** Strings quoted, objects as JSON, the rest as written (`undefined`, `NaN`). */
function format(value: unknown): string {
    return typeof value === "string" || isObject(value) ? JSON.stringify(value) : String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
