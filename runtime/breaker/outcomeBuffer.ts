/**
 * The outcomes one execution environment has counted but not yet written to the breaker's shared
 * window. Pure: the breaker decides when to call {@link OutcomeBuffer.take} and writes what it returns.
 */
import type { BreakerPolicy } from "../../contracts/breaker";
import type { Outcomes } from "./breaker";

/** Counts of one counting window. */
export interface BufferedOutcomes {
    /** Start of the counting window, epoch ms. */
    windowStart: number;
    /** The counts. */
    outcomes: Outcomes;
}

/**
 * Counts kept in memory between flushes.
 * @example
 * const buffer = new OutcomeBuffer(5000, policy, Date.now());
 * buffer.add(windowStart, { requests: 10, errors: 1 });
 * if (buffer.due(Date.now(), lastStoredWindow)) await write(buffer.take(Date.now()));
 */
export class OutcomeBuffer {
    private windowStart: number | undefined;
    private requests = 0;
    private errors = 0;

    /**
     * @param flushMs the longest time counts wait; 0 makes every add due
     * @param policy the trip rule: counts that alone would trip are due at once
     * @param lastFlushAt epoch ms the flush period counts from
     */
    constructor(
        private readonly flushMs: number,
        private readonly policy: Pick<BreakerPolicy, "minRequests" | "errorThreshold">,
        private lastFlushAt: number,
    ) {}

    /**
     * Adds counts of window `windowStart` (take the other window first: see {@link takeOtherWindow}).
     * @param windowStart start of the window the outcomes happened in
     * @param outcomes the counts
     */
    add(windowStart: number, outcomes: Outcomes): void {
        this.windowStart = windowStart;
        this.requests += outcomes.requests;
        this.errors += outcomes.errors;
    }

    /**
     * Whether the counts should be written now: the flush period has passed, or together with the
     * window's counts last read from the store they would trip.
     * @param now epoch ms
     * @param stored the counts of the same window as last read from the store (none when unknown)
     */
    due(now: number, stored: BufferedOutcomes | undefined): boolean {
        if (this.requests === 0) return false;
        const sameWindow = stored !== undefined && stored.windowStart === this.windowStart;
        const requests = this.requests + (sameWindow ? stored.outcomes.requests : 0);
        const errors = this.errors + (sameWindow ? stored.outcomes.errors : 0);
        const wouldTrip = requests >= this.policy.minRequests && errors / requests >= this.policy.errorThreshold;
        return this.flushMs === 0 || now - this.lastFlushAt >= this.flushMs || wouldTrip;
    }

    /**
     * Empties the buffer and starts a new flush period.
     * @param now epoch ms
     * @returns the counts, `undefined` when there were none
     */
    take(now: number): BufferedOutcomes | undefined {
        this.lastFlushAt = now;
        if (this.windowStart === undefined || this.requests === 0) return undefined;
        const taken = { windowStart: this.windowStart, outcomes: { requests: this.requests, errors: this.errors } };
        this.windowStart = undefined;
        this.requests = 0;
        this.errors = 0;
        return taken;
    }

    /**
     * Empties the buffer if it holds counts of a window other than `windowStart` (they must be written
     * to their own window before counts of the new one are added).
     * @param windowStart the current window
     */
    takeOtherWindow(windowStart: number): BufferedOutcomes | undefined {
        if (this.windowStart === undefined || this.windowStart === windowStart) return undefined;
        return this.take(this.lastFlushAt);
    }

    /**
     * Puts counts back after a failed write, so the next flush carries them; counts of a window older
     * than the buffered one are dropped (that window is over).
     * @param windowStart their window
     * @param outcomes the counts
     */
    restore(windowStart: number, outcomes: Outcomes): void {
        if (this.windowStart !== undefined && this.windowStart > windowStart) return;
        this.add(windowStart, outcomes);
    }
}
