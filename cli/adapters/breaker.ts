/**
 * Forcing a circuit breaker open or closed through the same store (`BreakerStore`, conditional on its
 * version) and actuator (`EventSourceMappingActuator`) the runtime uses, in the order the runtime uses:
 * the state is written first, then the mapping driven; a close is finished (original settings restored,
 * then forgotten) exactly as the prober finishes an interrupted close, so a crash half-way is repaired by
 * the next prober tick. Each step is a method of its own, so the CLI can say which ones landed; the
 * transition is recorded right after the state write, since the state is what the workers obey. Re-point
 * here if the breaker store's API moves (it is not re-exported by runtime/breaker/index.ts today: the lead
 * may export it).
 *
 * A forced transition is recorded as the runtime records its own: `CircuitBreakerState` (the state
 * reached) and `CircuitBreakerTransitions` (1) on the dimensions `Worker` and `Breaker` that the
 * breaker-open alarm and the dashboard read, and `CircuitBreakerTransitions` once more with the dimension
 * `Forced` = `true`, which counts the forced ones alone. The CLI runs outside Lambda, where an EMF line
 * would reach no log group, so it sends them with PutMetricData; who forced it is in the audit entry and
 * in the line the command prints.
 */
import { CloudWatchClient, Dimension, MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { BreakerReference } from "../../contracts/operations";
import { BREAKER_STATE_VALUE, BreakerMetric, BreakerRecord, BreakerState, EventSourceMappingActuator } from "../../runtime/breaker";
import { BreakerStore } from "../../runtime/breaker/store";
import { METRICS_NAMESPACE } from "../../runtime/metrics";
import { RefusedChangeError } from "../errors";

/** Conditional writes that may lose to the workers or the prober before a forced change gives up. */
const MAX_ATTEMPTS = 5;

/** The mapping as the breaker's actuator sees it. */
export interface MappingView {
    /** `Enabled`, `Disabled`, `Enabling`, … */
    state: string;
    /** Current batch size. */
    batchSize?: number;
}

/** Who forces a transition: the worker (the metrics' `Worker` dimension) and the caller's ARN. */
export interface ForcedBy {
    /** The worker's name, as its functions' `WORKER_NAME`. */
    worker: string;
    /** The caller's ARN (STS). */
    caller: string;
}

/** A forced state write: the record it replaced and the one written. */
export interface ForcedWrite {
    /** The breaker's record before the write. */
    before: BreakerRecord;
    /** The breaker's record after it. */
    written: BreakerRecord;
}

/** One breaker's item and mapping. */
export class BreakerAdapter {
    private readonly store: BreakerStore;
    private readonly actuator: EventSourceMappingActuator;
    private readonly cloudwatch: CloudWatchClient;

    /**
     * @param reference the manifest's breaker
     * @param mappingUuid the mapping it drives
     * @param clients DynamoDB for the table, Lambda for the mapping, CloudWatch for the metrics of a forced transition
     * @param now clock, epoch ms
     */
    constructor(
        private readonly reference: BreakerReference,
        mappingUuid: string,
        clients: { dynamodb: DynamoDBClient; lambda: LambdaClient; cloudwatch: CloudWatchClient },
        private readonly now: () => number,
    ) {
        this.store = new BreakerStore(clients.dynamodb, reference.tableName, reference.id);
        this.actuator = new EventSourceMappingActuator({ uuid: mappingUuid, client: clients.lambda, maxAttempts: 3 });
        this.cloudwatch = clients.cloudwatch;
    }

    /** The breaker's record (a breaker never written reads as closed). */
    read(): Promise<BreakerRecord> {
        return this.store.read();
    }

    /**
     * Writes the breaker open until `now + openSeconds`; the settings to restore are the ones recorded at
     * an earlier trip, else the mapping's current ones. After `openSeconds` the prober half-opens it as usual.
     * Then: {@link recordForced}, {@link disableMapping}.
     */
    writeOpen(openSeconds: number): Promise<ForcedWrite> {
        return this.replace(async (record) => ({
            ...record,
            state: BreakerState.Open,
            openUntil: this.now() + openSeconds * 1000,
            probeSuccesses: 0,
            probeLeaseUntil: 0,
            original: record.original ?? (await this.actuator.settings()),
        }));
    }

    /** Disables the mapping (its position and messages stay); returns false when it was disabled already. */
    disableMapping(): Promise<boolean> {
        return this.actuator.disable();
    }

    /**
     * Writes the breaker closed; the counting window starts afresh (the workers start a new one on their
     * next write). Then: {@link recordForced}, {@link restoreMapping}, {@link forgetOriginal}, the order
     * in which the prober finishes an interrupted close.
     */
    writeClosed(): Promise<ForcedWrite> {
        return this.replace(async (record) => ({
            ...record,
            state: BreakerState.Closed,
            openUntil: 0,
            failedProbes: 0,
            probeSuccesses: 0,
            probeLeaseUntil: 0,
            windowStart: 0,
            windowRequests: 0,
            windowErrors: 0,
        }));
    }

    /** Enables the mapping with the settings recorded when it opened (`undefined`: as it is); returns false when it was so already. */
    restoreMapping(original: BreakerRecord["original"]): Promise<boolean> {
        return this.actuator.restore(original);
    }

    /**
     * Forgets the settings recorded at the trip, after a close restored them.
     * @returns the line that says so (also when the prober or another close forgot them first)
     * @throws RefusedChangeError when the breaker changed meanwhile (a worker tripped it again)
     */
    async forgetOriginal(closed: BreakerRecord): Promise<string> {
        const { version, ...rest } = closed;
        if (await this.store.put(version, { ...rest, original: undefined })) return "settings recorded at the trip forgotten";
        const now = await this.store.read();
        if (now.state === BreakerState.Closed && !now.original) return "settings recorded at the trip already forgotten (another writer finished the close first)";
        throw new RefusedChangeError(`the breaker changed while it was being closed: it is ${now.state} now`);
    }

    /**
     * Sends the metrics of a forced transition (see the module comment); nothing when the state did not
     * change. A refused PutMetricData does not undo the change: the returned line says so, and the
     * prober reports the state at its next run.
     */
    async recordForced({ before, written }: ForcedWrite, by: ForcedBy): Promise<string> {
        const [from, to] = [before.state, written.state];
        if (from === to) return `breaker ${this.reference.id} was ${to} already: no transition recorded`;
        const transition = `${from} → ${to} (forced by ${by.caller})`;
        try {
            await this.cloudwatch.send(new PutMetricDataCommand({ Namespace: METRICS_NAMESPACE, MetricData: this.forcedMetrics(to, by.worker) }));
            return `transition ${transition} recorded: ${BreakerMetric.State} ${BREAKER_STATE_VALUE[to]}, ${BreakerMetric.Transitions} 1`;
        } catch (error) {
            return `transition ${transition} not recorded in the metrics (${(error as Error).message}); the prober reports the state at its next run`;
        }
    }

    /** The runtime's two transition metrics on `Worker` and `Breaker`, and the transition again with `Forced` = `true`. */
    private forcedMetrics(to: BreakerState, worker: string): MetricDatum[] {
        const dimensions: Dimension[] = [
            { Name: "Worker", Value: worker },
            { Name: "Breaker", Value: this.reference.id },
        ];
        const datum = (name: string, value: number, extra: Dimension[] = []): MetricDatum => ({
            MetricName: name,
            Dimensions: [...dimensions, ...extra],
            Value: value,
            Unit: "Count",
            Timestamp: new Date(this.now()),
        });
        return [datum(BreakerMetric.State, BREAKER_STATE_VALUE[to]), datum(BreakerMetric.Transitions, 1), datum(BreakerMetric.Transitions, 1, [{ Name: "Forced", Value: "true" }])];
    }

    /** Writes `change(record)` conditioned on the record's version, re-reading when another writer won; returns the record it replaced and the one written. */
    private async replace(change: (record: BreakerRecord) => Promise<Omit<BreakerRecord, "version">>): Promise<ForcedWrite> {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            const record = await this.store.read();
            const { version, ...next } = { ...(await change(record)), version: record.version };
            if (await this.store.put(version, next)) return { before: record, written: { ...next, version: version + 1 } };
        }
        throw new RefusedChangeError(`the breaker's state changed ${MAX_ATTEMPTS} times while it was being written; run the command again`);
    }
}
