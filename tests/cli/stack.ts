/**
 * A deployed stack for the CLI tests: one manifest per pattern (as the components' `operations` outputs
 * would read), their tables created on dynalite with the components' key schemas
 * (components/internal/tables.ts: idempotency and breaker tables keyed by `id`, controller and
 * semaphore tables by `pk` + `sk`), and aws-sdk-client-mock'ed Lambda, SQS, CloudWatch, Step Functions
 * and STS clients.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand, UpdateEventSourceMappingCommandInput } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import {
    EventBridgeWorkerPoolManifest,
    FifoTopicWorkerManifest,
    KinesisOrderedWorkerManifest,
    OPERATIONS_MARKER,
    StepFunctionsSemaphoreManifest,
} from "../../contracts/operations";
import { runCli } from "../../cli";
import type { AwsClients } from "../../cli/aws";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";

export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";
export const CALLER_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/oncall/jane`;
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
const queue = (name: string) => ({ url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`, arn: arn("sqs", name) });
const base = { [OPERATIONS_MARKER]: 1 as const, region: REGION, account: ACCOUNT };

export const ORDERS: EventBridgeWorkerPoolManifest = {
    ...base,
    componentType: "EventBridgeWorkerPool",
    name: "orders",
    functionName: "orders-fn",
    idempotencyTableName: "orders-idempotency",
    deadLetterQueue: queue("orders-dlq"),
    dashboardName: "shop-prod-orders",
    controller: { mode: "Controller", tableName: "orders-control", target: { kind: "ReservedConcurrency", functionName: "orders-fn" }, functionName: "orders-adaptive-controller" },
};

export const PAYMENTS: KinesisOrderedWorkerManifest = {
    ...base,
    componentType: "KinesisOrderedWorker",
    name: "payments",
    functionName: "payments-fn",
    streamArn: arn("kinesis", "stream/payments"),
    mappingUuid: "payments-uuid",
    idempotencyTableName: "payments-idempotency",
    failureQueue: queue("payments-failures"),
    breaker: { tableName: "payments-breaker", id: "payments" },
};

export const LEDGER: FifoTopicWorkerManifest = {
    ...base,
    componentType: "FifoTopicWorker",
    name: "ledger",
    functionName: "ledger-fn",
    topicArn: arn("sns", "ledger.fifo"),
    queue: queue("ledger-queue.fifo"),
    deadLetterQueue: queue("ledger-dlq.fifo"),
    deliveryDeadLetterQueue: queue("ledger-delivery-dlq.fifo"),
    mappingUuid: "ledger-uuid",
    idempotencyTableName: "ledger-idempotency",
    controller: { mode: "SelfTuning", tableName: "ledger-control", target: { kind: "SqsMaximumConcurrency", uuid: "ledger-uuid", eventSourceArn: arn("sqs", "ledger-queue.fifo") } },
    breaker: { tableName: "ledger-breaker", id: "ledger" },
};

export const ERP: StepFunctionsSemaphoreManifest = {
    ...base,
    componentType: "StepFunctionsSemaphore",
    name: "erp",
    semaphore: { tableName: "erp-semaphore", name: "erp", limit: 1 },
    deadLetterQueue: queue("erp-dlq"),
};

/** The stack's outputs as `pulumi stack output --json` prints them: manifests nested under each export. */
export const STACK_OUTPUTS = {
    orders: { functionName: "orders-fn", operations: ORDERS },
    ordered: [{ operations: PAYMENTS }, { operations: LEDGER }],
    semaphore: { tableName: "erp-semaphore", operations: ERP },
};

/** The mocked clients and dynalite behind one test stack. */
export interface TestStack {
    db: LocalDynamo;
    clients: AwsClients;
    lambda: AwsClientStub<LambdaClient>;
    sqs: AwsClientStub<SQSClient>;
    cloudwatch: AwsClientStub<CloudWatchClient>;
    sfn: AwsClientStub<SFNClient>;
    sts: AwsClientStub<STSClient>;
    /** Resets every mock (STS answers as {@link CALLER_ARN} again). */
    resetMocks(): void;
    stop(): Promise<void>;
}

/** Starts dynalite with the stack's tables and mocks the other clients. */
export async function startStack(): Promise<TestStack> {
    const db = await startDynalite();
    for (const name of ["orders-idempotency", "payments-idempotency", "ledger-idempotency", "payments-breaker", "ledger-breaker"]) await db.createTable(name, "id");
    for (const name of ["orders-control", "ledger-control", "erp-semaphore"]) await db.createTable(name, "pk", "sk");
    const config = { region: REGION, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
    const clients: AwsClients = {
        dynamodb: db.client,
        lambda: new LambdaClient(config),
        sqs: new SQSClient(config),
        cloudwatch: new CloudWatchClient(config),
        sfn: new SFNClient(config),
        sts: new STSClient(config),
    };
    const stack: TestStack = {
        db,
        clients,
        lambda: mockClient(clients.lambda),
        sqs: mockClient(clients.sqs),
        cloudwatch: mockClient(clients.cloudwatch),
        sfn: mockClient(clients.sfn),
        sts: mockClient(clients.sts),
        resetMocks() {
            for (const mock of [stack.lambda, stack.sqs, stack.cloudwatch, stack.sfn, stack.sts]) mock.reset();
            stack.sts.on(GetCallerIdentityCommand).resolves({ Arn: CALLER_ARN, Account: ACCOUNT, UserId: "AROA:jane" });
        },
        async stop() {
            for (const mock of [stack.lambda, stack.sqs, stack.cloudwatch, stack.sfn, stack.sts]) mock.restore();
            await db.stop();
        },
    };
    stack.resetMocks();
    return stack;
}

/** What one in-process run printed and returned. */
export interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * Runs the CLI in-process on the stack's outputs (given on standard input) and clients.
 * @param options `interactive` and `answer` simulate a terminal; `now` fixes the clock
 */
export async function runOn(stack: TestStack, argv: string[], options: { interactive?: boolean; answer?: string; now?: () => number; outputs?: unknown } = {}): Promise<CliRun> {
    let stdout = "";
    let stderr = "";
    const code = await runCli([...argv, "--outputs", "-"], {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
        interactive: options.interactive ?? false,
        ask: async () => options.answer ?? "",
        readStdin: async () => JSON.stringify(options.outputs ?? STACK_OUTPUTS),
        clientsFor: () => stack.clients,
        now: options.now,
    });
    return { code, stdout, stderr };
}

/** The fields of `payments`' mapping that the breaker reads and changes. */
export interface MappingFields {
    State: string;
    BatchSize: number;
    ParallelizationFactor: number;
    EventSourceArn: string;
}

/** A mapping the mocked Lambda API serves: `current` is what GetEventSourceMapping returns and UpdateEventSourceMapping changes. */
export interface ServedMapping {
    current: MappingFields;
    /** Updates change `current` (the default). */
    acceptUpdates(): void;
    /** Updates fail with `error`, changing nothing. */
    refuseUpdates(error: Error): void;
}

/** Serves `payments`' mapping (`payments-uuid`), enabled with batch size 100 and factor 2. */
export function servePaymentsMapping(stack: TestStack): ServedMapping {
    const mapping: ServedMapping = {
        current: { State: "Enabled", BatchSize: 100, ParallelizationFactor: 2, EventSourceArn: PAYMENTS.streamArn },
        acceptUpdates() {
            stack.lambda.on(UpdateEventSourceMappingCommand).callsFake((input: UpdateEventSourceMappingCommandInput) => {
                const { State, BatchSize, ParallelizationFactor } = mapping.current;
                const state = input.Enabled === undefined ? State : input.Enabled ? "Enabled" : "Disabled";
                mapping.current = { ...mapping.current, State: state, BatchSize: input.BatchSize ?? BatchSize, ParallelizationFactor: input.ParallelizationFactor ?? ParallelizationFactor };
                return { ...mapping.current };
            });
        },
        refuseUpdates(error) {
            stack.lambda.on(UpdateEventSourceMappingCommand).rejects(error);
        },
    };
    stack.lambda.on(GetEventSourceMappingCommand, { UUID: "payments-uuid" }).callsFake(() => ({ ...mapping.current }));
    mapping.acceptUpdates();
    return mapping;
}
