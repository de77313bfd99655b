/**
 * Applies a decided limit through the Lambda control plane:
 * - reserved concurrency: `GetFunctionConcurrency`, then (only when raising) `GetAccountSettings` for the
 *   unreserved-100 guard, then `PutFunctionConcurrency`;
 * - SQS mapping: `GetEventSourceMapping`, then `UpdateEventSourceMapping` with `ScalingConfig.MaximumConcurrency`;
 * - Kinesis mapping: `GetEventSourceMapping`, then `UpdateEventSourceMapping` with `ParallelizationFactor`.
 *
 * The control plane allows 15 requests/s per account for all these APIs together, so every call of every
 * actuator in this process goes through one queue, one at a time, and a throttled call
 * (`TooManyRequestsException`) or one that meets a change in progress (`ResourceConflictException`,
 * `ResourceInUseException`) is retried with exponential backoff and jitter (or after the `Retry-After`
 * AWS sends). Each change is a single update call, so a failure never leaves it half applied. An update is
 * only sent when the value differs.
 *
 * A target that omits its function name or mapping UUID (the worker's own, see {@link ControlledTarget})
 * is resolved on each call: the running function's name, and its mapping's UUID from
 * {@link resolveOwnMappingUuid} (looked up once per execution environment, through the same queue).
 *
 * The unreserved-100 guard is check-then-act across two calls, so the whole read–check–write of a raise
 * runs under one lock per process (a Lambda execution environment works in one account): two raises at
 * once cannot both pass the check. Other processes can still race it; AWS then refuses the raise with
 * `InvalidParameterValueException` ("…UnreservedConcurrentExecution below its minimum value of [100]"):
 * the actuator re-reads the account, applies the highest allowed value or holds, and reports it with a
 * log line and the `UnreservedFloorRefusals` metric — never an error out of the interval.
 *
 * With a {@link ControlPlaneBudgetPort} every call first takes a token from the account's shared budget,
 * so all targets of the account together stay under its requests per second.
 *
 * Faults (tests/runtime/controllerFaults.test.ts): a call whose response was lost is retried by the SDK
 * and applied again (every call here is idempotent: a read, or setting an absolute value); throttles and
 * conflicts are retried with backoff, then rejected; a failure before the call is rejected at once.
 *
 * IAM: `lambda:GetFunctionConcurrency`, `lambda:PutFunctionConcurrency` on the function and
 * `lambda:GetAccountSettings` (resource `*`); or `lambda:GetEventSourceMapping`,
 * `lambda:UpdateEventSourceMapping` on the mapping, plus `lambda:ListEventSourceMappings` (resource `*`)
 * when the UUID is omitted.
 */
import {
    GetAccountSettingsCommand,
    GetEventSourceMappingCommand,
    GetFunctionConcurrencyCommand,
    LambdaClient,
    PutFunctionConcurrencyCommand,
    UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import { ConfigurationError, ControllerError } from "../../contracts/errors";
import { ownFunctionName, resolveOwnMappingUuid } from "../eventSourceMappings";
import { createLogger, LineWriter, Logger } from "../log";
import { Metrics } from "../metrics";
import { ControlPlaneBudgetPort } from "./budget";
import { CONTROLLER_METRICS } from "./metrics";
import { ControlledTarget, TARGET_RANGES } from "./targets";

/** Concurrent executions AWS requires to stay unreserved in every account and Region. */
export const MIN_UNRESERVED_CONCURRENCY = 100;

const RETRYABLE_ERRORS = ["TooManyRequestsException", "ResourceConflictException", "ResourceInUseException"];

/** Options of {@link ConcurrencyActuator}. */
export interface ActuatorOptions {
    /**
     * Lambda client. Its own retries come on top of the actuator's; `maxAttempts: 1` leaves them to the actuator.
     * @default new LambdaClient({ maxAttempts: 1 })
     * @example new LambdaClient({ region: "eu-west-1", maxAttempts: 1 })
     */
    client?: LambdaClient;
    /**
     * Attempts per API call when throttled or conflicting.
     * @default 5
     * @example 8
     */
    maxAttempts?: number;
    /**
     * First backoff delay in milliseconds; it doubles per attempt, with ±50 % jitter.
     * @default 500
     * @example 1000
     */
    baseDelayMs?: number;
    /**
     * How waiting is done (tests pass one that records and returns at once).
     * @default setTimeout
     * @example async () => undefined
     */
    sleep?: (ms: number) => Promise<void>;
    /**
     * Uniform random numbers in [0, 1) for the jitter.
     * @default Math.random
     * @example () => 0.5
     */
    random?: () => number;
    /**
     * The account's shared control-plane budget: a token is taken before every call.
     * @default none: calls are serialised per process only
     * @example new DynamoDbControlPlaneBudget({ client, tableName: "control-plane-budget" })
     */
    budget?: ControlPlaneBudgetPort;
    /**
     * Where the floor-refusal log line and metric go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/** A limit outside the range AWS accepts for its target kind. */
export class LimitOutOfRangeError extends ControllerError {
    override name = "LimitOutOfRangeError";
}

/** What the control loop needs from an actuator; {@link ConcurrencyActuator} is the Lambda one. */
export interface ConcurrencyActuatorPort {
    /** The target's current setting (`undefined`: none). */
    read(target: ControlledTarget): Promise<number | undefined>;
    /** Sets the target to `limit` (within the account's guard); `alreadyRead` skips a read. */
    apply(target: ControlledTarget, limit: number, alreadyRead?: { current: number | undefined }): Promise<ApplyResult>;
}

/** What {@link ConcurrencyActuator.apply} did. */
export interface ApplyResult {
    /** The setting before, `undefined` when the function had no reserved concurrency. */
    previous: number | undefined;
    /** The setting afterwards. */
    applied: number | undefined;
    /** Whether an update call was sent. */
    changed: boolean;
    /** Set when the unreserved-100 guard lowered or refused a raise of reserved concurrency. */
    limitedBy?: "unreserved-concurrency";
    /** Set when AWS refused a raise for the unreserved floor (another process raced the guard). */
    refusedByAws?: boolean;
}

/** A target with its function name or mapping UUID filled in. */
type ResolvedTarget =
    | { kind: "ReservedConcurrency"; functionName: string }
    | { kind: "SqsMaximumConcurrency" | "KinesisParallelizationFactor"; uuid: string };

/** The process-wide queue every control-plane call goes through. */
let controlPlaneQueue: Promise<unknown> = Promise.resolve();

function serialised<T>(call: () => Promise<T>): Promise<T> {
    const run = controlPlaneQueue.then(call, call);
    controlPlaneQueue = run.catch(() => undefined);
    return run;
}

/** The process-wide lock around the unreserved guard's read–check–write (one account per process). */
let reservationLock: Promise<unknown> = Promise.resolve();

function underReservationLock<T>(section: () => Promise<T>): Promise<T> {
    const run = reservationLock.then(section, section);
    reservationLock = run.catch(() => undefined);
    return run;
}

/** AWS's refusal of a reservation that would leave less than 100 unreserved. */
function isFloorRefusal(error: unknown): boolean {
    const { name, message } = (error ?? {}) as { name?: string; message?: string };
    return name === "InvalidParameterValueException" && /UnreservedConcurrentExecution/i.test(message ?? "");
}

/**
 * Reads and changes the concurrency setting of a {@link ControlledTarget}.
 * @example
 * const actuator = new ConcurrencyActuator();
 * await actuator.apply({ kind: "SqsMaximumConcurrency", uuid }, 40);
 */
export class ConcurrencyActuator implements ConcurrencyActuatorPort {
    private readonly client: LambdaClient;
    private readonly budget: ControlPlaneBudgetPort | undefined;
    private readonly log: Logger;
    private readonly write: LineWriter | undefined;
    private readonly maxAttempts: number;
    private readonly baseDelayMs: number;
    private readonly sleep: (ms: number) => Promise<void>;
    private readonly random: () => number;

    /** @param options see {@link ActuatorOptions} */
    constructor(options: ActuatorOptions = {}) {
        this.client = options.client ?? new LambdaClient({ maxAttempts: 1 });
        this.maxAttempts = options.maxAttempts ?? 5;
        this.baseDelayMs = options.baseDelayMs ?? 500;
        this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
        this.random = options.random ?? Math.random;
        this.budget = options.budget;
        this.write = options.write;
        this.log = createLogger({ fields: { component: "concurrency-actuator" }, write: options.write });
    }

    /**
     * The target's current setting; `undefined` for a function without reserved concurrency (or an SQS
     * mapping without a maximum).
     * @param target the controlled setting
     * @example await actuator.read({ kind: "ReservedConcurrency", functionName: "orders" }) // 40
     */
    async read(target: ControlledTarget): Promise<number | undefined> {
        return this.readResolved(await this.resolve(target));
    }

    /**
     * Sets the target to `limit` unless it already has it. Reserved concurrency is raised only as far as
     * keeps at least 100 executions unreserved in the account.
     * @param target the controlled setting
     * @param limit an integer in the kind's range ({@link TARGET_RANGES}); otherwise a {@link LimitOutOfRangeError}
     * @param alreadyRead the setting as the caller read it moments ago (`current` undefined = none), to skip a second read
     * @example await actuator.apply({ kind: "ReservedConcurrency", functionName: "orders" }, 60)
     */
    async apply(target: ControlledTarget, limit: number, alreadyRead?: { current: number | undefined }): Promise<ApplyResult> {
        const range = TARGET_RANGES[target.kind];
        if (!Number.isInteger(limit) || limit < range.min || limit > range.max) {
            throw new LimitOutOfRangeError(`${target.kind} must be an integer from ${range.min} to ${range.max}; received ${limit}.`);
        }
        const resolved = await this.resolve(target);
        // The control loop has just read the setting; reading it again would spend the shared 15 requests/s.
        const previous = alreadyRead ? alreadyRead.current : await this.readResolved(resolved);
        if (previous === limit) return { previous, applied: previous, changed: false };
        if (resolved.kind === "ReservedConcurrency") return this.applyReserved(resolved.functionName, previous, limit);
        await this.call(() => this.client.send(new UpdateEventSourceMappingCommand(mappingUpdate(resolved.kind, resolved.uuid, limit))));
        return { previous, applied: limit, changed: true };
    }

    /** Fills in what the target omitted: the running function's name, or its mapping's UUID. */
    private async resolve(target: ControlledTarget): Promise<ResolvedTarget> {
        if (target.kind === "ReservedConcurrency") return { kind: target.kind, functionName: target.functionName ?? ownFunctionName() };
        if (target.uuid) return { kind: target.kind, uuid: target.uuid };
        const eventSourceArn = target.eventSourceArn;
        if (!eventSourceArn) throw new ConfigurationError(`A ${target.kind} target needs eventSourceArn or uuid.`);
        return { kind: target.kind, uuid: await this.call(() => resolveOwnMappingUuid({ lambda: this.client, eventSourceArn })) };
    }

    private async readResolved(target: ResolvedTarget): Promise<number | undefined> {
        if (target.kind === "ReservedConcurrency") {
            const output = await this.call(() => this.client.send(new GetFunctionConcurrencyCommand({ FunctionName: target.functionName })));
            return output.ReservedConcurrentExecutions;
        }
        const mapping = await this.call(() => this.client.send(new GetEventSourceMappingCommand({ UUID: target.uuid })));
        return target.kind === "SqsMaximumConcurrency" ? mapping.ScalingConfig?.MaximumConcurrency : mapping.ParallelizationFactor;
    }

    private async applyReserved(functionName: string, previous: number | undefined, limit: number): Promise<ApplyResult> {
        const reserved = previous ?? 0;
        if (limit <= reserved) {
            await this.putReservation(functionName, limit);
            return { previous, applied: limit, changed: true };
        }
        return underReservationLock(() => this.raiseReserved(functionName, previous, limit));
    }

    /** A raise: read the account, cap the raise to keep 100 unreserved, write; a refusal by AWS re-reads once. */
    private async raiseReserved(functionName: string, previous: number | undefined, limit: number): Promise<ApplyResult> {
        const reserved = previous ?? 0;
        const allowed = Math.max(reserved, Math.min(limit, await this.highestReservation(reserved)));
        const limitedBy = allowed < limit ? ("unreserved-concurrency" as const) : undefined;
        if (allowed === reserved) return { previous, applied: previous, changed: false, limitedBy };
        try {
            await this.putReservation(functionName, allowed);
            return { previous, applied: allowed, changed: true, limitedBy };
        } catch (error) {
            if (!isFloorRefusal(error)) throw error;
            return this.afterFloorRefusal(functionName, previous, allowed, error);
        }
    }

    /** AWS refused `attempted`: apply what the account allows now, or hold. */
    private async afterFloorRefusal(functionName: string, previous: number | undefined, attempted: number, refusal: unknown): Promise<ApplyResult> {
        const reserved = previous ?? 0;
        const allowed = Math.max(reserved, Math.min(attempted - 1, await this.highestReservation(reserved)));
        let applied = previous;
        if (allowed > reserved) {
            try {
                await this.putReservation(functionName, allowed);
                applied = allowed;
            } catch (error) {
                if (!isFloorRefusal(error)) throw error;
            }
        }
        this.reportFloorRefusal(functionName, previous, attempted, applied, refusal);
        return { previous, applied, changed: applied !== previous, limitedBy: "unreserved-concurrency", refusedByAws: true };
    }

    private reportFloorRefusal(functionName: string, previous: number | undefined, attempted: number, applied: number | undefined, refusal: unknown): void {
        this.log.warn("AWS refused a reserved-concurrency raise: the account would fall under 100 unreserved executions", {
            functionName,
            previous,
            attempted,
            applied,
            held: applied === previous,
            error: refusal,
        });
        const metrics = new Metrics({ write: this.write });
        metrics.add(CONTROLLER_METRICS.UnreservedFloorRefusals, "Count", 1);
        metrics.flush();
    }

    private async putReservation(functionName: string, value: number): Promise<void> {
        await this.call(() => this.client.send(new PutFunctionConcurrencyCommand({ FunctionName: functionName, ReservedConcurrentExecutions: value })));
    }

    /** The most this function may reserve while 100 executions stay unreserved in the account. */
    private async highestReservation(reserved: number): Promise<number> {
        const settings = await this.call(() => this.client.send(new GetAccountSettingsCommand({})));
        const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions ?? 0;
        return reserved + unreserved - MIN_UNRESERVED_CONCURRENCY;
    }

    /** Runs one API call in the process-wide queue, retrying throttles and conflicts with backoff. */
    private call<T>(send: () => Promise<T>): Promise<T> {
        return serialised(async () => {
            for (let attempt = 1; ; attempt++) {
                try {
                    await this.budget?.take();
                    return await send();
                } catch (error) {
                    if (!isRetryable(error) || attempt >= this.maxAttempts) throw error;
                    await this.sleep(this.backoffMs(attempt, error));
                }
            }
        });
    }

    private backoffMs(attempt: number, error: unknown): number {
        const retryAfterSeconds = Number((error as { retryAfterSeconds?: string }).retryAfterSeconds);
        if (retryAfterSeconds > 0) return Math.min(retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
        return this.baseDelayMs * 2 ** (attempt - 1) * (0.5 + this.random());
    }
}

/** A `Retry-After` longer than this is cut: the caller would rather fail this interval than wait. */
const MAX_RETRY_AFTER_MS = 5_000;

function isRetryable(error: unknown): boolean {
    return RETRYABLE_ERRORS.includes((error as { name?: string } | null)?.name ?? "");
}

function mappingUpdate(kind: "SqsMaximumConcurrency" | "KinesisParallelizationFactor", uuid: string, limit: number) {
    return kind === "SqsMaximumConcurrency" ? { UUID: uuid, ScalingConfig: { MaximumConcurrency: limit } } : { UUID: uuid, ParallelizationFactor: limit };
}
