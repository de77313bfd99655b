/**
 * Adaptive concurrency in the simulator (bench/simulator): every scenario over held-out seeds, the
 * controller with default tuning next to static limits, a swept AIMD, Gradient2-like and Vegas-like
 * limiters, all in this one run; and an oracle told the true capacity, as the upper reference the constraints allow.
 */
import { evaluate } from "./simulator/evaluation";
import { evaluationMarkdown } from "./simulator/report";

/** Heading printed by `npm run bench`. */
export const title = "Adaptive concurrency: simulated downstream, default tuning against five baselines and an oracle upper reference (held-out seeds)";

/** Runs the evaluation and returns its Markdown. */
export async function run(): Promise<string> {
    return evaluationMarkdown(evaluate());
}
