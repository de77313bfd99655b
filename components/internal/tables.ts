/**
 * DynamoDB tables as every component makes them: on demand, encrypted, point-in-time recovery, and a
 * TTL attribute so expired records go away by themselves.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TABLE_TTL_ATTRIBUTE } from "../../contracts/operations";

/** A table keyed by the string attribute `hashKey` (and `rangeKey`, if given). */
export function createTable(name: string, keys: { hashKey: string; rangeKey?: string }, parent: pulumi.Resource): aws.dynamodb.Table {
    const keyNames = keys.rangeKey ? [keys.hashKey, keys.rangeKey] : [keys.hashKey];
    return new aws.dynamodb.Table(
        name,
        {
            billingMode: "PAY_PER_REQUEST",
            hashKey: keys.hashKey,
            rangeKey: keys.rangeKey,
            attributes: keyNames.map((key) => ({ name: key, type: "S" })),
            ttl: { attributeName: TABLE_TTL_ATTRIBUTE, enabled: true },
            pointInTimeRecovery: { enabled: true },
            serverSideEncryption: { enabled: true },
        },
        { parent },
    );
}

/** The item-level actions the runtime uses on its tables. */
export const TABLE_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
