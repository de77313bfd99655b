import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { CLEANUP_STATUSES, SEMAPHORE_ENV, SEMAPHORE_TABLE_KEYS } from "../../runtime/semaphore";
import { SEMAPHORE_STATE_NAMES } from "../../components/internal/semaphoreAsl";
import { ACCOUNT_ID, installMocks, json, ofType, registered, resetRegistrations, resource, settle, valueOf } from "../helpers/pulumiMocks";

type SemaphoreModule = typeof import("../../components/stepFunctionsSemaphore");
type StateMachineModule = typeof import("../../components/semaphoreStateMachine");
type SemaphoreArgs = import("../../components/stepFunctionsSemaphore").StepFunctionsSemaphoreArgs;
type StateMachineArgs = import("../../components/semaphoreStateMachine").SemaphoreStateMachineArgs;

// asl-validator ships no types and adds QueryLanguage to what it validates, so it gets a copy.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const aslValidator = require("asl-validator") as (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };

const SEMAPHORE = "serverless-concurrency:index:StepFunctionsSemaphore";
const STATE_MACHINE = "serverless-concurrency:index:SemaphoreStateMachine";
const ARN = (service: string, name: string) => `arn:aws:${service}:us-east-1:${ACCOUNT_ID}:${name}`;
const FUNCTION_ARN = (name: string, role: string) => ARN("lambda", `${name}-${role}-fn-function`);
const ROLES = ["acquire", "release", "cleanup", "sweeper"] as const;
const WORK = { StartAt: "CallErp", States: { CallErp: { Type: "Task", Resource: "arn:aws:lambda:us-east-1:123456789012:function:erp", End: true } } };

function assertValidAsl(definition: unknown): void {
    const { isValid, errorsText } = aslValidator(structuredClone(definition));
    assert.ok(isValid, errorsText("\n"));
}

/** Children of `parentType` (the last type before the child's own in its URN), as `type::name`. */
function childrenOf(parentType: string, names: string[]): string[] {
    const monitor = pulumi.runtime.getMonitor() as unknown as { getRegisteredResources(): Map<string, unknown> };
    return [...monitor.getRegisteredResources().keys()]
        .map((urn) => urn.split("::"))
        .filter(([, , typeChain, name]) => typeChain.split("$").slice(-2, -1)[0] === parentType && names.includes(name))
        .map(([, , typeChain, name]) => `${typeChain.split("$").pop()}::${name}`)
        .sort();
}

/** Every child a StepFunctionsSemaphore named `name` creates, as `type::name`, sorted. */
function semaphoreChildren(name: string): string[] {
    return [
        ...ROLES.flatMap((role) => [
            `aws:cloudwatch/logGroup:LogGroup::${name}-${role}-logs`,
            `aws:iam/role:Role::${name}-${role}-role`,
            `aws:iam/rolePolicy:RolePolicy::${name}-${role}-policy`,
            `aws:iam/rolePolicy:RolePolicy::${name}-${role}-describe`,
            `aws:lambda/function:Function::${name}-${role}-fn`,
        ]),
        `aws:cloudwatch/dashboard:Dashboard::${name}-dashboard`,
        `aws:cloudwatch/eventRule:EventRule::${name}-cleanup-rule`,
        `aws:cloudwatch/eventRule:EventRule::${name}-sweeper-schedule`,
        `aws:cloudwatch/eventTarget:EventTarget::${name}-cleanup-target`,
        `aws:cloudwatch/eventTarget:EventTarget::${name}-sweeper-target`,
        `aws:cloudwatch/metricAlarm:MetricAlarm::${name}-acquire-errors`,
        `aws:cloudwatch/metricAlarm:MetricAlarm::${name}-cleanup-errors`,
        `aws:cloudwatch/metricAlarm:MetricAlarm::${name}-dlq-not-empty`,
        `aws:cloudwatch/metricAlarm:MetricAlarm::${name}-release-errors`,
        `aws:cloudwatch/metricAlarm:MetricAlarm::${name}-sweeper-errors`,
        `aws:dynamodb/table:Table::${name}-table`,
        `aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig::${name}-cleanup-async`,
        `aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig::${name}-sweeper-async`,
        `aws:lambda/permission:Permission::${name}-cleanup-invoke`,
        `aws:lambda/permission:Permission::${name}-sweeper-invoke`,
        `aws:sqs/queue:Queue::${name}-dlq`,
        `aws:sqs/queuePolicy:QueuePolicy::${name}-dlq-policy`,
    ].sort();
}

function registeredChildren(componentType: string): string[] {
    return registered
        .filter((r) => r.type !== componentType)
        .map((r) => `${r.type}::${r.name}`)
        .sort();
}

describe("StepFunctionsSemaphore", function () {
    this.timeout(60_000);
    let m: SemaphoreModule;

    before(async () => {
        await installMocks();
        m = await import("../../components/stepFunctionsSemaphore");
    });

    beforeEach(() => resetRegistrations());

    async function createSemaphore(overrides: Partial<SemaphoreArgs> = {}, name = "erp") {
        const semaphore = new m.StepFunctionsSemaphore(name, { limit: 3, ...overrides });
        await settle();
        return semaphore;
    }

    it("creates exactly the table, four functions, cleanup rule, sweeper schedule, DLQ and alarms, all parented to the component", async () => {
        await createSemaphore();
        const expected = semaphoreChildren("erp");
        assert.deepEqual(registeredChildren(SEMAPHORE), expected);
        assert.deepEqual(childrenOf(SEMAPHORE, expected.map((c) => c.split("::")[1])), expected);
    });

    it("keys the table on the runtime's pk/sk, on demand and encrypted", async () => {
        await createSemaphore();
        assert.deepEqual(SEMAPHORE_TABLE_KEYS, { partitionKey: "pk", sortKey: "sk" });
        assert.deepEqual(resource("aws:dynamodb/table:Table", "erp-table").inputs, {
            billingMode: "PAY_PER_REQUEST",
            hashKey: "pk",
            rangeKey: "sk",
            attributes: [
                { name: "pk", type: "S" },
                { name: "sk", type: "S" },
            ],
            ttl: { attributeName: "expiresAt", enabled: true },
            pointInTimeRecovery: { enabled: true },
            serverSideEncryption: { enabled: true },
        });
    });

    it("configures every function from the environment the runtime reads, and bundles its own handler", async () => {
        await createSemaphore({ limit: 4, maxHoldSeconds: 1800 });
        for (const role of ROLES) {
            const fn = resource("aws:lambda/function:Function", `erp-${role}-fn`).inputs;
            assert.deepEqual(fn.environment.variables, {
                NODE_OPTIONS: "--enable-source-maps",
                [SEMAPHORE_ENV.tableName]: "erp-table-table",
                [SEMAPHORE_ENV.name]: "erp",
                [SEMAPHORE_ENV.limit]: "4",
                [SEMAPHORE_ENV.leaseSeconds]: "1800",
            });
            assert.deepEqual([fn.runtime, fn.handler, fn.architectures], ["nodejs22.x", "index.handler", ["arm64"]]);
            const assets = (await (fn.code as pulumi.asset.AssetArchive).assets) as Record<string, unknown>;
            const code = await (assets["index.js"] as { text: Promise<string> }).text;
            for (const other of ROLES) {
                const factory = `create${other[0].toUpperCase()}${other.slice(1)}Handler`;
                assert.equal(code.includes(factory), other === role, `${role} bundle and ${factory}`);
            }
        }
        const timeouts = ROLES.map((role) => resource("aws:lambda/function:Function", `erp-${role}-fn`).inputs.timeout);
        assert.deepEqual(timeouts, [60, 60, 60, 60]);
    });

    it("gives each function only what it calls: no * action, * resource only for task-token actions", async () => {
        await createSemaphore();
        const table = ARN("dynamodb", "erp-table-table");
        const dlq = ARN("sqs", "erp-dlq-queue");
        const logs = (role: string) => ({ Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${ARN("logs", `erp-${role}-logs-loggroup`)}:*`] });
        const items = { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"], Resource: [table] };
        const wake = { Effect: "Allow", Action: ["states:SendTaskSuccess"], Resource: ["*"] };
        const wakeOrCheck = { Effect: "Allow", Action: ["states:SendTaskSuccess", "states:SendTaskHeartbeat"], Resource: ["*"] };
        const onFailure = { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [dlq] };
        const expected: Record<(typeof ROLES)[number], unknown[]> = {
            acquire: [logs("acquire"), items, wakeOrCheck],
            release: [logs("release"), items, wake],
            cleanup: [logs("cleanup"), items, wake, onFailure],
            sweeper: [logs("sweeper"), items, wakeOrCheck, onFailure],
        };
        const taskTokenActions = ["states:SendTaskSuccess", "states:SendTaskHeartbeat"];
        for (const role of ROLES) {
            const trust = json(resource("aws:iam/role:Role", `erp-${role}-role`).inputs.assumeRolePolicy);
            assert.deepEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
            const policy = json(resource("aws:iam/rolePolicy:RolePolicy", `erp-${role}-policy`).inputs.policy);
            assert.deepEqual(policy, { Version: "2012-10-17", Statement: expected[role] }, role);
            for (const statement of policy.Statement as Array<{ Action: string[]; Resource: string[] }>) {
                for (const action of statement.Action) assert.doesNotMatch(action, /\*/);
                if (statement.Resource.includes("*")) assert.ok(statement.Action.every((a) => taskTokenActions.includes(a)), `${role}: ${statement.Action}`);
            }
            assert.deepEqual(resource("aws:iam/rolePolicy:RolePolicy", `erp-${role}-describe`).inputs.role, `erp-${role}-role-id`);
            assert.deepEqual(json(resource("aws:iam/rolePolicy:RolePolicy", `erp-${role}-describe`).inputs.policy), {
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Action: ["states:DescribeExecution"], Resource: [`arn:aws:states:us-east-1:${ACCOUNT_ID}:execution:*:*`] }],
            });
        }
    });

    it("scopes DescribeExecution and the cleanup rule to the protected state machines when they are known, their Distributed Map child executions included", async () => {
        const machines = [`arn:aws:states:us-east-1:${ACCOUNT_ID}:stateMachine:orders`, `arn:aws:states:eu-west-1:${ACCOUNT_ID}:stateMachine:refunds`];
        await createSemaphore({ protectedStateMachineArns: [machines[0], pulumi.output(machines[1])] });
        for (const role of ROLES) {
            assert.deepEqual(json(resource("aws:iam/rolePolicy:RolePolicy", `erp-${role}-describe`).inputs.policy).Statement, [
                {
                    Effect: "Allow",
                    Action: ["states:DescribeExecution"],
                    Resource: [
                        `arn:aws:states:us-east-1:${ACCOUNT_ID}:execution:orders:*`,
                        `arn:aws:states:us-east-1:${ACCOUNT_ID}:execution:orders/*`,
                        `arn:aws:states:eu-west-1:${ACCOUNT_ID}:execution:refunds:*`,
                        `arn:aws:states:eu-west-1:${ACCOUNT_ID}:execution:refunds/*`,
                    ],
                },
            ]);
        }
        assert.deepEqual(json(resource("aws:cloudwatch/eventRule:EventRule", "erp-cleanup-rule").inputs.eventPattern), {
            source: ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn: [machines[0], { prefix: `${machines[0]}/` }, machines[1], { prefix: `${machines[1]}/` }] },
        });
    });

    it("shows permits in use vs limit, waiters, wait time, grants and releases, repairs and errors on its dashboard, with the runtime's metric names", async () => {
        await createSemaphore({ limit: 7 });
        const { MetricName } = await import("../../runtime/metrics");
        for (const metricName of Object.values(m.SEMAPHORE_METRICS)) assert.equal(MetricName[metricName], metricName);
        const body = json(resource("aws:cloudwatch/dashboard:Dashboard", "erp-dashboard").inputs.dashboardBody);
        const widgets = body.widgets.map((w: { properties: { title: string; metrics: unknown[][] } }) => [w.properties.title, w.properties.metrics]);
        const sem = (metric: string, options: object) => ["ServerlessConcurrency", metric, "Worker", "erp", options];
        assert.deepEqual(widgets, [
            ["Permits in use vs limit", [sem("SemaphorePermitsInUse", { stat: "Maximum", label: "permits in use", id: "inUse" }), [{ expression: "FILL(inUse, 0) * 0 + 7", label: "limit", id: "limit" }]]],
            ["Waiters", [sem("SemaphoreWaiters", { stat: "Maximum", label: "waiters" })]],
            [
                "Wait time (ms)",
                [sem("SemaphoreWaitTime", { stat: "p50", label: "p50" }), sem("SemaphoreWaitTime", { stat: "p99", label: "p99" }), sem("SemaphoreWaitTime", { stat: "Maximum", label: "max" })],
            ],
            ["Grants and releases", [sem("SemaphoreGrants", { stat: "Sum", label: "grants" }), sem("SemaphoreReleases", { stat: "Sum", label: "releases" })]],
            [
                "Repairs: sweeper reclaims, redeliveries, dead waiters, refused events",
                [
                    sem("SemaphoreReclaims", { stat: "Sum", label: "reclaims" }),
                    sem("SemaphoreRedeliveries", { stat: "Sum", label: "redeliveries" }),
                    sem("SemaphoreDeadWaiters", { stat: "Sum", label: "dead waiters" }),
                    sem("SemaphoreRejectedEvents", { stat: "Sum", label: "refused cleanup events" }),
                ],
            ],
            ["Function errors", ROLES.map((role) => ["AWS/Lambda", "Errors", "FunctionName", `erp-${role}-fn-function`, { stat: "Sum", label: `${role} errors` }])],
        ]);
    });

    it("cleans up after FAILED, TIMED_OUT and ABORTED executions: rule, permission, target with retries and DLQ, async config", async () => {
        await createSemaphore();
        assert.deepEqual(m.CLEANUP_STATUSES, [...CLEANUP_STATUSES]);
        const rule = resource("aws:cloudwatch/eventRule:EventRule", "erp-cleanup-rule").inputs;
        assert.equal(rule.state, "ENABLED");
        assert.deepEqual(json(rule.eventPattern), {
            source: ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"] },
        });
        const ruleArn = ARN("events", "erp-cleanup-rule-eventrule");
        assert.deepEqual(resource("aws:lambda/permission:Permission", "erp-cleanup-invoke").inputs, {
            action: "lambda:InvokeFunction",
            function: "erp-cleanup-fn-function",
            principal: "events.amazonaws.com",
            sourceArn: ruleArn,
        });
        assert.deepEqual(resource("aws:cloudwatch/eventTarget:EventTarget", "erp-cleanup-target").inputs, {
            rule: "erp-cleanup-rule-eventrule",
            arn: FUNCTION_ARN("erp", "cleanup"),
            retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86400 },
            deadLetterConfig: { arn: ARN("sqs", "erp-dlq-queue") },
        });
        assert.deepEqual(resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "erp-cleanup-async").inputs, {
            functionName: "erp-cleanup-fn-function",
            maximumRetryAttempts: 2,
            maximumEventAgeInSeconds: 21600,
            destinationConfig: { onFailure: { destination: ARN("sqs", "erp-dlq-queue") } },
        });
    });

    it("schedules the sweeper every minute by default, without retries, failures to the DLQ", async () => {
        await createSemaphore();
        const schedule = resource("aws:cloudwatch/eventRule:EventRule", "erp-sweeper-schedule").inputs;
        assert.deepEqual(schedule, { scheduleExpression: "rate(1 minute)", state: "ENABLED" });
        assert.deepEqual(resource("aws:lambda/permission:Permission", "erp-sweeper-invoke").inputs, {
            action: "lambda:InvokeFunction",
            function: "erp-sweeper-fn-function",
            principal: "events.amazonaws.com",
            sourceArn: ARN("events", "erp-sweeper-schedule-eventrule"),
        });
        assert.deepEqual(resource("aws:cloudwatch/eventTarget:EventTarget", "erp-sweeper-target").inputs, {
            rule: "erp-sweeper-schedule-eventrule",
            arn: FUNCTION_ARN("erp", "sweeper"),
            retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
        });
        assert.deepEqual(resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "erp-sweeper-async").inputs, {
            functionName: "erp-sweeper-fn-function",
            maximumRetryAttempts: 0,
            maximumEventAgeInSeconds: 60,
            destinationConfig: { onFailure: { destination: ARN("sqs", "erp-dlq-queue") } },
        });
    });

    it("follows sweepIntervalMinutes in the schedule, the sweep's event age and timeout, and the default heartbeat", async () => {
        const semaphore = await createSemaphore({ sweepIntervalMinutes: 5 });
        assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "erp-sweeper-schedule").inputs.scheduleExpression, "rate(5 minutes)");
        assert.equal(resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "erp-sweeper-async").inputs.maximumEventAgeInSeconds, 300);
        assert.equal(resource("aws:lambda/function:Function", "erp-sweeper-fn").inputs.timeout, 300);
        assert.equal(await valueOf(semaphore.heartbeatSeconds), 600);
    });

    it("caps a daily sweep's event age at Lambda's 6 hours and its timeout at 15 minutes", async () => {
        const semaphore = await createSemaphore({ sweepIntervalMinutes: 1440, waitTimeoutSeconds: 200_000 });
        assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "erp-sweeper-schedule").inputs.scheduleExpression, "rate(1440 minutes)");
        assert.equal(resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "erp-sweeper-async").inputs.maximumEventAgeInSeconds, 21600);
        assert.equal(resource("aws:lambda/function:Function", "erp-sweeper-fn").inputs.timeout, 900);
        assert.equal(await valueOf(semaphore.heartbeatSeconds), 172_800);
    });

    it("admits only the cleanup rule to the DLQ and denies non-TLS access", async () => {
        await createSemaphore();
        const dlq = ARN("sqs", "erp-dlq-queue");
        assert.equal(resource("aws:sqs/queue:Queue", "erp-dlq").inputs.sqsManagedSseEnabled, true);
        assert.deepEqual(json(resource("aws:sqs/queuePolicy:QueuePolicy", "erp-dlq-policy").inputs.policy).Statement, [
            {
                Sid: "Allowevents0",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: dlq,
                Condition: { ArnEquals: { "aws:SourceArn": ARN("events", "erp-cleanup-rule-eventrule") } },
            },
            { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: dlq, Condition: { Bool: { "aws:SecureTransport": "false" } } },
        ]);
    });

    it("alarms on a non-empty DLQ and on errors of each function, notifying alarmActions", async () => {
        await createSemaphore({ alarmActions: ["arn:aws:sns:us-east-1:123456789012:oncall"] });
        const alarms = Object.fromEntries(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name, a.inputs]));
        const summary = (a: Record<string, any>) => [a.namespace, a.metricName, a.statistic, a.threshold, a.evaluationPeriods, JSON.stringify(a.dimensions)];
        assert.deepEqual(summary(alarms["erp-dlq-not-empty"]), ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 0, 1, '{"QueueName":"erp-dlq-queue"}']);
        for (const role of ROLES) {
            assert.deepEqual(summary(alarms[`erp-${role}-errors`]), ["AWS/Lambda", "Errors", "Sum", 0, 1, `{"FunctionName":"erp-${role}-fn-function"}`]);
        }
        for (const alarm of Object.values(alarms)) {
            assert.equal(alarm.comparisonOperator, "GreaterThanThreshold");
            assert.deepEqual(alarm.alarmActions, ["arn:aws:sns:us-east-1:123456789012:oncall"]);
            assert.deepEqual(alarm.okActions, ["arn:aws:sns:us-east-1:123456789012:oncall"]);
        }
    });

    it("exposes its resources: table, functions, roles, rule, schedule, DLQ, dashboard", async () => {
        const semaphore = await createSemaphore();
        const urn = (r: pulumi.Resource) => valueOf(r.urn);
        const names = await Promise.all(
            [
                semaphore.table,
                semaphore.acquireFunction,
                semaphore.releaseFunction,
                semaphore.cleanupFunction,
                semaphore.sweeperFunction,
                semaphore.acquireRole,
                semaphore.releaseRole,
                semaphore.cleanupRole,
                semaphore.sweeperRole,
                semaphore.cleanupRule,
                semaphore.sweeperSchedule,
                semaphore.deadLetterQueue,
                semaphore.dashboard,
            ].map(async (r) => (await urn(r)).split("::").pop()),
        );
        assert.deepEqual(names, ["erp-table", ...ROLES.map((r) => `erp-${r}-fn`), ...ROLES.map((r) => `erp-${r}-role`), "erp-cleanup-rule", "erp-sweeper-schedule", "erp-dlq", "erp-dashboard"]);
    });

    it("exposes the table, the function ARNs, the DLQ and the effective settings", async () => {
        const semaphore = await createSemaphore();
        assert.deepEqual(
            await Promise.all([
                valueOf(semaphore.tableName),
                valueOf(semaphore.acquireFunctionArn),
                valueOf(semaphore.releaseFunctionArn),
                valueOf(semaphore.deadLetterQueueUrl),
                valueOf(semaphore.limit),
                valueOf(semaphore.waitTimeoutSeconds),
                valueOf(semaphore.heartbeatSeconds),
            ]),
            ["erp-table-table", FUNCTION_ARN("erp", "acquire"), FUNCTION_ARN("erp", "release"), `https://sqs.us-east-1.amazonaws.com/${ACCOUNT_ID}/erp-dlq-queue`, 3, 3600, 300],
        );
    });

    describe("ASL helpers", () => {
        it("acquireState waits on a task token with the acquire ARN and the timings; releaseState ends or goes on", async () => {
            const semaphore = await createSemaphore({ waitTimeoutSeconds: 7200, heartbeatSeconds: 900 });
            const acquire = await valueOf(semaphore.acquireState("CallErp"));
            assert.deepEqual(
                [acquire.Resource, acquire.Parameters, acquire.TimeoutSeconds, acquire.HeartbeatSeconds, acquire.Next],
                [
                    "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    { FunctionName: FUNCTION_ARN("erp", "acquire"), Payload: { "token.$": "$$.Task.Token", "executionArn.$": "$$.Execution.Id" } },
                    7200,
                    900,
                    "CallErp",
                ],
            );
            const release = await valueOf(semaphore.releaseState());
            assert.deepEqual([release.Parameters, release.End], [{ FunctionName: FUNCTION_ARN("erp", "release"), Payload: { "executionArn.$": "$$.Execution.Id" } }, true]);
            assert.equal((await valueOf(semaphore.releaseState("Notify"))).Next, "Notify");
            assertValidAsl({
                StartAt: "Acquire",
                States: {
                    Acquire: acquire,
                    CallErp: { Type: "Task", Resource: WORK.States.CallErp.Resource, Next: "Release" },
                    Release: release,
                },
            });
        });

        it("protect wraps the definition, resolving Outputs inside it, into valid ASL with the semaphore's ARNs", async () => {
            const semaphore = await createSemaphore();
            const erpArn = pulumi.output("arn:aws:lambda:us-east-1:123456789012:function:erp");
            const definition = { ...WORK, States: { CallErp: { ...WORK.States.CallErp, Resource: erpArn } } };
            const protectedDefinition = JSON.parse(await valueOf(semaphore.protect(definition)));
            assertValidAsl(protectedDefinition);
            const names = SEMAPHORE_STATE_NAMES;
            const states = protectedDefinition.States;
            assert.equal(protectedDefinition.StartAt, names.acquire);
            assert.equal(states[names.acquire].Parameters.FunctionName, FUNCTION_ARN("erp", "acquire"));
            assert.equal(states[names.release].Parameters.FunctionName, FUNCTION_ARN("erp", "release"));
            assert.equal(states[names.releaseAfterError].Parameters.FunctionName, FUNCTION_ARN("erp", "release"));
            assert.deepEqual(states[names.work].Branches, [WORK]);
        });

        it("accepts a definition that is an Output", async () => {
            const semaphore = await createSemaphore();
            const protectedDefinition = JSON.parse(await valueOf(semaphore.protect(pulumi.output(WORK))));
            assert.deepEqual(protectedDefinition.States[SEMAPHORE_STATE_NAMES.work].Branches, [WORK]);
        });

        it("throws at the call for a bad state name or definition, naming the method, the argument and the value", async () => {
            const semaphore = await createSemaphore();
            assert.throws(() => semaphore.acquireState(""), { message: 'StepFunctionsSemaphore.acquireState: next must be a state name; received "".' });
            assert.throws(() => semaphore.releaseState(""), { message: 'StepFunctionsSemaphore.releaseState: next must be a state name; received "".' });
            assert.throws(() => semaphore.protect({ StartAt: "CallErp" }), {
                message: "StepFunctionsSemaphore.protect: definition.States must be a non-empty object of states; received undefined.",
            });
            assert.throws(() => semaphore.protect({ StartAt: "AcquireSemaphore", States: { AcquireSemaphore: { Type: "Succeed" } } }), {
                message:
                    "StepFunctionsSemaphore.protect: definition.States must not use the semaphore's state names " +
                    '(AcquireSemaphore, SemaphoreProtectedWork, ReleaseSemaphore, ReleaseSemaphoreAfterError, SemaphoreProtectedFailure); received a state named "AcquireSemaphore".',
            });
        });
    });

    describe("validation", () => {
        const LABEL = 'StepFunctionsSemaphore "erp"';
        const cases: Array<[string, Partial<SemaphoreArgs>, string]> = [
            ["limit 0", { limit: 0 }, "limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 0."],
            [
                "a protected state machine ARN that is not one",
                { protectedStateMachineArns: ["arn:aws:lambda:us-east-1:123456789012:function:erp"] },
                'protectedStateMachineArns must hold state machine ARNs (arn:<partition>:states:<region>:<account>:stateMachine:<name>); received "arn:aws:lambda:us-east-1:123456789012:function:erp".',
            ],
            ["limit 1.5", { limit: 1.5 }, "limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 1.5."],
            ["limit 10001", { limit: 10001 }, "limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 10001."],
            ["maxHoldSeconds 0", { maxHoldSeconds: 0 }, "maxHoldSeconds must be an integer from 1 to 31536000; received 0."],
            ["waitTimeoutSeconds 1", { waitTimeoutSeconds: 1 }, "waitTimeoutSeconds must be an integer from 2 to 31536000; received 1."],
            ["sweepIntervalMinutes 0", { sweepIntervalMinutes: 0 }, "sweepIntervalMinutes must be an integer from 1 to 1440; received 0."],
            ["sweepIntervalMinutes 1441", { sweepIntervalMinutes: 1441 }, "sweepIntervalMinutes must be an integer from 1 to 1440; received 1441."],
            [
                "a wait too short for a heartbeat between sweeps",
                { waitTimeoutSeconds: 120 },
                "waitTimeoutSeconds must be more than 120 (two sweep intervals at sweepIntervalMinutes 1: the shortest heartbeatSeconds, which must stay below waitTimeoutSeconds); received 120.",
            ],
            [
                "a heartbeat shorter than two sweeps",
                { heartbeatSeconds: 60 },
                "heartbeatSeconds must be an integer from 120 (two sweep intervals at sweepIntervalMinutes 1: the sweeper sends the heartbeats and one sweep may be late) to 3599 (below waitTimeoutSeconds); received 60.",
            ],
            [
                "a heartbeat not below the wait",
                { waitTimeoutSeconds: 600, heartbeatSeconds: 600 },
                "heartbeatSeconds must be an integer from 120 (two sweep intervals at sweepIntervalMinutes 1: the sweeper sends the heartbeats and one sweep may be late) to 599 (below waitTimeoutSeconds); received 600.",
            ],
            [
                "a sweep interval the heartbeat does not cover",
                { sweepIntervalMinutes: 10, heartbeatSeconds: 900 },
                "heartbeatSeconds must be an integer from 1200 (two sweep intervals at sweepIntervalMinutes 10: the sweeper sends the heartbeats and one sweep may be late) to 3599 (below waitTimeoutSeconds); received 900.",
            ],
        ];
        for (const [title, overrides, message] of cases) {
            it(`rejects ${title}`, () => {
                assert.throws(() => new m.StepFunctionsSemaphore("erp", { limit: 3, ...overrides }), { message: `${LABEL}: ${message}` });
            });
        }

        it("lists every problem in one error", () => {
            assert.throws(() => new m.StepFunctionsSemaphore("erp", { limit: 0, maxHoldSeconds: 0 }), {
                message: [
                    `${LABEL}: limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 0.`,
                    `${LABEL}: maxHoldSeconds must be an integer from 1 to 31536000; received 0.`,
                ].join("\n"),
            });
        });

        it("fits the default heartbeat below a short wait, and accepts the bounds", async () => {
            assert.equal(await valueOf((await createSemaphore({ waitTimeoutSeconds: 200 })).heartbeatSeconds), 199);
            await createSemaphore({ limit: 1000, waitTimeoutSeconds: 121, heartbeatSeconds: 120, maxHoldSeconds: 1 });
        });
    });
});

describe("SemaphoreStateMachine", function () {
    this.timeout(60_000);
    let m: StateMachineModule;
    const ERP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:erp";
    const userStatement = { actions: ["lambda:InvokeFunction"], resources: [ERP_ARN] };

    before(async () => {
        await installMocks();
        m = await import("../../components/semaphoreStateMachine");
    });

    beforeEach(() => resetRegistrations());

    async function createMachine(overrides: Partial<StateMachineArgs> = {}) {
        const machine = new m.SemaphoreStateMachine("orders", { limit: 2, definition: WORK, policyStatements: [userStatement], ...overrides });
        await settle();
        return machine;
    }

    it("creates its semaphore, log group, role, policy and a Standard state machine, all parented to the component", async () => {
        await createMachine();
        const own = [
            "aws:cloudwatch/logGroup:LogGroup::orders-logs",
            "aws:iam/role:Role::orders-role",
            "aws:iam/rolePolicy:RolePolicy::orders-policy",
            "aws:sfn/stateMachine:StateMachine::orders-state-machine",
            `${SEMAPHORE}::orders-semaphore`,
        ];
        assert.deepEqual(childrenOf(STATE_MACHINE, own.map((c) => c.split("::")[1])), own);
        const expectedSemaphoreChildren = semaphoreChildren("orders-semaphore");
        assert.deepEqual(registeredChildren(STATE_MACHINE), [...own, ...expectedSemaphoreChildren].sort());
        assert.deepEqual(childrenOf(SEMAPHORE, expectedSemaphoreChildren.map((c) => c.split("::")[1])), expectedSemaphoreChildren);
    });

    it("runs the protected definition as a Standard workflow logging errors to its own vended-logs group", async () => {
        await createMachine();
        const logGroup = resource("aws:cloudwatch/logGroup:LogGroup", "orders-logs").inputs;
        assert.deepEqual(logGroup, { namePrefix: "/aws/vendedlogs/states/orders-", retentionInDays: 30 });
        const machine = resource("aws:sfn/stateMachine:StateMachine", "orders-state-machine").inputs;
        assert.equal(machine.type, "STANDARD");
        assert.equal(machine.roleArn, ARN("iam", "orders-role-role"));
        assert.deepEqual(machine.loggingConfiguration, { level: "ERROR", includeExecutionData: false, logDestination: `${ARN("logs", "orders-logs-loggroup")}:*` });
        const definition = JSON.parse(machine.definition);
        assertValidAsl(definition);
        const names = SEMAPHORE_STATE_NAMES;
        assert.equal(definition.States[names.acquire].Parameters.FunctionName, FUNCTION_ARN("orders-semaphore", "acquire"));
        assert.equal(definition.States[names.release].Parameters.FunctionName, FUNCTION_ARN("orders-semaphore", "release"));
        assert.equal(definition.States[names.releaseAfterError].Parameters.FunctionName, FUNCTION_ARN("orders-semaphore", "release"));
        assert.deepEqual(definition.States[names.work].Branches, [WORK]);
        assert.deepEqual(
            [definition.States[names.acquire].TimeoutSeconds, definition.States[names.acquire].HeartbeatSeconds],
            [3600, 300],
        );
    });

    it("trusts Step Functions for the name or prefix that transform.stateMachine sets, so the renamed machine can assume its role", async () => {
        const sourceArn = () => json(resource("aws:iam/role:Role", "orders-role").inputs.assumeRolePolicy).Statement[0].Condition.ArnLike["aws:SourceArn"];
        await createMachine({ transform: { stateMachine: { name: pulumi.output("orders-flow") } } });
        assert.equal(resource("aws:sfn/stateMachine:StateMachine", "orders-state-machine").inputs.name, "orders-flow");
        assert.equal(sourceArn(), `arn:aws:states:us-east-1:${ACCOUNT_ID}:stateMachine:orders-flow`);
        resetRegistrations();
        await createMachine({ transform: { stateMachine: { namePrefix: "orders-flow-" } } });
        assert.equal(sourceArn(), `arn:aws:states:us-east-1:${ACCOUNT_ID}:stateMachine:orders-flow-*`);
    });

    it("lets the role invoke only the acquire and release functions, deliver logs, and do what policyStatements allow", async () => {
        await createMachine();
        const trust = json(resource("aws:iam/role:Role", "orders-role").inputs.assumeRolePolicy);
        assert.deepEqual(trust, {
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: { Service: "states.amazonaws.com" },
                    Action: "sts:AssumeRole",
                    Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT_ID }, ArnLike: { "aws:SourceArn": `arn:aws:states:us-east-1:${ACCOUNT_ID}:stateMachine:orders-state-machine-*` } },
                },
            ],
        });
        assert.deepEqual(json(resource("aws:iam/rolePolicy:RolePolicy", "orders-policy").inputs.policy), {
            Version: "2012-10-17",
            Statement: [
                { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [FUNCTION_ARN("orders-semaphore", "acquire"), FUNCTION_ARN("orders-semaphore", "release")] },
                {
                    Effect: "Allow",
                    Action: [
                        "logs:CreateLogDelivery",
                        "logs:GetLogDelivery",
                        "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery",
                        "logs:ListLogDeliveries",
                        "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups",
                    ],
                    Resource: ["*"],
                },
                { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [ERP_ARN] },
            ],
        });
    });

    it("protects only its own machine: the cleanup rule and DescribeExecution name it", async () => {
        await createMachine();
        const machineArn = `arn:aws:states:us-east-1:${ACCOUNT_ID}:stateMachine:orders-state-machine-statemachine`;
        assert.deepEqual(json(resource("aws:cloudwatch/eventRule:EventRule", "orders-semaphore-cleanup-rule").inputs.eventPattern).detail, {
            status: ["FAILED", "TIMED_OUT", "ABORTED"],
            stateMachineArn: [machineArn, { prefix: `${machineArn}/` }],
        });
        for (const role of ROLES) {
            assert.deepEqual(json(resource("aws:iam/rolePolicy:RolePolicy", `orders-semaphore-${role}-describe`).inputs.policy).Statement, [
                {
                    Effect: "Allow",
                    Action: ["states:DescribeExecution"],
                    Resource: [
                        `arn:aws:states:us-east-1:${ACCOUNT_ID}:execution:orders-state-machine-statemachine:*`,
                        `arn:aws:states:us-east-1:${ACCOUNT_ID}:execution:orders-state-machine-statemachine/*`,
                    ],
                },
            ]);
        }
    });

    it("passes the limit and timings to its semaphore and exposes its outputs", async () => {
        const machine = await createMachine({ limit: 5, maxHoldSeconds: 600, sweepIntervalMinutes: 2, alarmActions: ["arn:aws:sns:us-east-1:123456789012:oncall"] });
        const env = resource("aws:lambda/function:Function", "orders-semaphore-acquire-fn").inputs.environment.variables;
        assert.deepEqual([env.SEMAPHORE_NAME, env.SEMAPHORE_LIMIT, env.SEMAPHORE_LEASE_SECONDS], ["orders-semaphore", "5", "600"]);
        assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "orders-semaphore-sweeper-schedule").inputs.scheduleExpression, "rate(2 minutes)");
        assert.deepEqual(resource("aws:cloudwatch/metricAlarm:MetricAlarm", "orders-semaphore-dlq-not-empty").inputs.alarmActions, ["arn:aws:sns:us-east-1:123456789012:oncall"]);
        assert.deepEqual(
            await Promise.all([valueOf(machine.stateMachineArn), valueOf(machine.stateMachineName), valueOf(machine.logGroupName), valueOf(machine.semaphoreTableName), valueOf(machine.limit)]),
            [ARN("sfn", "orders-state-machine-statemachine"), "orders-state-machine-statemachine", "orders-logs-loggroup", "orders-semaphore-table-table", 5],
        );
    });

    describe("validation", () => {
        const LABEL = 'SemaphoreStateMachine "orders"';
        const cases: Array<[string, Partial<StateMachineArgs>, string]> = [
            [
                "an EXPRESS workflow",
                { type: "EXPRESS" },
                'type must be STANDARD: the semaphore waits on a task token (.waitForTaskToken), which only Standard workflows support; received "EXPRESS".',
            ],
            ["an unknown type", { type: "SYNC" as never }, 'type must be one of STANDARD, EXPRESS; received "SYNC".'],
            ["no definition", { definition: undefined as never }, "definition must be an object with StartAt and States; received undefined."],
            ["no StartAt", { definition: { States: WORK.States } }, "definition.StartAt must be the name of one of definition.States (CallErp); received undefined."],
            ["no States", { definition: { StartAt: "CallErp" } }, "definition.States must be a non-empty object of states; received undefined."],
            [
                "a state named like the semaphore's",
                { definition: { StartAt: "ReleaseSemaphore", States: { ReleaseSemaphore: { Type: "Succeed" } } } },
                "definition.States must not use the semaphore's state names (AcquireSemaphore, SemaphoreProtectedWork, ReleaseSemaphore, ReleaseSemaphoreAfterError, SemaphoreProtectedFailure); " +
                    'received a state named "ReleaseSemaphore".',
            ],
            ["a wildcard action", { policyStatements: [{ actions: ["lambda:*"], resources: [ERP_ARN] }] }, 'policyStatements: action "lambda:*" uses a wildcard; name each action.'],
            ["a statement without resources", { policyStatements: [{ actions: ["lambda:InvokeFunction"], resources: [] }] }, "policyStatements: the statement for lambda:InvokeFunction names no resource."],
            [
                "a lower-case effect",
                { policyStatements: [{ effect: "deny", actions: ["lambda:InvokeFunction"], resources: [ERP_ARN] }] },
                'policyStatements: effect must be "Allow" or "Deny" (IAM is case-sensitive here); received "deny".',
            ],
            ["limit 0", { limit: 0 }, "limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 0."],
        ];
        for (const [title, overrides, message] of cases) {
            it(`rejects ${title}`, () => {
                assert.throws(() => new m.SemaphoreStateMachine("orders", { limit: 2, definition: WORK, ...overrides }), { message: `${LABEL}: ${message}` });
            });
        }

        it("accepts STANDARD and a definition known only at deploy time", async () => {
            await createMachine({ type: "STANDARD", definition: pulumi.output(WORK) });
            assertValidAsl(JSON.parse(resource("aws:sfn/stateMachine:StateMachine", "orders-state-machine").inputs.definition));
        });
    });
});
