import { strict as assert } from "node:assert";
import { measureIdempotencyBatches, measureIdempotencyPeers, peersTable } from "../../bench/peers/powertoolsIdempotency";
import { meteredDynamo } from "../../bench/scale/controller";
import { countingClient, LocalDynamo, startDynalite } from "../helpers/dynalite";

describe("bench/peers/powertoolsIdempotency (dynalite)", () => {
    let db: LocalDynamo;
    before(async () => {
        db = await startDynalite();
        await db.createTable("bench-peers", "id");
    });
    after(() => db.stop());

    it("runs the body three times under Powertools and twice under ours when a takeover is followed by the first invocation's failure", async () => {
        const { client, counts } = countingClient(db.endpoint);
        const [powertools, ours] = await measureIdempotencyPeers(client, counts, "bench-peers");
        client.destroy();
        assert.deepEqual([powertools.implementation, powertools.bodyRunsAfterTakeoverThenFailure], ["Powertools idempotency", 3]);
        assert.deepEqual([ours.implementation, ours.bodyRunsAfterTakeoverThenFailure], ["serverless-concurrency", 2]);
        // a first delivery: claim + complete; a duplicate on dynalite: failed claim + read
        assert.deepEqual([powertools.requestsPerNewEvent, ours.requestsPerNewEvent, ours.requestsPerDuplicate], [2, 2, 2]);
        assert.match(peersTable([powertools, ours]), /\| Powertools idempotency \| 2 \| 2 \| \$1.25 \| 3 \|\n\| serverless-concurrency \| 2 \| 2 \| \$1.25 \| 2 \|/);
    });

    it("meters a batch of 10: each event claimed and completed on its own, a duplicate a failed claim and a read", async () => {
        const { client, meter } = meteredDynamo(db.endpoint);
        const figures = await measureIdempotencyBatches(client, meter, "bench-peers");
        client.destroy();
        for (const f of figures) {
            assert.deepEqual(f.newBatch, { requests: 20, wcu: 20, rcu: 0 }, f.implementation);
            assert.deepEqual([f.duplicateBatch.requests, f.duplicateBatch.wcu], [20, 10], f.implementation);
        }
    });
});
