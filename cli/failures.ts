/**
 * The one-line description of a failure: what the operator reads on standard error instead of a stack
 * trace. No SDK imports, so a bad command line is reported without loading the AWS clients.
 */
import { AwsAccessError, CliError } from "./errors";

const NETWORK_CODES = ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"];

/**
 * One line that says what went wrong with an AWS call, without a stack trace.
 * @example describeAwsError(error) // "no AWS credentials: … (set AWS_PROFILE or --profile, …)"
 */
export function describeAwsError(error: unknown): string {
    if (error instanceof CliError) return error.message;
    const e = (error ?? {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const message = firstLine(e.message ?? String(error));
    if (e.name === "CredentialsProviderError" || /could not load credentials/i.test(message)) {
        return `no AWS credentials: ${message} (use --profile, AWS_PROFILE, environment variables, SSO or an instance role)`;
    }
    if ((e.code && NETWORK_CODES.includes(e.code)) || NETWORK_CODES.some((code) => message.includes(code))) {
        return `cannot reach the AWS endpoint: ${message} (check the region, the network, AWS_ENDPOINT_URL*)`;
    }
    if (e.name === "TimeoutError" || /timed? ?out/i.test(message)) return `the AWS endpoint did not answer in time: ${message}`;
    if (e.name === "Error" || e.name === undefined) return message;
    return `${e.name}: ${message}`;
}

/** An AWS failure as the CLI reports it. */
export function awsAccessError(error: unknown): CliError {
    return error instanceof CliError ? error : new AwsAccessError(describeAwsError(error));
}

function firstLine(text: string): string {
    return text.split("\n")[0].trim();
}
