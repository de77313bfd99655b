import { strict as assert } from "node:assert";
import fc from "fast-check";
import {
    BreakerEvent,
    BreakerSnapshot,
    BreakerTransition,
    CLOSED,
    decide,
    DEFAULT_BREAKER_POLICY,
    openDurationMs,
    resolveBreakerPolicy,
} from "../../runtime/breaker";
import { ConfigurationError } from "../../contracts/errors";

const NOW = 1_000_000;
// threshold 0.5, floor 20 calls, open 30 s doubling up to 900 s, 3 probe successes close.
const policy = resolveBreakerPolicy();
const open = (failedProbes: number, openUntil = NOW + 1): BreakerSnapshot => ({ state: "open", openUntil, failedProbes, probeSuccesses: 0 });
const halfOpen = (failedProbes: number, probeSuccesses: number): BreakerSnapshot => ({ state: "halfOpen", openUntil: 0, failedProbes, probeSuccesses });
const window = (requests: number, errors: number): BreakerEvent => ({ kind: "window", requests, errors, now: NOW });
const probe = (succeeded: boolean): BreakerEvent => ({ kind: "probe", succeeded, now: NOW });
const timer = (now = NOW): BreakerEvent => ({ kind: "timer", now });

describe("circuit breaker decision (pure)", () => {
    const table: [string, BreakerSnapshot, BreakerEvent, BreakerSnapshot, BreakerTransition?][] = [
        ["closed: all 19 calls failed, below the volume floor", CLOSED, window(19, 19), CLOSED],
        ["closed: 20 calls, 9 failed (45%)", CLOSED, window(20, 9), CLOSED],
        ["closed: 20 calls, 10 failed (50%) trips", CLOSED, window(20, 10), open(0, NOW + 30_000), { from: "closed", to: "open", reason: "errorRate" }],
        ["closed: 1000 calls, 999 failed trips", CLOSED, window(1000, 999), open(0, NOW + 30_000), { from: "closed", to: "open", reason: "errorRate" }],
        ["closed: a probe result is ignored", CLOSED, probe(false), CLOSED],
        ["closed: the timer is ignored", CLOSED, timer(), CLOSED],
        ["open: timer before the open time ends", open(0), timer(NOW), open(0)],
        ["open: timer when the open time ends", open(2, NOW), timer(NOW), halfOpen(2, 0), { from: "open", to: "halfOpen", reason: "openTimeElapsed" }],
        ["open: in-flight window totals are ignored", open(0), window(100, 100), open(0)],
        ["half-open: first probe success", halfOpen(1, 0), probe(true), halfOpen(1, 1)],
        ["half-open: third probe success closes and forgets the backoff", halfOpen(4, 2), probe(true), CLOSED, { from: "halfOpen", to: "closed", reason: "probesSucceeded" }],
        ["half-open: first failed probe doubles the open time", halfOpen(0, 2), probe(false), open(1, NOW + 60_000), { from: "halfOpen", to: "open", reason: "probeFailed" }],
        ["half-open: fourth failed probe: 30 s × 2^4", halfOpen(3, 0), probe(false), open(4, NOW + 480_000), { from: "halfOpen", to: "open", reason: "probeFailed" }],
        ["half-open: open time capped at maxOpenSeconds", halfOpen(9, 0), probe(false), open(10, NOW + 900_000), { from: "halfOpen", to: "open", reason: "probeFailed" }],
        ["half-open: the timer is ignored", halfOpen(1, 1), timer(), halfOpen(1, 1)],
        ["half-open: window totals are ignored", halfOpen(1, 1), window(50, 50), halfOpen(1, 1)],
    ];
    for (const [title, from, event, next, transition] of table) {
        it(title, () => {
            const decision = decide(from, event, policy);
            assert.deepEqual(decision.next, next);
            assert.deepEqual(decision.transition, transition);
        });
    }

    it("closes on the first success with successThreshold 1", () => {
        const decision = decide(halfOpen(0, 0), probe(true), resolveBreakerPolicy({ successThreshold: 1 }));
        assert.equal(decision.next.state, "closed");
    });

    it("trips at a threshold of 1 only when every call failed", () => {
        const strict = resolveBreakerPolicy({ errorThreshold: 1, minRequests: 5 });
        assert.equal(decide(CLOSED, window(5, 4), strict).next.state, "closed");
        assert.equal(decide(CLOSED, window(5, 5), strict).next.state, "open");
    });

    it("open time grows exponentially between failed probes up to the maximum", () => {
        const seconds = [0, 1, 2, 3, 4, 5, 6].map((n) => openDurationMs(policy, n) / 1000);
        assert.deepEqual(seconds, [30, 60, 120, 240, 480, 900, 900]);
    });

    it("never trips below the volume floor, and the open time stays within [openSeconds, maxOpenSeconds]", () => {
        const snapshot = fc.record({
            state: fc.constantFrom("closed" as const, "open" as const, "halfOpen" as const),
            openUntil: fc.integer({ min: 0, max: 2 * NOW }),
            failedProbes: fc.nat({ max: 60 }),
            probeSuccesses: fc.nat({ max: 2 }),
        });
        const event = fc.oneof(
            fc.record({ kind: fc.constant("window" as const), requests: fc.nat({ max: 200 }), errors: fc.nat({ max: 200 }), now: fc.constant(NOW) }),
            fc.record({ kind: fc.constant("probe" as const), succeeded: fc.boolean(), now: fc.constant(NOW) }),
            fc.record({ kind: fc.constant("timer" as const), now: fc.integer({ min: 0, max: 2 * NOW }) }),
        );
        fc.assert(
            fc.property(snapshot, event, (s, e) => {
                const { next, transition } = decide(s, e, policy);
                if (e.kind === "window" && e.requests < policy.minRequests) assert.equal(transition, undefined);
                if (transition?.to === "open") {
                    assert.ok(next.openUntil - NOW >= policy.openSeconds * 1000 && next.openUntil - NOW <= policy.maxOpenSeconds * 1000);
                }
            }),
            { numRuns: 1000 },
        );
    });

    describe("policy validation names the option and the value", () => {
        const cases: [Partial<typeof DEFAULT_BREAKER_POLICY>, RegExp][] = [
            [{ errorThreshold: 0 }, /- errorThreshold must be a number in \(0, 1\]; received 0$/m],
            [{ errorThreshold: 1.5 }, /- errorThreshold must be a number in \(0, 1\]; received 1\.5$/m],
            [{ errorThreshold: Number.NaN }, /- errorThreshold .* received NaN$/m],
            [{ minRequests: 0 }, /- minRequests must be an integer ≥ 1; received 0$/m],
            [{ successThreshold: 1.5 }, /- successThreshold must be an integer ≥ 1; received 1\.5$/m],
            [{ windowSeconds: -1 }, /- windowSeconds must be a number > 0; received -1$/m],
            [{ openSeconds: 0 }, /- openSeconds must be a number > 0; received 0$/m],
            [{ openSeconds: 600, maxOpenSeconds: 300 }, /- maxOpenSeconds must be at least openSeconds \(600\); received 300$/m],
            [{ backoffMultiplier: 0.5 }, /- backoffMultiplier must be a number ≥ 1; received 0\.5$/m],
        ];
        for (const [partial, message] of cases) {
            it(JSON.stringify(partial).replace("null", "NaN"), () =>
                assert.throws(() => resolveBreakerPolicy(partial), (e: Error) => e instanceof ConfigurationError && message.test(e.message)),
            );
        }

        it("lists every problem of the policy in one error", () => {
            assert.throws(
                () => resolveBreakerPolicy({ errorThreshold: 2, minRequests: 0, openSeconds: -1 }),
                (e: Error) => e instanceof ConfigurationError && /\(3 problems\)/.test(e.message) && /errorThreshold/.test(e.message) && /minRequests/.test(e.message) && /openSeconds/.test(e.message),
            );
        });
    });
});
