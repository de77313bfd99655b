/**
 * Stack outputs as the Pulumi CLI shows them. A program's exports are resolved (Outputs awaited, deeply)
 * with secret values kept apart, so the offline plan can print them as `pulumi stack output --json`
 * does (secrets as "[secret]" unless `--show-secrets`) and answer a `StackReference` with the real
 * values and the names of the secret outputs.
 */
import * as pulumi from "@pulumi/pulumi";

/** A value that was `pulumi.secret(…)` (or came from one). */
export class SecretValue {
    constructor(readonly value: unknown) {}
}

/** Stack outputs with every Output resolved; secret values wrapped in {@link SecretValue}. */
export type ResolvedOutputs = Record<string, unknown>;

/** What `pulumi stack output --json` prints for a secret without `--show-secrets`. */
export const SECRET_PLACEHOLDER = "[secret]";

/** Resolves every Output in the exports (at any depth); undefined outputs are dropped, as the engine drops them. */
export async function revealOutputs(exports: Record<string, unknown>): Promise<ResolvedOutputs> {
    const entries = await Promise.all(Object.entries(exports).map(async ([name, value]) => [name, await resolveValue(value)] as const));
    return Object.fromEntries(entries.filter(([, value]) => value !== undefined));
}

async function resolveValue(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const output = value as pulumi.Output<unknown> & { isSecret: Promise<boolean> };
        const [resolved, secret] = await Promise.all([new Promise((resolve) => output.apply(resolve)), output.isSecret]);
        const inner = await resolveValue(resolved);
        return secret && inner !== undefined ? new SecretValue(inner) : inner;
    }
    if (value instanceof Promise) return resolveValue(await value);
    if (Array.isArray(value)) return Promise.all(value.map(resolveValue));
    if (value !== null && typeof value === "object" && !(value instanceof SecretValue)) {
        return revealOutputs(value as Record<string, unknown>);
    }
    return value;
}

/** The plain value: secrets shown (`showSecrets`) or replaced by "[secret]". */
export function plainOutputs(value: unknown, showSecrets: boolean): unknown {
    if (value instanceof SecretValue) return showSecrets ? plainOutputs(value.value, true) : SECRET_PLACEHOLDER;
    if (Array.isArray(value)) return value.map((item) => plainOutputs(item, showSecrets));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainOutputs(item, showSecrets)]));
    }
    return value;
}

/**
 * Exactly what `pulumi stack output --json [--show-secrets]` prints: the outputs as one JSON object,
 * keys sorted at every level (Go's encoding/json), two-space indent, a final newline.
 * @example stackOutputJson({ a: 1, b: new SecretValue("x") }, false) // '{\n  "a": 1,\n  "b": "[secret]"\n}\n'
 */
export function stackOutputJson(outputs: ResolvedOutputs, showSecrets: boolean): string {
    return `${JSON.stringify(sortKeys(plainOutputs(outputs, showSecrets)), null, 2)}\n`;
}

/** What a `StackReference` to the stack reads: the values and the top-level outputs that hold a secret. */
export function stackReferenceState(outputs: ResolvedOutputs): { outputs: Record<string, unknown>; secretOutputNames: string[] } {
    return {
        outputs: plainOutputs(outputs, true) as Record<string, unknown>,
        secretOutputNames: Object.keys(outputs).filter((name) => containsSecret(outputs[name])).sort(),
    };
}

function containsSecret(value: unknown): boolean {
    if (value instanceof SecretValue) return true;
    if (Array.isArray(value)) return value.some(containsSecret);
    if (value !== null && typeof value === "object") return Object.values(value).some(containsSecret);
    return false;
}

function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
    }
    return value;
}
