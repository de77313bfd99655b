/**
 * The semaphore's pure decisions over its sharded layout (see {@link SemaphoreStore}): how many shard items
 * a limit needs and how many permits each carries, which shards may have room according to the room
 * hints, and what a release does. The I/O layer ({@link Semaphore}) turns a plan into one conditional
 * write and plans again from a fresh read when the condition fails, so a plan made from a stale read is
 * never applied.
 */

/** Permits per shard item: small enough that a shard item stays under 1 KB (one WCU per write). */
export const SHARD_CAPACITY = 4;

/** Shards whose room hints share one hint item (about 10 bytes each: the hint item stays under 1 KB). */
export const HINT_GROUP_SIZE = 64;

export { MAX_SEMAPHORE_LIMIT } from "../../contracts/semaphore";

/** One permit holder, stored on its shard item under the holder's id. */
export interface Holder {
    /** The Step Functions execution that holds the permit. */
    executionArn: string;
    /**
     * Random id of the current delivery of this grant. Undoing a grant whose token turned out dead is
     * conditioned on it, so a grant that was redelivered meanwhile (new id) is never undone.
     */
    grantId: string;
    /** When the permit was granted, epoch milliseconds. */
    grantedAt: number;
    /** After this instant (epoch ms) the sweeper may reclaim the permit if the execution is no longer running. */
    leaseUntil: number;
}

/** One shard item as read or written: its version (one more per write), its permits taken and its holders. */
export interface ShardState {
    /** Writes the shard has seen; orders the room hints. */
    version: number;
    /** Permits taken on this shard (equals the number of its holders). */
    count: number;
    /** Holders by id. */
    holders: Map<string, Holder>;
}

/** What the room hint of one shard says: the shard's `count` as of its `version`. */
export interface RoomHint {
    /** The shard version the hint was taken from. */
    version: number;
    /** Permits taken at that version. */
    count: number;
}

/** The whole semaphore as read shard by shard (sweeper, CLI, tests): permits in use, the queue, the holders. */
export interface SemaphoreSnapshot {
    /** Permits counted as taken, summed over the shards. */
    inUse: number;
    /** Waiter ids, oldest ticket first. */
    queue: string[];
    /** Holders by id, over every shard. */
    holders: Map<string, Holder>;
}

/** What a release does: nothing (not a holder), give the permit back, or hand it to the queue's head. */
export type ReleasePlan = { kind: "notHeld" } | { kind: "giveBack" } | { kind: "handOff"; to: string };

/**
 * Shard items a limit needs.
 * @example shardCount(10) // 3 (4 + 4 + 2 permits)
 */
export function shardCount(limit: number): number {
    return Math.ceil(limit / SHARD_CAPACITY);
}

/**
 * Permits shard `shard` carries under `limit`: full shards first, the rest on the last one, none beyond
 * (a shard left from a higher limit drains).
 * @example shardCapacity(2, 10) // 2
 */
export function shardCapacity(shard: number, limit: number): number {
    return Math.max(0, Math.min(SHARD_CAPACITY, limit - shard * SHARD_CAPACITY));
}

/**
 * Hint groups a limit needs.
 * @example hintGroupCount(1000) // 4 (250 shards, 64 per group)
 */
export function hintGroupCount(limit: number): number {
    return Math.ceil(shardCount(limit) / HINT_GROUP_SIZE);
}

/**
 * The hint group of a shard.
 * @example hintGroup(130) // 2
 */
export function hintGroup(shard: number): number {
    return Math.floor(shard / HINT_GROUP_SIZE);
}

/**
 * Shards of hint group `group` that its hints say have a free permit under `limit`, starting at a random
 * one (`random` in [0, 1)) so that concurrent acquires spread over them. A shard without a hint was never
 * written: it is empty.
 * @example roomyShards(0, new Map([[0, { version: 3, count: 4 }]]), 8, () => 0) // [1]
 */
export function roomyShards(group: number, hints: ReadonlyMap<number, RoomHint>, limit: number, random: () => number): number[] {
    const first = group * HINT_GROUP_SIZE;
    const size = Math.max(0, Math.min(HINT_GROUP_SIZE, shardCount(limit) - first));
    const start = Math.floor(random() * size);
    const roomy: number[] = [];
    for (let i = 0; i < size; i++) {
        const shard = first + ((start + i) % size);
        if ((hints.get(shard)?.count ?? 0) < shardCapacity(shard, limit)) roomy.push(shard);
    }
    return roomy;
}

/**
 * Whether a write that took `before` to `after` permits changed whether the shard has room under
 * `capacity`: only then the room hint must be written (a hint read as "room" on a full shard costs one
 * failed write and is corrected then; one read as "full" on a shard with room would strand a permit).
 * @example roomChanged(3, 4, 4) // true
 */
export function roomChanged(before: number, after: number, capacity: number): boolean {
    return before < capacity !== after < capacity;
}

/**
 * Plans the release of `id`'s permit on `shard`. The permit goes straight to the oldest waiter `head`
 * unless there is none or the shard is over its capacity under a lowered limit (then it is given back,
 * so the count drains to the limit).
 * @example planRelease({ version: 1, count: 1, holders }, "a", 1, "b") // { kind: "handOff", to: "b" }
 */
export function planRelease(shard: ShardState, id: string, capacity: number, head: string | undefined): ReleasePlan {
    if (!shard.holders.has(id)) return { kind: "notHeld" };
    if (head === undefined || shard.count > capacity) return { kind: "giveBack" };
    return { kind: "handOff", to: head };
}
