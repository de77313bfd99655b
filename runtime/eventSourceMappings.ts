/**
 * What a worker function can only learn about itself at run time: its own name, and the UUID of its own
 * event source mapping. The mapping is created after the function, so its UUID cannot be in the function's
 * environment (that would be a dependency cycle); the components give the event source ARN instead and the
 * runtime looks the mapping up once per execution environment, when it first needs it.
 *
 * IAM: `lambda:ListEventSourceMappings` supports only `Resource: "*"`.
 */
import { LambdaClient, ListEventSourceMappingsCommand } from "@aws-sdk/client-lambda";
import { ConfigurationError } from "../contracts/errors";

/** What {@link resolveOwnMappingUuid} looks up. */
export interface OwnMappingQuery {
    /**
     * Lambda client.
     * @default new LambdaClient({})
     * @example new LambdaClient({ maxAttempts: 5 })
     */
    lambda?: LambdaClient;
    /**
     * The function the mapping invokes.
     * @default the running function ({@link ownFunctionName})
     * @example "orders-worker"
     */
    functionName?: string;
    /**
     * The mapping's event source: the stream or queue ARN.
     * @example "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
     */
    eventSourceArn: string;
}

/** Lookups done or under way in this execution environment, by function and source. */
const resolved = new Map<string, Promise<string>>();

/**
 * The running function's name, from `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda).
 * @param env the environment (default `process.env`)
 * @throws ConfigurationError when the variable is not set (not running in Lambda): pass the name explicitly there
 * @example ownFunctionName() // "orders-worker"
 */
export function ownFunctionName(env: Record<string, string | undefined> = process.env): string {
    const name = env.AWS_LAMBDA_FUNCTION_NAME;
    if (!name) throw new ConfigurationError("AWS_LAMBDA_FUNCTION_NAME is not set: outside Lambda, give the function name explicitly.");
    return name;
}

/**
 * The UUID of the one event source mapping from `eventSourceArn` to the function, found with
 * `ListEventSourceMappings` (FunctionName + EventSourceArn, every page). The answer is cached for the life
 * of the execution environment; a failed lookup is not cached, so the next call tries again.
 * @param query the source, and optionally the function and client
 * @throws ConfigurationError when the function has no mapping for the source, or several, or (without `functionName`)
 *   `AWS_LAMBDA_FUNCTION_NAME` is not set
 * @example
 * const uuid = await resolveOwnMappingUuid({ eventSourceArn: process.env.BREAKER_EVENT_SOURCE_ARN! });
 */
export async function resolveOwnMappingUuid(query: OwnMappingQuery): Promise<string> {
    const functionName = query.functionName ?? ownFunctionName();
    const key = `${functionName}\n${query.eventSourceArn}`;
    const known = resolved.get(key);
    if (known) return known;
    const lookup = listMappingUuid(query.lambda ?? new LambdaClient({}), functionName, query.eventSourceArn);
    resolved.set(key, lookup);
    lookup.catch(() => resolved.delete(key));
    return lookup;
}

async function listMappingUuid(lambda: LambdaClient, functionName: string, eventSourceArn: string): Promise<string> {
    const uuids: string[] = [];
    let marker: string | undefined;
    do {
        const page = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: functionName, EventSourceArn: eventSourceArn, Marker: marker }));
        uuids.push(...(page.EventSourceMappings ?? []).flatMap((mapping) => (mapping.UUID ? [mapping.UUID] : [])));
        marker = page.NextMarker;
    } while (marker);
    if (uuids.length === 1) return uuids[0];
    const found = uuids.length === 0 ? "none" : `${uuids.length} (${uuids.join(", ")})`;
    throw new ConfigurationError(`Expected exactly one event source mapping from ${eventSourceArn} to function ${functionName}; found ${found}.`);
}
