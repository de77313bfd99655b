/**
 * The simulator's scenarios. A scenario says how the downstream and the demand change over time, relative
 * to the "normal case"; a seed draws everything else — the normal capacity and latency, the queueing, the
 * jitter, the client timeout, cold-start costs, where the controllers start, and (for `random-mix`) the
 * events themselves. No strategy is told any of these: the adaptive controller runs with default tuning
 * and no latency target.
 *
 * Time is real: 60-s control intervals of 60 one-second steps, one hour per run.
 */
import type { DownstreamCondition, DownstreamShape } from "./downstream";
import { Random, seededRandom, uniform } from "./random";

/** The names `npm run simulate -- --scenario NAME` accepts, in report order. */
export const SCENARIO_NAMES = ["steady", "capacity-drop", "slower-downstream", "demand-ramp", "load-spike", "random-mix"] as const;

/** One of {@link SCENARIO_NAMES}. */
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** A value that holds from control interval `from` until the next step. */
export interface Step {
    /** First control interval (0-based) with this value. */
    from: number;
    /** The value. */
    value: number;
}

/** The Lambda side: cold starts when the limit lets new environments start. */
export interface WorkerModel {
    /** Initialisation of a new execution environment; it holds a concurrency slot without calling the downstream. */
    coldStartMs: number;
    /** The first calls of a new environment (connection set-up, TLS, JIT) … */
    slowFirstCalls: number;
    /** … each take this much longer (client side: the downstream is not loaded by it, the latency signal is). */
    slowFirstCallExtraMs: number;
    /** Idle environments are reclaimed with this time constant. */
    idleReclaimSeconds: number;
}

/** Everything one simulated run needs. */
export interface Scenario {
    /** Scenario name. */
    name: ScenarioName;
    /** One line on what happens. */
    description: string;
    /** Seed of the run's world and random numbers. */
    seed: number;
    /** Number of control intervals simulated. */
    intervals: number;
    /** Length of a control interval in simulated milliseconds (60 000). */
    intervalMs: number;
    /** Length of one simulation step in milliseconds (1 000). */
    stepMs: number;
    /** The downstream's fixed traits. */
    shape: DownstreamShape;
    /** The normal case: capacity and latency before anything happens. */
    normal: DownstreamCondition;
    /** Capacity relative to normal, by interval. */
    capacityFactor: Step[];
    /** Latency at capacity relative to normal, by interval. */
    serviceTimeFactor: Step[];
    /** Offered load relative to the normal capacity throughput (Poisson arrivals), by interval. */
    demandFactor: Step[];
    /** Cold starts. */
    worker: WorkerModel;
    /** The limit every adaptive strategy starts from (a seed-drawn share of the normal capacity). */
    initialLimit: number;
    /** Bounds every adaptive strategy gets. */
    bounds: { min: number; max: number };
    /** Decisions land this many intervals late (the control-plane call), on top of the next interval. */
    actuationDelayIntervals: number;
    /** CloudWatch-derived signals (throttles, concurrency in use, backlog) lag by 1 to this many intervals. */
    maxSignalDelayIntervals: number;
    /** Spread (σ, log-normal) of the noise on the reported latency percentile and concurrency. */
    measurementNoise: number;
}

const INTERVALS = 60;

/** How each scenario changes the world over its intervals. */
interface Script {
    description: string;
    capacityFactor: Step[];
    serviceTimeFactor: Step[];
    demandFactor: Step[];
}

const constant = (value: number): Step[] => [{ from: 0, value }];

const SCRIPTS: Record<Exclude<ScenarioName, "random-mix">, Script> = {
    steady: {
        description: "demand at 120 % of capacity throughout (saturated: the limit should sit at the knee and stay there)",
        capacityFactor: constant(1),
        serviceTimeFactor: constant(1),
        demandFactor: constant(1.2),
    },
    "capacity-drop": {
        description: "demand at 120 %; capacity halves at interval 20 and recovers at 40",
        capacityFactor: [
            { from: 0, value: 1 },
            { from: 20, value: 0.5 },
            { from: 40, value: 1 },
        ],
        serviceTimeFactor: constant(1),
        demandFactor: constant(1.2),
    },
    "slower-downstream": {
        description: "demand at 90 %; from interval 20 every call takes 2.25× as long (40 → 90 ms when normal is 40 ms) at the same throughput capacity",
        capacityFactor: [
            { from: 0, value: 1 },
            { from: 20, value: 2.25 },
        ],
        serviceTimeFactor: [
            { from: 0, value: 1 },
            { from: 20, value: 2.25 },
        ],
        demandFactor: constant(0.9),
    },
    "demand-ramp": {
        description: "demand ramps from 30 % to 150 % of capacity over the hour",
        capacityFactor: constant(1),
        serviceTimeFactor: constant(1),
        demandFactor: Array.from({ length: INTERVALS }, (_, i) => ({ from: i, value: 0.3 + (1.2 * i) / (INTERVALS - 1) })),
    },
    "load-spike": {
        description: "demand at 50 %, 250 % during intervals 20–24, then 50 % again",
        capacityFactor: constant(1),
        serviceTimeFactor: constant(1),
        demandFactor: [
            { from: 0, value: 0.5 },
            { from: 20, value: 2.5 },
            { from: 25, value: 0.5 },
        ],
    },
};

/**
 * The scenario `name` with the world drawn from `seed`.
 * @param name one of {@link SCENARIO_NAMES}
 * @param seed draws the normal case, the shape, the cold starts, the start and (random-mix) the events
 * @throws UnknownScenarioError listing the known scenarios when `name` is not one of them
 * @example scenario("capacity-drop", 101).capacityFactor // [{ from: 0, value: 1 }, { from: 20, value: 0.5 }, …]
 */
export function scenario(name: string, seed = 1): Scenario {
    if (!isScenarioName(name)) throw new UnknownScenarioError(name);
    const random = seededRandom(seed * 7919 + SCENARIO_NAMES.indexOf(name));
    const script = name === "random-mix" ? randomScript(random) : SCRIPTS[name];
    const normal = { capacity: Math.round(logUniform(random, 20, 300)), latencyAtCapacityMs: Math.round(logUniform(random, 20, 200)) };
    return {
        name,
        seed,
        intervals: INTERVALS,
        intervalMs: 60_000,
        stepMs: 1_000,
        ...script,
        normal,
        shape: { queueing: uniform(random, 0.1, 0.3), jitter: uniform(random, 0.1, 0.4), timeoutMs: Math.round(normal.latencyAtCapacityMs * uniform(random, 4, 8)) },
        worker: {
            coldStartMs: uniform(random, 200, 1500),
            slowFirstCalls: 5,
            slowFirstCallExtraMs: normal.latencyAtCapacityMs * uniform(random, 0.5, 2),
            idleReclaimSeconds: 600,
        },
        initialLimit: Math.max(1, Math.round(normal.capacity * uniform(random, 0.5, 1.5))),
        bounds: { min: 1, max: 1000 },
        actuationDelayIntervals: 1,
        maxSignalDelayIntervals: 2,
        measurementNoise: 0.05,
    };
}

/** Four to six phases of 8–15 intervals, each with its own capacity, service time and demand. */
function randomScript(random: Random): Script {
    const capacityFactor: Step[] = [];
    const serviceTimeFactor: Step[] = [];
    const demandFactor: Step[] = [];
    for (let from = 0; from < INTERVALS; from += Math.round(uniform(random, 8, 15))) {
        const first = from === 0;
        const slower = first ? 1 : random() < 0.3 ? uniform(random, 1, 2.5) : 1;
        capacityFactor.push({ from, value: (first ? 1 : uniform(random, 0.4, 1.3)) * slower });
        serviceTimeFactor.push({ from, value: slower });
        demandFactor.push({ from, value: uniform(random, 0.3, 1.6) });
    }
    return { description: "seeded phases: capacity 40–130 %, sometimes a slower downstream (up to 2.5×), demand 30–160 %", capacityFactor, serviceTimeFactor, demandFactor };
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
    let value = steps[0].value;
    for (const step of steps) if (step.from <= interval) value = step.value;
    return value;
}

/**
 * The downstream's capacity and latency during `interval`.
 * @param s the scenario
 * @param interval 0-based control interval
 * @example conditionAt(scenario("slower-downstream"), 30).latencyAtCapacityMs // 2.25 × normal
 */
export function conditionAt(s: Scenario, interval: number): DownstreamCondition {
    return {
        capacity: s.normal.capacity * valueAt(s.capacityFactor, interval),
        latencyAtCapacityMs: s.normal.latencyAtCapacityMs * valueAt(s.serviceTimeFactor, interval),
    };
}

function logUniform(random: Random, low: number, high: number): number {
    return Math.exp(uniform(random, Math.log(low), Math.log(high)));
}

function isScenarioName(name: string): name is ScenarioName {
    return (SCENARIO_NAMES as readonly string[]).includes(name);
}
