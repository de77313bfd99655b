/**
 * The simulator's scenarios: a downstream, its capacity over time, the offered load over time, and the
 * bounds and targets every strategy gets. Time is scaled down: a control interval lasts 20 downstream
 * latencies (2 s of simulated time) instead of a minute, which keeps a run fast while each window still
 * holds thousands of calls.
 */
import type { ControllerParams } from "../../runtime/controller";
import { DownstreamModel } from "./downstream";

/** The names `npm run simulate -- --scenario NAME` accepts. */
export const SCENARIO_NAMES = ["steady", "capacity-drop", "load-spike"] as const;

/** One of {@link SCENARIO_NAMES}. */
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** A value that holds from control interval `from` until the next step. */
export interface Step {
    /** First control interval (0-based) with this value. */
    from: number;
    /** The value. */
    value: number;
}

/** Everything one simulated run needs. */
export interface Scenario {
    /** Scenario name. */
    name: ScenarioName;
    /** One line on what happens. */
    description: string;
    /** Seed of the run's random numbers. */
    seed: number;
    /** Number of control intervals simulated. */
    intervals: number;
    /** Length of a control interval in simulated milliseconds. */
    intervalMs: number;
    /** The downstream's latency and failure model. */
    downstream: DownstreamModel;
    /** Downstream capacity (calls in flight), by interval; the first step starts at 0. */
    capacity: Step[];
    /** Offered load (arrivals per second, Poisson), by interval; the first step starts at 0. */
    load: Step[];
    /** Bounds and targets of the adaptive controller; static and AIMD use the same bounds. */
    controller: ControllerParams;
}

/** Capacity at the start, in calls in flight; the static strategy's limit. */
export const INITIAL_CAPACITY = 100;

const DOWNSTREAM: DownstreamModel = { latencyAtCapacityMs: 100, queueing: 0.2, jitter: 0.1, timeoutMs: 250 };

/** Calls per second the downstream completes at best with `capacity` in flight. */
const fullLoad = (capacity: number) => (capacity / DOWNSTREAM.latencyAtCapacityMs) * 1000;

/**
 * The operator's latency target: the downstream's p90 at capacity (≈ 113 ms for this model, as a load
 * test would show), rounded up. It stays right when the capacity changes, which is why a latency target
 * carries over where a static limit does not.
 */
const CONTROLLER: ControllerParams = { min: 2, max: 1000, latencyTargetMs: 115 };

const base = { intervals: 45, intervalMs: 2000, downstream: DOWNSTREAM, controller: CONTROLLER };

const SCENARIOS: Record<ScenarioName, Scenario> = {
    steady: {
        ...base,
        name: "steady",
        description: "load at 90 % of a constant capacity",
        seed: 1,
        capacity: [{ from: 0, value: INITIAL_CAPACITY }],
        load: [{ from: 0, value: 0.9 * fullLoad(INITIAL_CAPACITY) }],
    },
    "capacity-drop": {
        ...base,
        name: "capacity-drop",
        description: "load above capacity throughout; capacity halves at interval 15 and recovers at 30",
        seed: 2,
        capacity: [
            { from: 0, value: INITIAL_CAPACITY },
            { from: 15, value: INITIAL_CAPACITY / 2 },
            { from: 30, value: INITIAL_CAPACITY },
        ],
        load: [{ from: 0, value: 1.2 * fullLoad(INITIAL_CAPACITY) }],
    },
    "load-spike": {
        ...base,
        name: "load-spike",
        description: "load at 60 % of capacity, 160 % during intervals 10–19, then 60 % again",
        seed: 3,
        capacity: [{ from: 0, value: INITIAL_CAPACITY }],
        load: [
            { from: 0, value: 0.6 * fullLoad(INITIAL_CAPACITY) },
            { from: 10, value: 1.6 * fullLoad(INITIAL_CAPACITY) },
            { from: 20, value: 0.6 * fullLoad(INITIAL_CAPACITY) },
        ],
    },
};

/**
 * The scenario called `name`.
 * @param name one of {@link SCENARIO_NAMES}
 * @throws Error listing the known scenarios when `name` is not one of them
 * @example scenario("capacity-drop").capacity // [{ from: 0, value: 100 }, { from: 15, value: 50 }, …]
 */
export function scenario(name: string): Scenario {
    if (!isScenarioName(name)) throw new UnknownScenarioError(name);
    return SCENARIOS[name];
}

/** Thrown by {@link scenario} for a name that is not in {@link SCENARIO_NAMES}. */
export class UnknownScenarioError extends Error {
    /** @param name the name that was asked for */
    constructor(name: string) {
        super(`Unknown scenario "${name}". Scenarios: ${SCENARIO_NAMES.join(", ")}.`);
        this.name = "UnknownScenarioError";
    }
}

/**
 * The value of `steps` during control interval `interval`.
 * @param steps values by starting interval, the first from 0
 * @param interval 0-based control interval
 * @example valueAt([{ from: 0, value: 100 }, { from: 15, value: 50 }], 20) // 50
 */
export function valueAt(steps: Step[], interval: number): number {
    return steps.filter((step) => step.from <= interval).at(-1)?.value ?? steps[0].value;
}

function isScenarioName(name: string): name is ScenarioName {
    return (SCENARIO_NAMES as readonly string[]).includes(name);
}
