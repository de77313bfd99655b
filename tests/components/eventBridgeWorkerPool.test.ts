import * as assert from "node:assert/strict";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ACCOUNT_ID, json, ofType, registered, resource, settle, valueOf, loadComponents, LoadedComponents, resetComponentState } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];
type Budget = LoadedComponents["budget"];

const HANDLER = "tests/fixtures/handlers/orders.handle";
const LABEL = 'EventBridgeWorkerPool "orders"';

describe("EventBridgeWorkerPool", function () {
    this.timeout(60_000);
    let c: Components;
    let budget: Budget;

    before(async () => ({ c, budget } = await loadComponents()));
    beforeEach(() => resetComponentState({ c, budget }));

    async function createPool(overrides: Partial<import("../../components").EventBridgeWorkerPoolArgs> = {}, name = "orders", opts?: pulumi.ComponentResourceOptions) {
        const pool = new c.EventBridgeWorkerPool(
            name,
            { function: { handler: HANDLER }, eventPattern: { source: ["shop.orders"] }, reservedConcurrency: 10, ...overrides },
            opts,
        );
        await settle();
        return pool;
    }

    it("creates exactly the pool's children, all parented to the component", async () => {
        await createPool();
        const children = registered.filter((r) => r.type !== "serverless-concurrency:index:EventBridgeWorkerPool");
        assert.deepEqual(children.map((r) => `${r.type}::${r.name}`).sort(), [
            "aws:cloudwatch/dashboard:Dashboard::orders-dashboard",
            "aws:cloudwatch/eventRule:EventRule::orders-rule",
            "aws:cloudwatch/eventTarget:EventTarget::orders-target",
            "aws:cloudwatch/logGroup:LogGroup::orders-logs",
            "aws:cloudwatch/metricAlarm:MetricAlarm::orders-async-event-age",
            "aws:cloudwatch/metricAlarm:MetricAlarm::orders-async-events-dropped",
            "aws:cloudwatch/metricAlarm:MetricAlarm::orders-dlq-not-empty",
            "aws:cloudwatch/metricAlarm:MetricAlarm::orders-errors",
            "aws:cloudwatch/metricAlarm:MetricAlarm::orders-throttles",
            "aws:dynamodb/table:Table::orders-idempotency",
            "aws:iam/role:Role::orders-role",
            "aws:iam/rolePolicy:RolePolicy::orders-policy",
            "aws:lambda/function:Function::orders-fn",
            "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig::orders-async",
            "aws:lambda/permission:Permission::orders-invoke",
            "aws:sqs/queue:Queue::orders-dlq",
            "aws:sqs/queuePolicy:QueuePolicy::orders-dlq-policy",
        ]);
        const pool = resource("serverless-concurrency:index:EventBridgeWorkerPool", "orders");
        assert.ok(pool);
    });

    it("reserves the pool size on the function and bundles the wrapped handler", async () => {
        const pool = await createPool();
        const fn = resource("aws:lambda/function:Function", "orders-fn").inputs;
        assert.equal(fn.reservedConcurrentExecutions, 10);
        assert.equal(fn.runtime, "nodejs22.x");
        assert.equal(fn.handler, "index.handler");
        assert.deepEqual(fn.architectures, ["arm64"]);
        assert.equal(fn.timeout, 30);
        assert.equal(fn.memorySize, 256);
        assert.deepEqual(fn.loggingConfig, { logFormat: "JSON", logGroup: "orders-logs-loggroup" });
        assert.deepEqual(fn.environment.variables, {
            NODE_OPTIONS: "--enable-source-maps",
            WORKER_NAME: "orders",
            IDEMPOTENCY_TABLE_NAME: "orders-idempotency-table",
            IDEMPOTENCY_EXPIRY_SECONDS: "108000",
            IDEMPOTENCY_LEASE_SECONDS: "90",
        });
        const archive = fn.code as pulumi.asset.AssetArchive;
        const assets = (await archive.assets) as Record<string, pulumi.asset.StringAsset>;
        assert.deepEqual(Object.keys(assets).sort(), ["index.js", "index.js.map"]);
        const code = await (assets["index.js"] as unknown as { text: Promise<string> }).text;
        assert.match(code, /eventBridgeWorker/);
        assert.match(code, /orderId/);
        assert.equal(await valueOf(pool.reservedConcurrency), 10);
        assert.equal(await valueOf(pool.maxDownstreamConcurrency), 10);
    });

    it("configures async invocation: retries, event age and the DLQ as on-failure destination", async () => {
        await createPool({ maxRetryAttempts: 1, maxEventAgeSeconds: 3600 });
        const config = resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "orders-async").inputs;
        assert.deepEqual(config, {
            functionName: "orders-fn-function",
            maximumRetryAttempts: 1,
            maximumEventAgeInSeconds: 3600,
            destinationConfig: { onFailure: { destination: `arn:aws:sqs:us-east-1:${ACCOUNT_ID}:orders-dlq-queue` } },
        });
    });

    it("defaults async retries to 2 and event age to 6 hours", async () => {
        await createPool();
        const config = resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "orders-async").inputs;
        assert.equal(config.maximumRetryAttempts, 2);
        assert.equal(config.maximumEventAgeInSeconds, 21600);
    });

    it("gives the rule target a retry policy and the DLQ, and lets only that rule invoke", async () => {
        await createPool({ eventBusName: "shop", targetMaxRetryAttempts: 20, targetMaxEventAgeSeconds: 7200 });
        const rule = resource("aws:cloudwatch/eventRule:EventRule", "orders-rule").inputs;
        assert.equal(rule.eventBusName, "shop");
        assert.deepEqual(json(rule.eventPattern), { source: ["shop.orders"] });
        const target = resource("aws:cloudwatch/eventTarget:EventTarget", "orders-target").inputs;
        assert.deepEqual(target, {
            rule: "orders-rule-eventrule",
            eventBusName: "shop",
            arn: `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:orders-fn-function`,
            retryPolicy: { maximumRetryAttempts: 20, maximumEventAgeInSeconds: 7200 },
            deadLetterConfig: { arn: `arn:aws:sqs:us-east-1:${ACCOUNT_ID}:orders-dlq-queue` },
        });
        const permission = resource("aws:lambda/permission:Permission", "orders-invoke").inputs;
        assert.deepEqual(permission, {
            action: "lambda:InvokeFunction",
            function: "orders-fn-function",
            principal: "events.amazonaws.com",
            sourceArn: `arn:aws:events:us-east-1:${ACCOUNT_ID}:orders-rule-eventrule`,
        });
    });

    it("scopes the DLQ policy to the rule ARN and denies non-TLS access", async () => {
        await createPool();
        const dlqArn = `arn:aws:sqs:us-east-1:${ACCOUNT_ID}:orders-dlq-queue`;
        const policy = json(resource("aws:sqs/queuePolicy:QueuePolicy", "orders-dlq-policy").inputs.policy);
        assert.deepEqual(policy.Statement, [
            {
                Sid: "Allowevents0",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: dlqArn,
                Condition: { ArnEquals: { "aws:SourceArn": `arn:aws:events:us-east-1:${ACCOUNT_ID}:orders-rule-eventrule` } },
            },
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "sqs:*",
                Resource: dlqArn,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
        ]);
    });

    it("encrypts the queue and the table; the table is on demand with TTL and point-in-time recovery", async () => {
        await createPool();
        const queue = resource("aws:sqs/queue:Queue", "orders-dlq").inputs;
        assert.equal(queue.sqsManagedSseEnabled, true);
        assert.equal(queue.messageRetentionSeconds, 1209600);
        const table = resource("aws:dynamodb/table:Table", "orders-idempotency").inputs;
        assert.deepEqual(table, {
            billingMode: "PAY_PER_REQUEST",
            hashKey: "id",
            attributes: [{ name: "id", type: "S" }],
            ttl: { attributeName: "expiresAt", enabled: true },
            pointInTimeRecovery: { enabled: true },
            serverSideEncryption: { enabled: true },
        });
    });

    it("gives the function a least-privilege role: its log group, its table, its DLQ", async () => {
        await createPool({ function: { handler: HANDLER, policyStatements: [{ actions: ["secretsmanager:GetSecretValue"], resources: ["arn:aws:secretsmanager:us-east-1:123456789012:secret:erp"] }] } });
        const trust = json(resource("aws:iam/role:Role", "orders-role").inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
        const policy = json(resource("aws:iam/rolePolicy:RolePolicy", "orders-policy").inputs.policy);
        assert.deepEqual(policy, {
            Version: "2012-10-17",
            Statement: [
                { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`arn:aws:logs:us-east-1:${ACCOUNT_ID}:orders-logs-loggroup:*`] },
                {
                    Effect: "Allow",
                    Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    Resource: [`arn:aws:dynamodb:us-east-1:${ACCOUNT_ID}:orders-idempotency-table`],
                },
                { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [`arn:aws:sqs:us-east-1:${ACCOUNT_ID}:orders-dlq-queue`] },
                { Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: ["arn:aws:secretsmanager:us-east-1:123456789012:secret:erp"] },
            ],
        });
        for (const statement of policy.Statement) {
            for (const action of statement.Action) assert.doesNotMatch(action, /\*/);
            for (const arn of statement.Resource) assert.notEqual(arn, "*");
        }
    });

    it("adds the VPC network-interface permissions only for a function in a VPC", async () => {
        await createPool({ function: { handler: HANDLER, vpc: { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] } } });
        const fn = resource("aws:lambda/function:Function", "orders-fn").inputs;
        assert.deepEqual(fn.vpcConfig, { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] });
        const policy = json(resource("aws:iam/rolePolicy:RolePolicy", "orders-policy").inputs.policy);
        const network = policy.Statement.find((s: { Action: string[] }) => s.Action.includes("ec2:CreateNetworkInterface"));
        assert.deepEqual(network.Resource, ["*"], "AWS supports no narrower resource for these actions");
    });

    it("alarms on a non-empty DLQ, throttles, async event age, dropped events and errors", async () => {
        await createPool({ alarmActions: ["arn:aws:sns:us-east-1:123456789012:oncall"] });
        const alarms = Object.fromEntries(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name, a.inputs]));
        const summary = (a: Record<string, any>) => [a.namespace, a.metricName, a.statistic, a.threshold, a.evaluationPeriods, JSON.stringify(a.dimensions)];
        assert.deepEqual(summary(alarms["orders-dlq-not-empty"]), ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 0, 1, '{"QueueName":"orders-dlq-queue"}']);
        assert.deepEqual(summary(alarms["orders-throttles"]), ["AWS/Lambda", "Throttles", "Sum", 0, 3, '{"FunctionName":"orders-fn-function"}']);
        assert.deepEqual(summary(alarms["orders-async-event-age"]), ["AWS/Lambda", "AsyncEventAge", "Maximum", 10_800_000, 1, '{"FunctionName":"orders-fn-function"}']);
        assert.deepEqual(summary(alarms["orders-async-events-dropped"]), ["AWS/Lambda", "AsyncEventsDropped", "Sum", 0, 1, '{"FunctionName":"orders-fn-function"}']);
        assert.deepEqual(summary(alarms["orders-errors"]), ["AWS/Lambda", "Errors", "Sum", 0, 1, '{"FunctionName":"orders-fn-function"}']);
        for (const alarm of Object.values(alarms)) {
            assert.equal(alarm.comparisonOperator, "GreaterThanThreshold");
            assert.deepEqual(alarm.alarmActions, ["arn:aws:sns:us-east-1:123456789012:oncall"]);
            assert.equal(alarm.treatMissingData, "notBreaching");
        }
    });

    it("builds a dashboard with concurrency, throughput, downstream latency and DLQ widgets", async () => {
        await createPool();
        const dashboard = resource("aws:cloudwatch/dashboard:Dashboard", "orders-dashboard").inputs;
        assert.equal(dashboard.dashboardName, "project-test-orders");
        const body = json(dashboard.dashboardBody);
        assert.deepEqual(
            body.widgets.map((w: { properties: { title: string } }) => w.properties.title),
            [
                "Concurrency in use (pool size 10)",
                "Throughput, errors and throttles",
                "Downstream latency (p50, p99) and errors",
                "Async event age and dead-letter queue",
                "Duplicates skipped and in flight",
            ],
        );
        assert.deepEqual(body.widgets[0].properties.metrics, [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", "orders-fn-function", { stat: "Maximum" }]]);
        assert.equal(body.widgets[0].properties.region, "us-east-1");
    });

    it("uses the handler as-is with wrap: false", async () => {
        await createPool({ function: { handler: "tests/fixtures/handlers/orders.rawHandler", wrap: false } });
        const archive = resource("aws:lambda/function:Function", "orders-fn").inputs.code as pulumi.asset.AssetArchive;
        const assets = (await archive.assets) as Record<string, unknown>;
        const code = await (assets["index.js"] as { text: Promise<string> }).text;
        assert.doesNotMatch(code, /eventBridgeWorker/);
        assert.match(code, /received: event/);
    });

    describe("validation", () => {
        const cases: Array<[string, Partial<import("../../components").EventBridgeWorkerPoolArgs>, string]> = [
            ["reservedConcurrency 0", { reservedConcurrency: 0 }, "reservedConcurrency must be an integer from 1 to 1000000; received 0."],
            ["maxRetryAttempts 3", { maxRetryAttempts: 3 }, "maxRetryAttempts must be an integer from 0 to 2; received 3."],
            ["maxEventAgeSeconds 59", { maxEventAgeSeconds: 59 }, "maxEventAgeSeconds must be an integer from 60 to 21600; received 59."],
            ["maxEventAgeSeconds 21601", { maxEventAgeSeconds: 21601 }, "maxEventAgeSeconds must be an integer from 60 to 21600; received 21601."],
            ["targetMaxRetryAttempts 186", { targetMaxRetryAttempts: 186 }, "targetMaxRetryAttempts must be an integer from 0 to 185; received 186."],
            ["targetMaxEventAgeSeconds 86401", { targetMaxEventAgeSeconds: 86401 }, "targetMaxEventAgeSeconds must be an integer from 60 to 86400; received 86401."],
            ["timeout 901", { function: { handler: HANDLER, timeoutSeconds: 901 } }, "function.timeoutSeconds must be an integer from 1 to 900; received 901."],
            ["memory 64", { function: { handler: HANDLER, memorySize: 64 } }, "function.memorySize must be an integer from 128 to 10240; received 64."],
            ["architecture", { function: { handler: HANDLER, architecture: "mips" as never } }, 'function.architecture must be one of arm64, x86_64; received "mips".'],
            ["log retention 10", { function: { handler: HANDLER, logRetentionDays: 10 } }, "function.logRetentionDays must be one of 1, 3, 5, 7, 14, 30,"],
            ["wildcard action", { function: { handler: HANDLER, policyStatements: [{ actions: ["s3:*"], resources: ["arn:aws:s3:::b"] }] } }, 'function.policyStatements: action "s3:*" uses a wildcard; name each action.'],
            [
                "an effect IAM does not know",
                { function: { handler: HANDLER, policyStatements: [{ effect: "Permit", actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/*"] }] } },
                'function.policyStatements: effect must be "Allow" or "Deny" (IAM is case-sensitive here); received "Permit".',
            ],
            ["empty pattern", { eventPattern: {} }, "eventPattern must be a non-empty object such as { source: [\"shop.orders\"] }; received {}."],
            ["array pattern", { eventPattern: ["x"] as never }, 'eventPattern must be a non-empty object such as { source: ["shop.orders"] }; received ["x"].'],
            [
                "expiry shorter than the window",
                { idempotencyExpirySeconds: 3600 },
                "idempotencyExpirySeconds must be at least the redelivery window of 108000 s (EventBridge retries for targetMaxEventAgeSeconds 86400 s, then Lambda retries for maxEventAgeSeconds 21600 s), or a late duplicate runs again; received 3600.",
            ],
            ["no handler", { function: {} as never }, 'function.handler is required: "path/module.exportName".'],
            ["a negative throttle threshold", { throttleAlarmThreshold: -1 }, "throttleAlarmThreshold must be an integer from 0 to 1000000; received -1."],
            ["an expiry of 0", { idempotencyExpirySeconds: 0 }, "idempotencyExpirySeconds must be an integer from 1 to 31536000; received 0."],
            ["a lease above a day", { idempotencyLeaseSeconds: 86_401 }, "idempotencyLeaseSeconds must be an integer from 1 to 86400; received 86401."],
            ["lease below timeout", { idempotencyLeaseSeconds: 10 }, "idempotencyLeaseSeconds must be at least function.timeoutSeconds (30), or a running invocation could be taken over by a duplicate; received 10."],
        ];
        for (const [title, overrides, message] of cases) {
            it(`rejects ${title}`, () => {
                assert.throws(
                    () => new c.EventBridgeWorkerPool("orders", { function: { handler: HANDLER }, eventPattern: { source: ["a"] }, reservedConcurrency: 10, ...overrides }),
                    (e: Error) => e.message.includes(`${LABEL}: ${message}`),
                );
            });
        }

        it("accepts an expiry that covers a shortened window", () => {
            new c.EventBridgeWorkerPool("orders", {
                function: { handler: HANDLER },
                eventPattern: { source: ["a"] },
                reservedConcurrency: 10,
                targetMaxEventAgeSeconds: 600,
                maxEventAgeSeconds: 600,
                idempotencyExpirySeconds: 1200,
            });
        });

        it("rejects a malformed handler string", () => {
            assert.throws(
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: "handler-without-export" }, eventPattern: { source: ["a"] }, reservedConcurrency: 1 }),
                { message: `${LABEL}: function.handler must be "path/module.exportName"; received "handler-without-export".` },
            );
        });

        it("rejects a missing handler file, naming the path", () => {
            assert.throws(
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: "handlers/missing.handle" }, eventPattern: { source: ["a"] }, reservedConcurrency: 1 }),
                (e: Error) => e.message.startsWith(`${LABEL}: function.handler module "handlers/missing" not found: looked for ${process.cwd()}/handlers/missing`),
            );
        });

        it("rejects a missing export, naming it and the file", () => {
            assert.throws(
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: "tests/fixtures/handlers/orders.nothing" }, eventPattern: { source: ["a"] }, reservedConcurrency: 1 }),
                { message: `${LABEL}: function.handler export "nothing" not found in ${process.cwd()}/tests/fixtures/handlers/orders.ts.` },
            );
        });
    });

    describe("concurrency budget", () => {
        it("fails 500 + 450 under one provider with the default limit of 1000, listing each reservation", async () => {
            await createPool({ reservedConcurrency: 500 }, "billing");
            assert.throws(
                () => new c.EventBridgeWorkerPool("orders", { function: { handler: HANDLER }, eventPattern: { source: ["a"] }, reservedConcurrency: 450 }),
                {
                    message: [
                        "Concurrency budget exceeded for the default AWS provider: reservations total 950, but an account limit of 1000 (Lambda default quota) leaves only 900 reservable, because AWS keeps 100 unreserved.",
                        '  - EventBridgeWorkerPool "billing": 500',
                        '  - EventBridgeWorkerPool "orders": 450 (this component)',
                        "Ways out: lower the reserved concurrency; raise the account's Lambda concurrent-executions quota and set serverless-concurrency:accountConcurrencyLimit to it; or move the workload to its own account (IsolatedWorkloadAccount).",
                    ].join("\n"),
                },
            );
        });

        it("accepts 500 + 450 when the pools deploy with different providers", async () => {
            const a = new aws.Provider("account-a", { region: "us-east-1" });
            const b = new aws.Provider("account-b", { region: "us-east-1" });
            await createPool({ reservedConcurrency: 500 }, "billing", { providers: [a] });
            await createPool({ reservedConcurrency: 450 }, "orders", { provider: b });
            const budgets = budget.concurrencyBudgets();
            assert.deepEqual(
                budgets.map((x) => [x.account, x.limit, x.unreserved]),
                [
                    ['provider "account-a"', 1000, 500],
                    ['provider "account-b"', 1000, 550],
                ],
            );
            const fn = resource("aws:lambda/function:Function", "orders-fn");
            assert.match(fn.provider ?? "", /account-b/);
        });

        it("accepts exactly 900 reserved of 1000", async () => {
            await createPool({ reservedConcurrency: 900 });
            assert.equal(budget.concurrencyBudgets()[0].unreserved, 100);
        });
    });
});
