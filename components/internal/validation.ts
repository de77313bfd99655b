/**
 * Argument validation shared by every component. Pure: each check returns a message (or nothing), and
 * `Validator` collects them so one construction error lists every bad argument at once.
 *
 * Messages follow one shape so users can grep for them:
 * `EventBridgeWorkerPool "orders": reservedConcurrency must be an integer from 1 to 900; received 0.`
 */
import * as pulumi from "@pulumi/pulumi";

/** A range check only runs on plain values: an Output is checked by AWS at deploy time. */
function isPlain<T>(value: pulumi.Input<T> | undefined): value is T {
    return value !== undefined && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

export class Validator {
    private readonly problems: string[] = [];

    /** @param component `ClassName "resourceName"`, the prefix of every message. */
    constructor(private readonly component: string) {}

    /** Integer in [min, max] when given as a plain value. */
    integer(arg: string, value: pulumi.Input<number> | undefined, min: number, max: number): this {
        if (isPlain(value) && !(Number.isInteger(value) && value >= min && value <= max)) {
            this.fail(`${arg} must be an integer from ${min} to ${max}; received ${format(value)}.`);
        }
        return this;
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

    /** All collected messages, one per line, each prefixed with the component. */
    messages(): string[] {
        return this.problems.map((p) => `${this.component}: ${p}`);
    }

    /** Throws one error listing every problem, if there is any. */
    throwIfInvalid(resource?: pulumi.Resource): void {
        if (this.problems.length === 0) return;
        const message = this.messages().join("\n");
        throw resource ? new pulumi.ResourceError(message, resource) : new Error(message);
    }

    private fail(message: string): void {
        this.problems.push(message);
    }
}

/** `ClassName "name"`: how messages name a component instance. */
export function componentLabel(className: string, name: string): string {
    return `${className} "${name}"`;
}

/** Plain value of an Input if it is known now (not an Output/Promise). */
export function plainValue<T>(value: pulumi.Input<T> | undefined): T | undefined {
    return isPlain(value) ? value : undefined;
}

function format(value: unknown): string {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
}
