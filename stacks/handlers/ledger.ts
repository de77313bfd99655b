/**
 * SNS FIFO → SQS FIFO example: ledger entries of one account (the message group) in order.
 */
import type { FifoWorkerMessage } from "../../runtime/fifoWorker";
import type { WorkerContext } from "../../runtime/context";

interface LedgerEntry {
    entryId: string;
    amountCents: number;
}

export async function handle(message: FifoWorkerMessage<LedgerEntry>, ctx: WorkerContext): Promise<void> {
    await ctx.downstream("ledger-db", async () => {
        ctx.log.info("ledger entry booked", { group: message.groupId, entry: message.body.entryId });
    });
}
