import * as assert from "node:assert/strict";
import { leaseWait } from "../../runtime/ordering";
import * as pulumi from "@pulumi/pulumi";
import { rejectionsDuring } from "../helpers/rejections";
import { ACCOUNT_ID, json, ofType, registered, resource, settle, valueOf, loadComponents, LoadedComponents, resetComponentState } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];
type Budget = LoadedComponents["budget"];

const HANDLER = "tests/fixtures/handlers/ordered.handle";
const arn = (service: string, name: string) => `arn:aws:${service}:us-east-1:${ACCOUNT_ID}:${name}`;
const childNames = (component: string) =>
    registered
        .filter((r) => r.type !== component)
        .map((r) => `${r.type}::${r.name}`)
        .sort();

describe("ordered workers", function () {
    this.timeout(60_000);
    let c: Components;
    let budget: Budget;

    before(async () => ({ c, budget } = await loadComponents()));
    beforeEach(() => resetComponentState({ c, budget }));

    describe("KinesisOrderedWorker", () => {
        const LABEL = 'KinesisOrderedWorker "payments"';
        type Args = import("../../components").KinesisOrderedWorkerArgs;
        async function create(overrides: Partial<Args> = {}) {
            const worker = new c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, ...overrides });
            await settle();
            return worker;
        }

        it("creates the stream, mapping, failure queue, table, function, alarms and dashboard", async () => {
            await create();
            assert.deepEqual(childNames("serverless-concurrency:index:KinesisOrderedWorker"), [
                "aws:cloudwatch/dashboard:Dashboard::payments-dashboard",
                "aws:cloudwatch/logGroup:LogGroup::payments-logs",
                "aws:cloudwatch/metricAlarm:MetricAlarm::payments-errors",
                "aws:cloudwatch/metricAlarm:MetricAlarm::payments-failures-not-empty",
                "aws:cloudwatch/metricAlarm:MetricAlarm::payments-iterator-age",
                "aws:cloudwatch/metricAlarm:MetricAlarm::payments-throttles",
                "aws:dynamodb/table:Table::payments-idempotency",
                "aws:iam/role:Role::payments-role",
                "aws:iam/rolePolicy:RolePolicy::payments-policy",
                "aws:kinesis/stream:Stream::payments-stream",
                "aws:lambda/eventSourceMapping:EventSourceMapping::payments-esm",
                "aws:lambda/function:Function::payments-fn",
                "aws:sqs/queue:Queue::payments-failures",
                "aws:sqs/queuePolicy:QueuePolicy::payments-failures-policy",
            ]);
        });

        it("creates an encrypted provisioned stream with the retention", async () => {
            await create({ shardCount: 4, retentionHours: 48 });
            assert.deepEqual(resource("aws:kinesis/stream:Stream", "payments-stream").inputs, {
                shardCount: 4,
                streamModeDetails: { streamMode: "PROVISIONED" },
                retentionPeriod: 48,
                encryptionType: "KMS",
                kmsKeyId: "alias/aws/kinesis",
            });
        });

        it("creates an on-demand stream without a shard count, and reports the concurrency as unknown", async () => {
            const worker = await create({ onDemand: true });
            const stream = resource("aws:kinesis/stream:Stream", "payments-stream").inputs;
            assert.equal(stream.shardCount, undefined);
            assert.deepEqual(stream.streamModeDetails, { streamMode: "ON_DEMAND" });
            assert.equal(await valueOf(worker.maxConcurrency), undefined);
        });

        it("maps the stream with safe defaults: TRIM_HORIZON, bisect, finite retries, age = retention, partial batch response", async () => {
            await create();
            assert.deepEqual(resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs, {
                functionName: arn("lambda", "payments-fn-function"),
                eventSourceArn: arn("kinesis", "payments-stream-stream"),
                startingPosition: "TRIM_HORIZON",
                batchSize: 100,
                maximumBatchingWindowInSeconds: 0,
                parallelizationFactor: 1,
                bisectBatchOnFunctionError: true,
                maximumRetryAttempts: 10,
                maximumRecordAgeInSeconds: 86400,
                functionResponseTypes: ["ReportBatchItemFailures"],
                destinationConfig: { onFailure: { destinationArn: arn("sqs", "payments-failures-queue") } },
            });
        });

        it("passes every mapping setting through and reports shards × factor and × in-batch parallelism", async () => {
            const worker = await create({
                shardCount: 4,
                parallelizationFactor: 3,
                batchSize: 500,
                batchWindowSeconds: 5,
                startingPosition: "LATEST",
                bisectOnError: false,
                maxRetryAttempts: 3,
                maxRecordAgeSeconds: 3600,
                inBatchParallelism: 8,
            });
            const esm = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs;
            assert.deepEqual(
                [esm.batchSize, esm.maximumBatchingWindowInSeconds, esm.parallelizationFactor, esm.startingPosition, esm.bisectBatchOnFunctionError, esm.maximumRetryAttempts, esm.maximumRecordAgeInSeconds],
                [500, 5, 3, "LATEST", false, 3, 3600],
            );
            assert.equal(await valueOf(worker.maxConcurrency), 12);
            assert.equal(await valueOf(worker.maxDownstreamConcurrency), 96);
            const env = resource("aws:lambda/function:Function", "payments-fn").inputs.environment.variables;
            assert.equal(env.IN_BATCH_PARALLELISM, "8");
            assert.equal(env.IDEMPOTENCY_EXPIRY_SECONDS, "7200");
            assert.equal(env.IDEMPOTENCY_LEASE_SECONDS, "90");
            assert.equal(env.KPL_DEAGGREGATION, undefined); // de-aggregation on: the default, not set
        });

        it("retries a short function often enough by default that a claim its timeout left is waited out before the failure queue", async () => {
            const retries = async (timeoutSeconds: number) => {
                resetComponentState({ c, budget });
                await create({ function: { handler: HANDLER, timeoutSeconds } });
                return resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs.maximumRetryAttempts;
            };
            assert.deepEqual([await retries(30), await retries(10), await retries(1)], [10, 19, 154], "ceil((timeout + 60) / (0.4 × timeout)) + 1, at least 10");
            // The runtime's own wait over those retries, in the worst case: the claim made at the very end of the
            // timed-out invocation (its whole lease left), no gap between retries, each record starting with 80 % of its timeout left.
            for (const timeoutSeconds of [1, 2, 5, 10, 15, 30, 60, 300, 900]) {
                let leaseLeftMs = (timeoutSeconds + 60) * 1000;
                let retry = 0;
                for (; leaseLeftMs > 0; retry++) {
                    const wait = leaseWait(leaseLeftMs, 0.5 * 0.8 * timeoutSeconds * 1000)!;
                    if (wait.passes) break;
                    leaseLeftMs -= wait.waitMs;
                }
                assert.ok(retry + 1 <= (await retries(timeoutSeconds)), `timeout ${timeoutSeconds} s: the record runs on retry ${retry + 1}, over the default count`);
            }
        });

        it("turns KPL de-aggregation off through the function's environment, and refuses a non-boolean", async () => {
            await create({ kplDeaggregation: false });
            assert.equal(resource("aws:lambda/function:Function", "payments-fn").inputs.environment.variables.KPL_DEAGGREGATION, "false");
            await assert.rejects(create({ kplDeaggregation: "no" as unknown as boolean }), /kplDeaggregation/);
        });

        it("consumes an existing stream without creating one", async () => {
            const streamArn = `arn:aws:kinesis:us-east-1:${ACCOUNT_ID}:stream/payments`;
            const worker = await create({ streamArn, shardCount: 2 });
            assert.equal(ofType("aws:kinesis/stream:Stream").length, 0);
            assert.equal(resource("aws:lambda/eventSourceMapping:EventSourceMapping", "payments-esm").inputs.eventSourceArn, streamArn);
            assert.equal(await valueOf(worker.streamArn), streamArn);
            assert.equal(await valueOf(worker.maxConcurrency), 2);
        });

        it("grants read on that stream, the table and send on the failure queue only", async () => {
            await create();
            const policy = json(resource("aws:iam/rolePolicy:RolePolicy", "payments-policy").inputs.policy);
            assert.deepEqual(policy.Statement.slice(1), [
                {
                    Effect: "Allow",
                    Action: ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
                    Resource: [arn("kinesis", "payments-stream-stream")],
                },
                { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource: [arn("dynamodb", "payments-idempotency-table")] },
                { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arn("sqs", "payments-failures-queue")] },
            ]);
            assert.equal(resource("aws:sqs/queue:Queue", "payments-failures").inputs.sqsManagedSseEnabled, true);
            const failuresPolicy = json(resource("aws:sqs/queuePolicy:QueuePolicy", "payments-failures-policy").inputs.policy);
            assert.deepEqual(failuresPolicy.Statement.map((st: { Sid: string }) => st.Sid), ["DenyInsecureTransport"], "Lambda writes with the function's role; the policy only denies non-TLS access");
        });

        it("alarms on iterator age at half the retention, the failure queue, errors and throttles", async () => {
            await create({ retentionHours: 48 });
            const alarm = (id: string) => resource("aws:cloudwatch/metricAlarm:MetricAlarm", `payments-${id}`).inputs;
            assert.deepEqual([alarm("iterator-age").metricName, alarm("iterator-age").statistic, alarm("iterator-age").threshold], ["IteratorAge", "Maximum", 86_400_000]);
            assert.deepEqual(alarm("failures-not-empty").dimensions, { QueueName: "payments-failures-queue" });
            assert.equal(alarm("errors").metricName, "Errors");
            assert.equal(alarm("throttles").metricName, "Throttles");
        });

        it("alarms on iterator age at half of a record-age limit shorter than the retention", async () => {
            await create({ maxRecordAgeSeconds: 3600 });
            assert.equal(resource("aws:cloudwatch/metricAlarm:MetricAlarm", "payments-iterator-age").inputs.threshold, 1_800_000);
        });

        it("budgets a reserved concurrency and rejects one below shards × factor", async () => {
            await create({ shardCount: 2, parallelizationFactor: 2, reservedConcurrency: 4 });
            assert.equal(resource("aws:lambda/function:Function", "payments-fn").inputs.reservedConcurrentExecutions, 4);
            assert.deepEqual(budget.concurrencyBudgets()[0].reservations, [{ component: LABEL, concurrency: 4 }]);
            assert.throws(
                () => new c.KinesisOrderedWorker("other", { function: { handler: HANDLER }, shardCount: 2, parallelizationFactor: 2, reservedConcurrency: 3 }),
                { message: 'KinesisOrderedWorker "other": reservedConcurrency must be at least shardCount × parallelizationFactor = 4, or shards are throttled; received 3.' },
            );
        });

        const invalid: Array<[string, Partial<Args>, string]> = [
            ["batchSize 0", { batchSize: 0 }, "batchSize must be an integer from 1 to 10000; received 0."],
            ["batchSize 10001", { batchSize: 10001 }, "batchSize must be an integer from 1 to 10000; received 10001."],
            ["window 301", { batchWindowSeconds: 301 }, "batchWindowSeconds must be an integer from 0 to 300; received 301."],
            ["factor 11", { parallelizationFactor: 11 }, "parallelizationFactor must be an integer from 1 to 10; received 11."],
            ["factor 0", { parallelizationFactor: 0 }, "parallelizationFactor must be an integer from 1 to 10; received 0."],
            ["shards 0", { shardCount: 0 }, "shardCount must be an integer from 1 to 20000; received 0."],
            ["retention 23", { retentionHours: 23 }, "retentionHours must be an integer from 24 to 8760; received 23."],
            ["position", { startingPosition: "AT_TIMESTAMP" as never }, 'startingPosition must be one of TRIM_HORIZON, LATEST; received "AT_TIMESTAMP".'],
            ["retries -1", { maxRetryAttempts: -1 }, "maxRetryAttempts must be an integer from 0 to 10000; received -1."],
            ["record age 59", { maxRecordAgeSeconds: 59 }, "maxRecordAgeSeconds must be an integer from 60 to 604800; received 59."],
            ["record age above retention", { maxRecordAgeSeconds: 90_000 }, "maxRecordAgeSeconds must not exceed the stream retention of 86400 s (retentionHours 24); received 90000."],
            ["in-batch parallelism 0", { inBatchParallelism: 0 }, "inBatchParallelism must be an integer from 1 to 1000; received 0."],
            ["stream ARN", { streamArn: "arn:aws:sqs:us-east-1:123456789012:q" }, 'streamArn must be a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>); received "arn:aws:sqs:us-east-1:123456789012:q".'],
            ["shards with on demand", { onDemand: true, shardCount: 2 }, "shardCount and onDemand are mutually exclusive: an on-demand stream scales its shards itself."],
            ["short expiry", { idempotencyExpirySeconds: 60 }, "idempotencyExpirySeconds must be at least maxRecordAgeSeconds (86400), or a record redelivered late runs again; received 60."],
            ["on demand with an existing stream", { onDemand: true, streamArn: `arn:aws:kinesis:us-east-1:${ACCOUNT_ID}:stream/s` }, "onDemand applies to a new stream only; omit it with streamArn."],
            ["in-batch parallelism 1001", { inBatchParallelism: 1001 }, "inBatchParallelism must be an integer from 1 to 1000; received 1001."],
            ["a breaker without the wrapper", { function: { handler: HANDLER, wrap: false }, circuitBreaker: {} }, "circuitBreaker needs function.wrap: the runtime wrapper feeds the breaker and fails the batch while it is open."],
        ];
        for (const [title, overrides, message] of invalid) {
            it(`rejects ${title}`, () => {
                assert.throws(() => new c.KinesisOrderedWorker("payments", { function: { handler: HANDLER }, ...overrides }), (e: Error) => e.message.includes(`${LABEL}: ${message}`));
            });
        }
    });

    describe("FifoTopicWorker", () => {
        const LABEL = 'FifoTopicWorker "ledger"';
        type Args = import("../../components").FifoTopicWorkerArgs;
        async function create(overrides: Partial<Args> = {}) {
            const worker = new c.FifoTopicWorker("ledger", { function: { handler: HANDLER }, maxConcurrency: 5, ...overrides });
            await settle();
            return worker;
        }

        it("creates topic, queues, subscription, policies, mapping, table, function, alarms and dashboard", async () => {
            await create();
            assert.deepEqual(childNames("serverless-concurrency:index:FifoTopicWorker"), [
                "aws:cloudwatch/dashboard:Dashboard::ledger-dashboard",
                "aws:cloudwatch/logGroup:LogGroup::ledger-logs",
                "aws:cloudwatch/metricAlarm:MetricAlarm::ledger-delivery-dlq-not-empty",
                "aws:cloudwatch/metricAlarm:MetricAlarm::ledger-dlq-not-empty",
                "aws:cloudwatch/metricAlarm:MetricAlarm::ledger-errors",
                "aws:cloudwatch/metricAlarm:MetricAlarm::ledger-oldest-message-age",
                "aws:cloudwatch/metricAlarm:MetricAlarm::ledger-throttles",
                "aws:dynamodb/table:Table::ledger-idempotency",
                "aws:iam/role:Role::ledger-role",
                "aws:iam/rolePolicy:RolePolicy::ledger-policy",
                "aws:lambda/eventSourceMapping:EventSourceMapping::ledger-esm",
                "aws:lambda/function:Function::ledger-fn",
                "aws:sns/topic:Topic::ledger-topic",
                "aws:sns/topicPolicy:TopicPolicy::ledger-topic-policy",
                "aws:sns/topicSubscription:TopicSubscription::ledger-subscription",
                "aws:sqs/queue:Queue::ledger-delivery-dlq",
                "aws:sqs/queue:Queue::ledger-dlq",
                "aws:sqs/queue:Queue::ledger-queue",
                "aws:sqs/queuePolicy:QueuePolicy::ledger-delivery-dlq-policy",
                "aws:sqs/queuePolicy:QueuePolicy::ledger-dlq-policy",
                "aws:sqs/queuePolicy:QueuePolicy::ledger-queue-policy",
            ]);
        });

        it("creates an encrypted FIFO topic with content-based deduplication, publishable by the owner over TLS", async () => {
            await create();
            assert.deepEqual(resource("aws:sns/topic:Topic", "ledger-topic").inputs, { fifoTopic: true, contentBasedDeduplication: true, kmsMasterKeyId: "alias/aws/sns" });
            const policy = json(resource("aws:sns/topicPolicy:TopicPolicy", "ledger-topic-policy").inputs.policy);
            assert.deepEqual(policy.Statement[0].Principal, { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` });
            assert.deepEqual(policy.Statement[1].Condition, { Bool: { "aws:SecureTransport": "false" } });
        });

        it("denies every action on the topic without TLS, not only publishing", async () => {
            await create();
            const topicArn = arn("sns", "ledger-topic-topic");
            const inputs = resource("aws:sns/topicPolicy:TopicPolicy", "ledger-topic-policy").inputs;
            assert.equal(inputs.arn, topicArn);
            assert.deepEqual(json(inputs.policy), {
                    Version: "2012-10-17",
                    Statement: [
                        { Sid: "OwnerPublishOnly", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` }, Action: ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"], Resource: topicArn },
                        { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sns:*", Resource: topicArn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
                    ],
            });
        });

        it("keys idempotency on the SQS message id with content-based deduplication, on the publisher's id without", async () => {
            new c.FifoTopicWorker("byBody", { function: { handler: HANDLER }, maxConcurrency: 5 });
            new c.FifoTopicWorker("byId", { function: { handler: HANDLER }, maxConcurrency: 5, contentBasedDeduplication: false });
            await settle();
            const key = (fn: string) => resource("aws:lambda/function:Function", fn).inputs.environment.variables.FIFO_IDEMPOTENCY_KEY;
            assert.deepEqual([key("byBody-fn"), key("byId-fn")], ["MessageId", "DeduplicationId"]);
            assert.equal(resource("aws:sns/topic:Topic", "byId-topic").inputs.contentBasedDeduplication, false);
        });

        it("creates a high-throughput FIFO queue with a FIFO DLQ and 6 × timeout visibility", async () => {
            await create({ function: { handler: HANDLER, timeoutSeconds: 20 }, maxReceiveCount: 7 });
            assert.deepEqual(resource("aws:sqs/queue:Queue", "ledger-queue").inputs, {
                fifoQueue: true,
                deduplicationScope: "messageGroup",
                fifoThroughputLimit: "perMessageGroupId",
                sqsManagedSseEnabled: true,
                visibilityTimeoutSeconds: 120,
                messageRetentionSeconds: 345600,
                redrivePolicy: JSON.stringify({ deadLetterTargetArn: arn("sqs", "ledger-dlq-queue"), maxReceiveCount: 7 }),
            });
            const env = resource("aws:lambda/function:Function", "ledger-fn").inputs.environment.variables;
            assert.equal(env.IDEMPOTENCY_EXPIRY_SECONDS, "345600", "as long as the queue keeps a message, so every redelivery is covered");
            assert.equal(env.IDEMPOTENCY_LEASE_SECONDS, "80");
            const dlq = resource("aws:sqs/queue:Queue", "ledger-dlq").inputs;
            assert.equal(dlq.fifoQueue, true);
            const dlqPolicy = json(resource("aws:sqs/queuePolicy:QueuePolicy", "ledger-dlq-policy").inputs.policy);
            assert.deepEqual(dlqPolicy.Statement.map((st: { Sid: string }) => st.Sid), ["DenyInsecureTransport"]);
            assert.equal(dlq.messageRetentionSeconds, 1209600);
        });

        it("remembers a message as long as the queue keeps it, and no less than SQS's 5-minute deduplication window", async () => {
            const expiry = async (overrides: Partial<Args>) => {
                resetComponentState({ c, budget });
                await create(overrides);
                return resource("aws:lambda/function:Function", "ledger-fn").inputs.environment.variables.IDEMPOTENCY_EXPIRY_SECONDS;
            };
            assert.equal(await expiry({ messageRetentionSeconds: 60 }), "300", "a one-minute queue with the default maxReceiveCount × visibility of 900 s");
            assert.equal(await expiry({ messageRetentionSeconds: 600 }), "600", "no message is delivered after its retention, so 600 covers 5 receives × 180 s");
            assert.equal(await expiry({ messageRetentionSeconds: 600, idempotencyExpirySeconds: 600 }), "600");
        });

        it("keeps a short function's messages invisible at least as long as an interrupted claim's lease", async () => {
            await create({ function: { handler: HANDLER, timeoutSeconds: 5 }, maxReceiveCount: 2 });
            assert.equal(resource("aws:sqs/queue:Queue", "ledger-queue").inputs.visibilityTimeoutSeconds, 70, "2 × timeout + 60, over 6 × 5 = 30: a claim up to 5 s after the receive, leased 65 s");
            assert.equal(resource("aws:lambda/function:Function", "ledger-fn").inputs.environment.variables.IDEMPOTENCY_LEASE_SECONDS, "65");
        });

        it("lets visibility and receives be what the user sets without the wrapper, which claims nothing", async () => {
            await create({ function: { handler: HANDLER, timeoutSeconds: 10, wrap: false }, visibilityTimeoutSeconds: 10, maxReceiveCount: 3 });
            assert.equal(resource("aws:sqs/queue:Queue", "ledger-queue").inputs.visibilityTimeoutSeconds, 10);
        });

        it("dead-letters what SNS cannot deliver into a FIFO queue only the topic may write to, and alarms on it", async () => {
            await create({ alarmActions: ["arn:aws:sns:us-east-1:123456789012:oncall"] });
            const dlq = resource("aws:sqs/queue:Queue", "ledger-delivery-dlq").inputs;
            assert.deepEqual([dlq.fifoQueue, dlq.sqsManagedSseEnabled, dlq.messageRetentionSeconds], [true, true, 1209600]);
            const policy = json(resource("aws:sqs/queuePolicy:QueuePolicy", "ledger-delivery-dlq-policy").inputs.policy);
            const dlqArn = arn("sqs", "ledger-delivery-dlq-queue");
            assert.deepEqual(policy.Statement, [
                { Sid: "Allowsns0", Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: dlqArn, Condition: { ArnEquals: { "aws:SourceArn": arn("sns", "ledger-topic-topic") } } },
                { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: dlqArn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
            ]);
            const alarm = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "ledger-delivery-dlq-not-empty").inputs;
            assert.deepEqual(
                [alarm.namespace, alarm.metricName, alarm.dimensions, alarm.threshold, alarm.alarmActions],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: "ledger-delivery-dlq-queue" }, 0, ["arn:aws:sns:us-east-1:123456789012:oncall"]],
            );
        });

        it("subscribes the queue with raw delivery and admits only the topic over TLS", async () => {
            await create();
            assert.deepEqual(resource("aws:sns/topicSubscription:TopicSubscription", "ledger-subscription").inputs, {
                topic: arn("sns", "ledger-topic-topic"),
                protocol: "sqs",
                endpoint: arn("sqs", "ledger-queue-queue"),
                rawMessageDelivery: true,
                redrivePolicy: JSON.stringify({ deadLetterTargetArn: arn("sqs", "ledger-delivery-dlq-queue") }),
            });
            const policy = json(resource("aws:sqs/queuePolicy:QueuePolicy", "ledger-queue-policy").inputs.policy);
            assert.deepEqual(policy.Statement[0].Principal, { Service: "sns.amazonaws.com" });
            assert.deepEqual(policy.Statement[0].Condition, { ArnEquals: { "aws:SourceArn": arn("sns", "ledger-topic-topic") } });
            assert.equal(policy.Statement[1].Effect, "Deny");
        });

        it("maps the queue with maximum concurrency, batch size and partial batch response", async () => {
            const worker = await create({ maxConcurrency: 7, batchSize: 4, inBatchParallelism: 3 });
            assert.deepEqual(resource("aws:lambda/eventSourceMapping:EventSourceMapping", "ledger-esm").inputs, {
                functionName: arn("lambda", "ledger-fn-function"),
                eventSourceArn: arn("sqs", "ledger-queue-queue"),
                batchSize: 4,
                scalingConfig: { maximumConcurrency: 7 },
                functionResponseTypes: ["ReportBatchItemFailures"],
            });
            assert.equal(await valueOf(worker.maxConcurrency), 7);
            assert.equal(await valueOf(worker.maxDownstreamConcurrency), 21);
        });

        it("subscribes to an existing FIFO topic without creating one", async () => {
            const topicArn = `arn:aws:sns:us-east-1:${ACCOUNT_ID}:ledger.fifo`;
            await create({ topicArn });
            assert.equal(ofType("aws:sns/topic:Topic").length, 0);
            assert.equal(resource("aws:sns/topicSubscription:TopicSubscription", "ledger-subscription").inputs.topic, topicArn);
        });

        it("grants consume on its queue and the table only", async () => {
            await create();
            const policy = json(resource("aws:iam/rolePolicy:RolePolicy", "ledger-policy").inputs.policy);
            assert.deepEqual(policy.Statement.slice(1), [
                { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"], Resource: [arn("sqs", "ledger-queue-queue")] },
                { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource: [arn("dynamodb", "ledger-idempotency-table")] },
            ]);
        });

        it("alarms on the DLQ, the oldest message age, errors and throttles", async () => {
            await create({ oldestMessageAgeAlarmSeconds: 600 });
            const alarm = (id: string) => resource("aws:cloudwatch/metricAlarm:MetricAlarm", `ledger-${id}`).inputs;
            assert.deepEqual(alarm("dlq-not-empty").dimensions, { QueueName: "ledger-dlq-queue" });
            assert.deepEqual([alarm("oldest-message-age").metricName, alarm("oldest-message-age").threshold], ["ApproximateAgeOfOldestMessage", 600]);
        });

        const invalid: Array<[string, Partial<Args>, string]> = [
            ["maxConcurrency 1", { maxConcurrency: 1 }, "maxConcurrency must be an integer from 2 to 1000; received 1."],
            ["maxConcurrency 1001", { maxConcurrency: 1001 }, "maxConcurrency must be an integer from 2 to 1000; received 1001."],
            ["batchSize 11", { batchSize: 11 }, "batchSize must be an integer from 1 to 10; received 11."],
            ["a batch window", { batchWindowSeconds: 5 }, "batchWindowSeconds must be 0 or unset: AWS does not support batching windows on FIFO queues; received 5."],
            [
                "visibility below the timeout",
                { visibilityTimeoutSeconds: 10 },
                "visibilityTimeoutSeconds must be at least function.timeoutSeconds (30; AWS recommends 6 × = 180), or messages reappear while still being processed; received 10.",
            ],
            ["a standard topic", { topicArn: "arn:aws:sns:us-east-1:123456789012:ledger" }, 'topicArn must be the ARN of an SNS FIFO topic (its name ends in .fifo); received "arn:aws:sns:us-east-1:123456789012:ledger".'],
            ["maxReceiveCount 0", { maxReceiveCount: 0 }, "maxReceiveCount must be an integer from 1 to 1000; received 0."],
            [
                "redeliveries that all fall inside the lease of an interrupted claim",
                { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
                "visibilityTimeoutSeconds × (maxReceiveCount − 1) must be at least 2 × function.timeoutSeconds + 60 = 120 s (the idempotency lease of timeout + 60 s, from a claim up to one timeout after the receive): a message whose invocation timed out comes back once per visibility timeout and is refused as in flight until the lease passes, so it would reach the DLQ without running again; received 30 × 2 = 60.",
            ],
            ["no maxConcurrency", { maxConcurrency: undefined as never }, "maxConcurrency is required: the event source mapping's maximum concurrency, 2–1000."],
            ["visibility above 12 hours", { visibilityTimeoutSeconds: 43_201 }, "visibilityTimeoutSeconds must be an integer from 0 to 43200; received 43201."],
            ["retention below a minute", { messageRetentionSeconds: 59 }, "messageRetentionSeconds must be an integer from 60 to 1209600; received 59."],
            ["in-batch parallelism 11", { inBatchParallelism: 11 }, "inBatchParallelism must be an integer from 1 to 10; received 11."],
            ["a backlog alarm below a minute", { oldestMessageAgeAlarmSeconds: 59 }, "oldestMessageAgeAlarmSeconds must be an integer from 60 to 1209600; received 59."],
            ["an expiry below the 5-minute dedup window", { idempotencyExpirySeconds: 299 }, "idempotencyExpirySeconds must be an integer from 300 to 1209600; received 299."],
            ["an expiry shorter than the redeliveries", { idempotencyExpirySeconds: 600 }, "idempotencyExpirySeconds must cover the redeliveries of a message: maxReceiveCount × visibilityTimeoutSeconds = 900, or messageRetentionSeconds (345600) when that is shorter; received 600."],
            [
                "an expiry under the redeliveries that a long retention allows",
                { maxReceiveCount: 10, messageRetentionSeconds: 3600, idempotencyExpirySeconds: 1799 },
                "idempotencyExpirySeconds must cover the redeliveries of a message: maxReceiveCount × visibilityTimeoutSeconds = 1800, or messageRetentionSeconds (3600) when that is shorter; received 1799.",
            ],
            ["reserved below max concurrency", { reservedConcurrency: 4 }, "reservedConcurrency must be at least maxConcurrency (5), or throttled messages return to the queue until they reach the DLQ; received 4."],
        ];
        for (const [title, overrides, message] of invalid) {
            it(`rejects ${title}`, () => {
                assert.throws(() => new c.FifoTopicWorker("ledger", { function: { handler: HANDLER }, maxConcurrency: 5, ...overrides }), (e: Error) => e.message.includes(`${LABEL}: ${message}`));
            });
        }

        it("fails the deployment for an existing topic of another region, also one known only at deploy time; a topic of its region subscribes", async () => {
            const elsewhere = "arn:aws:sns:eu-west-1:123456789012:ledger.fifo";
            const rejections = await rejectionsDuring(async () => {
                new c.FifoTopicWorker("ledger", { function: { handler: HANDLER }, maxConcurrency: 5, topicArn: pulumi.output(elsewhere) });
                await settle();
            });
            assert.deepEqual(
                rejections.map((e) => e.message),
                [
                    `${LABEL}: topicArn must be a topic in the worker's region (us-east-1): SNS subscribes the queue with the worker's provider, and the subscription and its delivery DLQ must be in the topic's region; received "${elsewhere}". Deploy the worker with a provider in eu-west-1.`,
                ],
            );
            resetComponentState({ c, budget });
            const here = "arn:aws:sns:us-east-1:123456789012:ledger.fifo";
            assert.deepEqual(
                await rejectionsDuring(async () => {
                    new c.FifoTopicWorker("ledger", { function: { handler: HANDLER }, maxConcurrency: 5, topicArn: here });
                    await settle();
                }),
                [],
            );
            assert.equal(resource("aws:sns/topicSubscription:TopicSubscription", "ledger-subscription").inputs.topic, here);
        });
    });
});
