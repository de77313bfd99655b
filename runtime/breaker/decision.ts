/**
 * The circuit breaker's pure decision: closed → open when the error rate of a window reaches the
 * threshold with enough volume; open → half-open when the open time has passed; half-open → closed
 * after enough probe successes, or back to open (for exponentially longer, up to a maximum) when a
 * probe fails. No I/O: the runtime ({@link CircuitBreaker}) stores the state and applies transitions.
 * The policy, its defaults and ranges are part of the contract (`contracts/breaker.ts`).
 */
import { BreakerPolicy, breakerPolicyProblems, DEFAULT_BREAKER_POLICY } from "../../contracts/breaker";
import { SettingsProblems } from "../../contracts/controller";

export { DEFAULT_BREAKER_POLICY };
export type { BreakerPolicy };

/** The breaker's states. */
export const BreakerState = { Closed: "closed", Open: "open", HalfOpen: "halfOpen" } as const;
/** One of {@link BreakerState}. */
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** The part of the breaker's state the decision reads and writes. */
export interface BreakerSnapshot {
    /** Current state. */
    state: BreakerState;
    /** While open: when the open time ends, epoch milliseconds (0 otherwise). */
    openUntil: number;
    /** Failed probes since the breaker tripped (drives the backoff). */
    failedProbes: number;
    /** Probe successes in the current half-open period. */
    probeSuccesses: number;
}

/**
 * What happened: the totals of the current window (closed), the outcome of one probe (half-open), or
 * the prober's timer. `now` is epoch milliseconds.
 */
export type BreakerEvent =
    | { kind: "window"; requests: number; errors: number; now: number }
    | { kind: "probe"; succeeded: boolean; now: number }
    | { kind: "timer"; now: number };

/** Why a transition happened. */
export type TransitionReason = "errorRate" | "openTimeElapsed" | "probeFailed" | "probesSucceeded";

/** A state change, for the log line and the metric. */
export interface BreakerTransition {
    /** State before. */
    from: BreakerState;
    /** State after. */
    to: BreakerState;
    /** Why. */
    reason: TransitionReason;
}

/** The next snapshot and, when the state changed, the transition. */
export interface BreakerDecision {
    /** The snapshot after the event (the same object when nothing changed). */
    next: BreakerSnapshot;
    /** Present when the state changed. */
    transition?: BreakerTransition;
}

/** A closed breaker with no history: the state of a breaker that has never tripped. */
export const CLOSED: BreakerSnapshot = { state: BreakerState.Closed, openUntil: 0, failedProbes: 0, probeSuccesses: 0 };

/**
 * Fills defaults and checks ranges.
 * @throws ConfigurationError listing every field out of range, with its value
 * @example resolveBreakerPolicy({ errorThreshold: 0.25 }) // other fields from DEFAULT_BREAKER_POLICY
 */
export function resolveBreakerPolicy(partial: Partial<BreakerPolicy> = {}): BreakerPolicy {
    const policy = { ...DEFAULT_BREAKER_POLICY, ...partial };
    const problems = new SettingsProblems();
    breakerPolicyProblems(policy).forEach((problem) => problems.check(false, problem));
    problems.throwIfAny("Circuit breaker policy");
    return policy;
}

/**
 * Open time after `failedProbes` failed probes: `openSeconds × backoffMultiplier^failedProbes`, at most
 * `maxOpenSeconds`; in milliseconds.
 * @example openDurationMs(policy, 2) // 120000 with openSeconds 30 and multiplier 2
 */
export function openDurationMs(policy: BreakerPolicy, failedProbes: number): number {
    return Math.min(policy.openSeconds * policy.backoffMultiplier ** failedProbes, policy.maxOpenSeconds) * 1000;
}

/**
 * The decision. Events that do not apply to the current state (a window while open, a probe while
 * closed, the timer before the open time ends) change nothing.
 * @example
 * decide(CLOSED, { kind: "window", requests: 40, errors: 25, now }, policy)
 * // { next: { state: "open", openUntil: now + 30000, … }, transition: { from: "closed", to: "open", reason: "errorRate" } }
 */
export function decide(snapshot: BreakerSnapshot, event: BreakerEvent, policy: BreakerPolicy): BreakerDecision {
    if (snapshot.state === BreakerState.Closed && event.kind === "window") return onWindow(snapshot, event, policy);
    if (snapshot.state === BreakerState.Open && event.kind === "timer" && event.now >= snapshot.openUntil) {
        return change(snapshot, { ...snapshot, state: BreakerState.HalfOpen, openUntil: 0, probeSuccesses: 0 }, "openTimeElapsed");
    }
    if (snapshot.state === BreakerState.HalfOpen && event.kind === "probe") return onProbe(snapshot, event, policy);
    return { next: snapshot };
}

function onWindow(snapshot: BreakerSnapshot, event: { requests: number; errors: number; now: number }, policy: BreakerPolicy): BreakerDecision {
    const trips = event.requests >= policy.minRequests && event.errors / event.requests >= policy.errorThreshold;
    if (!trips) return { next: snapshot };
    return change(snapshot, { ...CLOSED, state: BreakerState.Open, openUntil: event.now + openDurationMs(policy, 0) }, "errorRate");
}

function onProbe(snapshot: BreakerSnapshot, event: { succeeded: boolean; now: number }, policy: BreakerPolicy): BreakerDecision {
    if (!event.succeeded) {
        const failedProbes = snapshot.failedProbes + 1;
        const reopened = { state: BreakerState.Open, openUntil: event.now + openDurationMs(policy, failedProbes), failedProbes, probeSuccesses: 0 };
        return change(snapshot, reopened, "probeFailed");
    }
    const probeSuccesses = snapshot.probeSuccesses + 1;
    if (probeSuccesses >= policy.successThreshold) return change(snapshot, CLOSED, "probesSucceeded");
    return { next: { ...snapshot, probeSuccesses } };
}

function change(from: BreakerSnapshot, next: BreakerSnapshot, reason: TransitionReason): BreakerDecision {
    return { next, transition: { from: from.state, to: next.state, reason } };
}
