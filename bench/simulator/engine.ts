/**
 * The discrete-event simulation of one worker in front of the downstream.
 *
 * Events arrive as a Poisson stream at the scenario's load. An arrival starts an invocation when fewer
 * than `limit` are in flight; otherwise it is throttled and waits in a FIFO backlog (an SQS queue, or
 * Lambda's retry queue for asynchronous events), from which the worker takes the next event whenever an
 * invocation ends. Each invocation makes one downstream call and lasts as long as that call. Calls are
 * counted in the interval in which they end. At the end of every control interval the strategy gets that
 * interval's signals and sets the limit for the next one; capacity and load change only at interval
 * boundaries.
 */
import type { ControlSignals } from "../../runtime/controller";
import { CompletionQueue, PendingCall } from "./completionQueue";
import { callOutcome, idealThroughputPerMs } from "./downstream";
import { exponential, Random, seededRandom } from "./random";
import { Scenario, valueAt } from "./scenarios";
import { LimitStrategy } from "./strategies";

/** What happened during one control interval. */
export interface IntervalRecord {
    /** 0-based control interval. */
    interval: number;
    /** The limit in effect. */
    limit: number;
    /** The downstream's capacity (calls in flight). */
    capacity: number;
    /** Calls that ended in the interval. */
    calls: number;
    /** Of those, calls that succeeded. */
    successes: number;
    /** Of those, calls that timed out. */
    errors: number;
    /** Arrivals that found the limit in use and had to wait. */
    throttles: number;
    /** Peak number of invocations (= downstream calls) in flight. */
    peakInFlight: number;
    /** 90th percentile latency of the calls that ended, in milliseconds; `NaN` without calls. */
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

/**
 * Runs `strategy` through `scenario` and returns one record per control interval. Deterministic: the
 * same scenario and strategy always give the same records.
 * @param scenario load, capacity, downstream and seed
 * @param strategy sets the limit once per control interval
 * @example const records = simulate(scenario("capacity-drop"), staticStrategy(100));
 */
export function simulate(scenario: Scenario, strategy: LimitStrategy): IntervalRecord[] {
    const worker = new SimulatedWorker(scenario, strategy.initialLimit);
    const records: IntervalRecord[] = [];
    for (let interval = 0; interval < scenario.intervals; interval++) {
        const record = worker.runInterval(interval);
        records.push(record);
        worker.setLimit(strategy.next(record.signals));
    }
    return records;
}

/** Counters of the interval being simulated. */
interface IntervalTally {
    arrivals: number;
    latencies: number[];
    successes: number;
    errors: number;
    throttles: number;
    peakInFlight: number;
}

class SimulatedWorker {
    private readonly random: Random;
    private readonly inFlight = new CompletionQueue();
    private readonly backlog: number[] = [];
    private backlogHead = 0;
    /** What the ideal worker has left waiting. */
    private idealBacklog = 0;
    private now = 0;
    private capacity = 0;
    private tally = emptyTally(0);

    constructor(
        private readonly scenario: Scenario,
        private limit: number,
    ) {
        this.random = seededRandom(scenario.seed);
    }

    runInterval(interval: number): IntervalRecord {
        const { intervalMs, load } = this.scenario;
        const end = (interval + 1) * intervalMs;
        const ratePerMs = valueAt(load, interval) / 1000;
        const backlogAtStart = this.backlogLength();
        this.capacity = valueAt(this.scenario.capacity, interval);
        this.tally = emptyTally(this.inFlight.size);
        let nextArrival = this.now + (ratePerMs > 0 ? exponential(this.random, 1 / ratePerMs) : Infinity);
        for (;;) {
            const nextEnd = this.inFlight.nextEnd();
            if (Math.min(nextArrival, nextEnd) >= end) break;
            if (nextEnd <= nextArrival) {
                this.complete(this.inFlight.pop());
            } else {
                this.arrive(nextArrival);
                nextArrival += exponential(this.random, 1 / ratePerMs);
            }
        }
        this.now = end;
        return this.record(interval, backlogAtStart);
    }

    setLimit(limit: number): void {
        this.limit = limit;
        this.dispatch(this.now);
    }

    private arrive(at: number): void {
        this.now = at;
        this.tally.arrivals += 1;
        if (this.inFlight.size < this.limit) {
            this.start(at);
        } else {
            this.backlog.push(at);
            this.tally.throttles += 1;
        }
    }

    private complete(call: PendingCall): void {
        this.now = call.endsAt;
        this.tally.latencies.push(call.latencyMs);
        if (call.ok) this.tally.successes += 1;
        else this.tally.errors += 1;
        this.dispatch(call.endsAt);
    }

    /** Starts waiting events while the limit allows. */
    private dispatch(at: number): void {
        while (this.inFlight.size < this.limit && this.backlogLength() > 0) {
            this.backlogHead += 1;
            this.start(at);
        }
        if (this.backlogHead > 4096 && this.backlogHead * 2 > this.backlog.length) {
            this.backlog.splice(0, this.backlogHead);
            this.backlogHead = 0;
        }
    }

    private start(at: number): void {
        const outcome = callOutcome(this.scenario.downstream, this.inFlight.size + 1, this.capacity, this.random);
        this.inFlight.push({ endsAt: at + outcome.latencyMs, ...outcome });
        this.tally.peakInFlight = Math.max(this.tally.peakInFlight, this.inFlight.size);
    }

    private backlogLength(): number {
        return this.backlog.length - this.backlogHead;
    }

    private record(interval: number, backlogAtStart: number): IntervalRecord {
        const { arrivals, latencies, successes, errors, throttles, peakInFlight } = this.tally;
        const calls = successes + errors;
        const p90LatencyMs = percentile(latencies, 0.9);
        const backlog = this.backlogLength();
        const signals: ControlSignals = {
            latencyMs: p90LatencyMs,
            errorRate: calls > 0 ? errors / calls : 0,
            samples: calls,
            throttles,
            inUse: peakInFlight,
            backlogAgeMs: backlog > 0 ? this.now - this.backlog[this.backlogHead] : 0,
            backlogGrowing: backlog > backlogAtStart,
        };
        const idealCalls = this.idealCompletions(arrivals);
        return { interval, limit: this.limit, capacity: this.capacity, arrivals, calls, successes, errors, throttles, peakInFlight, p90LatencyMs, backlog, idealCalls, signals };
    }

    /** An ideal worker serves everything waiting, up to the downstream's best throughput. */
    private idealCompletions(arrivals: number): number {
        const capacityCalls = idealThroughputPerMs(this.scenario.downstream, this.capacity) * this.scenario.intervalMs;
        const served = Math.min(arrivals + this.idealBacklog, capacityCalls);
        this.idealBacklog += arrivals - served;
        return served;
    }
}

function emptyTally(inFlight: number): IntervalTally {
    return { arrivals: 0, latencies: [], successes: 0, errors: 0, throttles: 0, peakInFlight: inFlight };
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
