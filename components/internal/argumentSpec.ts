/**
 * Argument contracts: a declarative description of every argument a component takes (its kind, whether
 * it is required, whether it may be a `pulumi.Input` known only at deploy time, its nested fields) and
 * one checker that walks the arguments against it. Pure: no resources, no I/O.
 *
 * The checker catches what TypeScript catches for TypeScript users and nothing catches for JavaScript,
 * YAML and other-language users: unknown keys (with the nearest known name), missing required keys at
 * every level, values of the wrong type, and Outputs where only a value known now works. Ranges and
 * cross-argument rules stay with each component's `Validator` (validation.ts).
 *
 * Adding an argument is one line in the component's spec (argumentSpecs.ts); a test compares every spec
 * with the multi-language schema inferred from the Args interfaces, so a missing line fails it.
 */
import * as pulumi from "@pulumi/pulumi";
import { configurationError, isDeferred } from "./validation";

/** What a value must be: JSON-like kinds, as the multi-language schema names them. */
export type ArgumentKind = "number" | "string" | "boolean" | "object" | "map" | "list" | "any";

/** The contract of one argument. Build it with the helpers below rather than by hand. */
export interface ArgumentRule {
    /** What the value must be. */
    readonly kind: ArgumentKind;
    /**
     * The argument must be given.
     * @default false
     */
    readonly required?: boolean;
    /**
     * The value may be a `pulumi.Input` (an Output or a Promise): checked when it resolves.
     * @default false (it must be known when the program runs)
     */
    readonly input?: boolean;
    /** The fields of an `object`. */
    readonly fields?: ArgumentFields;
    /** The rule of every item of a `list` or every value of a `map`. */
    readonly items?: ArgumentRule;
    /**
     * What the value must be, in words, for messages.
     * @default the kind ("a number", "an object", …)
     * @example 'a non-empty object such as { source: ["shop.orders"] }'
     */
    readonly expected?: string;
    /**
     * What a missing required argument is, for the message "`x` is required: <hint>."
     * @default none ("x is required.", or "x must be <expected>; received undefined." with `expected`)
     */
    readonly requiredHint?: string;
}

/** Argument name → its rule: the keys of one level. */
export type ArgumentFields = Readonly<Record<string, ArgumentRule>>;

/** The contract of one component's arguments. */
export interface ArgumentSpec {
    /**
     * The component's class name, as messages name it.
     * @example "EventBridgeWorkerPool"
     */
    readonly component: string;
    /** The top-level arguments. */
    readonly fields: ArgumentFields;
}

/** A number. @example numeric() */
export function numeric(): ArgumentRule {
    return { kind: "number" };
}

/** A string (enums too: their values are checked by the component's validator). @example text() */
export function text(): ArgumentRule {
    return { kind: "string" };
}

/** A boolean. @example flag() */
export function flag(): ArgumentRule {
    return { kind: "boolean" };
}

/** Anything JSON-like (an event pattern's or a definition's values). @example anyValue() */
export function anyValue(): ArgumentRule {
    return { kind: "any" };
}

/** A free-form object whose values follow `values`. @example map(text()) */
export function map(values: ArgumentRule): ArgumentRule {
    return { kind: "map", items: values };
}

/** An array whose items follow `items`. @example list(input(text())) */
export function list(items: ArgumentRule): ArgumentRule {
    return { kind: "list", items };
}

/** An object with exactly these fields. @example object({ subnetIds: required(list(text())) }) */
export function object(fields: ArgumentFields): ArgumentRule {
    return { kind: "object", fields };
}

/** The same rule, required; `hint` says what the argument is when it is missing. @example required(numeric(), "the pool size, 1–1000000") */
export function required(rule: ArgumentRule, hint?: string): ArgumentRule {
    return { ...rule, required: true, requiredHint: hint };
}

/** The same rule, with what the value must be in words (for messages). @example expecting(map(anyValue()), "an object with StartAt and States") */
export function expecting(rule: ArgumentRule, expected: string): ArgumentRule {
    return { ...rule, expected };
}

/** The same rule, also accepting a `pulumi.Input` known only at deploy time. @example input(text()) */
export function input(rule: ArgumentRule): ArgumentRule {
    return { ...rule, input: true };
}

/**
 * Every problem of `args` against `spec`, one message per problem, paths in dotted form
 * (`circuitBreaker.errorThreshold`, `function.policyStatements[0].actions`).
 * @example argumentProblems(spec, { reservedConcurency: 5 }) // ["`reservedConcurency` is not an argument of …"]
 */
export function argumentProblems(spec: ArgumentSpec, args: unknown): string[] {
    if (!isPlainObject(args)) return [`the arguments must be an object; received ${describeValue(args)}.`];
    return fieldProblems(spec.component, "", spec.fields, args);
}

/**
 * Throws one `ConfigurationError` listing every problem of `args`, each prefixed with
 * `ClassName "name"`, or returns when there is none.
 * @example checkArguments(EVENTBRIDGE_WORKER_POOL_ARGUMENTS, "orders", args)
 */
export function checkArguments(spec: ArgumentSpec, name: string, args: unknown): void {
    const problems = argumentProblems(spec, args);
    if (problems.length > 0) throw configurationError(problems.map((problem) => `${spec.component} "${name}": ${problem}`).join("\n"));
}

/**
 * The known name nearest to `unknown` (case-insensitive edit distance with transpositions), when it is
 * close enough to be a typo: at most 2 edits, or a third of the name's length for long names.
 * @example nearestName("maxRecieveCount", ["maxReceiveCount", "batchSize"]) // "maxReceiveCount"
 */
export function nearestName(unknown: string, known: readonly string[]): string | undefined {
    const allowed = Math.max(2, Math.floor(unknown.length / 3));
    let best: { name: string; distance: number } | undefined;
    for (const name of known) {
        const distance = editDistance(unknown.toLowerCase(), name.toLowerCase());
        if (distance <= allowed && (best === undefined || distance < best.distance)) best = { name, distance };
    }
    return best?.name;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
    const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
        }
    }
    return rows[a.length][b.length];
}

function fieldProblems(component: string, prefix: string, fields: ArgumentFields, value: Record<string, unknown>): string[] {
    const known = Object.keys(fields);
    const unknownKeys = Object.keys(value).filter((key) => !Object.prototype.hasOwnProperty.call(fields, key));
    const unknown = unknownKeys.map((key) => unknownKeyMessage(component, prefix, key, nearestName(key, known), known));
    const checked = known.flatMap((key) => {
        const rule = fields[key];
        const given = value[key];
        if (given === undefined) return rule.required ? [missingMessage(`${prefix}${key}`, rule)] : [];
        return valueProblems(component, `${prefix}${key}`, rule, given);
    });
    return [...unknown, ...checked];
}

function unknownKeyMessage(component: string, prefix: string, key: string, nearest: string | undefined, known: readonly string[]): string {
    const where = prefix === "" ? component : `\`${prefix.slice(0, -1)}\` of ${component}`;
    const hint = nearest !== undefined ? `did you mean \`${prefix}${nearest}\`?` : `known: ${known.map((name) => `\`${name}\``).join(", ")}.`;
    return `\`${prefix}${key}\` is not an argument of ${where}; ${hint}`;
}

function missingMessage(path: string, rule: ArgumentRule): string {
    if (rule.requiredHint !== undefined) return `${path} is required: ${rule.requiredHint}.`;
    return rule.expected !== undefined ? `${path} must be ${rule.expected}; received undefined.` : `${path} is required.`;
}

function valueProblems(component: string, path: string, rule: ArgumentRule, value: unknown): string[] {
    if (isDeferred(value)) {
        return rule.input ? [] : [`${path} must be known when the program runs (${expectedOf(rule)}), not an Output or a Promise: this argument takes no value from another resource or stack.`];
    }
    if (!hasKind(rule.kind, value)) return [`${path} must be ${expectedOf(rule)}; received ${describeValue(value)}.`];
    switch (rule.kind) {
        case "object":
            return fieldProblems(component, `${path}.`, rule.fields ?? {}, value as Record<string, unknown>);
        case "list":
            return (value as unknown[]).flatMap((item, i) => valueProblems(component, `${path}[${i}]`, rule.items ?? anyValue(), item));
        case "map":
            return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
                item === undefined ? [] : valueProblems(component, `${path}.${key}`, rule.items ?? anyValue(), item),
            );
        default:
            return [];
    }
}

function hasKind(kind: ArgumentKind, value: unknown): boolean {
    switch (kind) {
        case "number":
            return typeof value === "number" && Number.isFinite(value);
        case "string":
            return typeof value === "string";
        case "boolean":
            return typeof value === "boolean";
        case "list":
            return Array.isArray(value);
        case "object":
        case "map":
            return isPlainObject(value);
        case "any":
            return true;
    }
}

function expectedOf(rule: ArgumentRule): string {
    return rule.expected ?? article(rule.kind);
}

function article(kind: ArgumentKind): string {
    const words: Record<ArgumentKind, string> = {
        number: "a number",
        string: "a string",
        boolean: "true or false",
        object: "an object",
        map: "an object",
        list: "an array",
        any: "a value",
    };
    return words[kind];
}

/** How a received value is shown: as JSON, cut short (a string keeps its quotes, so "5" reads as text). */
function describeValue(value: unknown): string {
    if (typeof value === "function") return "a function";
    if (typeof value === "number" || value === null) return String(value);
    const shown = JSON.stringify(value) ?? String(value);
    return shown.length > 80 ? `${shown.slice(0, 80)}…` : shown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) && !isDeferred(value) && !pulumi.Resource.isInstance(value);
}
