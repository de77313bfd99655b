import { strict as assert } from "node:assert";
import fc from "fast-check";
import { ControllerParams, ControllerState, ControlSignals, decideConcurrency, DECISION_REASONS, DEEPEST_ERROR_CUT, DEFAULT_TUNING, KNEE_RETURN_MAX, SLOWDOWN_RESTORE_MAX } from "../../runtime/controller";

const RUNS = 1000;

/** Bounds, an optional latency target and any mix of valid tuning overrides. */
const paramsArbitrary: fc.Arbitrary<ControllerParams> = fc
    .record(
        {
            min: fc.integer({ min: 1, max: 50 }),
            span: fc.integer({ min: 0, max: 1000 }),
            latencyTargetMs: fc.double({ min: 1, max: 5000, noNaN: true }),
            errorRateThreshold: fc.double({ min: 0, max: 0.5, noNaN: true }),
            minSamples: fc.integer({ min: 0, max: 100 }),
            latencyTolerance: fc.double({ min: 1, max: 3, noNaN: true }),
            baselineDecay: fc.double({ min: 0, max: 0.5, noNaN: true }),
            hysteresis: fc.double({ min: 0, max: 0.5, noNaN: true }),
            backoffRatio: fc.double({ min: 0.5, max: 0.99, noNaN: true }),
            growthGain: fc.double({ min: 0.1, max: 10, noNaN: true }),
            maxIncreaseRatio: fc.double({ min: 0.01, max: 2, noNaN: true }),
            minUtilisation: fc.double({ min: 0, max: 1, noNaN: true }),
            backlogAgeTargetMs: fc.integer({ min: 0, max: 600_000 }),
        },
        { requiredKeys: ["min", "span"] },
    )
    .map(({ span, ...rest }) => ({ ...rest, max: rest.min + span }));

/** Any limit, also outside the bounds, with or without a learned baseline. */
const stateArbitrary: fc.Arbitrary<ControllerState> = fc.record(
    { limit: fc.integer({ min: -10, max: 2000 }), baselineLatencyMs: fc.double({ min: 0.1, max: 10_000, noNaN: true }) },
    { requiredKeys: ["limit"] },
);

const positive = (max: number) => fc.double({ min: 0.1, max, noNaN: true });

/** A learned state with a pending change and a knee, as the learned-target decision leaves them. */
const learnedStateArbitrary: fc.Arbitrary<ControllerState> = fc.record(
    {
        limit: fc.integer({ min: -10, max: 2000 }),
        baselineLatencyMs: positive(10_000),
        pendingChange: fc.record(
            {
                fromLimit: fc.integer({ min: 1, max: 2000 }),
                toLimit: fc.integer({ min: 1, max: 2000 }),
                concurrency: positive(1e9),
                latencyMs: positive(10_000),
                samples: fc.integer({ min: 0, max: 10_000 }),
                windows: fc.integer({ min: 0, max: 5 }),
                estimated: fc.constant(true),
                startedPast: fc.constant(true),
                collapsed: fc.constant(true),
                inForce: fc.integer({ min: 1, max: 2000 }),
            },
            { requiredKeys: ["fromLimit", "toLimit", "concurrency", "latencyMs", "samples", "windows"] },
        ),
        knee: fc.record(
            {
                limit: fc.integer({ min: 1, max: 2000 }),
                windows: fc.integer({ min: 0, max: 40 }),
                latencyMs: positive(10_000),
                hold: fc.integer({ min: 1, max: 32 }),
                high: fc.integer({ min: 1, max: 2000 }),
                low: fc.integer({ min: 0, max: 2 }),
                lastLatencyMs: positive(10_000),
                goodput: positive(10_000),
                goodputWindows: fc.integer({ min: 1, max: 8 }),
                lastGoodput: positive(10_000),
            },
            { requiredKeys: ["limit", "windows"] },
        ),
        /** Whether the pending change is the one in force (its target the current limit), as a driver passes it. */
        inForce: fc.boolean(),
    },
    { requiredKeys: ["limit", "inForce"] },
).map(({ inForce, ...state }) => (inForce && state.pendingChange ? { ...state, pendingChange: { ...state.pendingChange, toLimit: state.limit } } : state));

/** Bounds and tuning without a latency target: the learned-target decision. */
const learnedParamsArbitrary = paramsArbitrary.map(({ latencyTargetMs: _, ...rest }) => rest as ControllerParams);

const signalsArbitrary: fc.Arbitrary<ControlSignals> = fc.record({
    latencyMs: fc.double({ min: 0.1, max: 10_000, noNaN: true }),
    errorRate: fc.double({ min: 0, max: 1, noNaN: true }),
    samples: fc.integer({ min: 0, max: 10_000 }),
    throttles: fc.integer({ min: 0, max: 1000 }),
    inUse: fc.integer({ min: 0, max: 2000 }),
    backlogAgeMs: fc.integer({ min: 0, max: 1_000_000 }),
    backlogGrowing: fc.boolean(),
});

/** The limit the decision starts from: the current one as an integer in [min, max]. */
const startingLimit = (params: ControllerParams, state: ControllerState) => Math.min(params.max, Math.max(params.min, state.limit));

describe("decideConcurrency: invariants (fast-check)", () => {
    it("always returns an integer limit within [min, max] and a known reason", () => {
        fc.assert(
            fc.property(paramsArbitrary, stateArbitrary, signalsArbitrary, (params, state, signals) => {
                const decision = decideConcurrency(params, state, signals);
                assert.ok(Number.isInteger(decision.limit));
                assert.ok(decision.limit >= params.min && decision.limit <= params.max);
                assert.ok(DECISION_REASONS.includes(decision.reason));
            }),
            { numRuns: RUNS },
        );
    });

    it("never grows when the error rate is over the threshold", () => {
        const overThreshold = fc
            .tuple(paramsArbitrary, stateArbitrary, signalsArbitrary, fc.double({ min: 0, max: 1, noNaN: true }))
            .map(([params, state, signals, share]) => {
                const threshold = params.errorRateThreshold ?? DEFAULT_TUNING.errorRateThreshold;
                const errorRate = Math.min(1, threshold + Number.EPSILON + share * (1 - threshold));
                return { params, state, signals: { ...signals, errorRate } };
            });
        fc.assert(
            fc.property(overThreshold, ({ params, state, signals }) => {
                assert.ok(decideConcurrency(params, state, signals).limit <= startingLimit(params, state));
            }),
            { numRuns: RUNS },
        );
    });

    it("never grows without demand (no throttles, no growing backlog, no backlog older than its target)", () => {
        fc.assert(
            fc.property(paramsArbitrary, stateArbitrary, signalsArbitrary, (params, state, signals) => {
                const backlogAgeMs = Math.min(signals.backlogAgeMs, params.backlogAgeTargetMs ?? Infinity);
                const idle = { ...signals, throttles: 0, backlogGrowing: false, backlogAgeMs };
                assert.ok(decideConcurrency(params, state, idle).limit <= startingLimit(params, state));
            }),
            { numRuns: RUNS },
        );
    });

    // Only without a pending change: after a cut, a latency that did not fall is exactly what reads as a
    // slower downstream and restores the limit (see the learned-target tests).
    it("never gives lower latency a lower limit than higher latency, all else equal", () => {
        const latencies = fc.tuple(fc.double({ min: 0.1, max: 10_000, noNaN: true }), fc.double({ min: 0.1, max: 10_000, noNaN: true }));
        fc.assert(
            fc.property(paramsArbitrary, stateArbitrary, signalsArbitrary, latencies, (params, state, signals, [a, b]) => {
                const [lower, higher] = a <= b ? [a, b] : [b, a];
                const fast = decideConcurrency(params, state, { ...signals, latencyMs: lower });
                const slow = decideConcurrency(params, state, { ...signals, latencyMs: higher });
                assert.ok(fast.limit >= slow.limit, `${lower} ms → ${fast.limit} (${fast.reason}), ${higher} ms → ${slow.limit} (${slow.reason})`);
            }),
            { numRuns: RUNS },
        );
    });

    it("holds with too few samples", () => {
        fc.assert(
            fc.property(paramsArbitrary, stateArbitrary, signalsArbitrary, (params, state, signals) => {
                const minSamples = params.minSamples ?? DEFAULT_TUNING.minSamples;
                fc.pre(minSamples > 0);
                const sparse = { ...signals, samples: signals.samples % minSamples };
                assert.equal(decideConcurrency(params, state, sparse).limit, startingLimit(params, state));
            }),
            { numRuns: RUNS },
        );
    });

    it("moves at most one bounded step: never below half the limit (a quarter on errors), never above +maxIncreaseRatio (at least +1)", () => {
        fc.assert(
            fc.property(paramsArbitrary, stateArbitrary, signalsArbitrary, (params, state, signals) => {
                const limit = startingLimit(params, state);
                const ratio = params.maxIncreaseRatio ?? DEFAULT_TUNING.maxIncreaseRatio;
                const decision = decideConcurrency(params, state, signals);
                const next = decision.limit;
                assert.ok(next >= Math.max(params.min, Math.floor(limit * lowestCut(decision.reason))));
                assert.ok(next <= Math.min(params.max, limit + Math.max(1, Math.floor(limit * ratio))));
            }),
            { numRuns: RUNS },
        );
    });

    it("learned target, any pending change or knee: an integer in [min, max], a known reason", () => {
        fc.assert(
            fc.property(learnedParamsArbitrary, learnedStateArbitrary, signalsArbitrary, (params, state, signals) => {
                const decision = decideConcurrency(params, state, signals);
                assert.ok(Number.isInteger(decision.limit) && decision.limit >= params.min && decision.limit <= params.max);
                assert.ok(DECISION_REASONS.includes(decision.reason));
            }),
            { numRuns: RUNS },
        );
    });

    it("learned target: never grows with the error rate over the threshold, whatever is pending", () => {
        fc.assert(
            fc.property(learnedParamsArbitrary, learnedStateArbitrary, signalsArbitrary, fc.double({ min: 0, max: 1, noNaN: true }), (params, state, signals, share) => {
                const threshold = params.errorRateThreshold ?? DEFAULT_TUNING.errorRateThreshold;
                const errorRate = Math.min(1, threshold + Number.EPSILON + share * (1 - threshold));
                assert.ok(decideConcurrency(params, state, { ...signals, errorRate }).limit <= startingLimit(params, state));
            }),
            { numRuns: RUNS },
        );
    });

    it("learned target: grows by one bounded step at most, or back to the limit a mistaken cut left", () => {
        fc.assert(
            fc.property(learnedParamsArbitrary, learnedStateArbitrary, signalsArbitrary, (params, state, signals) => {
                const limit = startingLimit(params, state);
                const ratio = params.maxIncreaseRatio ?? DEFAULT_TUNING.maxIncreaseRatio;
                const decision = decideConcurrency(params, state, signals);
                // Back toward the limit a cut left: all the way on "rebaseline" (times the slowdown, at most
                // SLOWDOWN_RESTORE_MAX, when demand is unmet: Little's law), part of the way to a knee between the two
                // limits on "knee" (the knee step after a cut was always bounded by the limit before the cut, not by
                // maxIncreaseRatio; random runs with a small ratio found it, so the bound says so now).
                const before = state.pendingChange?.fromLimit ?? 0;
                const undone = decision.reason === "rebaseline" ? Math.floor(Math.max(limit, before) * SLOWDOWN_RESTORE_MAX) : decision.reason === "knee" && before > limit ? before : 0;
                // Or up to an earlier knee after a probe toward it that the throughput followed (at most KNEE_RETURN_MAX × the limit).
                const earlierKnee = decision.reason === "demand" && state.knee?.high !== undefined ? Math.min(state.knee.high, Math.floor(limit * KNEE_RETURN_MAX)) : 0;
                const ceiling = Math.max(limit + Math.max(1, Math.floor(limit * ratio)), undone, earlierKnee);
                assert.ok(decision.limit <= Math.min(params.max, ceiling), `${limit} → ${decision.limit} (${decision.reason})`);
                assert.ok(decision.limit >= Math.max(params.min, Math.floor(limit * lowestCut(decision.reason))));
            }),
            { numRuns: RUNS },
        );
    });

    it("learned target: a change is judged only after changeEffectWindows windows", () => {
        fc.assert(
            fc.property(learnedParamsArbitrary, learnedStateArbitrary, signalsArbitrary, (params, raw, signals) => {
                fc.pre(raw.pendingChange !== undefined && raw.pendingChange.windows + 1 < (params.changeEffectWindows ?? DEFAULT_TUNING.changeEffectWindows));
                // the change still in force: its target is the current limit
                const limit = startingLimit(params, raw);
                const state = { ...raw, limit, pendingChange: { ...raw.pendingChange!, toLimit: limit } };
                const decision = decideConcurrency(params, state, { ...signals, errorRate: 0, samples: Math.max(signals.samples, params.minSamples ?? 20) });
                // the one exception: a cut on its way that the window shows far too shallow is deepened at once
                const deepened = state.pendingChange.fromLimit > limit && decision.reason === "latency" && decision.limit < limit;
                assert.ok(decision.reason === "awaiting-effect" || deepened, `${decision.reason}: ${limit} → ${decision.limit}`);
            }),
            { numRuns: RUNS },
        );
    });
});

/** The deepest cut a decision with `reason` may make, as a share of the limit: a quarter on errors, half otherwise. */
function lowestCut(reason: string): number {
    return reason === "errors" ? DEEPEST_ERROR_CUT : 0.5;
}
