/**
 * The circuit breaker runtime for ordered workers (Kinesis, SQS FIFO): the workers record each
 * invocation's downstream outcomes ({@link CircuitBreaker.record}); a scheduled prober moves an open
 * breaker to half-open under a probe lease ({@link CircuitBreaker.tick}). Decisions come from the pure
 * {@link decide}; state lives in DynamoDB ({@link BreakerStore}); the event source mapping is the
 * actuator ({@link EventSourceMappingActuator}). Every transition writes one structured log line and
 * the `CircuitBreakerState` / `CircuitBreakerTransitions` metrics.
 *
 * Counting per execution environment: while the breaker is closed, an environment adds its outcomes up
 * in memory ({@link OutcomeBuffer}) and writes them to the shared window once per `flushSeconds`
 * (default 5), at once when its own counts alone would trip, and when the counting window changes. So
 * the window item takes one write per environment and flush period instead of one per batch, and a trip
 * comes at most `flushSeconds` later than with a write per batch (an environment that gets no further
 * invocation keeps its last unflushed counts: at most one flush period of one environment is never
 * counted). While open or half-open every batch is written at once (probes must report).
 *
 * The store, the actuator and the decision are ports ({@link BreakerStorePort},
 * {@link MappingActuatorPort}, {@link BreakerDecide}): the defaults are DynamoDB, the event source
 * mapping and {@link decide}.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { BREAKER_RUNTIME_DEFAULTS } from "../../contracts/breaker";
import { CircuitBreakerError, ConfigurationError } from "../../contracts/errors";
import { createLogger, LineWriter, Logger } from "../log";
import { Metrics } from "../metrics";
import { EventSourceMappingActuator, MappingSettings, ProbeEnableOptions } from "./actuator";
import {
    BreakerDecision,
    BreakerEvent,
    BreakerPolicy,
    BreakerSnapshot,
    BreakerState,
    BreakerTransition,
    decide,
    resolveBreakerPolicy,
} from "./decision";
import { BufferedOutcomes, OutcomeBuffer } from "./outcomeBuffer";
import { BreakerRecord, BreakerStore, BreakerStorePort } from "./store";

/** The decision a breaker applies; {@link decide} unless a test or an extension injects another. */
export type BreakerDecide = (snapshot: BreakerSnapshot, event: BreakerEvent, policy: BreakerPolicy) => BreakerDecision;

/** What the breaker needs from the thing it opens and closes; {@link EventSourceMappingActuator} by default. */
export interface MappingActuatorPort {
    /** The settings to restore on close (read when the breaker opens). */
    settings(): Promise<MappingSettings>;
    /** Pauses delivery. */
    disable(): Promise<boolean>;
    /** Lets one small probe batch through; with `onlyWhenDisabled`, only if the mapping is disabled. */
    enableForProbe(options?: ProbeEnableOptions): Promise<boolean>;
    /** Resumes delivery with `original` settings. */
    restore(original?: MappingSettings): Promise<boolean>;
}

/**
 * How long after a half-open transition its own enable may still be under way (the actuator's retries back
 * off 1 + 2 + 4 s): a tick resumes a probe whose mapping is still disabled only after this.
 */
export const PROBE_RESUME_GRACE_MS = 30_000;

/** Conditional writes of one breaker that kept losing to concurrent writers: the operation gave up. */
export class BreakerContentionError extends CircuitBreakerError {
    override name = "BreakerContentionError";
}

/**
 * Metric names of the breaker (namespace `ServerlessConcurrency`, dimensions `Worker` and `Breaker`).
 * - `CircuitBreakerState` (Count): 0 closed, 1 half-open, 2 open, written on every transition.
 * - `CircuitBreakerTransitions` (Count): 1 per transition.
 * A transition an operator forces through the CLI sends both the same way, and `CircuitBreakerTransitions`
 * once more with the extra dimension `Forced` = `true` (cli/adapters/breaker.ts).
 */
export const BreakerMetric = { State: "CircuitBreakerState", Transitions: "CircuitBreakerTransitions" } as const;

/** The value of `CircuitBreakerState` for each state. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, halfOpen: 1, open: 2 };

/** Conditional writes in a row that may lose to concurrent writers before an operation gives up. */
const MAX_ATTEMPTS = 20;

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
    /**
     * The breaker table (string key `id`, see {@link BREAKER_TABLE_KEY}).
     * @example process.env.BREAKER_TABLE_NAME
     */
    tableName: string;
    /**
     * The breaker's id in the table; one breaker per event source mapping. Required without `mappingUuid`.
     * @default mappingUuid
     * @example "orders-stream"
     */
    id?: string;
    /**
     * UUID of the event source mapping the breaker opens and closes; required without `eventSourceArn`.
     * @default the mapping from `eventSourceArn` to `functionName`, looked up when the breaker first drives it
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    mappingUuid?: string;
    /**
     * The mapping's event source (stream or queue ARN), used when `mappingUuid` is not given: how a worker
     * names its own mapping, whose UUID it cannot know at deploy time.
     * @default undefined
     * @example "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"
     */
    eventSourceArn?: string;
    /**
     * With `eventSourceArn`: the function the mapping invokes.
     * @default the running function (`AWS_LAMBDA_FUNCTION_NAME`)
     * @example "orders-worker"
     */
    functionName?: string;
    /**
     * Thresholds and timings; missing fields take the defaults of {@link DEFAULT_BREAKER_POLICY}.
     * @default DEFAULT_BREAKER_POLICY
     * @example { errorThreshold: 0.25, minRequests: 50 }
     */
    policy?: Partial<BreakerPolicy>;
    /**
     * How long a half-open probe may take to report, seconds; a probe silent for longer counts as
     * failed (its invocation hung or died), and renews with every probe success.
     * @default 960
     * @example 120
     */
    probeLeaseSeconds?: number;
    /**
     * Seconds an execution environment adds its outcomes up in memory before writing them to the shared
     * window (sooner when its own counts alone would trip); 0 writes every batch.
     * @default 5
     * @example 2
     */
    flushSeconds?: number;
    /**
     * DynamoDB client (of the default store).
     * @default new DynamoDBClient({})
     * @example new DynamoDBClient({ maxAttempts: 5 })
     */
    dynamo?: DynamoDBClient;
    /**
     * Where the breaker's state lives.
     * @default new BreakerStore(dynamo, tableName, id)
     * @example new BreakerStore(client, "breakers", "orders")
     */
    store?: BreakerStorePort;
    /**
     * What the breaker opens and closes.
     * @default new EventSourceMappingActuator({ uuid: mappingUuid, eventSourceArn, functionName, client: lambda, sleep })
     * @example { settings: async () => ({ batchSize: 10 }), disable: async () => true, enableForProbe: async () => true, restore: async () => true }
     */
    actuator?: MappingActuatorPort;
    /**
     * The decision function.
     * @default decide
     * @example (snapshot, event, policy) => decide(snapshot, event, { ...policy, minRequests: 1 })
     */
    decide?: BreakerDecide;
    /**
     * Lambda client for the event source mapping.
     * @default new LambdaClient({})
     * @example new LambdaClient({ maxAttempts: 5 })
     */
    lambda?: LambdaClient;
    /**
     * How the actuator waits between retries of a busy or throttled update.
     * @default setTimeout
     * @example async () => undefined
     */
    sleep?: (ms: number) => Promise<void>;
    /**
     * Clock, epoch milliseconds.
     * @default Date.now
     * @example () => fakeClock.now
     */
    now?: () => number;
    /**
     * Where transition log lines and metrics go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/** Calls to the downstream in one invocation: how many, and how many failed. */
export interface Outcomes {
    /** Calls made. */
    requests: number;
    /** Calls that failed (only the errors that should count). */
    errors: number;
}

/**
 * What one {@link CircuitBreaker.tick} did: `halfOpened` (this prober started the probe), `probeFailed`
 * (the probe's lease ran out without a report: open again), `restored` (finished an interrupted close),
 * `reconciled` (still open, the mapping checked disabled; or a close or open that landed while a probe was
 * resumed, the mapping put back where that state wants it), `probeResumed` (half-open, but the probe's
 * enable had not landed: the mapping was enabled for the probe), `waiting` (a probe is running or nothing to do).
 */
export type TickAction = "halfOpened" | "probeFailed" | "restored" | "reconciled" | "probeResumed" | "waiting";

/** Outcome of {@link CircuitBreaker.tick}. */
export interface TickReport {
    /** State after the tick. */
    state: BreakerState;
    /** What the tick did. */
    action: TickAction;
}

/**
 * A circuit breaker over one event source mapping.
 * @example
 * const breaker = new CircuitBreaker({ tableName, mappingUuid });
 * const state = await breaker.record({ requests: 10, errors: 7 }); // in the worker, after a batch
 * if (state !== "closed") throw new Error("circuit open: fail the batch so nothing is checkpointed past it");
 * await breaker.tick();                                           // in the scheduled prober
 */
export class CircuitBreaker {
    private readonly store: BreakerStorePort;
    private readonly actuator: MappingActuatorPort;
    private readonly decide: BreakerDecide;
    private readonly policy: BreakerPolicy;
    private readonly buffer: OutcomeBuffer;
    /** The state this environment last saw in the store; `undefined` before the first write. */
    private knownState: BreakerState | undefined;
    /** The counting window this environment last saw in the store. */
    private knownWindow: BufferedOutcomes | undefined;
    /** The breaker's id in the table. */
    readonly id: string;
    private readonly leaseMs: number;
    private readonly now: () => number;
    private readonly log: Logger;

    /**
     * @param options see {@link CircuitBreakerOptions}
     * @throws ConfigurationError when the mapping (`mappingUuid` or `eventSourceArn`) or the id is missing, or the policy is out of range
     */
    constructor(private readonly options: CircuitBreakerOptions) {
        this.policy = resolveBreakerPolicy(options.policy);
        this.id = breakerId(options);
        this.leaseMs = (options.probeLeaseSeconds ?? BREAKER_RUNTIME_DEFAULTS.probeLeaseSeconds) * 1000;
        this.store = options.store ?? new BreakerStore(options.dynamo ?? new DynamoDBClient({}), options.tableName, this.id);
        const { mappingUuid: uuid, eventSourceArn, functionName } = options;
        this.actuator = options.actuator ?? new EventSourceMappingActuator({ uuid, eventSourceArn, functionName, client: options.lambda, sleep: options.sleep });
        this.decide = options.decide ?? decide;
        this.now = options.now ?? Date.now;
        this.buffer = new OutcomeBuffer((options.flushSeconds ?? BREAKER_RUNTIME_DEFAULTS.flushSeconds) * 1000, this.policy, this.now());
        this.log = createLogger({ fields: { breaker: this.id }, write: options.write });
    }

    /** The current state. */
    async state(): Promise<BreakerState> {
        return (await this.store.read()).state;
    }

    /**
     * Records one invocation's outcomes: counted in the window while closed (tripping when the window
     * crosses the threshold with enough volume), a probe result while half-open, ignored while open.
     * While closed the counts are kept in memory until the flush is due (see the module comment) and the
     * state returned is the one last read. Returns the state after: anything but closed means the caller
     * should fail its batch. A store error rejects and keeps the counts for the next flush.
     */
    async record(outcomes: Outcomes): Promise<BreakerState> {
        const now = this.now();
        if (this.knownState !== BreakerState.Closed) return this.write(outcomes, this.windowStartAt(now));
        const older = this.buffer.takeOtherWindow(this.windowStartAt(now));
        if (older) await this.flush(older.outcomes, older.windowStart);
        this.buffer.add(this.windowStartAt(now), outcomes);
        if (!this.buffer.due(now, this.knownWindow)) return BreakerState.Closed;
        const due = this.buffer.take(now)!;
        return this.flush(due.outcomes, due.windowStart);
    }

    /** Writes buffered counts; on failure they go back into the buffer for the next flush. */
    private async flush(outcomes: Outcomes, windowStart: number): Promise<BreakerState> {
        try {
            return await this.write(outcomes, windowStart);
        } catch (error) {
            this.buffer.restore(windowStart, outcomes);
            throw error;
        }
    }

    /** Counts `outcomes` in the window `windowStart` and applies the resulting event. */
    private async write(outcomes: Outcomes, windowStart: number): Promise<BreakerState> {
        const record = await this.count(outcomes, windowStart);
        this.knownWindow = { windowStart: record.windowStart, outcomes: { requests: record.windowRequests, errors: record.windowErrors } };
        const now = this.now();
        let state: BreakerState = record.state;
        if (record.state === BreakerState.Closed) {
            state = await this.apply(record, { kind: "window", requests: record.windowRequests, errors: record.windowErrors, now });
        } else if (record.state === BreakerState.HalfOpen && outcomes.requests > 0) {
            state = await this.apply(record, { kind: "probe", succeeded: outcomes.errors === 0, now });
        }
        this.knownState = state;
        return state;
    }

    /**
     * The prober's step: after the open time, half-open with batch size 1 under a probe lease (only one
     * concurrent prober wins it); a probe whose lease ran out counts as failed; while open, checks the
     * mapping is disabled; after an interrupted close, restores the original settings.
     */
    async tick(): Promise<TickReport> {
        const record = await this.store.read();
        const now = this.now();
        if (record.state === BreakerState.Open && now >= record.openUntil) {
            return this.tickTransition(record, { kind: "timer", now }, "halfOpened");
        }
        if (record.state === BreakerState.Open) {
            await this.actuator.disable();
            return { state: record.state, action: "reconciled" };
        }
        if (record.state === BreakerState.HalfOpen && now >= record.probeLeaseUntil) {
            return this.tickTransition(record, { kind: "probe", succeeded: false, now }, "probeFailed");
        }
        const resumed = record.state === BreakerState.HalfOpen ? await this.resumeProbe(record, now) : undefined;
        if (resumed) return resumed;
        if (record.state === BreakerState.Closed && record.original) {
            await this.finishClose(record, record.original);
            return { state: record.state, action: "restored" };
        }
        return { state: record.state, action: "waiting" };
    }

    /**
     * A half-open transition stores the state, then enables the mapping; an enable that failed (after its
     * retries) left the mapping disabled, and no probe can run. Once the transition is older than
     * {@link PROBE_RESUME_GRACE_MS}, a disabled mapping is enabled for the probe; an enabled one is left alone.
     * A close or an open may land between the mapping's read and that enable: the state is read again after
     * it, and the mapping put where that state wants it (restored with the trip's settings, or disabled).
     * `undefined` when nothing was sent.
     */
    private async resumeProbe(record: BreakerRecord, now: number): Promise<TickReport | undefined> {
        const halfOpenSince = record.probeLeaseUntil - this.leaseMs;
        if (now - halfOpenSince < PROBE_RESUME_GRACE_MS || !(await this.actuator.enableForProbe({ onlyWhenDisabled: true }))) return undefined;
        const after = await this.store.read();
        if (after.state === BreakerState.HalfOpen) return { state: after.state, action: "probeResumed" };
        if (after.state === BreakerState.Open) await this.actuator.disable();
        else await this.actuator.restore(after.original ?? record.original);
        return { state: after.state, action: "reconciled" };
    }

    private async tickTransition(record: BreakerRecord, event: BreakerEvent, action: TickAction): Promise<TickReport> {
        const decision = this.decide(record, event, this.policy);
        if (await this.commit(record, decision)) return { state: decision.next.state, action };
        return { state: (await this.store.read()).state, action: "waiting" };
    }

    /**
     * Counts the outcomes in window `windowStart` if closed; returns the record as it stands after.
     * Counts of a window older than the stored one are dropped (that window is over).
     */
    private async count(outcomes: Outcomes, windowStart: number): Promise<BreakerRecord> {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            const added = await this.store.addToWindow(windowStart, outcomes.requests, outcomes.errors);
            if (added) return added;
            const current = await this.store.read();
            if (current.state !== BreakerState.Closed || current.windowStart > windowStart) return current;
            const started = await this.store.startWindow(windowStart, outcomes.requests, outcomes.errors);
            if (started) return started;
        }
        throw this.contention("record");
    }

    /** Applies `event` until it is decided on a fresh record (re-reading when another writer won). */
    private async apply(record: BreakerRecord, event: BreakerEvent): Promise<BreakerState> {
        let current = record;
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            const decision = this.decide(current, event, this.policy);
            if (decision.next === current || (await this.commit(current, decision))) return decision.next.state;
            current = await this.store.read();
        }
        throw this.contention("state change");
    }

    /** Writes the decision if `record` is still current; the winner of a transition drives the mapping. */
    private async commit(record: BreakerRecord, decision: BreakerDecision): Promise<boolean> {
        const { next, transition } = decision;
        const now = this.now();
        const original = record.original ?? (next.state === BreakerState.Open ? await this.actuator.settings() : undefined);
        const { windowStart, windowRequests, windowErrors } = record;
        const window = next.state === BreakerState.Closed ? this.freshWindow(now) : { windowStart, windowRequests, windowErrors };
        const probeLeaseUntil = next.state === BreakerState.HalfOpen ? now + this.leaseMs : 0;
        const written = { ...next, ...window, original, probeLeaseUntil };
        if (!(await this.store.put(record.version, written))) return false;
        if (!transition) return true;
        this.report(transition, next, record);
        if (transition.to === BreakerState.Open) await this.actuator.disable();
        if (transition.to === BreakerState.HalfOpen) await this.actuator.enableForProbe();
        if (transition.to === BreakerState.Closed) await this.finishClose({ ...written, version: record.version + 1 }, original);
        return true;
    }

    /** Restores the mapping, then forgets the original settings (a crash in between is finished by the next tick). */
    private async finishClose(record: BreakerRecord, original: MappingSettings | undefined): Promise<void> {
        await this.actuator.restore(original);
        await this.store.put(record.version, { ...record, original: undefined });
    }

    private freshWindow(now: number): Pick<BreakerRecord, "windowStart" | "windowRequests" | "windowErrors"> {
        return { windowStart: this.windowStartAt(now), windowRequests: 0, windowErrors: 0 };
    }

    private windowStartAt(now: number): number {
        const windowMs = this.policy.windowSeconds * 1000;
        return Math.floor(now / windowMs) * windowMs;
    }

    private report(transition: BreakerTransition, next: BreakerSnapshot, before: BreakerRecord): void {
        const window = { requests: before.windowRequests, errors: before.windowErrors };
        this.log.info("circuit breaker transition", {
            ...transition,
            openUntil: next.openUntil || undefined,
            failedProbes: next.failedProbes,
            window,
        });
        const metrics = new Metrics({ write: this.options.write });
        metrics.add(BreakerMetric.State, "Count", BREAKER_STATE_VALUE[transition.to], { Breaker: this.id });
        metrics.add(BreakerMetric.Transitions, "Count", 1, { Breaker: this.id });
        metrics.flush();
    }

    private contention(operation: string): BreakerContentionError {
        return new BreakerContentionError(`Circuit breaker "${this.id}": ${operation} lost ${MAX_ATTEMPTS} conditional writes in a row; try again.`);
    }
}

function breakerId(options: CircuitBreakerOptions): string {
    if (!options.actuator && !options.mappingUuid && !options.eventSourceArn) throw new ConfigurationError("Circuit breaker: mappingUuid or eventSourceArn is required.");
    const id = options.id ?? options.mappingUuid;
    if (!id) throw new ConfigurationError("Circuit breaker: id is required when the mapping is given by eventSourceArn.");
    return id;
}
