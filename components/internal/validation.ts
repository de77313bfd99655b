/**
 * Argument validation shared by every component. Pure: each check returns a message (or nothing), and
 * `Validator` collects them so one construction error lists every bad argument at once.
 *
 * A value known only at deploy time (an Output, e.g. from a StackReference) is checked when it resolves,
 * with the same message: `throwIfInvalid` throws for what is known now and fails the deployment, inside
 * `apply`, for what resolves wrong later.
 *
 * Messages follow one shape so users can grep for them:
 * `EventBridgeWorkerPool "orders": reservedConcurrency must be an integer from 1 to 1000000; received 0.`
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigurationError } from "../../contracts/errors";
import { ComponentArgumentError } from "./argumentErrors";

/** A value known now: not undefined, not an Output or a Promise. */
function isPlain<T>(value: pulumi.Input<T> | undefined): value is T {
    return value !== undefined && !isDeferred(value);
}

/** An Output or a Promise: a value not known at construction. */
export function isDeferred(value: unknown): boolean {
    return pulumi.Output.isInstance(value) || value instanceof Promise;
}

/** What the plan, the budget and messages say for a number not known before the deployment. */
export const UNKNOWN_UNTIL_DEPLOY = "unknown until deploy";

export class Validator {
    private readonly problems: string[] = [];
    /** Checks of values known only at deploy time: each resolves to its message, or undefined. */
    private readonly deferred: Array<pulumi.Output<string | undefined>> = [];

    /** @param component `ClassName "resourceName"`, the prefix of every message. */
    constructor(private readonly component: string) {}

    /**
     * Integer in [min, max]; `reason` says why the range is what it is. An Output is checked when it resolves.
     * @example validator.integer("limit", args.limit, 1, 10000, "every sweep reads each shard item of four permits")
     */
    integer(arg: string, value: pulumi.Input<number> | undefined, min: number, max: number, reason?: string): this {
        return this.check(value, (known) =>
            Number.isInteger(known) && known >= min && known <= max ? undefined : `${arg} must be an integer from ${min} to ${max}${reason ? ` (${reason})` : ""}; received ${format(known)}.`,
        );
    }

    /** Number in (exclusiveMin, max] when given as a plain value. */
    fraction(arg: string, value: pulumi.Input<number> | undefined, exclusiveMin: number, max: number): this {
        if (isPlain(value) && !(typeof value === "number" && value > exclusiveMin && value <= max)) {
            this.fail(`${arg} must be a number greater than ${exclusiveMin} and at most ${max}; received ${format(value)}.`);
        }
        return this;
    }

    /** One of the allowed values when given as a plain value. */
    oneOf<T extends string>(arg: string, value: pulumi.Input<T> | undefined, allowed: readonly T[]): this {
        if (isPlain(value) && !allowed.includes(value)) {
            this.fail(`${arg} must be one of ${allowed.join(", ")}; received ${format(value)}.`);
        }
        return this;
    }

    /** A plain-value string matching `pattern`; `expected` says in words what is allowed. */
    matches(arg: string, value: pulumi.Input<string> | undefined, pattern: RegExp, expected: string): this {
        if (isPlain(value) && !(typeof value === "string" && pattern.test(value))) {
            this.fail(`${arg} must be ${expected}; received ${format(value)}.`);
        }
        return this;
    }

    /** An EventBridge event pattern: a non-empty plain object (checked only when known now). */
    eventPattern(arg: string, value: pulumi.Input<{ [key: string]: unknown }> | undefined): this {
        const pattern = plainValue(value);
        const broken = value === undefined || (pattern !== undefined && (typeof pattern !== "object" || pattern === null || Array.isArray(pattern) || Object.keys(pattern).length === 0));
        return this.rule(broken, `${arg} must be a non-empty object such as { source: ["shop.orders"] }; received ${JSON.stringify(pattern)}.`);
    }

    /** A free-form rule: adds `message` when `broken` is true. */
    rule(broken: boolean, message: string): this {
        if (broken) this.fail(message);
        return this;
    }

    /** All collected messages of values known now, one per line, each prefixed with the component. */
    messages(): string[] {
        return this.problems.map((p) => `${this.component}: ${p}`);
    }

    /** The messages of values known only at deploy time, prefixed like {@link messages}, once they resolve. */
    deferredMessages(): pulumi.Output<string[]> {
        return pulumi.all(this.deferred).apply((found) => found.filter((m): m is string => m !== undefined).map((p) => `${this.component}: ${p}`));
    }

    /**
     * Throws one error listing every problem known now, if there is any; problems of values known only at
     * deploy time fail the deployment with a {@link ConfigurationError} when they resolve.
     */
    throwIfInvalid(resource?: pulumi.Resource): void {
        if (this.problems.length > 0) {
            const message = this.messages().join("\n");
            throw resource ? new ComponentArgumentError(message, resource) : configurationError(message);
        }
        if (this.deferred.length === 0) return;
        this.deferredMessages().apply((messages) => {
            if (messages.length > 0) failDeployment(configurationError(messages.join("\n")));
        });
    }

    /**
     * A free-form rule on a value that may be known only at deploy time: `problem` runs on it now, or when
     * it resolves, and returns the message or undefined.
     * @example validator.check(args.reservedConcurrency, (size) => (size < 2 ? "reservedConcurrency must be at least 2." : undefined))
     */
    check<T>(value: pulumi.Input<T> | undefined, problem: (known: T) => string | undefined): this {
        if (isPlain(value)) {
            const message = problem(value);
            if (message !== undefined) this.fail(message);
        } else if (value !== undefined) {
            this.deferred.push(pulumi.output(value).apply((known) => (known === undefined ? undefined : problem(known as T))));
        }
        return this;
    }

    private fail(message: string): void {
        this.problems.push(message);
    }
}

/** `ClassName "name"`: how messages name a component instance. */
export function componentLabel(className: string, name: string): string {
    return `${className} "${name}"`;
}

/**
 * A {@link ConfigurationError} that `pulumi up` reports as its message alone, without a stack trace, as it
 * does a `pulumi.RunError`: the SDK recognises run errors by this brand (`pulumi.RunError.isInstance`).
 * @example throw configurationError('EventBridgeWorkerPool "orders": reservedConcurrency is required.')
 */
export function configurationError(message: string): ConfigurationError {
    return Object.assign(new ConfigurationError(message), { __pulumiRunError: true });
}

/**
 * Fails the running Pulumi program with `error` from inside an `apply`: as one unhandled rejection, which
 * the engine reports as the update's error. (Throwing inside `apply` would report it once per promise
 * the Output keeps.)
 */
export function failDeployment(error: Error): void {
    void Promise.reject(error);
}

/** Plain value of an Input if it is known now (not an Output/Promise). */
export function plainValue<T>(value: pulumi.Input<T> | undefined): T | undefined {
    return isPlain(value) ? value : undefined;
}

/**
 * `derive(value)` now when the value is known, else an Output of it: a figure computed from a number
 * that may come from another stack stays a plain number whenever it can.
 * @example deriveInput(args.reservedConcurrency, (size) => Math.max(size, adaptiveMax))
 */
export function deriveInput<T, R>(value: pulumi.Input<T>, derive: (known: T) => R): R | pulumi.Output<R> {
    return isPlain(value) ? derive(value) : pulumi.output(value).apply((known) => derive(known as T));
}

function format(value: unknown): string {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
}
