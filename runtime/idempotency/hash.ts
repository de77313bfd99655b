/** Payload hashing for the idempotency payload check. */
import { createHash } from "node:crypto";

/**
 * Canonical JSON: JSON semantics (`toJSON`, `undefined` properties dropped) with object keys sorted
 * at every depth, so equal payloads give equal text whatever their key order. `undefined` gives "null".
 * @example canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }) // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
    const plain: unknown = JSON.parse(JSON.stringify(value) ?? "null");
    return JSON.stringify(sortKeys(plain));
}

/**
 * SHA-256 (hex) of the payload's {@link canonicalJson}.
 * @example payloadHash(event) // "9f86d081884c7d65…"
 */
export function payloadHash(payload: unknown): string {
    return createHash("sha256").update(canonicalJson(payload)).digest("hex");
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
