/**
 * Typed errors of the semaphore, all under {@link SemaphoreError}, and the redaction of task tokens: a
 * token is a bearer credential for its waiting task (whoever has it can resume the execution), so no
 * message, log line or execution history entry this package writes ever contains one.
 */
import { createHash } from "node:crypto";
import { SemaphoreError } from "../../contracts/errors";

export { SemaphoreError };

/**
 * The acquire or release payload is missing a field (the acquire state must pass
 * `token.$ = $$.Task.Token` and `executionArn.$ = $$.Execution.Id`). Not retryable.
 * @example new SemaphoreRequestError("Semaphore acquire needs { token, executionArn } …")
 */
export class SemaphoreRequestError extends SemaphoreError {
    override name = "SemaphoreRequestError";
}

/**
 * An acquire named an execution that is already queued or holding under another, still live or already
 * granted, task token. Nothing is woken: a permit goes only to the token recorded for its execution. Not
 * retryable; the execution's Catch releases.
 * @example new SemaphoreTokenMismatchError("… already holds a permit under task token <token …>")
 */
export class SemaphoreTokenMismatchError extends SemaphoreError {
    override name = "SemaphoreTokenMismatchError";
}

/**
 * The semaphore's store or Step Functions could not be reached after the SDK's retries (throttling, 5xx,
 * network), or an operation lost its conditional writes to concurrent writers too many times. Every
 * operation is idempotent: the acquire and release states retry this error by name.
 * @example new SemaphoreUnavailableError("Semaphore \"erp\": acquire failed: ThrottlingException …", { cause })
 */
export class SemaphoreUnavailableError extends SemaphoreError {
    override name = "SemaphoreUnavailableError";
}

/**
 * The cleanup function received an event that is not an execution status change with
 * `detail.executionArn` and `detail.status`. It fails, so the event ends in the dead-letter queue.
 * @example new SemaphoreEventError("Semaphore cleanup: the event has no detail …")
 */
export class SemaphoreEventError extends SemaphoreError {
    override name = "SemaphoreEventError";
}

/**
 * A task token as it may appear in messages and logs: its length and a short digest, never its value.
 * The digest lets an operator match two lines about the same token.
 * @example redactToken("AQCEAAAAKgAAAAMAAAAA…") // "<task token, 812 chars, sha256 3f9a1c2b>"
 */
export function redactToken(token: unknown): string {
    if (typeof token !== "string") return JSON.stringify(token) ?? "undefined";
    if (token === "") return '""';
    const hash = createHash("sha256").update(token).digest("hex").slice(0, 8);
    return `<task token, ${token.length} chars, sha256 ${hash}>`;
}

/**
 * `text` with every occurrence of each token replaced by {@link redactToken}.
 * @example scrubTokens(error.message, [token])
 */
export function scrubTokens(text: string, tokens: readonly string[]): string {
    let scrubbed = text;
    for (const token of tokens) if (token) scrubbed = scrubbed.split(token).join(redactToken(token));
    return scrubbed;
}
