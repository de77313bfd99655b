import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import { AddressInfo } from "node:net";
import {
    _Record as StreamRecord,
    CreateStreamCommand,
    GetRecordsCommand,
    GetShardIteratorCommand,
    KinesisClient,
    ListShardsCommand,
    PutRecordsCommand,
    waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { KinesisStreamRecord } from "aws-lambda";
import { kinesisWorker, KinesisWorkerHandler } from "../../runtime";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { fakeLambdaContext } from "../helpers/lambdaContext";

// kinesalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const kinesalite = require("kinesalite") as (options: Record<string, number>) => Server;

const STREAM = "orders";
const KEYS = Array.from({ length: 60 }, (_, i) => `customer-${i}`);
const RECORDS_PER_KEY = 8;
const TABLE = "kinesalite-idempotency";

interface Payload {
    key: string;
    n: number;
}

/** The Lambda event record for a record read with GetRecords, as the Kinesis event source builds it. */
function lambdaRecord(record: StreamRecord, shardId: string, streamArn: string): KinesisStreamRecord {
    return {
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${shardId}:${record.SequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::000000000000:role/worker",
        awsRegion: "us-east-1",
        eventSourceARN: streamArn,
        kinesis: {
            kinesisSchemaVersion: "1.0",
            partitionKey: record.PartitionKey!,
            sequenceNumber: record.SequenceNumber!,
            data: Buffer.from(record.Data!).toString("base64"),
            approximateArrivalTimestamp: record.ApproximateArrivalTimestamp!.getTime() / 1000,
        },
    };
}

describe("kinesisWorker on kinesalite: 4 shards, many partition keys", function () {
    this.timeout(60_000);
    let server: Server;
    let kinesis: KinesisClient;
    let db: LocalDynamo;
    let streamArn: string;

    before(async () => {
        server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 50 });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        kinesis = new KinesisClient({
            endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            region: "us-east-1",
            credentials: { accessKeyId: "test", secretAccessKey: "test" },
            requestHandler: new NodeHttpHandler(), // kinesalite speaks HTTP/1.1 only
        });
        await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 4 }));
        await waitUntilStreamExists({ client: kinesis, maxWaitTime: 10, minDelay: 1 }, { StreamName: STREAM });
        streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${STREAM}`;
        db = await startDynalite();
        await db.createTable(TABLE, "id");
    });
    after(async () => {
        kinesis.destroy();
        await db.stop();
        await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("keeps per-key order and processes each record once through failures and checkpoint resumes", async () => {
        for (let n = 0; n < RECORDS_PER_KEY; n++) {
            const Records = KEYS.map((key) => ({ PartitionKey: key, Data: Buffer.from(JSON.stringify({ key, n })) }));
            const { FailedRecordCount } = await kinesis.send(new PutRecordsCommand({ StreamName: STREAM, Records }));
            assert.equal(FailedRecordCount, 0);
        }
        const processed = new Map<string, number[]>();
        const shardsOfKey = new Map<string, Set<string>>();
        const failedOnce = new Set<string>();
        const worker = (shardId: string) =>
            kinesisWorker<Payload>(
                async ({ data, partitionKey }) => {
                    shardsOfKey.set(partitionKey, (shardsOfKey.get(partitionKey) ?? new Set()).add(shardId));
                    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
                    const id = `${data.key}/${data.n}`;
                    if (data.n === 3 && KEYS.indexOf(data.key) % 5 === 0 && !failedOnce.has(id)) {
                        failedOnce.add(id);
                        throw new Error(`downstream rejected ${id} once`);
                    }
                    processed.set(data.key, [...(processed.get(data.key) ?? []), data.n]);
                },
                { inBatchParallelism: 8, tableName: TABLE, client: db.client, write: () => undefined },
            );
        const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: STREAM }));
        assert.equal(Shards?.length, 4);
        await Promise.all(Shards!.map((shard) => consumeShard(shard.ShardId!, worker(shard.ShardId!))));

        assert.equal(failedOnce.size, KEYS.filter((_, i) => i % 5 === 0).length);
        for (const key of KEYS) {
            assert.deepEqual(processed.get(key), Array.from({ length: RECORDS_PER_KEY }, (_, n) => n), `records of ${key}`);
            assert.equal(shardsOfKey.get(key)?.size, 1, `${key} read from more than one shard`);
        }
        assert.ok(new Set([...shardsOfKey.values()].map((s) => [...s][0])).size > 1, "all keys landed on one shard");
    });

    /**
     * The Kinesis event source for one shard: batches of up to 25 records; a partial batch failure
     * resumes at the reported sequence number (AT_SEQUENCE_NUMBER), otherwise after the batch.
     */
    async function consumeShard(shardId: string, handler: KinesisWorkerHandler): Promise<void> {
        let iterator = await shardIterator(shardId, { ShardIteratorType: "TRIM_HORIZON" });
        for (let invocation = 0; invocation < 200; invocation++) {
            const { Records = [], NextShardIterator } = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 25 }));
            if (Records.length === 0) return;
            const event = { Records: Records.map((r) => lambdaRecord(r, shardId, streamArn)) };
            const { batchItemFailures } = await handler(event, fakeLambdaContext(`${shardId}-${invocation}`));
            const resumeAt = batchItemFailures[0]?.itemIdentifier;
            iterator = resumeAt
                ? await shardIterator(shardId, { ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: resumeAt })
                : NextShardIterator!;
        }
        assert.fail(`shard ${shardId} was not drained`);
    }

    async function shardIterator(
        ShardId: string,
        position: { ShardIteratorType: "TRIM_HORIZON" } | { ShardIteratorType: "AT_SEQUENCE_NUMBER"; StartingSequenceNumber: string },
    ): Promise<string> {
        const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId, ...position }));
        return ShardIterator!;
    }
});
