/**
 * The simulation of one worker (a Lambda function whose concurrency is the limit) in front of the
 * downstream, in one-second steps.
 *
 * Each step: Poisson arrivals join the backlog (an SQS queue, or Lambda's queue for asynchronous events);
 * the worker runs as many invocations as it needs to drain the backlog, up to the limit; each invocation
 * makes one downstream call. An environment that did not exist yet first initialises (holding its slot
 * without calling) and its first calls are slower; idle environments are reclaimed. A call that times out
 * fails and its event stays in the backlog (it is retried). Arrivals that find the limit in use count as
 * throttles.
 *
 * At the end of each 60-s interval the strategy decides. What it sees is what a driver sees: the worker's
 * own statistics for that interval (latency percentile, errors, calls) with measurement noise, and the
 * CloudWatch-derived signals (throttles, peak concurrency, backlog age and growth) of an interval one or
 * two minutes old. Its decision takes effect one interval late (the control-plane call), so every
 * decision acts on a world two intervals on.
 */
import type { ControlSignals } from "../../runtime/controller";
import { DownstreamCondition, idealThroughputPerMs, meanLatencyMs, timeoutShare } from "./downstream";
import { lognormalFactor, poisson, Random, seededRandom } from "./random";
import { conditionAt, Scenario, valueAt } from "./scenarios";
import type { LimitStrategy } from "./strategies";

/** What happened during one control interval. */
export interface IntervalRecord {
    /** 0-based control interval. */
    interval: number;
    /** The limit in effect. */
    limit: number;
    /** The limit the strategy decided at the end of this interval (in effect two intervals on). */
    decided: number;
    /** The concurrency at which the downstream's throughput peaks, now. */
    capacity: number;
    /** Downstream calls that ended in the interval. */
    calls: number;
    /** Of those, calls that succeeded. */
    successes: number;
    /** Of those, calls that timed out. */
    errors: number;
    /** Arrivals that found the limit in use. */
    throttles: number;
    /** Peak invocations in flight. */
    peakInFlight: number;
    /** Reported 90th percentile latency of the calls (with measurement noise), in milliseconds; `NaN` without calls. */
    p90LatencyMs: number;
    /** Events waiting at the end of the interval. */
    backlog: number;
    /** Events that arrived. */
    arrivals: number;
    /**
     * Calls an ideal worker would complete: min(load, capacity throughput) × interval, where the load
     * includes what the ideal worker itself left waiting (so draining a backlog after a spike counts).
     */
    idealCalls: number;
    /** The signals handed to the strategy at the end of the interval. */
    signals: ControlSignals;
}

/** What CloudWatch reports for one interval; the strategy sees it one or two intervals later. */
type CloudWatchView = Pick<ControlSignals, "throttles" | "inUse" | "backlogAgeMs" | "backlogGrowing">;

const NO_CLOUDWATCH_DATA: CloudWatchView = { throttles: 0, inUse: 0, backlogAgeMs: 0, backlogGrowing: false };

/** Latency samples drawn per step to estimate the interval's percentile. */
const SAMPLES_PER_STEP = 8;

/**
 * Runs `strategy` through `scenario` and returns one record per control interval. Deterministic: the
 * same scenario and strategy always give the same records.
 * @param scenario the world, the script and the seed
 * @param strategy sets the limit once per control interval
 * @example const records = simulate(scenario("capacity-drop", 101), staticStrategy(100));
 */
export function simulate(scenario: Scenario, strategy: LimitStrategy): IntervalRecord[] {
    const worker = new SimulatedWorker(scenario, strategy.initialLimit);
    const delays = seededRandom(scenario.seed * 31 + 17);
    const pending: number[] = Array.from({ length: scenario.actuationDelayIntervals }, () => strategy.initialLimit);
    const views: CloudWatchView[] = [];
    const records: IntervalRecord[] = [];
    for (let interval = 0; interval < scenario.intervals; interval++) {
        const { record, view } = worker.runInterval(interval);
        views.push(view);
        const lag = 1 + Math.floor(delays() * scenario.maxSignalDelayIntervals);
        record.signals = { ...record.signals, ...(views[interval - lag] ?? NO_CLOUDWATCH_DATA) };
        record.decided = strategy.next(record.signals);
        records.push(record);
        pending.push(record.decided);
        worker.setLimit(pending.shift() as number);
    }
    return records;
}

/** Counters of the interval being simulated. */
interface IntervalTally {
    arrivals: number;
    successes: number;
    errors: number;
    throttles: number;
    peakInFlight: number;
    latencies: number[];
    weights: number[];
}

class SimulatedWorker {
    private readonly random: Random;
    private backlog = 0;
    private warmEnvironments = 0;
    private inFlight = 0;
    /** What the ideal worker has left waiting. */
    private idealBacklog = 0;
    private tally = emptyTally();

    constructor(
        private readonly scenario: Scenario,
        private limit: number,
    ) {
        this.random = seededRandom(scenario.seed);
        this.warmEnvironments = Math.min(limit, scenario.normal.capacity * valueAt(scenario.demandFactor, 0));
    }

    setLimit(limit: number): void {
        this.limit = limit;
    }

    runInterval(interval: number): { record: IntervalRecord; view: CloudWatchView } {
        const s = this.scenario;
        const condition = conditionAt(s, interval);
        const arrivalsPerStep = valueAt(s.demandFactor, interval) * idealThroughputPerMs(s.normal) * s.stepMs;
        const backlogAtStart = this.backlog;
        this.tally = emptyTally();
        for (let t = 0; t < s.intervalMs; t += s.stepMs) this.step(condition, arrivalsPerStep);
        return this.record(interval, condition, backlogAtStart);
    }

    private step(condition: DownstreamCondition, arrivalsPerStep: number): void {
        const { stepMs, worker, shape } = this.scenario;
        const arrivals = poisson(this.random, arrivalsPerStep);
        this.tally.arrivals += arrivals;
        this.backlog += arrivals;
        const wanted = this.invocationsWanted(condition);
        const running = Math.min(this.limit, wanted);
        if (wanted > this.limit && arrivals > 0) this.tally.throttles += Math.max(1, Math.round(arrivals * (1 - this.limit / wanted)));
        const started = Math.max(0, running - this.warmEnvironments);
        this.warmEnvironments = Math.max(running, this.warmEnvironments - ((this.warmEnvironments - running) * stepMs) / (worker.idleReclaimSeconds * 1000));
        const calling = Math.max(0, running - (started * Math.min(worker.coldStartMs, stepMs)) / stepMs);
        const meanMs = meanLatencyMs(shape, condition, calling);
        const failShare = timeoutShare(shape, meanMs);
        const slotMsPerCall = meanMs * (1 - failShare) + shape.timeoutMs * failShare;
        const slowCalls = started * worker.slowFirstCalls;
        const slotMs = Math.max(0, calling * stepMs - slowCalls * worker.slowFirstCallExtraMs);
        const calls = Math.min(this.backlog, slotMs / slotMsPerCall);
        const errors = calls * failShare;
        this.backlog -= calls - errors;
        this.inFlight = running;
        this.tally.successes += calls - errors;
        this.tally.errors += errors;
        this.tally.peakInFlight = Math.max(this.tally.peakInFlight, Math.min(this.limit, Math.ceil(running + Math.sqrt(running) * this.random())));
        this.sampleLatencies(meanMs, calls, calls > 0 ? Math.min(1, slowCalls / calls) : 0);
    }

    /** Invocations needed to drain the backlog within one step at the latency that concurrency causes. */
    private invocationsWanted(condition: DownstreamCondition): number {
        const { shape, stepMs } = this.scenario;
        let wanted = Math.min(this.limit, this.inFlight || 1);
        for (let i = 0; i < 4; i++) wanted = (this.backlog * meanLatencyMs(shape, condition, Math.min(this.limit, wanted))) / stepMs;
        return wanted;
    }

    private sampleLatencies(meanMs: number, calls: number, slowShare: number): void {
        if (calls <= 0) return;
        const { shape, worker } = this.scenario;
        for (let i = 0; i < SAMPLES_PER_STEP; i++) {
            const extra = this.random() < slowShare ? worker.slowFirstCallExtraMs : 0;
            this.tally.latencies.push(Math.min(shape.timeoutMs, meanMs * lognormalFactor(this.random, shape.jitter)) + extra);
            this.tally.weights.push(calls / SAMPLES_PER_STEP);
        }
    }

    private record(interval: number, condition: DownstreamCondition, backlogAtStart: number): { record: IntervalRecord; view: CloudWatchView } {
        const { arrivals, successes, errors, throttles, peakInFlight } = this.tally;
        const noise = () => lognormalFactor(this.random, this.scenario.measurementNoise);
        const calls = successes + errors;
        const p90LatencyMs = weightedPercentile(this.tally.latencies, this.tally.weights, 0.9) * noise();
        const drainPerMs = calls / this.scenario.intervalMs;
        const view: CloudWatchView = {
            throttles,
            inUse: Math.round(peakInFlight * Math.min(1, noise())),
            backlogAgeMs: this.backlog >= 1 ? Math.round(Math.min(this.backlog / Math.max(drainPerMs, 1e-6), 21_600_000)) : 0,
            backlogGrowing: this.backlog > backlogAtStart + 1,
        };
        const signals: ControlSignals = { latencyMs: p90LatencyMs, errorRate: calls > 0 ? errors / calls : 0, samples: Math.round(calls), ...NO_CLOUDWATCH_DATA };
        const record: IntervalRecord = {
            interval,
            limit: this.limit,
            decided: this.limit,
            capacity: condition.capacity,
            calls,
            successes,
            errors,
            throttles,
            peakInFlight,
            p90LatencyMs,
            backlog: this.backlog,
            arrivals,
            idealCalls: this.idealCompletions(arrivals, condition),
            signals,
        };
        return { record, view };
    }

    /** An ideal worker serves everything waiting, up to the downstream's best throughput. */
    private idealCompletions(arrivals: number, condition: DownstreamCondition): number {
        const capacityCalls = idealThroughputPerMs(condition) * this.scenario.intervalMs;
        const served = Math.min(arrivals + this.idealBacklog, capacityCalls);
        this.idealBacklog += arrivals - served;
        return served;
    }
}

function emptyTally(): IntervalTally {
    return { arrivals: 0, successes: 0, errors: 0, throttles: 0, peakInFlight: 0, latencies: [], weights: [] };
}

/**
 * The percentile `p` (0 < p ≤ 1) of weighted values; `NaN` for no values.
 * @param values the sample
 * @param weights one non-negative weight per value
 * @param p the percentile as a fraction, e.g. 0.9
 * @example weightedPercentile([1, 2, 3], [1, 1, 8], 0.5) // 3
 */
export function weightedPercentile(values: number[], weights: number[], p: number): number {
    const total = weights.reduce((a, b) => a + b, 0);
    if (values.length === 0 || !(total > 0)) return NaN;
    const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
    let seen = 0;
    for (const i of order) {
        seen += weights[i];
        if (seen >= p * total) return values[i];
    }
    return values[order[order.length - 1]];
}

/**
 * The nearest-rank percentile of `values` (0 < p ≤ 1); `NaN` for no values.
 * @param values the sample, in any order
 * @param p the percentile as a fraction, e.g. 0.9
 * @example percentile([3, 1, 2], 0.9) // 3
 */
export function percentile(values: number[], p: number): number {
    if (values.length === 0) return NaN;
    const sorted = Float64Array.from(values).sort();
    return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}
