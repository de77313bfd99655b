import { strict as assert } from "node:assert";
import {
    conditionAt,
    DownstreamShape,
    IntervalRecord,
    meanLatencyMs,
    runScenario,
    Scenario,
    scenario,
    SCENARIO_NAMES,
    score,
    simulate,
    staticStrategy,
    aimdStrategy,
    gradient2Strategy,
    vegasStrategy,
    timeoutShare,
    UnknownScenarioError,
    valueAt,
    weightedPercentile,
    worstCaseLimit,
    LimitStrategy,
    oracleFor,
    measuringOracleFor,
    MEASUREMENT_ROUND_TRIP_INTERVALS,
    oracleStrategy,
    DEFAULT_AIMD,
} from "../../bench/simulator";
import { AIMD_SWEEP, DEVELOPMENT_SEEDS, HELD_OUT_SEEDS, sweepAimd, TUNING_SEEDS } from "../../bench/simulator/evaluation";
import { poisson, seededRandom } from "../../bench/simulator/random";
import type { ControlSignals } from "../../runtime/controller";

const SHAPE: DownstreamShape = { queueing: 0.2, jitter: 0.2, timeoutMs: 400 };
const NORMAL = { capacity: 100, latencyAtCapacityMs: 40 };

/** A scenario with a fixed world: capacity 100 at 40 ms, no noise unless asked, demand `demand` × capacity. */
function fixed(demand: number, overrides: Partial<Scenario> = {}): Scenario {
    return {
        ...scenario("steady", 1),
        intervals: 8,
        normal: NORMAL,
        shape: SHAPE,
        demandFactor: [{ from: 0, value: demand }],
        worker: { coldStartMs: 0, slowFirstCalls: 0, slowFirstCallExtraMs: 0, idleReclaimSeconds: 600 },
        measurementNoise: 0,
        ...overrides,
    };
}

/** Records every signal it is handed and answers with a scripted limit. */
function recording(limits: (interval: number) => number, initialLimit: number): LimitStrategy & { seen: ControlSignals[] } {
    const seen: ControlSignals[] = [];
    return { name: "scripted", initialLimit, seen, next: (s) => limits(seen.push(s) - 1) };
}


describe("simulator: downstream model", () => {
    it("takes latencyAtCapacity at capacity, less below it and the square of the overload above it", () => {
        assert.equal(meanLatencyMs(SHAPE, NORMAL, 100), 40);
        assert.ok(Math.abs(meanLatencyMs(SHAPE, NORMAL, 0) - 40 / 1.2) < 1e-9);
        assert.equal(meanLatencyMs(SHAPE, NORMAL, 200), 160);
    });

    it("throughput peaks at exactly the capacity", () => {
        const throughput = (n: number) => n / meanLatencyMs(SHAPE, NORMAL, n);
        const best = Array.from({ length: 300 }, (_, i) => i + 1).reduce((a, b) => (throughput(b) > throughput(a) ? b : a));
        assert.equal(best, 100);
    });

    it("times out the tail of the log-normal latency past the client timeout", () => {
        assert.ok(timeoutShare(SHAPE, 40) < 1e-6);
        // z = (ln(400 / 400) + 0.2² / 2) / 0.2 = 0.1
        assert.ok(Math.abs(timeoutShare(SHAPE, 400) - 0.4602) < 0.001);
        assert.ok(timeoutShare(SHAPE, 1600) > 0.99);
    });

    it("draws Poisson counts with the right mean, small and large", () => {
        const random = seededRandom(3);
        for (const mean of [3, 400]) {
            const draws = Array.from({ length: 4000 }, () => poisson(random, mean));
            const average = draws.reduce((a, b) => a + b, 0) / draws.length;
            assert.ok(Math.abs(average / mean - 1) < 0.03, `${mean}: ${average}`);
        }
    });

    it("takes weighted percentiles", () => {
        assert.equal(weightedPercentile([1, 2, 3], [1, 1, 8], 0.5), 3);
        assert.equal(weightedPercentile([5, 1], [1, 1], 0.5), 1);
        assert.ok(Number.isNaN(weightedPercentile([], [], 0.9)));
    });
});

describe("simulator: worker, signals and delays", () => {
    it("is deterministic", () => {
        const s = scenario("random-mix", 101);
        assert.deepEqual(simulate(s, staticStrategy(50)), simulate(s, staticStrategy(50)));
    });

    it("reaches the ideal with a static limit at capacity under saturating demand, and loses it far above", () => {
        const atCapacity = score(simulate(fixed(1.5), staticStrategy(100)));
        assert.ok(atCapacity.goodputRatio > 0.97 && atCapacity.goodputRatio <= 1.001, `${atCapacity.goodputRatio}`);
        assert.equal(atCapacity.errorRate < 0.001, true);
        const doubled = score(simulate(fixed(1.5), staticStrategy(250)));
        assert.ok(doubled.goodputRatio < 0.5, JSON.stringify(doubled));
        const tripled = score(simulate(fixed(1.5), staticStrategy(350)));
        assert.ok(tripled.errorRate > 0.2, JSON.stringify(tripled));
    });

    it("makes a decision take effect one interval late", () => {
        const strategy = recording((i) => (i === 0 ? 60 : 60), 30);
        const records = simulate(fixed(1.5), strategy);
        assert.deepEqual(records.slice(0, 4).map((r) => r.limit), [30, 30, 60, 60]);
        assert.equal(records[0].decided, 60);
    });

    it("hands CloudWatch-derived signals one or two intervals old, the worker's own statistics current", () => {
        // demand steps from 20 % to 150 % at interval 3: throttles appear at once, the strategy sees them 1–2 later
        const strategy = recording(() => 50, 50);
        const records = simulate(fixed(0.2, { demandFactor: [{ from: 0, value: 0.2 }, { from: 3, value: 1.5 }] }), strategy);
        assert.equal(records[2].throttles, 0);
        assert.ok(records[3].throttles > 0);
        assert.equal(strategy.seen[3].throttles, 0, "interval 3's own throttles are not visible yet");
        assert.ok(strategy.seen[4].throttles > 0 || strategy.seen[5].throttles > 0);
        assert.equal(strategy.seen[3].samples, Math.round(records[3].calls), "own statistics are current");
        assert.deepEqual([strategy.seen[0].throttles, strategy.seen[0].inUse], [0, 0], "nothing from CloudWatch in the first interval");
    });

    it("slows new environments: a limit raised into cold environments serves less than a warm one", () => {
        const cold = fixed(1.5, { worker: { coldStartMs: 1000, slowFirstCalls: 5, slowFirstCallExtraMs: 200, idleReclaimSeconds: 600 } });
        const jump = (s: Scenario) => simulate(s, recording(() => 100, 20))[2].successes;
        assert.ok(jump(cold) < jump(fixed(1.5)), `${jump(cold)} vs ${jump(fixed(1.5))}`);
    });

    it("counts a backlog drained after a spike in the ideal, so goodput stays ≤ 1", () => {
        for (const run of runScenario(scenario("load-spike", 101)).runs) assert.ok(run.goodputRatio <= 1.001, `${run.strategy}: ${run.goodputRatio}`);
    });

    it("counts limit changes after the warm-up", () => {
        const limits = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14, 15, 15, 16, 16];
        const records = limits.map((decided, interval) => ({ interval, decided, calls: 1, successes: 1, errors: 0, idealCalls: 1 }) as IntervalRecord);
        // counted from interval 10 on: 14 (as before), 15, 15, 16, 16 → 2 changes in 5 intervals
        assert.equal(score(records).changesPer100, (100 * 2) / 5);
    });
});

describe("simulator: scenarios and baselines", () => {
    it("knows the six scenarios and names them when asked for another", () => {
        assert.deepEqual([...SCENARIO_NAMES], ["steady", "capacity-drop", "slower-downstream", "demand-ramp", "load-spike", "random-mix"]);
        assert.throws(() => scenario("nope"), (e: Error) => e instanceof UnknownScenarioError && /steady, capacity-drop, slower-downstream/.test(e.message));
    });

    it("halves the capacity and restores it in capacity-drop", () => {
        const s = scenario("capacity-drop", 101);
        assert.deepEqual([0, 20, 40].map((i) => conditionAt(s, i).capacity / s.normal.capacity), [1, 0.5, 1]);
        assert.equal(worstCaseLimit(s), Math.round(s.normal.capacity / 2));
    });

    it("makes every call 2.25× slower at the same throughput capacity in slower-downstream", () => {
        const s = scenario("slower-downstream", 101);
        const [before, after] = [conditionAt(s, 0), conditionAt(s, 30)];
        assert.equal(after.latencyAtCapacityMs / before.latencyAtCapacityMs, 2.25);
        assert.ok(Math.abs(after.capacity / after.latencyAtCapacityMs - before.capacity / before.latencyAtCapacityMs) < 1e-9);
    });

    it("ramps demand from 30 % to 150 % and spikes it to 250 %", () => {
        const ramp = scenario("demand-ramp", 101);
        assert.deepEqual([valueAt(ramp.demandFactor, 0), valueAt(ramp.demandFactor, 59)].map((v) => Math.round(v * 100)), [30, 150]);
        assert.equal(valueAt(scenario("load-spike", 101).demandFactor, 22), 2.5);
    });

    it("draws a different world per seed, and random-mix draws its own events", () => {
        const [a, b] = [scenario("random-mix", 101), scenario("random-mix", 102)];
        assert.notDeepEqual(a.normal, b.normal);
        assert.notDeepEqual(a.demandFactor, b.demandFactor);
        assert.deepEqual(scenario("random-mix", 101), a);
    });

    it("gives no strategy a latency target: the headline controller gets the bounds only", () => {
        const [adaptive] = runScenario(scenario("steady", 101)).runs;
        assert.equal(adaptive.strategy, "adaptive (default tuning)");
        assert.ok(adaptive.records.every((r) => r.signals.latencyMs > 0));
    });

    it("runs the baselines side by side: static normal and worst case, AIMD, Gradient2-like, Vegas-like", () => {
        assert.deepEqual(
            runScenario(scenario("capacity-drop", 101)).runs.map((r) => r.strategy),
            ["adaptive (default tuning)", "static (normal case)", "static (worst case)", "AIMD (×0.7, +1, drop > 1 %)", "Gradient2-like", "Vegas-like"],
        );
    });

    it("runs, by default, the AIMD tuning that the bench's sweep picks on the tuning seeds", function () {
        this.timeout(60_000);
        assert.deepEqual(sweepAimd()[0].tuning, DEFAULT_AIMD);
    });

    it("ports Gradient2 and Vegas as documented: Gradient2 holds while less than half the limit is used, Vegas backs off on a drop", () => {
        const calm: ControlSignals = { latencyMs: 50, errorRate: 0, samples: 1000, throttles: 0, inUse: 10, backlogAgeMs: 0, backlogGrowing: false };
        assert.equal(gradient2Strategy({ min: 1, max: 1000 }, 100).next(calm), 100);
        const vegas = vegasStrategy({ min: 1, max: 1000 }, 100);
        assert.equal(vegas.next({ ...calm, inUse: 100, errorRate: 0.01 }), 98);
        const aimd = aimdStrategy({ min: 1, max: 1000 }, 100, { backoffRatio: 0.5, increase: 5, dropErrorRate: 0.01 });
        assert.deepEqual([aimd.next({ ...calm, inUse: 60 }), aimd.next({ ...calm, errorRate: 0.02 })], [105, 52]);
    });

    it("gives the oracle the capacity of the interval that just ended, landing one interval late like every decision", () => {
        const oracle = oracleStrategy((i) => [100, 50, 50, 80][i] ?? 80, { min: 1, max: 1000 }, 120);
        const calm: ControlSignals = { latencyMs: 50, errorRate: 0, samples: 1000, throttles: 0, inUse: 10, backlogAgeMs: 0, backlogGrowing: false };
        assert.deepEqual([0, 1, 2, 3].map(() => oracle.next(calm)), [100, 50, 50, 80]);
        const s = scenario("capacity-drop", 1);
        const records = simulate(s, oracleFor(s));
        // The drop at interval 20 reaches the limit at 22: the oracle cannot foresee it.
        assert.deepEqual(records.slice(19, 23).map((r) => r.limit), [s.normal.capacity, s.normal.capacity, s.normal.capacity, s.normal.capacity / 2].map(Math.round));
        assert.equal(records[0].limit, s.initialLimit);
    });

    it("gives the measuring oracle the capacity one measurement round trip (two intervals) late", () => {
        const s = scenario("capacity-drop", 1);
        const records = simulate(s, measuringOracleFor(s));
        // The drop at interval 20 is told at 22 and reaches the limit at 24; the return at 40 reaches it at 44.
        const [normal, half] = [s.normal.capacity, s.normal.capacity / 2].map(Math.round);
        assert.deepEqual(records.slice(21, 25).map((r) => r.limit), [normal, normal, normal, half]);
        assert.deepEqual(records.slice(43, 45).map((r) => r.limit), [half, normal]);
        assert.equal(MEASUREMENT_ROUND_TRIP_INTERVALS, 2);
    });

    it("reports on seeds disjoint from the tuning and development seeds, and sweeps AIMD over 12 tunings", () => {
        assert.equal([...TUNING_SEEDS, ...DEVELOPMENT_SEEDS].filter((s) => HELD_OUT_SEEDS.includes(s)).length, 0);
        assert.equal(AIMD_SWEEP.length, 12);
    });

    it("lets the default controller tell a slower downstream from overload: ahead of the static limit and Gradient2 there", () => {
        const runs = runScenario(scenario("slower-downstream", 101)).runs;
        const [adaptive, staticNormal, , , gradient2] = runs;
        assert.ok(adaptive.goodputRatio > staticNormal.goodputRatio && adaptive.goodputRatio > gradient2.goodputRatio, runs.map((r) => `${r.strategy} ${r.goodputRatio.toFixed(3)}`).join(", "));
        assert.ok(adaptive.goodputRatio >= 0.9, `${adaptive.goodputRatio}`);
    });
});
