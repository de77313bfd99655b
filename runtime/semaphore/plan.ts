/**
 * The semaphore's pure decisions: given one consistent read of the semaphore item, what a release or a
 * wake-up should do next. The I/O layer ({@link Semaphore}) turns a plan into one conditional write and
 * re-reads when the condition fails, so a plan made from a stale read is never applied.
 */

/** One permit holder, stored on the semaphore item under the holder's id. */
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

/** The semaphore item as read: permits in use, the FIFO queue of waiter ids and the holders by id. */
export interface SemaphoreSnapshot {
    /** Permits counted as taken (equals the number of holders). */
    inUse: number;
    /** Waiter ids, oldest first. */
    queue: string[];
    /** Holders by id. */
    holders: Map<string, Holder>;
}

/** What a release does: nothing (not a holder), give the permit back, or hand it to the queue's head. */
export type ReleasePlan = { kind: "notHeld" } | { kind: "decrement" } | { kind: "handOff"; to: string };

/** What a wake-up does: nothing (queue empty or no free permit) or grant a free permit to the queue's head. */
export type WakePlan = { kind: "idle" } | { kind: "grant"; to: string };

/**
 * Plans the release of `id`'s permit. The permit goes straight to the oldest waiter unless the queue is
 * empty or the semaphore is over a lowered `limit` (then it is given back, so the count drains to the limit).
 * @example planRelease({ inUse: 1, queue: ["b"], holders }, "a", 1) // { kind: "handOff", to: "b" }
 */
export function planRelease(snapshot: SemaphoreSnapshot, id: string, limit: number): ReleasePlan {
    if (!snapshot.holders.has(id)) return { kind: "notHeld" };
    if (snapshot.queue.length === 0 || snapshot.inUse > limit) return { kind: "decrement" };
    return { kind: "handOff", to: snapshot.queue[0] };
}

/**
 * Plans a wake-up: grants a permit to the queue's head while fewer than `limit` are in use (`<`, so a
 * lowered limit never over-grants).
 * @example planWake({ inUse: 0, queue: ["b"], holders: new Map() }, 1) // { kind: "grant", to: "b" }
 */
export function planWake(snapshot: SemaphoreSnapshot, limit: number): WakePlan {
    if (snapshot.queue.length === 0 || snapshot.inUse >= limit) return { kind: "idle" };
    return { kind: "grant", to: snapshot.queue[0] };
}
