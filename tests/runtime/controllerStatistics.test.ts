import { strict as assert } from "node:assert";
import fc from "fast-check";
import { StatisticsBuffer } from "../../runtime/controller";
import { OutcomeBuffer } from "../../runtime/breaker";

const INTERVAL_MS = 60_000;
const FLUSH_MS = 10_000;

describe("per-environment buffers (pure)", () => {
    it("statistics: after any invocation, the unwritten calls are at most one flush period old and of the current interval; nothing is lost or counted twice", () => {
        fc.assert(
            fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 60 }), (steps) => {
                const buffer = new StatisticsBuffer(FLUSH_MS, 0);
                const written = new Map<number, number>();
                const unwritten: { at: number; interval: number }[] = [];
                let now = 0;
                let recorded = 0;
                for (const [gap, calls] of steps) {
                    now += gap;
                    const interval = Math.floor(now / INTERVAL_MS);
                    buffer.add(interval, Array.from({ length: calls }, () => ({ latencyMs: 5, ok: true })));
                    recorded += calls;
                    for (let i = 0; i < calls; i++) unwritten.push({ at: now, interval });
                    if (buffer.due(interval, now)) {
                        for (const p of buffer.pending()) {
                            written.set(p.interval, p.stats.calls); // a write replaces the environment's item
                            buffer.written(p.interval, interval, now);
                        }
                        unwritten.length = 0;
                    }
                    assert.ok(unwritten.every((c) => now - c.at < FLUSH_MS && c.interval === interval), "only the current flush period is unwritten");
                }
                const total = [...written.values()].reduce((a, b) => a + b, 0) + unwritten.length;
                assert.equal(total, recorded);
            }),
        );
    });

    it("breaker counts: due after the flush period, or at once when the known window plus the buffer would trip", () => {
        const policy = { minRequests: 20, errorThreshold: 0.5 };
        const buffer = new OutcomeBuffer(5000, policy, 0);
        buffer.add(0, { requests: 5, errors: 5 });
        assert.equal(buffer.due(1000, undefined), false, "5 failures alone are under the floor");
        assert.equal(buffer.due(1000, { windowStart: 0, outcomes: { requests: 15, errors: 6 } }), true, "with the 15 calls known: 20 calls, 55 % failed");
        assert.equal(buffer.due(1000, { windowStart: -60_000, outcomes: { requests: 15, errors: 6 } }), false, "another window's counts do not add");
        assert.equal(buffer.due(5000, undefined), true, "the flush period has passed");
        assert.deepEqual(buffer.take(5000), { windowStart: 0, outcomes: { requests: 5, errors: 5 } });
        assert.equal(buffer.due(9000, undefined), false, "nothing buffered");
    });

    it("breaker counts: a failed write goes back, counts of an older window are dropped", () => {
        const buffer = new OutcomeBuffer(5000, { minRequests: 20, errorThreshold: 0.5 }, 0);
        buffer.restore(0, { requests: 3, errors: 1 });
        buffer.add(0, { requests: 2, errors: 0 });
        assert.deepEqual(buffer.takeOtherWindow(60_000), { windowStart: 0, outcomes: { requests: 5, errors: 1 } });
        buffer.add(60_000, { requests: 1, errors: 0 });
        buffer.restore(0, { requests: 5, errors: 1 });
        assert.deepEqual(buffer.take(70_000), { windowStart: 60_000, outcomes: { requests: 1, errors: 0 } });
    });
});
