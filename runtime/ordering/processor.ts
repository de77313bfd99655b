import { ConfigurationError } from "../../contracts/errors";
import { runBounded } from "./pool";
import { BatchEntry, BatchPlan, EntryResult, KeyGroup, outcomesAfterFailure } from "./plan";

/**
 * Runs one entry; a rejection (or a synchronous throw) marks the entry failed.
 *
 * @example
 * const handleEntry: EntryHandler<SQSRecord> = async (entry) => process(entry.value);
 */
export type EntryHandler<T> = (entry: BatchEntry<T>) => Promise<void>;

/**
 * Options of {@link processOrderedBatch}.
 *
 * @example
 * { parallelism: 10 }
 */
export interface OrderedBatchOptions {
    /** How many keys run at the same time; an integer ≥ 1. `1` processes the batch sequentially. */
    readonly parallelism: number;
}

/**
 * Executes a {@link BatchPlan}: keys run concurrently, at most `parallelism` at a time, and the
 * entries of one key strictly one after another in position order. When an entry fails, no later
 * entry of its key runs in this call; they come back as `skipped`. Never rejects because of a
 * handler failure.
 *
 * @returns one result per entry, in position order.
 * @example
 * const results = await processOrderedBatch(planBatch(entries), async (e) => handle(e.value), { parallelism: 10 });
 * const resume = resumeEntry(results);
 */
export async function processOrderedBatch<T>(
    plan: BatchPlan<T>,
    handleEntry: EntryHandler<T>,
    options: OrderedBatchOptions,
): Promise<EntryResult<T>[]> {
    assertParallelism(options.parallelism);
    const outcomes = new Map<BatchEntry<T>, EntryResult<T>>();
    const runGroup = async (group: KeyGroup<T>): Promise<void> => {
        for (const result of await processGroup(group, handleEntry)) outcomes.set(result.entry, result);
    };
    await runBounded(
        plan.groups.map((group) => () => runGroup(group)),
        options.parallelism,
    );
    return plan.entries.map((entry) => outcomes.get(entry) as EntryResult<T>);
}

async function processGroup<T>(group: KeyGroup<T>, handleEntry: EntryHandler<T>): Promise<EntryResult<T>[]> {
    for (const [index, entry] of group.entries.entries()) {
        try {
            await handleEntry(entry);
        } catch (error) {
            return outcomesAfterFailure(group, index, error);
        }
    }
    return group.entries.map((entry) => ({ entry, outcome: { status: "succeeded" } }));
}

function assertParallelism(parallelism: number): void {
    if (!Number.isInteger(parallelism) || parallelism < 1) {
        throw new ConfigurationError(`parallelism must be an integer ≥ 1, received ${parallelism}`);
    }
}
