/** Kinesis records as Lambda delivers them, for the ordered-wrapper tests. */
import type { KinesisStreamRecord } from "aws-lambda";

/** One record of `streamArn` with JSON data `{}` unless `data` is given. */
export function kinesisRecord(streamArn: string, partitionKey: string, sequenceNumber: string, data: unknown = {}): KinesisStreamRecord {
    return {
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `shardId-000000000000:${sequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/worker",
        awsRegion: "us-east-1",
        eventSourceARN: streamArn,
        kinesis: { kinesisSchemaVersion: "1.0", partitionKey, sequenceNumber, data: Buffer.from(JSON.stringify(data)).toString("base64"), approximateArrivalTimestamp: 1 },
    };
}
