/**
 * Forcing a circuit breaker open or closed through the same store (`BreakerStore`, conditional on its
 * version) and actuator (`EventSourceMappingActuator`) the runtime uses, in the order the runtime uses:
 * the state is written first, then the mapping driven; a close is finished (original settings restored,
 * then forgotten) exactly as the prober finishes an interrupted close, so a crash half-way is repaired by
 * the next prober tick. Re-point here if the breaker store's API moves (it is not re-exported by
 * runtime/breaker/index.ts today: the lead may export it).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { BreakerReference } from "../../contracts/operations";
import { BreakerRecord, BreakerState, EventSourceMappingActuator } from "../../runtime/breaker";
import { BreakerStore } from "../../runtime/breaker/store";
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

/** One breaker's item and mapping. */
export class BreakerAdapter {
    private readonly store: BreakerStore;
    private readonly actuator: EventSourceMappingActuator;

    /**
     * @param reference the manifest's breaker
     * @param mappingUuid the mapping it drives
     * @param clients DynamoDB for the table, Lambda for the mapping
     * @param now clock, epoch ms
     */
    constructor(
        reference: BreakerReference,
        mappingUuid: string,
        clients: { dynamodb: DynamoDBClient; lambda: LambdaClient },
        private readonly now: () => number,
    ) {
        this.store = new BreakerStore(clients.dynamodb, reference.tableName, reference.id);
        this.actuator = new EventSourceMappingActuator({ uuid: mappingUuid, client: clients.lambda, maxAttempts: 3 });
    }

    /** The breaker's record (a breaker never written reads as closed). */
    read(): Promise<BreakerRecord> {
        return this.store.read();
    }

    /**
     * Opens the breaker until `now + openSeconds` and disables the mapping; the settings to restore are
     * the ones recorded at an earlier trip, else the mapping's current ones. After `openSeconds` the
     * prober half-opens it as usual.
     * @returns the record written
     */
    async forceOpen(openSeconds: number): Promise<BreakerRecord> {
        const written = await this.replace(async (record) => ({
            ...record,
            state: BreakerState.Open,
            openUntil: this.now() + openSeconds * 1000,
            probeSuccesses: 0,
            probeLeaseUntil: 0,
            original: record.original ?? (await this.actuator.settings()),
        }));
        await this.actuator.disable();
        return written;
    }

    /**
     * Closes the breaker, enables the mapping with the settings recorded when it opened, then forgets
     * them. The counting window starts afresh (the workers start a new one on their next write).
     * @returns the record written
     */
    async forceClose(): Promise<BreakerRecord> {
        const written = await this.replace(async (record) => ({
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
        await this.actuator.restore(written.original);
        const { version, ...rest } = written;
        await this.store.put(version, { ...rest, original: undefined });
        return written;
    }

    /** Writes `change(record)` conditioned on the record's version, re-reading when another writer won. */
    private async replace(change: (record: BreakerRecord) => Promise<Omit<BreakerRecord, "version">>): Promise<BreakerRecord> {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            const record = await this.store.read();
            const { version, ...next } = { ...(await change(record)), version: record.version };
            if (await this.store.put(version, next)) return { ...next, version: version + 1 };
        }
        throw new RefusedChangeError(`the breaker's state changed ${MAX_ATTEMPTS} times while it was being written; run the command again`);
    }
}
