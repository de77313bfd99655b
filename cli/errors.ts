/**
 * Errors of the operator CLI. Each one is printed as a single line on standard error (its message,
 * never a stack trace) and ends the process with {@link CliError.exitCode}.
 */
import { ServerlessConcurrencyError } from "../contracts/errors";
import { EXIT } from "./io";

/** Base class of every error the CLI reports to the operator. */
export class CliError extends ServerlessConcurrencyError {
    override name = "CliError";
    /** The process exit code. */
    readonly exitCode: number = 1;
}

/** The command line is malformed: unknown command or option, missing or invalid argument. */
export class UsageError extends CliError {
    override name = "UsageError";
}

/** The stack outputs cannot be read: missing, empty, not JSON, or without any manifest. */
export class OutputsError extends CliError {
    override name = "OutputsError";
}

/** No component of that name in the outputs; the message lists the known ones. */
export class UnknownComponentError extends CliError {
    override name = "UnknownComponentError";
}

/** The command does not apply to this component (no controller, no breaker, a DLQ AWS cannot redrive…). */
export class UnsupportedOperationError extends CliError {
    override name = "UnsupportedOperationError";
}

/** The state does not allow the change (nothing to release, a claim still being processed…). */
export class RefusedChangeError extends CliError {
    override name = "RefusedChangeError";
}

/** What was asked for does not exist (no idempotency record for that key…). */
export class NotFoundError extends CliError {
    override name = "NotFoundError";
}

/** A change was not confirmed (no `--yes` while standard input is not a terminal, or the operator said no). */
export class NotConfirmedError extends CliError {
    override name = "NotConfirmedError";
}

/** A change stopped after some of its steps landed; the message says which did and which did not. */
export class IncompleteChangeError extends CliError {
    override name = "IncompleteChangeError";
    override readonly exitCode: number = EXIT.incomplete;
}

/** An AWS call failed: missing credentials, an unreachable endpoint, a denied or failed request. */
export class AwsAccessError extends CliError {
    override name = "AwsAccessError";
}
