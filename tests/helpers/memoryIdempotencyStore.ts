/** An in-memory idempotency store for property tests of the ordered wrappers. */
import { strict as assert } from "node:assert";
import { ClaimResult, IdempotencyInProgressError, IdempotencyPayloadMismatchError, IdempotencyStore } from "../../runtime";

/**
 * In-memory stand-in for the DynamoDB store with the same claim/complete/release semantics
 * (completed ⇒ stored result or payload mismatch; live claim ⇒ in-progress error; owner-fenced
 * completion and release). Leases never lapse here: the simulations invoke one batch at a time.
 */
export class InMemoryIdempotencyStore extends IdempotencyStore {
    readonly items = new Map<string, { hash: string; owner?: string; result?: string }>();
    private nextOwner = 0;

    constructor() {
        super({ tableName: "in-memory", client: {} as never, expirySeconds: 1, leaseSeconds: 1 });
    }

    override async claim(key: string, hash: string): Promise<ClaimResult> {
        const item = this.items.get(key);
        if (item && item.hash !== hash) throw new IdempotencyPayloadMismatchError(key);
        if (item?.owner !== undefined) throw new IdempotencyInProgressError(key);
        if (item) return { status: "completed", result: item.result === undefined ? undefined : JSON.parse(item.result) };
        const ownerToken = `owner-${this.nextOwner++}`;
        this.items.set(key, { hash, owner: ownerToken });
        return { status: "claimed", ownerToken };
    }

    override async complete(key: string, ownerToken: string, result: unknown): Promise<void> {
        const item = this.items.get(key);
        assert.equal(item?.owner, ownerToken, "completion by a non-owner");
        this.items.set(key, { hash: item!.hash, result: JSON.stringify(result) });
    }

    override async release(key: string, ownerToken: string): Promise<boolean> {
        if (this.items.get(key)?.owner !== ownerToken) return false;
        return this.items.delete(key);
    }
}
