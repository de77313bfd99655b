import { strict as assert } from "node:assert";
import {
    callOutcome,
    capacitySegments,
    DownstreamModel,
    IntervalRecord,
    meanLatencyMs,
    runScenario,
    Scenario,
    scenario,
    SCENARIO_NAMES,
    score,
    settleIntervals,
    simulate,
    staticStrategy,
    aimdStrategy,
    UnknownScenarioError,
    valueAt,
} from "../../bench/simulator";
import { seededRandom } from "../../bench/simulator/random";

const MODEL: DownstreamModel = { latencyAtCapacityMs: 100, queueing: 0.2, jitter: 0.1, timeoutMs: 250 };

/** A short scenario with one capacity and one load (arrivals per second). */
function fixed(capacity: number, load: number, intervals = 10): Scenario {
    return { ...scenario("steady"), intervals, capacity: [{ from: 0, value: capacity }], load: [{ from: 0, value: load }] };
}

const totals = (records: IntervalRecord[], pick: (r: IntervalRecord) => number) => records.reduce((sum, r) => sum + pick(r), 0);

describe("simulator: downstream model", () => {
    it("takes latencyAtCapacity at capacity, less below it and more above it", () => {
        assert.equal(meanLatencyMs(MODEL, 100, 100), 100);
        assert.ok(Math.abs(meanLatencyMs(MODEL, 0, 100) - 100 / 1.2) < 1e-9);
        assert.ok(meanLatencyMs(MODEL, 90, 100) < 100);
        assert.equal(meanLatencyMs(MODEL, 150, 100), 225);
    });

    it("completes the most calls per millisecond with exactly capacity in flight", () => {
        const throughput = (n: number) => n / meanLatencyMs(MODEL, n, 100);
        const best = Array.from({ length: 300 }, (_, i) => i + 1).reduce((a, b) => (throughput(b) > throughput(a) ? b : a));
        assert.equal(best, 100);
    });

    it("times calls out (as errors, at the timeout) only when well over capacity", () => {
        const random = seededRandom(7);
        const errorShare = (inFlight: number) => {
            const outcomes = Array.from({ length: 2000 }, () => callOutcome(MODEL, inFlight, 100, random));
            assert.ok(outcomes.every((o) => o.ok || o.latencyMs === MODEL.timeoutMs));
            return outcomes.filter((o) => !o.ok).length / outcomes.length;
        };
        assert.equal(errorShare(100), 0);
        assert.ok(errorShare(150) > 0.05);
        assert.ok(errorShare(200) > 0.99);
    });
});

describe("simulator: worker and scoring", () => {
    it("is deterministic", () => {
        assert.deepEqual(simulate(scenario("load-spike"), staticStrategy(100)), simulate(scenario("load-spike"), staticStrategy(100)));
    });

    it("produces errors and loses goodput with a static limit above capacity", () => {
        const records = simulate(fixed(50, 2000), staticStrategy(100));
        const scores = score(records);
        assert.ok(scores.errorRate > 0.9, `error rate ${scores.errorRate}`);
        assert.ok(scores.goodputRatio < 0.1, `goodput ${scores.goodputRatio}`);
    });

    it("reaches the ideal with a static limit at capacity under saturating load", () => {
        const scores = score(simulate(fixed(100, 2000), staticStrategy(100)));
        assert.equal(scores.errorRate, 0);
        assert.ok(scores.goodputRatio > 0.98 && scores.goodputRatio <= 1.01, `goodput ${scores.goodputRatio}`);
    });

    it("computes the ideal as min(load, capacity throughput) per interval", () => {
        const saturated = simulate(fixed(100, 2000), staticStrategy(100));
        // 100 calls in flight at 100 ms each = 1 call/ms, for a 2000 ms interval
        assert.ok(saturated.every((r) => r.idealCalls === 2000));
        const light = simulate(fixed(100, 300), staticStrategy(100));
        // below capacity the ideal is every arrival (nothing is left waiting)
        assert.ok(light.every((r) => r.idealCalls === r.arrivals));
        assert.ok(Math.abs(totals(light, (r) => r.arrivals) / (300 * 2 * 10) - 1) < 0.05);
    });

    it("counts a backlog drained after a spike in the ideal, so goodput stays ≤ 1", () => {
        const { runs } = runScenario(scenario("load-spike"));
        for (const run of runs) assert.ok(run.goodputRatio <= 1.01, `${run.strategy}: ${run.goodputRatio}`);
        const ideal = runs[1].records.map((r) => r.idealCalls);
        assert.ok(ideal[20] > ideal[5], "after the spike the ideal worker still drains what waited");
    });

    it("never starts more calls than the limit allows", () => {
        const records = simulate(scenario("capacity-drop"), aimdStrategy({ min: 2, max: 1000 }, 100));
        records.forEach((r, i) => assert.ok(r.peakInFlight <= Math.max(r.limit, records[i - 1]?.limit ?? r.limit)));
    });

    it("reports throttles, demand and a growing backlog to the strategy when load exceeds the limit", () => {
        const [first] = simulate(fixed(100, 2000, 1), staticStrategy(50));
        assert.ok(first.signals.throttles > 0 && first.signals.backlogGrowing && first.signals.backlogAgeMs > 0);
        assert.equal(first.signals.inUse, 50);
        assert.equal(first.signals.samples, first.calls);
    });

    it("settles when the limit stays within ±10 % of the capacity", () => {
        const records = (limits: number[]) => limits.map((limit, interval) => ({ interval, limit, capacity: 50 }) as IntervalRecord);
        assert.equal(settleIntervals(records([50, 50, 50])), 0);
        assert.equal(settleIntervals(records([100, 56, 55, 45, 50])), 2);
        assert.equal(settleIntervals(records([50, 44, 50])), 2);
        assert.equal(settleIntervals(records([50, 50, 60])), 3);
    });

    it("splits a run at each capacity step", () => {
        const records = simulate(scenario("capacity-drop"), staticStrategy(100));
        assert.deepEqual(capacitySegments(records).map((s) => [s[0].interval, s.length, s[0].capacity]), [
            [0, 15, 100],
            [15, 15, 50],
            [30, 15, 100],
        ]);
    });
});

describe("simulator: scenarios", () => {
    it("knows steady, capacity-drop and load-spike, and names them when asked for another", () => {
        assert.deepEqual([...SCENARIO_NAMES], ["steady", "capacity-drop", "load-spike"]);
        assert.throws(() => scenario("nope"), (e: Error) => e instanceof UnknownScenarioError && /steady, capacity-drop, load-spike/.test(e.message));
    });

    it("halves the capacity and restores it in capacity-drop", () => {
        const s = scenario("capacity-drop");
        assert.deepEqual([0, 15, 30].map((i) => valueAt(s.capacity, i)), [100, 50, 100]);
    });

    it("meets the adaptive controller's targets on capacity-drop: goodput ≥ 90 %, errors ≤ 2 %, settled ≤ 5 intervals after each step", () => {
        const [adaptive, fixedLimit, aimd] = runScenario(scenario("capacity-drop")).runs;
        assert.equal(adaptive.strategy, "adaptive");
        assert.ok(adaptive.goodputRatio >= 0.9, `goodput ${adaptive.goodputRatio}`);
        assert.ok(adaptive.errorRate <= 0.02, `error rate ${adaptive.errorRate}`);
        assert.equal(adaptive.settlePerStep.length, 3);
        assert.ok(adaptive.settlePerStep.every((n) => n <= 5), `settle ${adaptive.settlePerStep}`);
        for (const other of [fixedLimit, aimd]) {
            assert.ok(adaptive.goodputRatio > other.goodputRatio && adaptive.errorRate < other.errorRate, other.strategy);
        }
    });

    it("keeps the adaptive controller error-free with goodput ≥ 95 % when capacity does not change", () => {
        for (const name of ["steady", "load-spike"]) {
            const [adaptive] = runScenario(scenario(name)).runs;
            assert.equal(adaptive.errorRate, 0, name);
            assert.ok(adaptive.goodputRatio >= 0.95, `${name}: ${adaptive.goodputRatio}`);
        }
    });
});
