import { strict as assert } from "node:assert";
import { ConcurrencyDecision, ControllerParams, ControllerState, ControlSignals, decideConcurrency, DEFAULT_TUNING, SLOWER_MAX_ELASTICITY, START_PROBE_CUT } from "../../runtime/controller";

/** Target 200 ms; defaults otherwise (threshold 5 %, hysteresis 5 %, gain 2, step ≤ 50 %, 20 samples). */
const PARAMS: ControllerParams = { min: 2, max: 100, latencyTargetMs: 200 };

/** A busy window with demand: throttles, a growing backlog and the whole limit (40) in use. */
const BUSY: ControlSignals = { latencyMs: 100, errorRate: 0, samples: 500, throttles: 10, inUse: 40, backlogAgeMs: 1000, backlogGrowing: true };

/** Passes each decision straight back for `windows` windows, the signals made from the limit in force; what it decided. */
function runWindows(params: ControllerParams, start: ControllerState, windows: number, signalsAt: (limit: number) => ControlSignals) {
    let state = start;
    const limits: number[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < windows; i++) {
        const decision = decideConcurrency(params, state, signalsAt(state.limit));
        limits.push(decision.limit);
        reasons.push(decision.reason);
        state = decision;
    }
    return { limits, reasons, state };
}

/** Decides from BUSY with `signals` overridden; the whole limit is in use unless `signals.inUse` says otherwise. */
const decide = (signals: Partial<ControlSignals>, limit = 40, params: ControllerParams = PARAMS) =>
    decideConcurrency(params, { limit }, { ...BUSY, inUse: limit, ...signals });

describe("decideConcurrency: table", () => {
    const cases: { name: string; signals: Partial<ControlSignals>; limit?: number; params?: ControllerParams; expected: [number, string] }[] = [
        // growth: step = limit × 2 × (target × 0.95 / latency − 1), at least 1, at most half the limit
        { name: "grows by the latency headroom, capped at +50 %", signals: {}, expected: [60, "demand"] },
        { name: "grows less with less headroom", signals: { latencyMs: 180 }, expected: [44, "demand"] },
        { name: "grows by at least 1", signals: { latencyMs: 189 }, limit: 3, expected: [4, "demand"] },
        { name: "grows on throttles alone", signals: { backlogGrowing: false }, expected: [60, "demand"] },
        { name: "grows on a growing backlog alone", signals: { throttles: 0 }, expected: [60, "demand"] },
        { name: "stops at max", signals: {}, limit: 100, expected: [100, "at-max"] },
        { name: "grows up to max", signals: {}, limit: 90, expected: [100, "demand"] },
        // holds
        { name: "holds without demand", signals: { throttles: 0, backlogGrowing: false }, expected: [40, "no-demand"] },
        { name: "holds when the limit is not really used", signals: { inUse: 35 }, expected: [40, "underused"] },
        { name: "holds with latency in the band under the target", signals: { latencyMs: 195 }, expected: [40, "hysteresis"] },
        { name: "holds at exactly the target", signals: { latencyMs: 200 }, expected: [40, "hysteresis"] },
        { name: "holds with errors in the band under the threshold", signals: { errorRate: 0.048 }, expected: [40, "hysteresis"] },
        { name: "holds with too few samples, whatever they say", signals: { samples: 19, errorRate: 1, latencyMs: 5000 }, expected: [40, "too-few-samples"] },
        { name: "holds when the latency is missing", signals: { latencyMs: NaN }, expected: [40, "missing-signals"] },
        { name: "holds when the error rate is out of range", signals: { errorRate: 1.5 }, expected: [40, "missing-signals"] },
        // cuts
        { name: "cuts by the latency gradient", signals: { latencyMs: 250 }, expected: [32, "latency"] },
        { name: "cuts by at most half on latency", signals: { latencyMs: 1000 }, expected: [20, "latency"] },
        { name: "cuts on latency even without demand", signals: { latencyMs: 250, throttles: 0, backlogGrowing: false }, expected: [32, "latency"] },
        { name: "cuts by the failing share on errors", signals: { errorRate: 0.2 }, expected: [32, "errors"] },
        { name: "cuts by at least backoffRatio (0.9) on errors", signals: { errorRate: 0.06 }, expected: [36, "errors"] },
        { name: "cuts by the failing share on errors, to a quarter at most (a collapsed downstream)", signals: { errorRate: 0.9 }, expected: [10, "errors"] },
        { name: "cuts by the failing share on errors past half", signals: { errorRate: 0.6 }, expected: [16, "errors"] },
        { name: "cuts by the deeper of errors and latency", signals: { errorRate: 0.06, latencyMs: 400 }, expected: [20, "errors"] },
        { name: "cuts on errors even with low latency (drops are not fast samples)", signals: { errorRate: 0.5, latencyMs: 1 }, expected: [20, "errors"] },
        { name: "cuts by at least 1", signals: { latencyMs: 201 }, limit: 10, expected: [9, "latency"] },
        { name: "stops at min", signals: { errorRate: 0.5 }, limit: 2, expected: [2, "at-min"] },
        { name: "cuts down to min", signals: { errorRate: 0.5 }, limit: 3, expected: [2, "errors"] },
        // bounds
        { name: "moves a limit above max to max, and nothing else", signals: { errorRate: 0.5 }, limit: 150, expected: [100, "out-of-bounds"] },
        { name: "moves a limit below min to min", signals: {}, limit: 1, expected: [2, "out-of-bounds"] },
        { name: "rounds a fractional limit", signals: {}, limit: 40.4, expected: [40, "out-of-bounds"] },
        { name: "replaces a missing limit with min", signals: {}, limit: NaN, expected: [2, "out-of-bounds"] },
        // optional demand on an old backlog
        {
            name: "counts an old backlog as demand when backlogAgeTargetMs is set",
            signals: { throttles: 0, backlogGrowing: false, backlogAgeMs: 61_000 },
            params: { ...PARAMS, backlogAgeTargetMs: 60_000 },
            expected: [60, "demand"],
        },
        {
            name: "does not count a young backlog as demand",
            signals: { throttles: 0, backlogGrowing: false, backlogAgeMs: 59_000 },
            params: { ...PARAMS, backlogAgeTargetMs: 60_000 },
            expected: [40, "no-demand"],
        },
    ];

    for (const c of cases) {
        it(c.name, () => {
            const decision = decide(c.signals, c.limit, c.params);
            assert.deepEqual([decision.limit, decision.reason], c.expected);
        });
    }
});

describe("decideConcurrency: learned latency baseline (no target)", () => {
    const params: ControllerParams = { min: 2, max: 100 };

    it("starts the baseline at the first counted window and targets baseline × 1.25", () => {
        const first = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, { ...BUSY, throttles: 0, backlogGrowing: false });
        assert.deepEqual(first, { limit: 40, reason: "no-demand", baselineLatencyMs: 100, latencyTargetMs: 125 });
        // the first counted window learns it, and steps the limit down (see "start probe")
        const start = decideConcurrency(params, { limit: 40 }, { ...BUSY, latencyMs: 90 });
        assert.deepEqual([start.baselineLatencyMs, start.latencyTargetMs, start.reason], [90, 112.5, "start-probe"]);
    });

    it("follows a higher latency within the target slowly (5 % of the gap)", () => {
        const next = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, { ...BUSY, latencyMs: 120 });
        assert.equal(next.baselineLatencyMs, 101);
        assert.equal(next.reason, "hysteresis");
    });

    it("does not learn from a window over the target, and cuts by the gradient against it (to the power 0.7)", () => {
        const next = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, { ...BUSY, latencyMs: 150 });
        assert.equal(next.baselineLatencyMs, 100);
        assert.equal(next.latencyTargetMs, 125);
        // against a learned target the cut hedges between a slower downstream and overload: 40 × (125 / 150)^0.7 ≈ 35.2
        assert.deepEqual([next.limit, next.reason], [35, "latency"]);
        assert.deepEqual(next.pendingChange, { fromLimit: 40, toLimit: 35, concurrency: 500 * 150, latencyMs: 150, samples: 500, windows: 0 });
    });

    it("takes a lower latency as the new baseline at once", () => {
        const next = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, { ...BUSY, latencyMs: 80 });
        assert.equal(next.baselineLatencyMs, 80);
        assert.equal(next.reason, "demand");
    });

    it("keeps the baseline through windows that are not counted", () => {
        const next = decideConcurrency(params, { limit: 40, baselineLatencyMs: 90 }, { ...BUSY, samples: 3, latencyMs: 10 });
        assert.deepEqual(next, { limit: 40, reason: "too-few-samples", baselineLatencyMs: 90 });
    });

    it("returns a state that can be passed straight back in, and waits for each change to show before the next", () => {
        // saturated: the throughput follows the limit (the growth bought throughput, so it goes on)
        const { limits, reasons, state } = runWindows(params, { limit: 10, baselineLatencyMs: 100 }, 5, (limit) => ({ ...BUSY, inUse: limit, samples: 50 * limit }));
        // headroom against the learned target 125: 125 × 0.95 / 100 − 1 = 0.1875, so a first step of 37.5 % (10 → 14);
        // each growth is judged two windows on (changeEffectWindows), so every other window waits; the throughput
        // followed each one in proportion, so the next may be twice as large, within +50 %: 14 → 21 → 31
        assert.deepEqual(limits, [14, 14, 21, 21, 31]);
        assert.deepEqual(reasons, ["demand", "awaiting-effect", "demand", "awaiting-effect", "demand"]);
        assert.equal(state.baselineLatencyMs, 100);
    });

    it("keeps growing by its momentum inside the hysteresis band after growth the throughput followed", () => {
        // Intended change (issue 14): a p90 just over the band's floor (a noisy percentile near the target) held
        // growth that the throughput had just followed in proportion, one window or more each time.
        const grown = decideConcurrency(params, { limit: 10, baselineLatencyMs: 100 }, { ...BUSY, inUse: 10, samples: 500 });
        const waited = decideConcurrency(params, grown, { ...BUSY, inUse: 10, samples: 500 });
        // 10 → 14 raised the calls 500 → 700; the p90 122 is inside the band (target ≈ 126, growth only under ≈ 120)
        const inBand = { ...BUSY, latencyMs: 122, inUse: 14, samples: 700 };
        const next = decideConcurrency(params, waited, inBand);
        // 14 + 2 × 4 (the momentum) = 22, capped at +50 % of 14: 21
        assert.deepEqual([next.limit, next.reason], [21, "demand"]);
        // growth the throughput followed less than in proportion (500 → 600 calls: elasticity ≈ 0.54) earns no momentum: the band holds
        const partly = decideConcurrency(params, waited, { ...inBand, samples: 600 });
        assert.deepEqual([partly.limit, partly.reason], [14, "hysteresis"]);
    });
});

describe("decideConcurrency: telling a slower downstream from an overloaded one (learned target)", () => {
    const params: ControllerParams = { min: 2, max: 100 };
    /** Limit 40 at a learned baseline of 100 ms; the downstream now answers in 225 ms with 500 calls a window. */
    const slowWindow: ControlSignals = { ...BUSY, latencyMs: 225, samples: 500 };

    /** The cut the slow window causes, then one window in which it has not landed yet. */
    function cutAndWait(): ControllerState {
        const cut = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, slowWindow);
        // 40 × (125 / 225)^0.7 ≈ 26.5
        assert.deepEqual([cut.limit, cut.reason], [26, "latency"]);
        const waiting = decideConcurrency(params, cut, slowWindow);
        assert.deepEqual([waiting.limit, waiting.reason, waiting.pendingChange?.windows], [26, "awaiting-effect", 1]);
        return waiting;
    }

    it("restores the limit and moves the baseline when the cut lowered the concurrency but not the latency", () => {
        // slower at every concurrency: with 26 of 40 in flight the throughput falls in proportion, the latency stays.
        // With demand unmet, the same throughput at 2.25 × the latency needs 2.25 × the concurrency (at most 2 ×): 80
        const next = decideConcurrency(params, cutAndWait(), { ...slowWindow, samples: 325 });
        assert.deepEqual(next, { limit: 80, reason: "rebaseline", baselineLatencyMs: 225, latencyTargetMs: 281.25, pendingChange: next.pendingChange });
        assert.deepEqual(next.pendingChange, { fromLimit: 26, toLimit: 80, concurrency: 325 * 225, latencyMs: 225, samples: 325, windows: 0 });
        // without that demand, back to the limit before the cut
        const idle = decideConcurrency(params, cutAndWait(), { ...slowWindow, samples: 325, throttles: 0, backlogGrowing: false });
        assert.deepEqual([idle.limit, idle.reason], [40, "rebaseline"]);
    });

    it("places the knee between the two limits when the cut kept the throughput (overload)", () => {
        // overloaded: the same throughput at 26 in flight as at 40, the latency falls with the concurrency; the
        // throughput rises with the limit under the knee and falls over it, so the knee is at √(40 × 26 / 1) ≈ 32
        const next = decideConcurrency(params, cutAndWait(), { ...slowWindow, latencyMs: 124 });
        assert.deepEqual([next.limit, next.reason, next.baselineLatencyMs], [32, "knee", 101.2]);
        assert.equal(next.pendingChange?.estimated, true);
        const settled = decideConcurrency(params, next, { ...slowWindow, latencyMs: 124 });
        assert.equal(settled.reason, "awaiting-effect");
    });

    it("cuts further when the latency fell much faster than the concurrency (still past the knee)", () => {
        // the square law above capacity: concurrency × 0.65, latency × 0.65² (225 → 95 ms, 500 → 769 calls)
        const next = decideConcurrency(params, cutAndWait(), { ...slowWindow, latencyMs: 95, samples: 769 });
        // the throughput rose as the limit fell: still past the knee, a milder cut again (26 × (26/40)^0.3 ≈ 22.9)
        assert.deepEqual([next.limit, next.reason, next.knee?.limit], [22, "knee", 22]);
    });

    it("still reads a cut as a slower downstream when the latency drifted up a little meanwhile (+13 %)", () => {
        // Intended change (issue 14): right after the downstream changes, a window's p90 drifts by 10–20 % while
        // the backlog and the environments settle; +10 % used to count as "something else changed", so the
        // controller cut a second time before it restored the limit
        const next = decideConcurrency(params, cutAndWait(), { ...slowWindow, latencyMs: 255, samples: 325 });
        assert.equal(next.reason, "rebaseline");
    });

    it("does not read a throughput that fell more than twice as fast as the cut as a slower downstream", () => {
        // The cut 40 → 26 (× 0.65) landed just as the downstream lost capacity: the throughput fell to 0.36 × (elasticity
        // 2.4), the latency barely moved. Read as "slower", the restore (26 → up to 80) would land on the fallen
        // downstream; not judged, the latency over the target cuts again: 26 × (125 / 240)^0.7 ≈ 16.5
        const fell = decideConcurrency(params, cutAndWait(), { ...slowWindow, latencyMs: 240, samples: 180 });
        assert.deepEqual([fell.limit, fell.reason, fell.baselineLatencyMs], [16, "latency", 100]);
        // under the bound (0.44 ×, elasticity 1.9) it still is the slower downstream's evidence
        const followed = decideConcurrency(params, cutAndWait(), { ...slowWindow, latencyMs: 240, samples: 220 });
        assert.equal(followed.reason, "rebaseline");
        assert.ok(Math.log(180 / 500) / Math.log(26 / 40) > SLOWER_MAX_ELASTICITY && Math.log(220 / 500) / Math.log(26 / 40) < SLOWER_MAX_ELASTICITY);
    });

    it("does not read a latency that rose after the cut as a slower downstream (something else changed)", () => {
        const next = decideConcurrency(params, cutAndWait(), { ...slowWindow, latencyMs: 400, samples: 150 });
        assert.notEqual(next.reason, "rebaseline");
        assert.equal(next.baselineLatencyMs, 100);
    });

    it("judges a deeper cut that replaced one on its way against the window that asked for it", () => {
        // Intended change (issue 14): a knee step 92 → 87 was on its way when the downstream got 2.2 × slower. The
        // deeper cut (92 → 50) used to keep the reference of the calm window before it, so the slower downstream read
        // as "something else changed" and the limit was cut again; judged against the slow window it is "slower".
        const wide: ControllerParams = { min: 2, max: 1000 };
        const slow: ControlSignals = { ...BUSY, latencyMs: 143, samples: 240 };
        const onItsWay: ControllerState = { limit: 87, baselineLatencyMs: 63, pendingChange: { fromLimit: 92, toLimit: 87, concurrency: 980 * 66, latencyMs: 66, samples: 980, windows: 0 } };
        const deeper = decideConcurrency(wide, onItsWay, slow);
        assert.deepEqual([deeper.limit, deeper.reason], [50, "latency"]);
        assert.deepEqual(deeper.pendingChange, { fromLimit: 92, toLimit: 50, concurrency: 240 * 143, latencyMs: 143, samples: 240, windows: 0 });
        const waiting = decideConcurrency(wide, deeper, slow);
        // the throughput fell with the limit (elasticity 1), the latency did not: slower, back to 92 × 116 / 63
        const judged = decideConcurrency(wide, waiting, { ...BUSY, latencyMs: 116, samples: 130 });
        assert.deepEqual([judged.limit, judged.reason, judged.baselineLatencyMs], [169, "rebaseline", 116]);
    });

    it("does not cut twice for errors while a cut is still on its way", () => {
        const cut = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, slowWindow);
        const next = decideConcurrency(params, cut, { ...slowWindow, errorRate: 0.3 });
        assert.deepEqual([next.limit, next.reason], [26, "awaiting-effect"]);
    });
});

describe("decideConcurrency: the knee (learned target)", () => {
    const params: ControllerParams = { min: 2, max: 100 };

    /** Growth from 40 to 55 on a calm window (37.5 % headroom step), then one window before it lands. */
    function growAndWait(): ControllerState {
        const grown = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, BUSY);
        assert.deepEqual([grown.limit, grown.reason], [55, "demand"]);
        return decideConcurrency(params, grown, { ...BUSY, inUse: 40 });
    }

    it("steps back to the knee estimated from both throughputs when the growth bought none", () => {
        // 55 in flight: latency × 1.48, calls + 1 %: the concurrency rose, the throughput did not
        const next = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 148, samples: 505, inUse: 55 });
        assert.deepEqual([next.limit, next.reason], [47, "knee"]);
        // √(505 / 500 × 40 × 55) ≈ 47; a first knee holds growth for 8 windows
        assert.deepEqual(next.knee, { limit: 47, windows: 0, hold: 8 });
    });

    it("steps back to the knee estimated between the two limits when the growth lowered the throughput a little", () => {
        // elasticity log(450 / 500) / log(55 / 40) ≈ −0.33: the knee at √(450 / 500 × 40 × 55) ≈ 44
        const next = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 160, samples: 450, inUse: 55 });
        assert.deepEqual([next.limit, next.reason], [44, "knee"]);
    });

    it("holds twice as long at a knee the throughput brackets: growth whose throughput fell beyond counting noise", () => {
        // Intended change (issue 14, steady state): such a knee is measured on both sides; its first probe came after
        // 8 windows and mostly found it again (two limit changes). elasticity log(45 000 / 50 000) / log(55 / 40) ≈ −0.33,
        // a fall of 10 % against a count's noise of 3 / √50 000 ≈ 1.3 %: the knee at √(0.9 × 40 × 55) ≈ 44
        const grown: ControllerState = { limit: 55, baselineLatencyMs: 100, pendingChange: { fromLimit: 40, toLimit: 55, concurrency: 5_000_000, latencyMs: 100, samples: 50_000, windows: 1 } };
        const fell = decideConcurrency(params, grown, { ...BUSY, latencyMs: 160, samples: 45_000, inUse: 55 });
        assert.deepEqual([fell.limit, fell.reason, fell.knee], [44, "knee", { limit: 44, windows: 0, hold: 16 }]);
        // … while a fall within the noise (500 → 450 calls: 10 % against 3 / √500 ≈ 13 %) is a first knee's 8
        const noisy = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 160, samples: 450, inUse: 55 });
        assert.deepEqual(noisy.knee, { limit: 44, windows: 0, hold: 8 });
    });

    it("holds twice as long at the knee between two cuts when the second cut's throughput fell beyond counting noise", () => {
        // Intended change (issue 14, steady state): the first cut (60 → 54 after 79 → 60 left the limit past the knee)
        // lowered the throughput by 5 %, against a count's noise of 3 / √34 000 ≈ 1.6 %: the knee at
        // √(34 000 / 32 300 × 60 × 54) ≈ 58, between a limit measured past it and one measured under it
        const cut: ControllerState = { limit: 54, baselineLatencyMs: 100, knee: { limit: 54, windows: 1, hold: 8 }, pendingChange: { fromLimit: 60, toLimit: 54, concurrency: 3_400_000, latencyMs: 100, samples: 34_000, windows: 1, pastKnee: true } };
        const between = decideConcurrency(params, cut, { ...BUSY, latencyMs: 100, samples: 32_300, inUse: 54 });
        assert.deepEqual([between.limit, between.reason, between.knee], [58, "knee", { limit: 58, windows: 0, hold: 16 }]);
        // … not after an ordinary cut (nothing measured it past the knee): a first knee's 8
        const ordinary = decideConcurrency(params, { ...cut, pendingChange: { ...cut.pendingChange!, pastKnee: undefined } }, { ...BUSY, latencyMs: 100, samples: 32_300, inUse: 54 });
        assert.equal(ordinary.knee?.hold, 8);
    });

    it("steps back under the limit before the growth when the throughput fell as fast as the limit rose, and no knee was known", () => {
        // Intended change (issue 14, a run that starts above capacity): elasticity ≈ −1.1 says the limit before
        // the growth was at or past the knee; with no knee known nothing says it was at it: 40 × 0.75
        const worse = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 200, samples: 350, inUse: 55 });
        assert.deepEqual([worse.limit, worse.reason, worse.knee?.limit], [30, "knee", 30]);
        // a knee guessed under both limits holds as a first knee's 8 windows, not as one the throughput brackets
        assert.equal(worse.knee?.hold, 8);
    });

    it("does not take a fall after growth that followed growth the throughput rose with for a start past the knee", () => {
        // Intended change (issue 14, the climb at the start of a run): 118 → 176 raised the throughput, 176 → 198 lowered
        // it as fast as the limit rose; that used to read as a start past the knee and cut to 0.75 × 176, though the
        // throughput had just shown 176 served. elasticity log(44 000 / 50 000) / log(45 / 40) ≈ −1.09
        const grown: ControllerState = { limit: 45, baselineLatencyMs: 100, pendingChange: { fromLimit: 40, toLimit: 45, concurrency: 5_000_000, latencyMs: 100, samples: 50_000, windows: 1, afterGrowth: true } };
        const fell = { ...BUSY, latencyMs: 115, samples: 44_000, inUse: 45 };
        const between = decideConcurrency(params, grown, fell);
        // the knee between the two: √(0.88 × 40 × 45) ≈ 39
        assert.deepEqual([between.limit, between.reason, between.knee?.limit, between.pendingChange?.startedPast], [39, "knee", 39, undefined]);
        // without the growth before it nothing says 40 was served: 0.75 × 40
        const started = decideConcurrency(params, { ...grown, pendingChange: { ...grown.pendingChange!, afterGrowth: undefined } }, fell);
        assert.deepEqual([started.limit, started.reason, started.pendingChange?.startedPast], [30, "knee", true]);
        // growth decided on a window whose verdict was "grown" carries the mark
        const next = decideConcurrency(params, { limit: 55, baselineLatencyMs: 100, pendingChange: { fromLimit: 40, toLimit: 55, concurrency: 4_000_000, latencyMs: 100, samples: 500, windows: 1 } }, { ...BUSY, samples: 640, inUse: 55 });
        assert.deepEqual([next.reason, next.limit > 55, next.pendingChange?.afterGrowth], ["demand", true, true]);
    });

    it("counts a small growth whose throughput fell as fast, beyond a count's noise, as a start past the knee too", () => {
        // Intended change (issue 14, a run that starts above capacity): a small first step (40 → 43, the latency
        // near the target) whose throughput fell 7 % used to need ≥ 10 %, then ≥ 5 %, of growth to count; it was
        // taken for a knee between the two limits and the limit then came down by 10 % cuts, two intervals each.
        const small: ControllerState = { limit: 43, baselineLatencyMs: 100, pendingChange: { fromLimit: 40, toLimit: 43, concurrency: 5_000_000, latencyMs: 100, samples: 50_000, windows: 1 } };
        const worse = decideConcurrency(params, small, { ...BUSY, latencyMs: 115, samples: 46_500, inUse: 43 });
        assert.deepEqual([worse.limit, worse.reason, worse.knee?.limit, worse.pendingChange?.startedPast], [30, "knee", 30, true]);
        // a step of 1.9 % (366 → 373 at 1.4 × capacity: the latency headroom is small there) counts too
        const start: ControllerState = { limit: 373, baselineLatencyMs: 100, pendingChange: { fromLimit: 366, toLimit: 373, concurrency: 13_500_000, latencyMs: 100, samples: 135_000, windows: 1 } };
        assert.deepEqual(pick(decideConcurrency({ min: 1, max: 1000 }, start, { ...BUSY, latencyMs: 104, samples: 132_400, inUse: 373 })), [274, "knee"]);
        // the same fall in 500 calls is within a count's noise (3 / √500 ≈ 13 %): the knee between the two limits
        const few: ControllerState = { ...small, pendingChange: { ...small.pendingChange!, concurrency: 50_000, samples: 500 } };
        assert.equal(decideConcurrency(params, few, { ...BUSY, latencyMs: 115, samples: 465, inUse: 43 }).pendingChange?.startedPast, undefined);
        // under 1 % (200 → 201) a step is not measured as one
        const tiny: ControllerState = { limit: 201, baselineLatencyMs: 100, pendingChange: { fromLimit: 200, toLimit: 201, concurrency: 5_000_000, latencyMs: 100, samples: 50_000, windows: 1 } };
        assert.equal(decideConcurrency({ min: 1, max: 1000 }, tiny, { ...BUSY, latencyMs: 101, samples: 49_700, inUse: 201 }).pendingChange?.startedPast, undefined);
    });

    it("steps back under the limit before the growth even when the growth's window failed, and no knee was known", () => {
        // Issue 14 (a run that starts above capacity): the growth 40 → 55 brought 20 % errors and 320 good calls
        // (elasticity ≈ −1.4). The errors cut alone (the gradient (125 / 200)^0.7 × 55 ≈ 39) would leave the limit
        // where the growth started, past the knee; the errors are the growth's overload: 40 × 0.75, as without them.
        const failed = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 200, samples: 400, errorRate: 0.2, inUse: 55 });
        assert.deepEqual([failed.limit, failed.reason, failed.knee?.limit], [30, "knee", 30]);
        // … and at least as deep as the errors cut when that is deeper (here it halves: 55 → 27); half the calls
        // failing is the most that is not yet a collapse (more than half)
        const halfFailed = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 400, samples: 400, errorRate: 0.5, inUse: 55 });
        assert.deepEqual([halfFailed.limit, halfFailed.reason, halfFailed.knee?.limit, halfFailed.pendingChange?.collapsed], [27, "knee", 27, undefined]);
    });

    /** The step back 55 → 30 (under the 40 the growth started from, whose throughput fell as fast as the limit rose), and one window before it lands. */
    function stepBackAndWait(): ConcurrencyDecision {
        const back = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 200, samples: 350, inUse: 55 });
        assert.deepEqual([back.limit, back.reason], [30, "knee"]);
        return decideConcurrency(params, back, { ...BUSY, latencyMs: 200, samples: 350, inUse: 55 });
    }

    it("judges the step back under where the growth started against that limit's window, not the growth's", () => {
        // Issue 14 (a run that starts above capacity): the step is a cut from 40, measured against the window at 40
        const waiting = stepBackAndWait();
        assert.deepEqual([waiting.reason, waiting.pendingChange?.fromLimit, waiting.pendingChange?.samples, waiting.pendingChange?.startedPast], ["awaiting-effect", 40, 500, true]);
        // 620 calls at 30: against the 500 at 40 the throughput rose less than the limit fell (elasticity ≈ −0.75), so
        // the knee lies between, at √(500 / 620 × 40 × 30) ≈ 31, within the dead band: the limit stays. Against the 350
        // of the growth's window at 55 it would read as a cut still past the knee (≈ −0.94) and cut again, to 25.
        const landed = decideConcurrency(params, waiting, { ...BUSY, latencyMs: 100, samples: 620, inUse: 30 });
        assert.deepEqual([landed.limit, landed.reason, landed.knee?.limit], [30, "knee", 30]);
    });

    it("places the knee between the limits when the step back under where the growth started lowered the throughput with it", () => {
        // Issue 14: 390 calls at 30 against 500 at 40 fell nearly as fast as the limit (elasticity ≈ 0.86) at the same
        // latency, which after a latency cut reads as a slower downstream ("rebaseline", back to 40 and forgetting the
        // knee, so that the growth past it and this step would repeat). Here the growth from 40 lowered the throughput
        // too: 40 was the knee, at √(500 / 390 × 40 × 30) ≈ 39.
        const landed = decideConcurrency(params, stepBackAndWait(), { ...BUSY, latencyMs: 100, samples: 390, inUse: 30 });
        assert.deepEqual([landed.limit, landed.reason, landed.knee?.limit, landed.pendingChange?.estimated], [39, "knee", 39, true]);
    });

    it("steps back to a known knee when a probe past it lowered the throughput as fast as the limit rose", () => {
        // the same elasticity (≈ −1) after a probe from a knee the limit held at: the knee, not under it
        const probing: ControllerState = { limit: 44, baselineLatencyMs: 100, knee: { limit: 40, windows: 9, latencyMs: 100, hold: 8 }, pendingChange: { fromLimit: 40, toLimit: 44, concurrency: 40_000, latencyMs: 100, samples: 500, windows: 1 } };
        const failed = decideConcurrency(params, probing, { ...BUSY, latencyMs: 121, samples: 455, inUse: 44 });
        assert.deepEqual([failed.limit, failed.reason, failed.knee?.limit, failed.knee?.hold], [40, "knee", 40, 16]);
    });

    it("keeps growing when the throughput followed the growth", () => {
        const next = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 101, samples: 740, inUse: 40 });
        assert.equal(next.reason, "demand");
        assert.ok(next.limit > 55, `${next.limit}`);
    });

    it("holds at a knee for its hold windows (32 without one), then probes past it by at most 10 %", () => {
        const atKnee: ControllerState = { limit: 50, baselineLatencyMs: 100, knee: { limit: 50, windows: 5, latencyMs: 100, hold: 8 } };
        assert.deepEqual(pick(decideConcurrency(params, atKnee, { ...BUSY, inUse: 50 })), [50, "at-knee"]);
        const old: ControllerState = { ...atKnee, knee: { limit: 50, windows: 7, latencyMs: 100, hold: 8 } };
        assert.deepEqual(pick(decideConcurrency(params, old, { ...BUSY, inUse: 50 })), [55, "demand"]);
        const legacy: ControllerState = { ...atKnee, knee: { limit: 50, windows: 29, latencyMs: 100 } };
        assert.deepEqual(pick(decideConcurrency(params, legacy, { ...BUSY, inUse: 50 })), [50, "at-knee"]);
    });

    it("sizes a probe by what it tests, not by the latency headroom, and probes further under an earlier knee", () => {
        // Intended change (issue 14, capacity recovery): at a knee the latency is near the target, so the headroom
        // step is about +1; the probe used to be capped by it (50 → 51), and a returned capacity took many probes
        const nearTarget: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 7, latencyMs: 94, hold: 8 } };
        assert.deepEqual(pick(decideConcurrency(params, nearTarget, { ...BUSY, latencyMs: 94, inUse: 50 })), [55, "demand"]);
        // under an earlier knee of 90 (a capacity that dropped): up to +25 % toward it
        const dropped: ControllerState = { ...nearTarget, knee: { limit: 50, windows: 4, latencyMs: 94, hold: 4, high: 90 } };
        assert.deepEqual(pick(decideConcurrency(params, dropped, { ...BUSY, latencyMs: 94, inUse: 50 })), [62, "demand"]);
        // … never past maxIncreaseRatio
        assert.deepEqual(pick(decideConcurrency({ ...params, maxIncreaseRatio: 0.1 }, dropped, { ...BUSY, latencyMs: 94, inUse: 50 })), [55, "demand"]);
    });

    it("holds twice as long after a failed probe, and only briefly at a knee well under an earlier one", () => {
        const probing: ControllerState = { limit: 55, baselineLatencyMs: 100, knee: { limit: 50, windows: 9, latencyMs: 100, hold: 8 }, pendingChange: { fromLimit: 50, toLimit: 55, concurrency: 50_000, latencyMs: 100, samples: 500, windows: 1 } };
        const failed = decideConcurrency(params, probing, { ...BUSY, latencyMs: 130, samples: 470, inUse: 55 });
        assert.deepEqual([failed.reason, failed.knee?.hold], ["knee", 16]);
        const dropped: ControllerState = { ...probing, knee: { limit: 90, windows: 3, latencyMs: 100, hold: 32 }, pendingChange: { ...probing.pendingChange!, fromLimit: 80 } };
        // a cut from 80 to 55 that kept the throughput: the knee at √(80 × 55) ≈ 66, under 0.75 × the earlier 90
        const low = decideConcurrency(params, dropped, { ...BUSY, latencyMs: 100, samples: 500, inUse: 55 });
        assert.deepEqual([low.limit, low.reason, low.knee?.hold, low.knee?.high], [66, "knee", 4, 90]);
    });

    it("probes past the knee at once after two windows well under its usual latency (room again), keeping the knee", () => {
        // Intended change (issue 14, steady-state churn): one window under 0.9 × the knee's latency used to forget
        // the knee, so a single low percentile (measurement noise) sent the limit far past it and back. Now it takes
        // two windows in a row under 0.88 ×, and they only make the ≤ 10 % probe due: the knee stays, so a probe
        // that fails still doubles the hold.
        const atKnee: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 5, latencyMs: 100, hold: 16 } };
        const once = decideConcurrency(params, atKnee, { ...BUSY, latencyMs: 85, inUse: 50 });
        assert.deepEqual([once.limit, once.reason, once.knee?.low], [50, "at-knee", 1]);
        const twice = decideConcurrency(params, once, { ...BUSY, latencyMs: 85, inUse: 50 });
        assert.deepEqual([twice.limit, twice.reason, twice.knee?.limit], [55, "demand", 50]);
    });

    it("takes a latency well under the knee's usual one for room only when the throughput at its limit rose too", () => {
        // Intended change (issue 14, steady-state churn): with a noisy p90 (jitter σ 0.34) two windows whose mean was
        // under 0.88 × the knee's latency made a probe due 9 intervals into a 32-interval hold, at the very same
        // throughput; at a limit in full use a latency that really fell serves more calls (Little's law).
        const atKnee: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 5, latencyMs: 100, latencyWindows: 8, hold: 16, goodput: 500, goodputWindows: 8 } };
        const twice = (samples: number) => decideConcurrency(params, decideConcurrency(params, atKnee, { ...BUSY, latencyMs: 85, samples, inUse: 50 }), { ...BUSY, latencyMs: 85, samples, inUse: 50 });
        assert.deepEqual(pick(twice(500)), [50, "at-knee"]);
        // over 1.02 × its usual throughput (learnt as it goes: 500, then 501.5) it is room
        assert.deepEqual(pick(twice(512)), [55, "demand"]);
    });

    it("probes past the knee at once after two windows whose mean is well under its usual latency, one of them not", () => {
        // Intended change (issue 14, capacity recovery): a capacity that came back lowers the latency at the
        // same limit by only 10–20 %, about the noise of one window, so two single windows in a row under
        // 0.88 × often missed it for many windows; two windows whose mean is under 0.88 × count as well.
        const atKnee: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 5, latencyMs: 100, hold: 16 } };
        const first = decideConcurrency(params, atKnee, { ...BUSY, latencyMs: 82, inUse: 50 });
        assert.deepEqual([first.limit, first.reason, first.knee?.low, first.knee?.lastLatencyMs], [50, "at-knee", 1, 82]);
        // 90 is not under 88 on its own, but (82 + 90) / 2 = 86 is
        const second = decideConcurrency(params, first, { ...BUSY, latencyMs: 90, inUse: 50 });
        assert.deepEqual([second.limit, second.reason, second.knee?.limit], [55, "demand", 50]);
        // noise around the usual latency does not: (95 + 90) / 2 = 92.5
        const noisy = decideConcurrency(params, decideConcurrency(params, atKnee, { ...BUSY, latencyMs: 95, inUse: 50 }), { ...BUSY, latencyMs: 90, inUse: 50 });
        assert.deepEqual([noisy.limit, noisy.reason], [50, "at-knee"]);
    });

    it("goes up to the earlier knee at once when room shows at a knee well under it (at most twice the limit)", () => {
        // Intended change (issue 14, capacity recovery): room at a knee a capacity drop left used to make a probe of
        // +25 % due, and only the window judging it (two intervals later) went up to the earlier knee.
        const dropped: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 5, latencyMs: 92, latencyWindows: 3, hold: 4, high: 90, goodput: 500, goodputWindows: 3, lastGoodput: 540 } };
        const room = decideConcurrency(params, dropped, { ...BUSY, latencyMs: 90, samples: 540, inUse: 50 });
        assert.deepEqual([room.limit, room.reason, room.knee?.limit, room.knee?.roomShown], [90, "demand", 50, true]);
        // at most twice the limit
        const far = decideConcurrency({ ...params, max: 500 }, { ...dropped, knee: { ...dropped.knee!, high: 200 } }, { ...BUSY, latencyMs: 90, samples: 540, inUse: 50 });
        assert.equal(far.limit, 100);
        // a probe due because the hold ran out is still the +25 % one
        const expired = decideConcurrency(params, { ...dropped, knee: { ...dropped.knee!, lastGoodput: undefined } }, { ...BUSY, latencyMs: 90, samples: 500, inUse: 50 });
        assert.deepEqual([expired.limit, expired.reason, expired.knee?.roomShown], [62, "demand", undefined]);
        // room shown in an earlier window counts for that window only: a later one without room probes by +25 %
        const stale = decideConcurrency(params, { ...dropped, knee: { ...dropped.knee!, windows: 5, roomShown: true, lastGoodput: undefined } }, { ...BUSY, latencyMs: 90, samples: 500, inUse: 50 });
        assert.deepEqual([stale.limit, stale.knee?.roomShown], [62, undefined]);
        // and room without demand makes the probe due but is no evidence for the jump: no mark
        const idle = decideConcurrency(params, { ...dropped, knee: { ...dropped.knee!, lastLatencyMs: 70, lastGoodput: undefined } }, { ...BUSY, throttles: 0, backlogGrowing: false, backlogAgeMs: 0, latencyMs: 70, inUse: 30 });
        assert.deepEqual([idle.reason, idle.knee?.windows, idle.knee?.roomShown], ["no-demand", 6, undefined]);
    });

    it("probes from a knee whose throughput is learnt while demand is unmet even when the in-use metric reads under the limit", () => {
        // Intended change (issue 14, capacity recovery): at small limits the delayed, noisy in-use metric (8 of 9)
        // read "underused" and held a due probe for a window; the knee's own windows have shown the limit in use.
        const atKnee: ControllerState = { limit: 9, baselineLatencyMs: 100, knee: { limit: 9, windows: 8, latencyMs: 100, latencyWindows: 8, hold: 8, goodput: 500, goodputWindows: 8 } };
        const probe = decideConcurrency(params, atKnee, { ...BUSY, latencyMs: 100, samples: 500, inUse: 8 });
        assert.deepEqual([probe.limit, probe.reason], [10, "demand"]);
        // without a learnt throughput the metric decides
        const unlearnt = decideConcurrency(params, { ...atKnee, knee: { limit: 9, windows: 8, latencyMs: 100, hold: 8 } }, { ...BUSY, latencyMs: 100, samples: 500, inUse: 8 });
        assert.deepEqual([unlearnt.limit, unlearnt.reason], [9, "underused"]);
    });

    it("probes past the knee at once after two windows at its limit whose throughput is well over its usual one, the latency flat", () => {
        // Intended change (issue 14, capacity recovery): a downstream with little queueing shows a returned capacity
        // by a latency only a few per cent lower at the knee's limit, under the noise the latency checks allow for;
        // the throughput at that limit (a count of calls, Little's law) rises by as much and carries no such noise.
        const atKnee: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 5, latencyMs: 92, latencyWindows: 3, hold: 16, goodput: 500, goodputWindows: 3 } };
        const flat = { ...BUSY, latencyMs: 90, inUse: 50 };
        const first = decideConcurrency(params, atKnee, { ...flat, samples: 540 });
        // the usual throughput learns it: 500 + (540 − 500) / 4
        assert.deepEqual([first.limit, first.reason, first.knee?.goodput, first.knee?.lastGoodput], [50, "at-knee", 510, 540]);
        const second = decideConcurrency(params, first, { ...flat, samples: 540 });
        assert.deepEqual([second.limit, second.reason, second.knee?.limit], [55, "demand", 50]);
        // one window over 1.05 × it is not enough: 520 then 540
        const once = decideConcurrency(params, decideConcurrency(params, atKnee, { ...flat, samples: 520 }), { ...flat, samples: 540 });
        assert.deepEqual([once.limit, once.reason], [50, "at-knee"]);
        // without demand the throughput is the demand's: neither learnt nor read
        const idle = decideConcurrency(params, atKnee, { ...flat, samples: 540, throttles: 0, backlogGrowing: false });
        assert.deepEqual([idle.knee?.goodput, idle.knee?.lastGoodput], [500, undefined]);
    });

    it("keeps the knee's usual throughput across a failed probe", () => {
        const probing: ControllerState = { limit: 55, baselineLatencyMs: 100, knee: { limit: 50, windows: 9, latencyMs: 100, hold: 8, goodput: 500, goodputWindows: 8 }, pendingChange: { fromLimit: 50, toLimit: 55, concurrency: 50_000, latencyMs: 100, samples: 500, windows: 1 } };
        const failed = decideConcurrency(params, probing, { ...BUSY, latencyMs: 130, samples: 470, inUse: 55 });
        assert.deepEqual([failed.reason, failed.knee?.goodput, failed.knee?.goodputWindows], ["knee", 500, 8]);
    });

    it("goes up to an earlier knee at once after a probe toward it that the throughput followed (at most twice the limit)", () => {
        // Intended change (issue 14, capacity recovery): the capacity that dropped is back; the steps after the probe
        // used to climb by momentum (+24, then +50 %), two intervals each.
        const probing: ControllerState = { limit: 62, baselineLatencyMs: 80, knee: { limit: 50, windows: 6, latencyMs: 90, hold: 4, high: 90 }, pendingChange: { fromLimit: 50, toLimit: 62, concurrency: 45_000, latencyMs: 90, samples: 500, windows: 1 } };
        const followed = { ...BUSY, latencyMs: 90, samples: 620, inUse: 50 };
        // Intended change (issue 14, capacity recovery): back at the earlier knee, it holds again as a new knee; it used
        // to be forgotten, so the next step grew past it by momentum (+31 %) and the throughput's fall read as a start
        // past the knee, 0.75 × the earlier knee.
        const back = decideConcurrency(params, probing, followed);
        assert.deepEqual([back.limit, back.reason, back.knee], [90, "demand", { limit: 90, windows: 0, hold: 8 }]);
        // … only when the step reaches it: twice the limit short of it, no knee
        const farAbove = decideConcurrency({ ...params, max: 500 }, { ...probing, knee: { ...probing.knee!, high: 200 } }, followed);
        assert.deepEqual([farAbove.limit, farAbove.knee], [124, undefined]);
        // without an earlier knee the step is the momentum's: 62 + 2 × 12
        const none = decideConcurrency(params, { ...probing, knee: { limit: 50, windows: 6, latencyMs: 90, hold: 4 } }, followed);
        assert.deepEqual([none.limit, none.reason], [86, "demand"]);
    });

    it("moves the knee up to a probe's limit when the throughput rose with it less than in proportion, and probes again", () => {
        // Intended change (issue 14, steady-state churn): a probe 26 → 28 that raised the throughput used to forget the
        // knee, so the next step was a full growth step (28 → 39) that the throughput fell with, taken for a start past
        // the knee (0.75 × 28 = 21); the limit came back to 26 and did it again every 14 intervals.
        const probing: ControllerState = { limit: 55, baselineLatencyMs: 100, knee: { limit: 50, windows: 9, latencyMs: 100, hold: 8, goodput: 500, goodputWindows: 8 }, pendingChange: { fromLimit: 50, toLimit: 55, concurrency: 50_000, latencyMs: 100, samples: 500, windows: 1 } };
        // elasticity log(530 / 500) / log(55 / 50) ≈ 0.61: under the knee for part of the step
        const partly = decideConcurrency(params, probing, { ...BUSY, latencyMs: 100, samples: 530, inUse: 55 });
        assert.deepEqual([partly.limit, partly.reason, partly.knee], [60, "demand", { limit: 55, windows: 8, hold: 8 }]);
        // a probe from it that fails comes back near it (√(505 / 530 × 55 × 60) ≈ 56) and doubles its hold
        const failed = decideConcurrency(params, decideConcurrency(params, partly, { ...BUSY, samples: 530, inUse: 55 }), { ...BUSY, latencyMs: 125, samples: 505, inUse: 60 });
        assert.deepEqual([failed.limit, failed.reason, failed.knee?.limit, failed.knee?.hold], [56, "knee", 56, 16]);
        // in proportion (elasticity ≈ 1) the knee is well above: forgotten, the next step the momentum's (55 + 2 × 5)
        const followed = decideConcurrency(params, probing, { ...BUSY, latencyMs: 100, samples: 550, inUse: 55 });
        assert.deepEqual([followed.limit, followed.reason, followed.knee], [76, "demand", undefined]);
    });

    it("holds at a knee's limit when the latency is over the target but the throughput held at its usual level", () => {
        // Intended change (issue 14, steady-state churn): one low percentile lowers the learned baseline at once, and
        // at the knee (where the p90 sits near the target) the next ordinary window then read as overload: a cut,
        // judged a knee two windows later, two changes. At a limit in full use overload lowers the throughput.
        const atKnee: ControllerState = { limit: 50, baselineLatencyMs: 80, knee: { limit: 50, windows: 10, latencyMs: 95, latencyWindows: 8, hold: 16, goodput: 500, goodputWindows: 8 } };
        const over = { ...BUSY, latencyMs: 115, inUse: 50 };
        assert.deepEqual(pick(decideConcurrency(params, atKnee, { ...over, samples: 495 })), [50, "throughput-held"]);
        // a throughput under 0.98 × the usual one (a capacity that dropped, a slower downstream) is cut as before:
        // 50 × (100 / 115)^0.7 ≈ 45
        assert.deepEqual(pick(decideConcurrency(params, atKnee, { ...over, samples: 485 })), [45, "latency"]);
        // so is a window without demand (its throughput is the demand's), or one with errors over the threshold
        assert.deepEqual(pick(decideConcurrency(params, atKnee, { ...over, samples: 495, throttles: 0, backlogGrowing: false })), [45, "latency"]);
        assert.equal(decideConcurrency(params, atKnee, { ...over, samples: 495, errorRate: 0.1 }).reason, "errors");
        // … a limit that is not the knee's, and a knee whose usual throughput is not learnt over three windows yet
        assert.equal(decideConcurrency(params, { ...atKnee, limit: 45 }, { ...over, samples: 495, inUse: 45 }).reason, "latency");
        assert.equal(decideConcurrency(params, { ...atKnee, knee: { ...atKnee.knee!, goodputWindows: 2 } }, { ...over, samples: 495 }).reason, "latency");
    });

    it("takes a further cut's throughput falling with the limit, after a cut still past the knee, for the knee (not a slower downstream)", () => {
        // Intended change (issue 14, capacity drop): the cut 130 → 65 doubled the throughput (still past the knee), so
        // the next cut went to 65 × 0.5^0.3 ≈ 52, under the knee; its throughput fell with the limit, which read as a
        // downstream that got slower ("rebaseline": the knee and the earlier one, 130, were forgotten, and the capacity's
        // return at that earlier knee was found by 10 % probes and momentum).
        const overloaded: ControllerState = { limit: 65, baselineLatencyMs: 46, knee: { limit: 130, windows: 5, latencyMs: 50, latencyWindows: 3, hold: 16 }, pendingChange: { fromLimit: 130, toLimit: 65, concurrency: 84_500, latencyMs: 169, samples: 500, windows: 1 } };
        const further = decideConcurrency(params, overloaded, { ...BUSY, latencyMs: 50, samples: 1000, inUse: 65 });
        assert.deepEqual([further.limit, further.reason, further.knee?.high, further.pendingChange?.pastKnee], [52, "knee", 130, true]);
        const landing = decideConcurrency(params, further, { ...BUSY, latencyMs: 50, samples: 1000, inUse: 65 });
        // 52 lowered the throughput by 17 % (the limit by 20 %): the knee at √(1000 / 830 × 65 × 52) ≈ 63, the earlier one kept
        const under = decideConcurrency(params, landing, { ...BUSY, latencyMs: 50, samples: 830, inUse: 52 });
        assert.deepEqual([under.limit, under.reason, under.knee?.limit, under.knee?.high], [63, "knee", 63, 130]);
        // (the baseline only decays toward the window's latency; a rebaseline would set it to 50)
        assert.ok(under.baselineLatencyMs! < 47, `${under.baselineLatencyMs}`);
        // without the mark, the same windows are a downstream that got slower
        const unmarked = decideConcurrency(params, { ...landing, pendingChange: { ...landing.pendingChange!, pastKnee: undefined } }, { ...BUSY, latencyMs: 50, samples: 830, inUse: 52 });
        assert.equal(unmarked.reason, "rebaseline");
    });

    it("does not judge the step back from a failed probe again (the doubled hold stands)", () => {
        const probing: ControllerState = { limit: 55, baselineLatencyMs: 100, knee: { limit: 50, windows: 9, latencyMs: 100, hold: 8 }, pendingChange: { fromLimit: 50, toLimit: 55, concurrency: 50_000, latencyMs: 100, samples: 500, windows: 1 } };
        const failed = decideConcurrency(params, probing, { ...BUSY, latencyMs: 130, samples: 470, inUse: 55 });
        assert.deepEqual([failed.limit, failed.reason, failed.knee?.hold, failed.knee?.latencyMs, failed.pendingChange?.estimated], [50, "knee", 16, 100, true]);
        const landing = decideConcurrency(params, failed, { ...BUSY, latencyMs: 130, samples: 470, inUse: 55 });
        // the throughput rose as the limit fell back (the probe's window was contended): no "past-knee" cut
        const back = decideConcurrency(params, landing, { ...BUSY, latencyMs: 100, samples: 560, inUse: 50 });
        assert.deepEqual([back.limit, back.reason, back.knee?.limit, back.knee?.hold], [50, "at-knee", 50, 16]);
    });

    it("counts an earlier knee as a capacity the downstream had only once it held long enough to learn its latency", () => {
        // the first estimate of a run that started above capacity is replaced within its first windows: not a drop
        const fresh: ControllerState = { limit: 55, baselineLatencyMs: 100, knee: { limit: 90, windows: 1, hold: 8 }, pendingChange: { fromLimit: 80, toLimit: 55, concurrency: 50_000, latencyMs: 100, samples: 500, windows: 1 } };
        const next = decideConcurrency(params, fresh, { ...BUSY, latencyMs: 100, samples: 500, inUse: 55 });
        assert.deepEqual([next.limit, next.reason, next.knee?.hold, next.knee?.high], [66, "knee", 8, undefined]);
    });

    it("does not cap the growth after a probe that raised the throughput past the knee (it forgets the knee first)", () => {
        // Intended change (issue 14, capacity recovery): the probe 50 → 55 bought throughput in proportion, so the
        // knee is gone; the step after it used to be capped as another ≤ 10 % probe (55 → 60)
        const probing: ControllerState = { limit: 55, baselineLatencyMs: 100, knee: { limit: 50, windows: 9, latencyMs: 100, hold: 8 }, pendingChange: { fromLimit: 50, toLimit: 55, concurrency: 50_000, latencyMs: 100, samples: 500, windows: 1 } };
        const grown = decideConcurrency(params, probing, { ...BUSY, latencyMs: 100, samples: 550, inUse: 50 });
        // headroom 0.1875 × 2 × 55 ≈ 21 (more than twice the probe's +5)
        assert.deepEqual([grown.limit, grown.reason, grown.knee], [76, "demand", undefined]);
    });

    it("judges a change by the calls that succeeded, not by every call (failed calls are no throughput)", () => {
        // Intended change (issue 14): an error cut 40 → 20 in a window of 1,000 calls of which half timed out. Judged
        // against all 1,000 calls, 600 good calls at 20 read as "the throughput fell with the limit" (a slower
        // downstream: back to 40, into the overload); against the 500 that succeeded it rose: the knee lies between.
        const failing: ControlSignals = { ...BUSY, latencyMs: 300, samples: 1000, errorRate: 0.5 };
        const cut = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, failing);
        assert.deepEqual([cut.limit, cut.reason, cut.pendingChange?.samples], [20, "errors", 500]);
        const waiting = decideConcurrency(params, cut, failing);
        assert.equal(waiting.reason, "awaiting-effect");
        const landed = decideConcurrency(params, waiting, { ...BUSY, latencyMs: 110, samples: 600, inUse: 20 });
        // √(500 / 600 × 40 × 20) ≈ 25.8
        assert.deepEqual([landed.limit, landed.reason], [25, "knee"]);
    });

    it("does not judge a cut against a window in which most calls failed: the first healthy window probes from the limit", () => {
        // Issue 14 (collapse): 90 % of the calls at 40 timed out, so that window's 50 good calls measure the timeouts,
        // not the knee. Judged against them, 560 good calls at 10 read as a cut still past the knee (elasticity ≈ −1.8)
        // and cut again, to 6; now the limit counts as a knee whose hold is over, and growth from it probes by 10 %.
        const collapsed: ControlSignals = { ...BUSY, latencyMs: 400, samples: 500, errorRate: 0.9 };
        const cut = decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, collapsed);
        assert.deepEqual([cut.limit, cut.reason], [10, "errors"]);
        const waiting = decideConcurrency(params, cut, collapsed);
        assert.equal(waiting.reason, "awaiting-effect");
        const healthy: ControlSignals = { ...BUSY, latencyMs: 100, samples: 560, inUse: 40 };
        const recovered = decideConcurrency(params, waiting, healthy);
        assert.deepEqual([recovered.limit, recovered.reason, recovered.knee], [11, "demand", { limit: 10, windows: 4, hold: 4 }]);
        // judged against this healthy window, not the collapsed one
        assert.deepEqual(recovered.pendingChange, { fromLimit: 10, toLimit: 11, concurrency: 560 * 100, latencyMs: 100, samples: 560, windows: 0 });
        assert.equal(cut.pendingChange?.collapsed, true);
        // under an earlier knee that learned its latency (the capacity that fell), up to 25 % toward it
        const known: ControllerState = { ...waiting, knee: { limit: 40, windows: 12, latencyMs: 100, hold: 8 } };
        const toward = decideConcurrency(params, known, healthy);
        assert.deepEqual([toward.limit, toward.reason, toward.knee?.high], [12, "demand", 40]);
    });

    it("cuts on errors, not back under where the growth started, when the growth's window collapsed", () => {
        // Issue 14 (collapse): 80 % of the calls at 55 failed. That is the downstream collapsing, not the growth's
        // overload: the errors cut (to a quarter of 55), not a knee under 40 judged against the window at 40 (which
        // measured a downstream that is no longer there), and the cut is not judged against this window either.
        const collapsed = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 400, samples: 500, errorRate: 0.8, inUse: 55 });
        assert.deepEqual([collapsed.limit, collapsed.reason, collapsed.knee, collapsed.pendingChange?.fromLimit, collapsed.pendingChange?.collapsed], [13, "errors", undefined, 55, true]);
    });

    it("counts a window as collapsed only when its error rate is also over the threshold", () => {
        // with errorRateThreshold 0.7, a window with 55 % errors is no failing window, let alone a collapse
        const tolerant: ControllerParams = { ...params, errorRateThreshold: 0.7 };
        const grown = decideConcurrency(tolerant, { limit: 40, baselineLatencyMs: 100 }, { ...BUSY, errorRate: 0.55 });
        assert.deepEqual([grown.reason, grown.pendingChange?.collapsed], ["demand", undefined]);
    });

    it("does not judge a change by throughput when a window has no successful calls (minSamples 0)", () => {
        // 0 good calls before and after: no ratio to take; the limit stays a number in range
        const zero: ControllerParams = { ...params, minSamples: 0 };
        let state: ControllerState = { limit: 40, baselineLatencyMs: 100 };
        for (let i = 0; i < 3; i++) state = decideConcurrency(zero, state, { ...BUSY, samples: 0, inUse: i === 2 ? 60 : 40 });
        assert.ok(Number.isInteger(state.limit) && state.limit >= 2 && state.limit <= 100, `${state.limit}`);
    });

    it("takes no restore after a rebaseline for growth that started past the knee", () => {
        // the restore 26 → 52 (twice, Little's law) is no growth step: its fall in throughput is judged as a
        // change, never as growth past an unknown knee with a step back under 26
        const slow: ControlSignals = { ...BUSY, latencyMs: 225, samples: 500 };
        const cut = decideConcurrency({ min: 2, max: 1000 }, { limit: 40, baselineLatencyMs: 100 }, slow);
        const restored = decideConcurrency({ min: 2, max: 1000 }, decideConcurrency({ min: 2, max: 1000 }, cut, slow), { ...slow, samples: 325 });
        assert.deepEqual([restored.limit, restored.reason], [80, "rebaseline"]);
        const landed = decideConcurrency({ min: 2, max: 1000 }, decideConcurrency({ min: 2, max: 1000 }, restored, { ...slow, samples: 325 }), { ...slow, samples: 100 });
        // (elasticity log(100 / 325) / log(80 / 26) ≈ −1.05, as growth past an unknown knee would show)
        assert.equal(landed.reason, "knee");
        assert.equal(landed.pendingChange?.startedPast, undefined);
    });

    it("measures a deeper cut replacing the step back under where the growth started from the growth's limit, which the window ran at", () => {
        // Issue 14 (collapse): the step back 55 → 30 is a cut from 40, but the window after it still ran at 55; when
        // that window collapses, the deeper cut is a quarter of 55 (13), not of 40 (10), and is measured from 55.
        const stepBack = decideConcurrency(params, growAndWait(), { ...BUSY, latencyMs: 200, samples: 350, inUse: 55 });
        const deeper = decideConcurrency(params, stepBack, { ...BUSY, latencyMs: 400, samples: 500, errorRate: 0.8, inUse: 55 });
        assert.deepEqual([deeper.limit, deeper.reason, deeper.pendingChange?.fromLimit], [13, "errors", 55]);
        assert.deepEqual([stepBack.pendingChange?.inForce, deeper.pendingChange?.collapsed], [55, true]);
    });

    const pick = (d: ControllerState & { reason: string }) => [d.limit, d.reason];
});

describe("decideConcurrency: parameters", () => {
    it("uses the documented defaults", () => {
        assert.deepEqual(DEFAULT_TUNING, {
            errorRateThreshold: 0.05,
            minSamples: 20,
            latencyTolerance: 1.25,
            baselineDecay: 0.05,
            hysteresis: 0.05,
            backoffRatio: 0.9,
            growthGain: 2,
            maxIncreaseRatio: 0.5,
            minUtilisation: 0.9,
            changeEffectWindows: 2,
        });
    });

    it("treats undefined tuning fields as absent", () => {
        assert.deepEqual(decide({}, 40, { ...PARAMS, errorRateThreshold: undefined, hysteresis: undefined }), decide({}));
    });

    it("matches the TSDoc example", () => {
        const decision = decideConcurrency({ min: 2, max: 100, latencyTargetMs: 200 }, { limit: 20 }, {
            latencyMs: 120, errorRate: 0, samples: 900, throttles: 14, inUse: 20, backlogAgeMs: 3000, backlogGrowing: true,
        });
        assert.deepEqual([decision.limit, decision.reason], [30, "demand"]);
    });

    const invalid: [string, ControllerParams, RegExp][] = [
        ["min above max", { min: 10, max: 5 }, /max must be an integer ≥ min \(10\); received 5/],
        ["min below 1", { min: 0, max: 5 }, /min must be an integer ≥ 1; received 0/],
        ["a fractional bound", { min: 1, max: 5.5 }, /max must be an integer/],
        ["a non-positive latency target", { min: 1, max: 5, latencyTargetMs: 0 }, /latencyTargetMs must be > 0/],
        ["an error threshold of 1", { min: 1, max: 5, errorRateThreshold: 1 }, /errorRateThreshold must be in \[0, 1\)/],
        ["a backoff ratio under 0.5", { min: 1, max: 5, backoffRatio: 0.4 }, /backoffRatio must be in \[0.5, 1\)/],
        ["a tolerance under 1", { min: 1, max: 5, latencyTolerance: 0.9 }, /latencyTolerance must be ≥ 1/],
        ["no window to judge a change in", { min: 1, max: 5, changeEffectWindows: 0 }, /changeEffectWindows must be an integer ≥ 1; received 0/],
    ];
    for (const [name, params, message] of invalid) {
        it(`rejects ${name} with a RangeError naming the field`, () => {
            assert.throws(() => decideConcurrency(params, { limit: 3 }, BUSY), (e: Error) => e instanceof RangeError && message.test(e.message));
        });
    }
});

describe("decideConcurrency: start probe (learned target)", () => {
    // Intended change (issue 14, the start of a run): the first counted window used to grow from wherever the run
    // started — a start at 1.5 × the capacity grew by a third before the throughput showed it was past the knee.
    const params: ControllerParams = { min: 2, max: 100 };
    const pick = (d: ConcurrencyDecision) => [d.limit, d.reason];
    /** A busy window of 50 000 calls (a count's noise, 3 / √calls: 1.3 %). */
    const START: ControlSignals = { ...BUSY, samples: 50_000 };
    /** The first counted window: demand unmet, 40 in use. */
    const first = decideConcurrency(params, { limit: 40 }, START);
    /** The window after the probe decided (it lands late): it still ran at 40. */
    const waited = decideConcurrency(params, first, START);
    /** The window that judges the probe, at 36. */
    const judge = (signals: Partial<ControlSignals>, bounds: ControllerParams = params) => decideConcurrency(bounds, waited, { ...START, inUse: 36, ...signals });

    it("steps the limit down by 10 % on the first counted window, judged against it", () => {
        assert.equal(START_PROBE_CUT, 0.1);
        assert.deepEqual(first, {
            limit: 36,
            reason: "start-probe",
            baselineLatencyMs: 100,
            latencyTargetMs: 125,
            pendingChange: { fromLimit: 40, toLimit: 36, concurrency: 50_000 * 100, latencyMs: 100, samples: 50_000, windows: 0, startProbe: true },
        });
        assert.deepEqual([waited.limit, waited.reason, waited.pendingChange?.windows], [36, "awaiting-effect", 1]);
        // demand is not needed to probe (the first windows' CloudWatch signals may not have a datapoint yet)
        assert.deepEqual(pick(decideConcurrency(params, { limit: 40 }, { ...START, throttles: 0, backlogGrowing: false, inUse: 0 })), [36, "start-probe"]);
        // 5 → 4 is the smallest limit probed (a 20 % step)
        assert.deepEqual(pick(decideConcurrency(params, { limit: 5 }, { ...START, inUse: 5 })), [4, "start-probe"]);
    });

    it("does not probe with a latency target, on a failing window, over 20 % (a limit under 5), with the limit unused, or once anything is learnt", () => {
        assert.equal(decideConcurrency({ ...params, latencyTargetMs: 200 }, { limit: 40 }, START).reason, "demand");
        assert.deepEqual(pick(decideConcurrency(params, { limit: 40 }, { ...START, errorRate: 0.2 })), [32, "errors"]);
        // 4 → 3 would be −25 %: growth by the headroom, 4 + round(4 × 2 × 0.1875) = 6
        assert.deepEqual(pick(decideConcurrency(params, { limit: 4 }, { ...START, inUse: 4 })), [6, "demand"]);
        assert.deepEqual(pick(decideConcurrency(params, { limit: 2 }, { ...START, inUse: 2 })), [3, "demand"]);
        // a peak in use of 30 of 40 (under minUtilisation 0.9): nothing to learn at that limit
        assert.deepEqual(pick(decideConcurrency(params, { limit: 40 }, { ...START, inUse: 30 })), [40, "underused"]);
        assert.deepEqual(pick(decideConcurrency(params, { limit: 40, baselineLatencyMs: 100 }, START)), [55, "demand"]);
        // a state with a pending change or a knee but no baseline (e.g. written by hand) is not a start
        const pending = { fromLimit: 30, toLimit: 40, concurrency: 4_000_000, latencyMs: 100, samples: 40_000, windows: 0 };
        assert.deepEqual(pick(decideConcurrency(params, { limit: 40, pendingChange: pending }, START)), [40, "awaiting-effect"]);
        assert.deepEqual(pick(decideConcurrency(params, { limit: 40, knee: { limit: 40, windows: 1 } }, START)), [40, "at-knee"]);
    });

    it("cuts to 0.75 × the probe's limit when the throughput rose as the limit fell (the start was past the knee)", () => {
        // 50 000 → 55 600 calls for 40 → 36: elasticity log(55 600 / 50 000) / log(36 / 40) ≈ −1.01
        const past = judge({ samples: 55_600, latencyMs: 81 });
        assert.deepEqual([past.limit, past.reason, past.knee?.limit, past.pendingChange?.pastKnee], [27, "knee", 27, true]);
        assert.deepEqual([past.pendingChange?.fromLimit, past.pendingChange?.samples], [36, 55_600]);
    });

    it("puts the knee between the two limits when the throughput fell less than in proportion", () => {
        // 50 000 → 48 000 calls for 40 → 36: elasticity ≈ 0.39; the knee at √(50 / 48 × 40 × 36) ≈ 38
        const between = judge({ samples: 48_000, latencyMs: 95 });
        assert.deepEqual([between.limit, between.reason, between.knee?.limit], [38, "knee", 38]);
    });

    it("goes back, with the growth due there, when the throughput fell with the limit (the start was under the knee)", () => {
        // 50 000 → 45 000 calls: elasticity 1; headroom 125 × 0.95 / 100 − 1 at 40: +15 → 55, judged against the start's window
        const under = judge({ samples: 45_000 });
        assert.deepEqual([under.limit, under.reason], [55, "demand"]);
        assert.deepEqual(under.pendingChange, { fromLimit: 40, toLimit: 55, concurrency: 50_000 * 100, latencyMs: 100, samples: 50_000, windows: 0 });
        // growth that raises the throughput from the start's 50 000 is "grown", not a knee under the probe's limit
        const grown = decideConcurrency(params, decideConcurrency(params, under, { ...START, inUse: 36, samples: 45_000 }), { ...START, inUse: 55, samples: 68_000 });
        assert.equal(grown.reason, "demand");
        assert.ok(grown.limit > 55);
    });

    it("goes back when the judging window cannot tell: a change within a count's noise, or no demand", () => {
        // 500 calls: 3 / √500 ≈ 13 %, so 500 → 480 (elasticity 0.39, a "knee" with 50 000 calls) is noise
        const few = decideConcurrency(params, decideConcurrency(params, decideConcurrency(params, { limit: 40 }, BUSY), BUSY), { ...BUSY, inUse: 36, samples: 480 });
        assert.deepEqual(pick(few), [55, "demand"]);
        // without demand the throughput is the demand's, not what the downstream gave at 36: back alone, judged against this window
        const idle = judge({ samples: 55_600, latencyMs: 81, throttles: 0, backlogGrowing: false, inUse: 30 });
        assert.deepEqual(pick(idle), [40, "start-probe"]);
        assert.deepEqual(idle.pendingChange, { fromLimit: 36, toLimit: 40, concurrency: 55_600 * 81, latencyMs: 81, samples: 55_600, windows: 0 });
    });

    it("goes back within the bounds in force when they changed since the probe", () => {
        const capped = judge({ throttles: 0, backlogGrowing: false, inUse: 30 }, { ...params, max: 38 });
        assert.deepEqual(pick(capped), [38, "start-probe"]);
    });

    it("cuts as any window over the target does instead of going back", () => {
        // 150 ms against the target 125: the gradient (125 / 150)^0.7 from 36
        const over = judge({ samples: 45_000, latencyMs: 150, throttles: 0, backlogGrowing: false });
        assert.deepEqual(pick(over), [31, "latency"]);
        // With demand unmet, a throughput that moved within a count's noise (+1 %) reads as "knee" but cannot tell: it
        // used to place a knee at the probe's limit (36) and hold there, over the target; it cuts instead
        const unclear = judge({ samples: 50_500, latencyMs: 150 });
        assert.deepEqual([...pick(unclear), unclear.knee], [31, "latency", undefined]);
    });

    it("returns states that can be passed straight back in, through the probe and the growth after it", () => {
        // saturated, well under the knee: the throughput follows the limit in force
        const { limits, reasons } = runWindows(params, { limit: 40 }, 6, (limit) => ({ ...BUSY, inUse: limit, samples: 1_000 * limit }));
        // 40 → 36 (probe), back to 40 + 15, judged two windows on; 55 raised the calls in proportion: +30 (momentum), capped at +50 % → 82
        assert.deepEqual(limits, [36, 36, 55, 55, 82, 82]);
        assert.deepEqual(reasons, ["start-probe", "awaiting-effect", "demand", "awaiting-effect", "demand", "awaiting-effect"]);
    });
});

describe("decideConcurrency: a limit the downstream served (learned target)", () => {
    // Intended change (issue 14, steady state): growth that raised the throughput into a limit, then held there a few
    // windows (a percentile in the band), then growth from it that lowered the throughput: that read as a start past
    // the knee and cut to 0.75 × the served limit, three limit changes to come back.
    const params: ControllerParams = { min: 2, max: 1000 };
    const judged: ControllerState = { limit: 60, baselineLatencyMs: 100, pendingChange: { fromLimit: 40, toLimit: 60, concurrency: 5_000_000, latencyMs: 100, samples: 50_000, windows: 1 } };

    /** 40 → 60 raised the calls 50 000 → 62 000 (elasticity ≈ 0.53: grown, not followed), but the p90 120 is in the band. */
    const held = decideConcurrency(params, judged, { ...BUSY, latencyMs: 120, samples: 62_000, inUse: 60 });
    /** The p90 back at 100: growth by the headroom, 60 × 2 × (125 × 0.95 / 100 − 1) ≈ 23 → 83; then its awaiting window. */
    const grew = decideConcurrency(params, held, { ...BUSY, latencyMs: 100, samples: 62_000, inUse: 60 });
    const waited = decideConcurrency(params, grew, { ...BUSY, latencyMs: 100, samples: 62_000, inUse: 60 });

    it("remembers a limit growth raised the throughput into while it holds, and forgets it when it moves", () => {
        assert.deepEqual([held.limit, held.reason, held.servedLimit], [60, "hysteresis", 60]);
        assert.equal(decideConcurrency(params, held, { ...BUSY, latencyMs: 122, samples: 62_000, inUse: 60 }).servedLimit, 60);
        assert.deepEqual([grew.limit, grew.reason, grew.servedLimit, grew.pendingChange?.afterGrowth], [83, "demand", undefined, true]);
        // a window not counted keeps it; a limit that moved otherwise is not the served one
        assert.equal(decideConcurrency(params, held, { ...BUSY, samples: 3 }).servedLimit, 60);
        assert.equal(decideConcurrency(params, { ...held, limit: 50 }, { ...BUSY, latencyMs: 120, samples: 60_000, inUse: 50 }).servedLimit, undefined);
    });

    it("puts the knee between the two limits when growth from it lowers the throughput, not at 0.75 × it", () => {
        // 60 → 83 lowered the calls 62 000 → 44 000: elasticity ≈ −1.06; the knee at √(44 / 62 × 60 × 83) ≈ 59
        const fallen = { ...BUSY, latencyMs: 130, samples: 44_000, inUse: 83 };
        const fell = decideConcurrency(params, waited, fallen);
        assert.deepEqual([fell.limit, fell.reason, fell.knee?.limit, fell.pendingChange?.startedPast], [59, "knee", 59, undefined]);
        // the same fall without the served mark: a start past the knee, 0.75 × 60
        const unmarked = decideConcurrency(params, { ...waited, pendingChange: { ...waited.pendingChange!, afterGrowth: undefined } }, fallen);
        assert.deepEqual([unmarked.limit, unmarked.pendingChange?.startedPast], [45, true]);
    });
});
