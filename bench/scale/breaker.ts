/**
 * How far the circuit breaker's counting scales: one window write per batch (the previous layout, which
 * is the runtime with `flushSeconds: 0`) against counts kept per execution environment and written once
 * per flush period (the default), measured on dynalite with the consumed capacity read from the responses.
 *
 * Run alone: `TS_NODE_TRANSPILE_ONLY=true npx ts-node bench/scale/breaker.ts`.
 */
import "../../tests/helpers/setup";
import { BREAKER_RUNTIME_DEFAULTS } from "../../contracts/breaker";
import { CircuitBreaker, MappingActuatorPort } from "../../runtime/breaker";
import { startDynalite } from "../../tests/helpers/dynalite";
import { perMillion } from "../prices";
import { LIMITS, meteredDynamo } from "./controller";
import { ScaleRow } from "./types";

/** Assumed load of one busy execution environment: a batch every 100 ms. */
const BATCHES_PER_ENVIRONMENT_PER_SECOND = 10;
const FLUSH_SECONDS = BREAKER_RUNTIME_DEFAULTS.flushSeconds;

/** The mapping is not what is measured here. */
const IDLE_MAPPING: MappingActuatorPort = {
    settings: async () => ({ batchSize: 100 }),
    disable: async () => true,
    enableForProbe: async () => true,
    restore: async () => true,
};

/**
 * Measures the breaker's row, before and after, on a fresh in-process dynalite.
 * @example const [before, after] = await measure();
 */
export async function measure(): Promise<ScaleRow[]> {
    const db = await startDynalite();
    const { client, meter } = meteredDynamo(db.endpoint);
    try {
        await db.createTable("scale-breaker", "id");
        const start = 1_000_000_000_000;
        let clock = start;
        const breaker = (id: string, flushSeconds: number) =>
            new CircuitBreaker({ tableName: "scale-breaker", id, actuator: IDLE_MAPPING, dynamo: client, flushSeconds, now: () => clock, write: () => undefined });
        // before: every batch adds to the window item
        const batches = 1000;
        const perBatch = breaker("before", 0);
        await perBatch.record({ requests: 10, errors: 0 }); // the window exists, as in steady traffic
        meter.reset();
        for (let i = 0; i < batches; i++) await perBatch.record({ requests: 10, errors: i % 20 === 0 ? 1 : 0 });
        const before = { requests: meter.requests / batches, wcu: meter.wcu / batches, rcu: meter.rcu / batches };
        // after: 20 environments, each with a batch every 100 ms for three flush periods
        const environments = Array.from({ length: 20 }, () => breaker("after", FLUSH_SECONDS));
        for (const env of environments) await env.record({ requests: 10, errors: 0 });
        meter.reset();
        clock = start;
        const steps = FLUSH_SECONDS * BATCHES_PER_ENVIRONMENT_PER_SECOND * 3;
        for (let step = 0; step < steps; step++) {
            clock += 1000 / BATCHES_PER_ENVIRONMENT_PER_SECOND;
            for (const env of environments) await env.record({ requests: 10, errors: step % 20 === 0 ? 1 : 0 });
        }
        const afterBatches = steps * environments.length;
        const writes = meter.requests;
        const wcuPerFlush = meter.wcu / writes;
        const ceilingEnvironments = (LIMITS.itemWcuPerSecond * FLUSH_SECONDS) / wcuPerFlush;
        const operation = "one batch's downstream outcomes counted";
        return [
            {
                pattern: "Breaker",
                operation,
                layout: "before",
                requestsPerOperation: before.requests,
                wcuPerOperation: before.wcu,
                rcuPerOperation: before.rcu,
                bindingLimit: "1,000 WCU/s on the breaker's one item",
                ceilingPerSecond: LIMITS.itemWcuPerSecond / before.wcu,
                costPerMillion: perMillion({ dynamoWriteUnit: before.wcu }),
                note: "batches per second per breaker; past it the guard's writes throttle and it fails open",
            },
            {
                pattern: "Breaker",
                operation,
                layout: "after",
                requestsPerOperation: round(writes / afterBatches),
                wcuPerOperation: round(meter.wcu / afterBatches),
                rcuPerOperation: round(meter.rcu / afterBatches),
                bindingLimit: `1,000 WCU/s on the breaker's one item, one write per environment per ${FLUSH_SECONDS} s`,
                ceilingPerSecond: Math.round(ceilingEnvironments * BATCHES_PER_ENVIRONMENT_PER_SECOND),
                costPerMillion: perMillion({ dynamoWriteUnit: meter.wcu / afterBatches }),
                note: `${wcuPerFlush.toFixed(1)} WCU per flush; ≈ ${Math.round(ceilingEnvironments).toLocaleString("en-US")} environments at ${BATCHES_PER_ENVIRONMENT_PER_SECOND} batches/s each; a trip comes at most ${FLUSH_SECONDS} s later than with a write per batch`,
            },
        ];
    } finally {
        client.destroy();
        await db.stop();
    }
}

function round(value: number): number {
    return Math.round(value * 10_000) / 10_000;
}

if (require.main === module) {
    measure().then((rows) => console.table(rows), (error) => {
        console.error(error);
        process.exit(1);
    });
}
