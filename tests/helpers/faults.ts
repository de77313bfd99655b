/**
 * Fault injection for any AWS SDK v3 client (a real one pointed at dynalite or kinesalite, or one whose
 * `send` aws-sdk-client-mock replaced): by rule, a command
 * - `before`: fails before it reaches the service (nothing applied), as a connection reset would;
 * - `after`: is applied, then its response is lost; by default the SDK retries the same command and the
 *   caller gets the retry's outcome (`then: "retry"`), or the caller gets the error (`then: "throw"`,
 *   retries exhausted);
 * - `throttle`: is refused with a throttling error (nothing applied);
 * - `delay`: is sent after `delayMs`.
 *
 * Usage (install after `mockClient(...)` for a mocked client):
 * ```ts
 * const faults = injectFaults(dynamo, [{ command: "PutItemCommand", fault: "after", times: 1 }]);
 * ... faults.injected // what happened, in order
 * faults.restore();
 * ```
 */

/** What a rule does to a matching command. */
export type FaultKind = "before" | "after" | "throttle" | "delay";

/** The service error names a throttle raises; default {@link THROTTLE_ERRORS.generic}. */
export const THROTTLE_ERRORS = {
    dynamodb: "ProvisionedThroughputExceededException",
    lambda: "TooManyRequestsException",
    generic: "ThrottlingException",
} as const;

/** One rule; the first matching rule with attempts left applies. */
export interface FaultRule {
    /** Command class name (`"PutItemCommand"`), a pattern, or a predicate on the command. */
    command: string | RegExp | ((command: SdkCommand) => boolean);
    /** What to do. */
    fault: FaultKind;
    /** How many matching calls it applies to. @default Infinity */
    times?: number;
    /** Probability that a matching call is hit. @default 1 */
    probability?: number;
    /** For `after`: whether the SDK retried the applied command (`retry`) or gave up (`throw`). @default "retry" */
    then?: "retry" | "throw";
    /** For `throttle`: the error name. @default THROTTLE_ERRORS.generic */
    errorName?: string;
    /** For `delay`: milliseconds. @default 100 */
    delayMs?: number;
}

/** A command as the SDK sees it: class name and input. */
export interface SdkCommand {
    readonly input: unknown;
    readonly constructor: { readonly name: string };
}

/** One injected fault. */
export interface InjectedFault {
    command: string;
    fault: FaultKind;
}

/** Handle returned by {@link injectFaults}. */
export interface FaultInjection {
    /** Every fault injected so far, in order. */
    readonly injected: InjectedFault[];
    /** Removes the injection; the client sends normally again. */
    restore(): void;
}

interface Sendable {
    send(command: never, ...rest: never[]): Promise<unknown>;
}

/** Options of {@link injectFaults}. */
export interface FaultOptions {
    /** Random source for `probability`, e.g. a seeded generator. @default Math.random */
    random?: () => number;
}

/**
 * Wraps `client.send` with the rules.
 * @example injectFaults(client, [{ command: /Item/, fault: "before", probability: 0.1 }], { random: seeded(1) })
 */
export function injectFaults(client: Sendable, rules: FaultRule[], options: FaultOptions = {}): FaultInjection {
    const random = options.random ?? Math.random;
    const remaining = rules.map((rule) => rule.times ?? Infinity);
    const injected: InjectedFault[] = [];
    const target = client as unknown as { send: (command: SdkCommand, ...rest: unknown[]) => Promise<unknown> };
    const hadOwnSend = Object.prototype.hasOwnProperty.call(target, "send");
    const original = target.send;
    const send = (command: SdkCommand, ...rest: unknown[]): Promise<unknown> => original.call(client, command, ...rest);

    target.send = async (command: SdkCommand, ...rest: unknown[]) => {
        const index = rules.findIndex((rule, i) => remaining[i] > 0 && matches(rule, command));
        if (index < 0) return send(command, ...rest);
        const rule = rules[index];
        if (rule.probability !== undefined && random() >= rule.probability) return send(command, ...rest);
        remaining[index] -= 1;
        const name = command.constructor.name;
        injected.push({ command: name, fault: rule.fault });
        switch (rule.fault) {
            case "before":
                throw sdkError("ECONNRESET", `injected: ${name} failed before it was sent`, 0, true);
            case "throttle":
                throw sdkError(rule.errorName ?? THROTTLE_ERRORS.generic, `injected: ${name} throttled`, 400, true);
            case "delay":
                await new Promise((resolve) => setTimeout(resolve, rule.delayMs ?? 100));
                return send(command, ...rest);
            case "after":
                await send(command, ...rest);
                if ((rule.then ?? "retry") === "throw") throw sdkError("InternalServerError", `injected: ${name} was applied but its response was lost`, 500, true);
                return send(command, ...rest);
        }
    };
    return {
        injected,
        restore() {
            if (hadOwnSend) target.send = original;
            else delete (target as { send?: unknown }).send;
        },
    };
}

function matches(rule: FaultRule, command: SdkCommand): boolean {
    if (typeof rule.command === "string") return command.constructor.name === rule.command;
    if (rule.command instanceof RegExp) return rule.command.test(command.constructor.name);
    return rule.command(command);
}

/** An error shaped like an SDK service exception (`name`, `$fault`, `$metadata.httpStatusCode`, `$retryable`). */
export function sdkError(name: string, message: string, httpStatusCode: number, retryable: boolean): Error {
    return Object.assign(new Error(message), {
        name,
        $fault: httpStatusCode >= 500 || httpStatusCode === 0 ? "server" : "client",
        $metadata: { httpStatusCode: httpStatusCode || undefined, attempts: 1 },
        ...(retryable ? { $retryable: { throttling: name.includes("Throttl") || name.includes("TooMany") || name.includes("Throughput") } } : {}),
    });
}

/**
 * A small deterministic random generator (mulberry32) for reproducible fault schedules.
 * @example injectFaults(client, rules, { random: seededRandom(42) })
 */
export function seededRandom(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
