/** Lambda entry of a worker's circuit-breaker prober (scheduled): half-opens, probes and closes. */
import { createProberHandler } from "../breaker";

export const handler = createProberHandler();
