/**
 * KPL aggregates for tests, made by AWS's own aggregation library (`aws-kinesis-agg`, a dev dependency),
 * so the decoder is checked against an implementation it shares no code with.
 */
import { createHash } from "node:crypto";
import { KPL_MAGIC } from "../../runtime/kinesisAggregation";

// Required, not imported: its typings import the AWS SDK v2, which is not installed.
const agg = require("aws-kinesis-agg") as {
    aggregate(records: unknown[], onEncoded: (encoded: { data: Buffer }, done: () => void) => void, afterAll: () => void, onError: (error: Error) => void): void;
    deaggregateSync(record: { data: string; sequenceNumber: string; partitionKey: string }, checksums: boolean, done: (error: Error | undefined, users?: { partitionKey: string; subSequenceNumber: number; data: string }[]) => void): void;
};

/** One user record as a producer hands it to the KPL. */
export interface UserRecordInput {
    partitionKey: string;
    data: Buffer;
}

/** The aggregated record `aws-kinesis-agg` makes of `records` (they fit in one: tests stay far under 1 MB). */
export function kplAggregate(records: UserRecordInput[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const encoded: Buffer[] = [];
        agg.aggregate(
            records,
            (record, done) => {
                encoded.push(record.data);
                done();
            },
            () => (encoded.length === 1 ? resolve(encoded[0]) : reject(new Error(`expected one aggregate, got ${encoded.length}`))),
            reject,
        );
    });
}

/** What `aws-kinesis-agg` reads out of `bytes` (checksums verified). */
export function referenceDeaggregate(bytes: Buffer): { partitionKey: string; subSequenceNumber: number; data: Buffer }[] {
    let result: { partitionKey: string; subSequenceNumber: number; data: Buffer }[] = [];
    agg.deaggregateSync({ data: bytes.toString("base64"), sequenceNumber: "1", partitionKey: "outer" }, true, (error, users) => {
        if (error) throw error;
        result = (users ?? []).map((u) => ({ partitionKey: u.partitionKey, subSequenceNumber: u.subSequenceNumber, data: Buffer.from(u.data, "base64") }));
    });
    return result;
}

/** Magic bytes + `message` + its MD5: a record whose digest matches, whatever the message holds. */
export function framed(message: Buffer): Buffer {
    return Buffer.concat([KPL_MAGIC, message, createHash("md5").update(message).digest()]);
}

/** Protobuf wire bytes: a length-delimited field. */
export function lengthDelimited(field: number, bytes: Buffer): Buffer {
    return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** Protobuf wire bytes: a varint field. */
export function varintField(field: number, value: number): Buffer {
    return Buffer.concat([varint(field << 3), varint(value)]);
}

function varint(value: number): Buffer {
    const bytes: number[] = [];
    do {
        bytes.push((value & 0x7f) | (value > 0x7f ? 0x80 : 0));
        value = Math.floor(value / 128);
    } while (value > 0);
    return Buffer.from(bytes);
}
