/**
 * Lambda entry of a worker's circuit-breaker prober (scheduled): half-opens, probes and closes. Each run
 * also reports the breaker's state (0 closed, 1 half-open, 2 open) so the "breaker open" alarm sees it
 * every interval, not only at transitions.
 */
import { BREAKER_STATE_VALUE, BreakerMetric, createProberHandler, TickReport } from "../breaker";
import { Metrics } from "../metrics";

const tick = createProberHandler();

export async function handler(): Promise<TickReport> {
    const report = await tick();
    const metrics = new Metrics();
    metrics.add(BreakerMetric.State, "Count", BREAKER_STATE_VALUE[report.state], { Breaker: process.env.BREAKER_ID ?? "unknown" });
    metrics.flush();
    return report;
}
