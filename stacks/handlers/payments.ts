/**
 * Kinesis example: payment events for one account (the partition key) must be applied in order.
 * The KinesisOrderedWorker wrapper calls this once per record, accounts in parallel, each in order.
 */
import type { KinesisWorkerRecord } from "../../runtime/kinesisWorker";
import type { WorkerContext } from "../../runtime/context";

interface Payment {
    accountId: string;
    amountCents: number;
}

export async function handle(record: KinesisWorkerRecord<Payment>, ctx: WorkerContext): Promise<void> {
    await ctx.downstream("ledger-db", async () => {
        ctx.log.info("payment applied", { account: record.partitionKey, sequence: record.sequenceNumber, amountCents: record.data.amountCents });
    });
}
