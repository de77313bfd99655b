/**
 * The semaphore as the CLI sees it: its shard, queue and execution items read through the runtime's
 * `SemaphoreStore` (not re-exported by runtime/semaphore/index.ts today), and release through the
 * runtime's `Semaphore`, so a freed permit goes to the oldest live waiter exactly as a release state's
 * would. Re-point here if the semaphore's layout or API moves.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import type { SemaphoreReference } from "../../contracts/operations";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { discard } from "../io";
import { digest, Holder, ReleaseOutcome, Semaphore, Waiter } from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";

/** Permits, holders and waiters, read at once. */
export interface SemaphoreView {
    /** Permits taken. */
    inUse: number;
    /** Permits in all. */
    limit: number;
    /** Holders, oldest grant first. */
    holders: Holder[];
    /** Waiters in queue order (ids without a waiter item are shown with an empty ARN). */
    queue: Array<{ id: string; waiter?: Waiter }>;
}

/** One semaphore's items. */
export class SemaphoreAdapter {
    private readonly store: SemaphoreStore;
    private readonly semaphore: Semaphore;

    /**
     * @param reference the manifest's semaphore
     * @param clients DynamoDB for the table, Step Functions to wake the next waiter
     */
    constructor(
        private readonly reference: SemaphoreReference,
        clients: { dynamodb: DynamoDBClient; sfn: SFNClient },
    ) {
        this.store = new SemaphoreStore(clients.dynamodb, reference.tableName, reference.name);
        // The runtime's JSON log lines and EMF metric lines would interleave with the CLI's output (and reach
        // no log group outside Lambda); the CLI reports the outcome itself.
        const logger = createLogger({ write: discard });
        const metrics = new Metrics({ worker: reference.name, write: discard });
        this.semaphore = new Semaphore({ tableName: reference.tableName, name: reference.name, limit: reference.limit, dynamo: clients.dynamodb, sfn: clients.sfn, logger, metrics });
    }

    /** The semaphore's current permits, holders and waiters. */
    async read(): Promise<SemaphoreView> {
        const [snapshot, waiters] = await Promise.all([this.store.read(), this.store.listWaiters()]);
        const byId = new Map(waiters.map((w) => [w.id, w]));
        return {
            inUse: snapshot.inUse,
            limit: this.reference.limit,
            holders: [...snapshot.holders.values()].sort((a, b) => a.grantedAt - b.grantedAt),
            queue: snapshot.queue.map((id) => ({ id, waiter: byId.get(id) })),
        };
    }

    /** Whether `executionArn` holds a permit, and its place in the queue (0 = next), in `view`. */
    static roleOf(view: SemaphoreView, executionArn: string): { holder?: Holder; queuePosition?: number } {
        const position = view.queue.findIndex((q) => q.id === digest(executionArn));
        return { holder: view.holders.find((h) => h.executionArn === executionArn), queuePosition: position >= 0 ? position : undefined };
    }

    /** Releases `executionArn`'s permit (to the oldest live waiter, or back) and drops it from the queue. */
    release(executionArn: string): Promise<ReleaseOutcome> {
        return this.semaphore.release(executionArn);
    }
}
