/** Payload hashing for the idempotency payload check. */
import { createHash } from "node:crypto";
import { UnhashablePayloadError } from "./errors";

/** How deep a payload may nest before {@link UnhashablePayloadError}; far beyond real events, far below the stack limit. */
export const MAX_PAYLOAD_DEPTH = 1000;

/**
 * Canonical JSON: JSON semantics (`toJSON`, `undefined` properties dropped) with object keys sorted
 * at every depth, so equal payloads give equal text whatever their key order. `undefined` gives "null".
 * @throws UnhashablePayloadError nested deeper than {@link MAX_PAYLOAD_DEPTH} levels (checked without
 *   recursion, so a hostile payload cannot overflow the stack), circular, or not representable as JSON
 * @example canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }) // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
    if (nestsDeeperThan(value, MAX_PAYLOAD_DEPTH)) {
        throw new UnhashablePayloadError(`it nests deeper than ${MAX_PAYLOAD_DEPTH} levels (or is circular)`);
    }
    let plain: unknown;
    try {
        plain = JSON.parse(JSON.stringify(value) ?? "null");
    } catch (error) {
        throw new UnhashablePayloadError(`it cannot be serialised as JSON (${(error as Error).message})`);
    }
    return JSON.stringify(sortKeys(plain));
}

/**
 * SHA-256 (hex) of the payload's {@link canonicalJson}.
 * @throws UnhashablePayloadError see {@link canonicalJson}
 * @example payloadHash(event) // "9f86d081884c7d65…"
 */
export function payloadHash(payload: unknown): string {
    return createHash("sha256").update(canonicalJson(payload)).digest("hex");
}

/**
 * Whether `value` has objects or arrays nested more than `limit` levels deep; iterative, stops at
 * the first node past the limit (a cycle counts as infinitely deep).
 * @example nestsDeeperThan({ a: { b: {} } }, 2) // true
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
    const pending: [unknown, number][] = [[value, 1]];
    while (pending.length > 0) {
        const [node, depth] = pending.pop()!;
        if (node === null || typeof node !== "object") continue;
        if (depth > limit) return true;
        for (const child of Object.values(node)) pending.push([child, depth + 1]);
    }
    return false;
}

function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value === null || typeof value !== "object") return value;
    const object = value as Record<string, unknown>;
    return Object.fromEntries(
        Object.keys(object)
            .sort()
            .map((key) => [key, sortKeys(object[key])]),
    );
}
