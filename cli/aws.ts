/**
 * The CLI's AWS clients, through the SDK's default credential chain and its standard endpoint variables
 * (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, …, which SDK v3 reads itself), with bounded retries
 * and timeouts so an unreachable endpoint fails in seconds rather than hanging.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { STSClient } from "@aws-sdk/client-sts";

/** The clients of one region. */
export interface AwsClients {
    dynamodb: DynamoDBClient;
    lambda: LambdaClient;
    sqs: SQSClient;
    cloudwatch: CloudWatchClient;
    sfn: SFNClient;
    sts: STSClient;
}

/** The clients for a region (`undefined`: the SDK's default region). */
export type ClientFactory = (region: string | undefined) => AwsClients;

/**
 * Attempts per request (the first and two retries) and timeouts: a dead endpoint costs at most about
 * 3 × (3 s connect) and a silent one 3 × 10 s, never an indefinite wait.
 */
export const CLIENT_LIMITS = { maxAttempts: 3, connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 } as const;

/**
 * Clients per region, created on first use and reused.
 * @param profile shared-config profile (`--profile`); `undefined` = the default chain
 * @example const clientsFor = regionalClients("prod"); const { sqs } = clientsFor("eu-west-1");
 */
export function regionalClients(profile: string | undefined): { clientsFor: ClientFactory; destroy(): void } {
    const byRegion = new Map<string, AwsClients>();
    return {
        clientsFor(region) {
            const key = region ?? "";
            let clients = byRegion.get(key);
            if (!clients) byRegion.set(key, (clients = createClients(region, profile)));
            return clients;
        },
        destroy() {
            for (const clients of byRegion.values()) for (const client of Object.values(clients)) client.destroy();
        },
    };
}

function createClients(region: string | undefined, profile: string | undefined): AwsClients {
    const config = {
        region,
        profile,
        maxAttempts: CLIENT_LIMITS.maxAttempts,
        requestHandler: { connectionTimeout: CLIENT_LIMITS.connectionTimeoutMs, requestTimeout: CLIENT_LIMITS.requestTimeoutMs },
    };
    return {
        dynamodb: new DynamoDBClient(config),
        lambda: new LambdaClient(config),
        // By default the SQS client sends to the host in the QueueUrl, ignoring AWS_ENDPOINT_URL_SQS; the
        // clients are per region already, so the resolved endpoint is the queue's own.
        sqs: new SQSClient({ ...config, useQueueUrlAsEndpoint: false }),
        cloudwatch: new CloudWatchClient(config),
        sfn: new SFNClient(config),
        sts: new STSClient(config),
    };
}
