/**
 * Pure planning for ordered batches: grouping records by ordering key and deciding where the event
 * source must resume. No I/O and no timing here; {@link processOrderedBatch} executes a plan.
 */

/**
 * One record of a batch as the ordered processor sees it.
 *
 * @example
 * const entry: BatchEntry<KinesisStreamRecord> = { key: r.kinesis.partitionKey, position: BigInt(r.kinesis.sequenceNumber), value: r };
 */
export interface BatchEntry<T> {
    /** Ordering key: records with the same key run strictly one after another (Kinesis partition key, SQS FIFO message group id). */
    readonly key: string;
    /** Position in the source; within a key, lower positions run first (Kinesis sequence number, or the index in an SQS FIFO batch). */
    readonly position: bigint;
    /** The record itself, passed through untouched. */
    readonly value: T;
}

/**
 * The records of one ordering key, lowest position first.
 *
 * @example
 * planBatch(entries).groups.map((g) => g.key); // ["user-1", "user-2"]
 */
export interface KeyGroup<T> {
    /** The ordering key shared by every entry of the group. */
    readonly key: string;
    /** The entries of this key in position order. */
    readonly entries: readonly BatchEntry<T>[];
}

/**
 * A batch split into key groups, in the order a bounded pool starts them: the groups with the most
 * entries first (the longest chains bound the batch's duration, so a hot key must not start last),
 * ties by the position of their first entry.
 *
 * @example
 * const plan = planBatch(entries); // plan.entries sorted by position, plan.groups one per key
 */
export interface BatchPlan<T> {
    /** Every entry of the batch in position order. */
    readonly entries: readonly BatchEntry<T>[];
    /** One group per key: most entries first, ties by first position. */
    readonly groups: readonly KeyGroup<T>[];
}

/**
 * What happened to one entry in one invocation.
 * - `succeeded`: the handler ran to completion (or idempotency found it already done);
 * - `failed`: the handler (or decoding, or the idempotency claim) threw `error`;
 * - `skipped`: not run because the entry at position `blockedBy`, same key, failed earlier in this invocation.
 *
 * @example
 * const outcome: EntryOutcome = { status: "skipped", blockedBy: 17n };
 */
export type EntryOutcome =
    | { readonly status: "succeeded" }
    | { readonly status: "failed"; readonly error: unknown }
    | { readonly status: "skipped"; readonly blockedBy: bigint };

/**
 * An entry and its outcome.
 *
 * @example
 * results.filter((r) => r.outcome.status === "failed").map((r) => r.entry.value);
 */
export interface EntryResult<T> {
    /** The entry this outcome belongs to. */
    readonly entry: BatchEntry<T>;
    /** What happened to it in this invocation. */
    readonly outcome: EntryOutcome;
}

/**
 * Sorts entries by position (stable for equal positions) and groups them by key, longest group first.
 *
 * @example
 * planBatch([{ key: "a", position: 2n, value: x }, { key: "b", position: 1n, value: y }, { key: "a", position: 3n, value: z }]);
 * // groups: [{ key: "a", entries: [x, z] }, { key: "b", entries: [y] }]
 */
export function planBatch<T>(entries: readonly BatchEntry<T>[]): BatchPlan<T> {
    const ordered = [...entries].sort(byPosition);
    const byKey = new Map<string, BatchEntry<T>[]>();
    for (const entry of ordered) {
        const group = byKey.get(entry.key);
        if (group) group.push(entry);
        else byKey.set(entry.key, [entry]);
    }
    const groups = [...byKey].map(([key, keyEntries]) => ({ key, entries: keyEntries }));
    groups.sort((a, b) => b.entries.length - a.entries.length); // stable: ties keep first-position order
    return { entries: ordered, groups };
}

/**
 * Outcomes for a group that stopped at `failedIndex`: entries before it succeeded, the entry at it
 * failed with `error`, every later entry is skipped (blocked by the failed one).
 *
 * @example
 * outcomesAfterFailure(group, 1, err); // [succeeded, failed, skipped, skipped]
 */
export function outcomesAfterFailure<T>(group: KeyGroup<T>, failedIndex: number, error: unknown): EntryResult<T>[] {
    const blockedBy = group.entries[failedIndex].position;
    return group.entries.map((entry, index) => ({
        entry,
        outcome:
            index < failedIndex
                ? { status: "succeeded" }
                : index === failedIndex
                  ? { status: "failed", error }
                  : { status: "skipped", blockedBy },
    }));
}

/**
 * Entries that did not succeed (failed or skipped), in position order: what an SQS FIFO partial batch
 * response must report so each comes back, in group order.
 *
 * @example
 * unfinishedEntries(results).map((e) => e.value.messageId);
 */
export function unfinishedEntries<T>(results: readonly EntryResult<T>[]): BatchEntry<T>[] {
    return results
        .filter((result) => result.outcome.status !== "succeeded")
        .map((result) => result.entry)
        .sort(byPosition);
}

/**
 * The entry a stream must resume from: the lowest-position entry that did not succeed, or `undefined`
 * when all succeeded. Resuming there never moves the checkpoint past an unfinished record; succeeded
 * records after it are delivered again (idempotency makes them no-ops).
 *
 * @example
 * const resume = resumeEntry(results);
 * return { batchItemFailures: resume ? [{ itemIdentifier: resume.value.kinesis.sequenceNumber }] : [] };
 */
export function resumeEntry<T>(results: readonly EntryResult<T>[]): BatchEntry<T> | undefined {
    return unfinishedEntries(results)[0];
}

function byPosition<T>(a: BatchEntry<T>, b: BatchEntry<T>): number {
    return a.position < b.position ? -1 : a.position > b.position ? 1 : 0;
}
