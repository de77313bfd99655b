/**
 * Idempotency records as the CLI sees them: one item per key in the worker's table (layout in
 * runtime/idempotency/store.ts). `forget` deletes a record only as it was shown (same status and owner),
 * so a claim taken or completed in between is never removed blindly, and tells a record already gone from
 * one that changed. Re-point here if the store's layout moves.
 */
import { AttributeValue, DeleteItemCommand, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";

/** One record. */
export interface IdempotencyRecord {
    /** The key. */
    key: string;
    /** `INPROGRESS` or `COMPLETED`. */
    status: string;
    /** The claim's owner token. */
    owner: string;
    /** INPROGRESS: when the claim may be taken over, epoch ms. */
    leaseExpiresAt: number;
    /** When the record expires (table TTL), epoch seconds. */
    expiresAt: number;
    /** Hash of the payload it was claimed with. */
    payloadHash: string;
    /** COMPLETED: the stored result's JSON (`undefined` for a function that returned nothing). */
    result?: string;
}

/** One worker's idempotency table. */
export class IdempotencyAdapter {
    /**
     * @param client DynamoDB client
     * @param tableName the idempotency table (key `id`)
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
    ) {}

    /** The record of `key`; `undefined` when there is none. */
    async read(key: string): Promise<IdempotencyRecord | undefined> {
        const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { id: { S: key } }, ConsistentRead: true }));
        return Item ? parseRecord(key, Item) : undefined;
    }

    /**
     * Deletes `record` if it is still as read (status and owner). A refused condition is read again: a
     * delete applied whose response was lost is refused on the SDK's retry, and then the record is gone.
     * @returns `deleted`; `gone` when the condition failed because there was no record any more; `changed`
     * when another record (status or owner) is there now, which is left as it is
     */
    async forget(record: IdempotencyRecord): Promise<"deleted" | "gone" | "changed"> {
        try {
            await this.client.send(
                new DeleteItemCommand({
                    TableName: this.tableName,
                    Key: { id: { S: record.key } },
                    ConditionExpression: "#status = :status AND #owner = :owner",
                    ExpressionAttributeNames: { "#status": "status", "#owner": "owner" },
                    ExpressionAttributeValues: { ":status": { S: record.status }, ":owner": { S: record.owner } },
                }),
            );
            return "deleted";
        } catch (error) {
            if ((error as { name?: string }).name !== "ConditionalCheckFailedException") throw error;
            return (await this.read(record.key)) ? "changed" : "gone";
        }
    }
}

function parseRecord(key: string, item: Record<string, AttributeValue>): IdempotencyRecord {
    return {
        key,
        status: item.status?.S ?? "",
        owner: item.owner?.S ?? "",
        leaseExpiresAt: Number(item.leaseExpiresAt?.N ?? 0),
        expiresAt: Number(item.expiresAt?.N ?? 0),
        payloadHash: item.payloadHash?.S ?? "",
        result: item.result?.S,
    };
}
