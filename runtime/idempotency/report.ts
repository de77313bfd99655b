/** The metrics every wrapper emits for an idempotent run's outcome. */
import { MetricName, Metrics } from "../metrics";
import { IdempotentOutcome } from "./run";

/**
 * Counts a successful run's idempotency outcome: `DuplicatesSkipped` for a duplicate,
 * `CompletionFailures` when the completion could not be written, `ResultsNotStored` when the key was
 * completed without its result.
 * @example countIdempotentOutcome(outcome, scope.metrics)
 */
export function countIdempotentOutcome(outcome: IdempotentOutcome<unknown>, metrics: Metrics): void {
    if (outcome.duplicate) metrics.add(MetricName.DuplicatesSkipped, "Count", 1);
    else if (!outcome.completed) metrics.add(MetricName.CompletionFailures, "Count", 1);
    else if (!outcome.resultStored) metrics.add(MetricName.ResultsNotStored, "Count", 1);
}
