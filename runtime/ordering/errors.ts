/** Errors of the ordered workers' input and batch handling. */
import { ServerlessConcurrencyError } from "../../contracts/errors";

/** Base class of the errors about what an event source delivered (never retryable as such). */
export class WorkerInputError extends ServerlessConcurrencyError {
    override name = "WorkerInputError";
}

/**
 * A record that cannot be turned into what the user's function expects (data not base64, no
 * partition key, no message group id). It fails like any other record: reported, retried, then the
 * on-failure destination or DLQ; never dropped.
 *
 * @example
 * throw new RecordDecodeError("kinesisWorker: record 2 (sequence number 17): kinesis.data is not a base64 string");
 */
export class RecordDecodeError extends WorkerInputError {
    override name = "RecordDecodeError";
}

/**
 * The batch itself is unusable (no `Records` array, or a record that cannot even be named in a
 * partial batch response): the whole batch fails before any record runs, so the event source retries
 * it and finally sends it to its failure destination.
 *
 * @example
 * throw new MalformedBatchError("kinesisWorker: the event has no Records array; the batch fails before any record runs");
 */
export class MalformedBatchError extends WorkerInputError {
    override name = "MalformedBatchError";
}

/**
 * A batch guard (the circuit breaker) rejected the batch: on a checkpointed source every record that
 * had succeeded is reported failed with this error, so the checkpoint does not move past the batch.
 *
 * @example
 * new BatchRejectedError("circuit breaker open")
 */
export class BatchRejectedError extends ServerlessConcurrencyError {
    override name = "BatchRejectedError";
    /** @param reason the guard's reason */
    constructor(readonly reason: string) {
        super(`batch rejected: ${reason}`);
    }
}
