/**
 * An in-process DynamoDB (dynalite, in memory) on 127.0.0.1 with a random port, for runtime tests.
 * Usage: `const db = await startDynalite(); ... await db.createTable("t", "id"); ... await db.stop();`
 */
import { AddressInfo } from "node:net";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const dynalite = require("dynalite") as (opts: Record<string, number>) => import("node:http").Server;

export interface LocalDynamo {
    /** `http://127.0.0.1:<port>` */
    endpoint: string;
    /** A client pointed at the local endpoint with fake credentials. */
    client: DynamoDBClient;
    /** Creates an on-demand table with a string hash key (and optional string range key). */
    createTable(name: string, hashKey: string, rangeKey?: string): Promise<void>;
    stop(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new DynamoDBClient({
        endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    return {
        endpoint,
        client,
        async createTable(name, hashKey, rangeKey) {
            const keys = rangeKey ? [hashKey, rangeKey] : [hashKey];
            await client.send(
                new CreateTableCommand({
                    TableName: name,
                    BillingMode: "PAY_PER_REQUEST",
                    AttributeDefinitions: keys.map((k) => ({ AttributeName: k, AttributeType: "S" })),
                    KeySchema: keys.map((k, i) => ({ AttributeName: k, KeyType: i === 0 ? "HASH" : "RANGE" })),
                }),
            );
            await untilActive(client, name);
        },
        async stop() {
            client.destroy();
            await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
        },
    };
}

/** A client for `endpoint` that counts the requests it sends, by command name (e.g. `PutItemCommand`). */
export function countingClient(endpoint: string): { client: DynamoDBClient; counts: Record<string, number> } {
    const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const counts: Record<string, number> = {};
    client.middlewareStack.add(
        (next, context) => async (args) => {
            counts[context.commandName!] = (counts[context.commandName!] ?? 0) + 1;
            return next(args);
        },
        { step: "initialize", name: "countRequests" },
    );
    return { client, counts };
}

/**
 * Waits until dynalite reports the table ACTIVE. Even with `createTableMs: 0` it is CREATING until a timer
 * fires, and a request before that fails with ResourceNotFoundException (seen on a loaded machine).
 */
async function untilActive(client: DynamoDBClient, name: string): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
        if (Table?.TableStatus === "ACTIVE") return;
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`dynalite: table ${name} did not become ACTIVE`);
}
