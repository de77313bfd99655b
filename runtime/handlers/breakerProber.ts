/**
 * Lambda entry of a worker's circuit-breaker prober (scheduled): half-opens, probes and closes. Each run
 * also reports the breaker's state (0 closed, 1 half-open, 2 open) so the "breaker open" alarm sees it
 * every interval, not only at transitions.
 */
import { BreakerMetric, BreakerState, createProberHandler, TickReport } from "../breaker";
import { Metrics } from "../metrics";

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, halfOpen: 1, open: 2 };
const tick = createProberHandler();

export async function handler(): Promise<TickReport> {
    const report = await tick();
    const metrics = new Metrics();
    metrics.add(BreakerMetric.State, "Count", STATE_VALUE[report.state], { Breaker: process.env.BREAKER_ID ?? "unknown" });
    metrics.flush();
    return report;
}
