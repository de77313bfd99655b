import { strict as assert } from "node:assert";
import fc from "fast-check";
import { KPL_BASE64_PREFIX, KPL_MAGIC, kplUserRecords, RecordDecodeError } from "../../runtime";
import { framed, kplAggregate, lengthDelimited, referenceDeaggregate, varintField } from "../helpers/kpl";

const userRecord = (keyIndex: number, data: Buffer) => lengthDelimited(3, Buffer.concat([varintField(1, keyIndex), lengthDelimited(3, data)]));
const keyTable = (...keys: string[]) => Buffer.concat(keys.map((key) => lengthDelimited(1, Buffer.from(key))));

describe("kplUserRecords: KPL de-aggregation", () => {
    it("names the base64 prefix every aggregate's text starts with, whatever follows the magic", () => {
        assert.equal(KPL_BASE64_PREFIX, "84maw");
        fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => Buffer.concat([KPL_MAGIC, Buffer.from(tail)]).toString("base64").startsWith(KPL_BASE64_PREFIX)));
        // The prefix holds 30 bits: a fourth byte that differs from the magic's in its top six bits never has it.
        const withFourth = (byte: number) => Buffer.from([0xf3, 0x89, 0x9a, byte, 1, 2]).toString("base64").startsWith(KPL_BASE64_PREFIX);
        const prefixed = Array.from({ length: 256 }, (_, byte) => byte).filter(withFourth);
        assert.deepEqual(prefixed, [0xc0, 0xc1, 0xc2, 0xc3]);
    });

    it("reads what AWS's aggregation library writes: keys, data and order, as its own de-aggregator does", async () => {
        const inputs = [
            { partitionKey: "user-1", data: Buffer.from('{"n":1}') },
            { partitionKey: "user-2", data: Buffer.from('{"n":2}') },
            { partitionKey: "user-1", data: Buffer.from([0xff, 0x00]) },
        ];
        const aggregate = await kplAggregate(inputs);
        const users = kplUserRecords(aggregate);
        assert.deepEqual(users, inputs.map((input, subSequenceNumber) => ({ subSequenceNumber, ...input })));
        assert.deepEqual(users, referenceDeaggregate(aggregate));
    });

    it("agrees with AWS's library on any user records (keys shared or not, any bytes)", async () => {
        const inputs = fc.array(fc.record({ partitionKey: fc.constantFrom("a", "b", "ключ", "k".repeat(256)), data: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) }), { minLength: 1, maxLength: 20 });
        await fc.assert(
            fc.asyncProperty(inputs, async (records) => {
                const aggregate = await kplAggregate(records);
                assert.deepEqual(kplUserRecords(aggregate), records.map((record, subSequenceNumber) => ({ subSequenceNumber, ...record })));
                assert.deepEqual(kplUserRecords(aggregate), referenceDeaggregate(aggregate));
            }),
            { numRuns: 200 },
        );
    });

    it("is no aggregate without the magic bytes, with a digest that does not match, or too short for both", async () => {
        const aggregate = await kplAggregate([{ partitionKey: "a", data: Buffer.from("x") }]);
        assert.equal(kplUserRecords(Buffer.from('{"a":1}')), undefined);
        const badDigest = Buffer.from(aggregate);
        badDigest[badDigest.length - 1] ^= 0xff;
        assert.equal(kplUserRecords(badDigest), undefined);
        const badMagic = Buffer.from(aggregate);
        badMagic[0] = 0x00;
        assert.equal(kplUserRecords(badMagic), undefined);
        assert.equal(kplUserRecords(Buffer.concat([KPL_MAGIC, Buffer.alloc(15)])), undefined);
        // An empty message (magic bytes and the MD5 of nothing: 20 bytes) is no aggregate either, as for the KCL:
        // a 20-byte record is handed over whole, not read as an aggregate of no user records.
        assert.equal(kplUserRecords(framed(Buffer.alloc(0))), undefined);
    });

    it("reads varints as 64-bit, as protobuf does: a tenth byte's higher bits fall off, an eleventh byte is corrupt", () => {
        // partition_key_index 2^64 (1 followed by 64 zero bits) reads as 0; 2^64 + 1 as 1 (out of a table of 1).
        const index = (tenthByte: number, first = 0x80) => Buffer.concat([Buffer.from([(1 << 3) | 0, first]), Buffer.alloc(8, 0x80), Buffer.from([tenthByte])]);
        const withIndex = (varint: Buffer) => framed(Buffer.concat([keyTable("a"), lengthDelimited(3, Buffer.concat([varint, lengthDelimited(3, Buffer.from("x"))]))]));
        assert.deepEqual(kplUserRecords(withIndex(index(0x02))), [{ subSequenceNumber: 0, partitionKey: "a", data: Buffer.from("x") }]);
        assert.throws(() => kplUserRecords(withIndex(index(0x02, 0x81))), /user record 0 names partition key 1 of a table of 1/);
        const eleven = Buffer.concat([Buffer.from([(1 << 3) | 0]), Buffer.alloc(10, 0x80), Buffer.from([0x01])]);
        assert.throws(() => kplUserRecords(withIndex(eleven)), /Record has a truncated or overlong varint at byte 1/);
    });

    it("gives each user record its own copy of its bytes", async () => {
        const aggregate = await kplAggregate([{ partitionKey: "a", data: Buffer.from("only this") }]);
        const [user] = kplUserRecords(aggregate)!;
        aggregate.fill(0);
        assert.equal(user.data.toString(), "only this");
    });

    it("reads an aggregate of no user records as none, and skips fields it does not know", () => {
        assert.deepEqual(kplUserRecords(framed(keyTable("a"))), []);
        const unknownFields = Buffer.concat([keyTable("a"), lengthDelimited(2, Buffer.from("hash")), Buffer.from([(9 << 3) | 5, 1, 2, 3, 4]), userRecord(0, Buffer.from("x")), varintField(7, 300)]);
        assert.deepEqual(kplUserRecords(framed(unknownFields)), [{ subSequenceNumber: 0, partitionKey: "a", data: Buffer.from("x") }]);
    });

    it("fails a digest-valid aggregate it cannot read, saying why", () => {
        const cases: [Buffer, RegExp][] = [
            [Buffer.concat([keyTable("a"), userRecord(5, Buffer.from("x"))]), /user record 0 names partition key 5 of a table of 1/],
            [Buffer.concat([keyTable("a"), lengthDelimited(3, varintField(1, 0))]), /user record 0 has no data/],
            [Buffer.concat([keyTable("a"), Buffer.from([(3 << 3) | 2, 50, 1])]), /AggregatedRecord field 3 runs past the end of the message/],
            [Buffer.from([(1 << 3) | 3]), /AggregatedRecord field 1 has wire type 3, which it cannot have/],
            [Buffer.from([(1 << 3) | 0, 0x80]), /AggregatedRecord has a truncated or overlong varint at byte 1/],
            [Buffer.concat([keyTable("a"), lengthDelimited(3, lengthDelimited(1, Buffer.from("x")))]), /partition_key_index is not a varint/],
            [varintField(1, 3), /partition_key_table is not length-delimited/],
            [Buffer.concat([keyTable("a"), Buffer.from([0x00, 0x01])]), /AggregatedRecord has a field number 0 at byte 3/],
        ];
        for (const [message, why] of cases) {
            assert.throws(() => kplUserRecords(framed(message)), (error: unknown) => error instanceof RecordDecodeError && /^KPL aggregate with a valid digest cannot be read: /.test(error.message) && why.test(error.message));
        }
    });
});
