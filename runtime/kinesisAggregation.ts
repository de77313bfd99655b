/**
 * De-aggregation of Kinesis records a producer packed with the Kinesis Producer Library (KPL): the
 * aggregated record format is the 4 magic bytes `F3 89 9A C2`, a protobuf `AggregatedRecord`, and the
 * MD5 digest of that protobuf message (16 bytes). Pure: bytes in, user records out.
 *
 * Data whose magic bytes or digest do not match, or with an empty message, is no aggregate (as the KCL
 * treats it): its record is handed over whole. A digest that matches over a message that cannot be read is
 * a corrupt aggregate. Here it fails (and so reaches the failure destination after the mapping's retries),
 * where the KCL hands it over whole: a handler given the raw bytes of a corrupt aggregate cannot read them either.
 */
import { createHash } from "node:crypto";
import { RecordDecodeError } from "./ordering";

/**
 * The first four bytes of every KPL-aggregated record.
 * @example record.subarray(0, 4).equals(KPL_MAGIC) // true for an aggregate (the digest decides)
 */
export const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

/**
 * The first five characters of the base64 text of every KPL-aggregated record: they encode the first 30 bits, all of
 * them the magic's, so data without this prefix is no aggregate and need not be decoded to tell.
 * @example record.kinesis.data.startsWith(KPL_BASE64_PREFIX) // "84maw": an aggregate is possible
 */
export const KPL_BASE64_PREFIX = KPL_MAGIC.toString("base64").slice(0, 5);

/** Varints are 64-bit: a tenth byte's higher bits fall off, as protobuf reads them. */
const UINT64_MASK = (1n << 64n) - 1n;

const DIGEST_BYTES = 16;

/**
 * One user record of an aggregated Kinesis record.
 * @example { subSequenceNumber: 0, partitionKey: "user-1", data: Buffer.from('{"a":1}') }
 */
export interface KplUserRecord {
    /** Its index in the aggregate (the KCL's sub-sequence number), from 0. */
    subSequenceNumber: number;
    /** The partition key the producer gave this user record. */
    partitionKey: string;
    /** The user record's bytes (a copy: it does not keep the aggregate alive). */
    data: Buffer;
}

/**
 * The user records of `bytes` when they are a KPL aggregate, in the order the producer added them;
 * `undefined` when they are not (no magic bytes, or a digest that does not match).
 *
 * @throws RecordDecodeError when the digest matches but the message is not a valid `AggregatedRecord`
 *   (a field of a wire type it cannot have, a truncated field, a partition key index out of its table,
 *   a user record without data)
 * @example
 * kplUserRecords(Buffer.from('{"a":1}')); // undefined: a plain record
 * kplUserRecords(aggregate)?.map((r) => r.partitionKey); // ["user-1", "user-2", "user-1"]
 */
export function kplUserRecords(bytes: Buffer): KplUserRecord[] | undefined {
    if (bytes.length <= KPL_MAGIC.length + DIGEST_BYTES || !bytes.subarray(0, KPL_MAGIC.length).equals(KPL_MAGIC)) return undefined;
    const message = bytes.subarray(KPL_MAGIC.length, bytes.length - DIGEST_BYTES);
    const digest = bytes.subarray(bytes.length - DIGEST_BYTES);
    if (!createHash("md5").update(message).digest().equals(digest)) return undefined;
    return userRecordsOf(message);
}

function userRecordsOf(message: Buffer): KplUserRecord[] {
    const partitionKeys: string[] = [];
    const records: { keyIndex?: bigint; data?: Buffer }[] = [];
    for (const field of fieldsOf(message, "AggregatedRecord")) {
        if (field.number === 1) partitionKeys.push(bytesOf(field, "partition_key_table").toString("utf8"));
        else if (field.number === 3) records.push(recordOf(bytesOf(field, "records")));
    }
    return records.map((record, subSequenceNumber) => {
        const { keyIndex, data } = record;
        if (data === undefined) throw corrupt(`user record ${subSequenceNumber} has no data`);
        if (keyIndex === undefined || keyIndex >= BigInt(partitionKeys.length)) {
            throw corrupt(`user record ${subSequenceNumber} names partition key ${keyIndex ?? "none"} of a table of ${partitionKeys.length}`);
        }
        return { subSequenceNumber, partitionKey: partitionKeys[Number(keyIndex)], data: Buffer.from(data) };
    });
}

function recordOf(message: Buffer): { keyIndex?: bigint; data?: Buffer } {
    const record: { keyIndex?: bigint; data?: Buffer } = {};
    for (const field of fieldsOf(message, "Record")) {
        if (field.number === 1) record.keyIndex = varintOf(field, "partition_key_index");
        else if (field.number === 3) record.data = bytesOf(field, "data");
    }
    return record;
}

/** A protobuf field as read off the wire: varints as bigint, length-delimited fields as bytes (fixed-width ones are skipped). */
type WireField = { number: number; varint: bigint } | { number: number; bytes: Buffer };

function* fieldsOf(message: Buffer, type: string): Generator<WireField> {
    let offset = 0;
    while (offset < message.length) {
        const tag = readVarint(message, offset, type);
        if (tag.value >> 3n === 0n) throw corrupt(`${type} has a field number 0 at byte ${offset}`);
        offset = tag.next;
        const number = Number(tag.value >> 3n);
        const wireType = Number(tag.value & 7n);
        if (wireType === 0) {
            const value = readVarint(message, offset, type);
            offset = value.next;
            yield { number, varint: value.value };
        } else if (wireType === 2) {
            const length = readVarint(message, offset, type);
            const end = length.next + Number(length.value);
            if (length.value > BigInt(message.length) || end > message.length) throw corrupt(`${type} field ${number} runs past the end of the message`);
            yield { number, bytes: message.subarray(length.next, end) };
            offset = end;
        } else if (wireType === 1 || wireType === 5) {
            // A fixed-width field (none in this format's schema, so a newer producer's): skipped.
            offset += wireType === 1 ? 8 : 4;
            if (offset > message.length) throw corrupt(`${type} field ${number} runs past the end of the message`);
        } else {
            throw corrupt(`${type} field ${number} has wire type ${wireType}, which it cannot have`);
        }
    }
}

function readVarint(buffer: Buffer, start: number, type: string): { value: bigint; next: number } {
    let value = 0n;
    for (let offset = start, shift = 0n; offset < buffer.length && shift < 70n; offset++, shift += 7n) {
        const byte = buffer[offset];
        value |= BigInt(byte & 0x7f) << shift;
        if ((byte & 0x80) === 0) return { value: value & UINT64_MASK, next: offset + 1 };
    }
    throw corrupt(`${type} has a truncated or overlong varint at byte ${start}`);
}

function bytesOf(field: WireField, name: string): Buffer {
    if (!("bytes" in field)) throw corrupt(`${name} is not length-delimited`);
    return field.bytes;
}

function varintOf(field: WireField, name: string): bigint {
    if (!("varint" in field)) throw corrupt(`${name} is not a varint`);
    return field.varint;
}

function corrupt(detail: string): RecordDecodeError {
    return new RecordDecodeError(`KPL aggregate with a valid digest cannot be read: ${detail}`);
}
