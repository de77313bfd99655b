/** In-memory LRU of completed idempotency records, per execution environment. */
import type { ResultNotStoredReason } from "./persistence";

/** A completed record as kept in memory. */
export interface CachedCompletion {
    /** Payload hash of the completed claim. */
    payloadHash: string;
    /** Stored result JSON (`undefined` for a function that returned nothing, or a result not stored). */
    result?: string;
    /** Why the completed record carries no result, when it does not. */
    resultNotStored?: ResultNotStoredReason;
    /** Epoch seconds after which the entry is ignored (same as the item's TTL). */
    expiresAt: number;
}

/**
 * Least-recently-used map with a fixed capacity; capacity 0 keeps nothing.
 * @example const cache = new CompletedCache(1000);
 */
export class CompletedCache {
    private readonly entries = new Map<string, CachedCompletion>();

    /** @param capacity maximum number of entries (0 disables the cache) */
    constructor(private readonly capacity: number) {}

    /** Whether entries are kept at all (capacity above 0). */
    get enabled(): boolean {
        return this.capacity > 0;
    }

    /** The live entry for `key` at `nowSeconds`, refreshed as most recently used; expired entries are dropped. */
    get(key: string, nowSeconds: number): CachedCompletion | undefined {
        const entry = this.entries.get(key);
        this.entries.delete(key);
        if (!entry || entry.expiresAt <= nowSeconds) return undefined;
        this.entries.set(key, entry);
        return entry;
    }

    /** Stores `entry`, evicting the least recently used one when full. */
    set(key: string, entry: CachedCompletion): void {
        if (!this.enabled) return;
        this.entries.delete(key);
        this.entries.set(key, entry);
        if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
}
