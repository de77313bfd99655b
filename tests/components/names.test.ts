import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ConfigurationError } from "../../contracts/errors";
import { MAX_COMPONENT_NAME_LENGTH, NamedComponent, plannedNames } from "../../components/internal/componentNames";
import { autonameLength, longestFittingName, physicalNameLength, physicalNameLimit, PHYSICAL_NAME_LIMITS } from "../../components/internal/naming";
import { loadComponents, LoadedComponents, registered, resetComponentState, settle } from "../helpers/pulumiMocks";

const HANDLER = "tests/fixtures/handlers/orders.handle";
const WORK = { StartAt: "Work", States: { Work: { Type: "Pass", End: true } } };
const BUS = "arn:aws:events:us-east-1:222222222222:event-bus/orders";

/** Arguments of each component, per configuration; the first one of each is its longest-named. */
const CONFIGURATIONS: Record<NamedComponent, Record<string, object>> = {
    EventBridgeWorkerPool: {
        "adaptive Controller": { function: { handler: HANDLER }, eventPattern: { source: ["a"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 } },
        "adaptive SelfTuning": { function: { handler: HANDLER }, eventPattern: { source: ["a"] }, reservedConcurrency: 5, adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 10 } },
        plain: { function: { handler: HANDLER }, eventPattern: { source: ["a"] }, reservedConcurrency: 5 },
    },
    KinesisOrderedWorker: {
        "adaptive Controller": { function: { handler: HANDLER }, shardCount: 2, adaptiveConcurrency: { mode: "Controller", minConcurrency: 1, maxConcurrency: 10 } },
        "circuit breaker": { function: { handler: HANDLER }, circuitBreaker: {} },
        "existing stream": { function: { handler: HANDLER }, streamArn: "arn:aws:kinesis:us-east-1:123456789012:stream/s" },
    },
    FifoTopicWorker: {
        "adaptive Controller": { function: { handler: HANDLER }, maxConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 20 } },
        "circuit breaker": { function: { handler: HANDLER }, maxConcurrency: 5, maxReceiveCount: 10, circuitBreaker: {} },
        "existing topic": { function: { handler: HANDLER }, maxConcurrency: 5, topicArn: "arn:aws:sns:us-east-1:123456789012:t.fifo" },
    },
    ConcurrencyController: {
        "own table": { target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5 },
        "given table": { target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5, tableName: "t", tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/t" },
    },
    ConcurrencyControllerGroup: {
        "own table": {
            targets: [
                { name: "a", target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5 },
                { name: "b", target: "SqsMaximumConcurrency", functionName: "g", eventSourceMappingArn: "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", eventSourceArn: "arn:aws:sqs:us-east-1:123456789012:q", queueName: "q", minConcurrency: 2, maxConcurrency: 5 },
            ],
        },
        "given table": {
            targets: [{ name: "a", target: "ReservedConcurrency", functionName: "f", minConcurrency: 1, maxConcurrency: 5 }],
            tableName: "t",
            tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/t",
        },
    },
    ControlPlaneBudget: { default: {}, "point-in-time recovery": { pointInTimeRecovery: true } },
    StepFunctionsSemaphore: { default: { limit: 2 } },
    SemaphoreStateMachine: { default: { limit: 2, definition: WORK } },
    IsolatedWorkloadAccount: {
        "new account with a bus": { accountName: "orders-workers", email: "aws+orders@example.com", region: "us-east-1", eventBusSourceAccountIds: ["111111111111"] },
        "adopted account": { accountId: "222222222222", region: "us-east-1" },
    },
    CrossAccountEventForwarder: { default: { eventPattern: { source: ["a"] }, targetEventBusArn: BUS } },
};

/**
 * The length of each named child at the documented maximum, longest-named configuration (suffix after
 * the component's name → physical name length). Each list has a child exactly at its type's limit.
 */
const LENGTHS_AT_MAXIMUM: Record<NamedComponent, Record<string, number>> = {
    EventBridgeWorkerPool: {
        "Dashboard …-adaptive-dashboard": 64,
        "Dashboard …-dashboard": 44,
        "EventRule …-adaptive-schedule": 57,
        "EventRule …-rule": 44,
        "Function …-adaptive-controller-fn": 62,
        "Function …-fn": 42,
        "LogGroup …-adaptive-controller-logs": 64,
        "LogGroup …-logs": 44,
        "MetricAlarm …-adaptive-errors": 55,
        "MetricAlarm …-async-event-age": 55,
        "MetricAlarm …-async-events-dropped": 60,
        "MetricAlarm …-controller-failures": 59,
        "MetricAlarm …-dlq-not-empty": 53,
        "MetricAlarm …-errors": 46,
        "MetricAlarm …-throttles": 49,
        "Queue …-dlq": 43,
        "Role …-adaptive-controller-role": 64,
        "Role …-role": 44,
        "RolePolicy …-adaptive-controller-policy": 66,
        "RolePolicy …-policy": 46,
        "Table …-control": 47,
        "Table …-idempotency": 51,
    },
    KinesisOrderedWorker: {
        "Dashboard …-adaptive-dashboard": 64,
        "Dashboard …-dashboard": 44,
        "EventRule …-adaptive-schedule": 57,
        "Function …-adaptive-controller-fn": 62,
        "Function …-fn": 42,
        "LogGroup …-adaptive-controller-logs": 64,
        "LogGroup …-logs": 44,
        "MetricAlarm …-adaptive-errors": 55,
        "MetricAlarm …-controller-failures": 59,
        "MetricAlarm …-errors": 46,
        "MetricAlarm …-failures-not-empty": 58,
        "MetricAlarm …-iterator-age": 52,
        "MetricAlarm …-throttles": 49,
        "Queue …-failures": 48,
        "Role …-adaptive-controller-role": 64,
        "Role …-role": 44,
        "RolePolicy …-adaptive-controller-policy": 66,
        "RolePolicy …-policy": 46,
        "Stream …-stream": 46,
        "Table …-control": 47,
        "Table …-idempotency": 51,
    },
    FifoTopicWorker: {
        "Dashboard …-adaptive-dashboard": 64,
        "Dashboard …-dashboard": 44,
        "EventRule …-adaptive-schedule": 57,
        "Function …-adaptive-controller-fn": 62,
        "Function …-fn": 42,
        "LogGroup …-adaptive-controller-logs": 64,
        "LogGroup …-logs": 44,
        "MetricAlarm …-adaptive-errors": 55,
        "MetricAlarm …-controller-failures": 59,
        "MetricAlarm …-delivery-dlq-not-empty": 62,
        "MetricAlarm …-dlq-not-empty": 53,
        "MetricAlarm …-errors": 46,
        "MetricAlarm …-oldest-message-age": 58,
        "MetricAlarm …-throttles": 49,
        "Queue …-delivery-dlq": 57,
        "Queue …-dlq": 48,
        "Queue …-queue": 50,
        "Role …-adaptive-controller-role": 64,
        "Role …-role": 44,
        "RolePolicy …-adaptive-controller-policy": 66,
        "RolePolicy …-policy": 46,
        "Table …-control": 47,
        "Table …-idempotency": 51,
        "Topic …-topic": 50,
    },
    ConcurrencyController: {
        "Dashboard …-dashboard": 64,
        "EventRule …-schedule": 57,
        "Function …-controller-fn": 62,
        "LogGroup …-controller-logs": 64,
        "MetricAlarm …-errors": 55,
        "Role …-controller-role": 64,
        "RolePolicy …-controller-policy": 66,
        "Table …-table": 54,
    },
    ConcurrencyControllerGroup: {
        "EventRule …-schedule": 57,
        "Function …-controller-fn": 62,
        "LogGroup …-controller-logs": 64,
        "MetricAlarm …-errors": 55,
        "Role …-controller-role": 64,
        "RolePolicy …-controller-policy": 66,
        "Table …-table": 54,
    },
    ControlPlaneBudget: {
        "Table …-table": 255,
    },
    StepFunctionsSemaphore: {
        "Dashboard …-dashboard": 52,
        "EventRule …-cleanup-rule": 60,
        "EventRule …-sweeper-schedule": 64,
        "Function …-acquire-fn": 58,
        "Function …-cleanup-fn": 58,
        "Function …-release-fn": 58,
        "Function …-sweeper-fn": 58,
        "LogGroup …-acquire-logs": 60,
        "LogGroup …-cleanup-logs": 60,
        "LogGroup …-release-logs": 60,
        "LogGroup …-sweeper-logs": 60,
        "MetricAlarm …-acquire-errors": 62,
        "MetricAlarm …-cleanup-errors": 62,
        "MetricAlarm …-dlq-not-empty": 61,
        "MetricAlarm …-release-errors": 62,
        "MetricAlarm …-sweeper-errors": 62,
        "Queue …-dlq": 51,
        "Role …-acquire-role": 60,
        "Role …-cleanup-role": 60,
        "Role …-release-role": 60,
        "Role …-sweeper-role": 60,
        "RolePolicy …-acquire-describe": 64,
        "RolePolicy …-acquire-policy": 62,
        "RolePolicy …-cleanup-describe": 64,
        "RolePolicy …-cleanup-policy": 62,
        "RolePolicy …-release-describe": 64,
        "RolePolicy …-release-policy": 62,
        "RolePolicy …-sweeper-describe": 64,
        "RolePolicy …-sweeper-policy": 62,
        "Table …-table": 53,
    },
    SemaphoreStateMachine: {
        "Dashboard …-semaphore-dashboard": 52,
        "EventRule …-semaphore-cleanup-rule": 60,
        "EventRule …-semaphore-sweeper-schedule": 64,
        "Function …-semaphore-acquire-fn": 58,
        "Function …-semaphore-cleanup-fn": 58,
        "Function …-semaphore-release-fn": 58,
        "Function …-semaphore-sweeper-fn": 58,
        "LogGroup …-logs": 79,
        "LogGroup …-semaphore-acquire-logs": 60,
        "LogGroup …-semaphore-cleanup-logs": 60,
        "LogGroup …-semaphore-release-logs": 60,
        "LogGroup …-semaphore-sweeper-logs": 60,
        "MetricAlarm …-semaphore-acquire-errors": 62,
        "MetricAlarm …-semaphore-cleanup-errors": 62,
        "MetricAlarm …-semaphore-dlq-not-empty": 61,
        "MetricAlarm …-semaphore-release-errors": 62,
        "MetricAlarm …-semaphore-sweeper-errors": 62,
        "Queue …-semaphore-dlq": 51,
        "Role …-role": 42,
        "Role …-semaphore-acquire-role": 60,
        "Role …-semaphore-cleanup-role": 60,
        "Role …-semaphore-release-role": 60,
        "Role …-semaphore-sweeper-role": 60,
        "RolePolicy …-policy": 44,
        "RolePolicy …-semaphore-acquire-describe": 64,
        "RolePolicy …-semaphore-acquire-policy": 62,
        "RolePolicy …-semaphore-cleanup-describe": 64,
        "RolePolicy …-semaphore-cleanup-policy": 62,
        "RolePolicy …-semaphore-release-describe": 64,
        "RolePolicy …-semaphore-release-policy": 62,
        "RolePolicy …-semaphore-sweeper-describe": 64,
        "RolePolicy …-semaphore-sweeper-policy": 62,
        "StateMachine …-state-machine": 51,
        "Table …-semaphore-table": 53,
    },
    IsolatedWorkloadAccount: {
        "Account …-account": 14,
        "EventBus …-bus": 256,
    },
    CrossAccountEventForwarder: {
        "EventRule …-rule": 64,
        "MetricAlarm …-dlq-not-empty": 73,
        "Queue …-dlq": 63,
        "Role …-role": 64,
        "RolePolicy …-policy": 66,
    },
};

/** The physical name length of a registered child, as AWS will see it. */
function registeredLength(r: pulumi.runtime.MockResourceArgs): number {
    const explicit = r.inputs.name ?? r.inputs.dashboardName;
    if (typeof explicit === "string") return explicit.length;
    if (typeof r.inputs.namePrefix === "string") return r.inputs.namePrefix.length + 26;
    return autonameLength(r.name, { fifo: r.inputs.fifoQueue === true || r.inputs.fifoTopic === true });
}

function namedChildren(): pulumi.runtime.MockResourceArgs[] {
    return registered.filter((r) => r.custom !== false && PHYSICAL_NAME_LIMITS[r.type] !== undefined);
}

/** A name of `length` characters: a readable stem, padded. */
function nameOf(length: number): string {
    return "w".repeat(length);
}

describe("physical names", function () {
    this.timeout(120_000);
    let loaded: LoadedComponents;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    async function construct(component: NamedComponent, name: string, args: object): Promise<void> {
        const Component = loaded.c[component] as unknown as new (name: string, args: unknown) => pulumi.ComponentResource;
        new Component(name, args);
        await settle();
    }

    describe("the naming rule", () => {
        it("knows the limit of each type and the autoname suffix", () => {
            assert.equal(physicalNameLimit("aws:lambda/function:Function"), 64);
            assert.equal(physicalNameLimit("aws:iam/role:Role"), 64);
            assert.equal(physicalNameLimit("aws:sqs/queue:Queue"), 80);
            assert.equal(physicalNameLimit("aws:kinesis/stream:Stream"), 128);
            assert.equal(physicalNameLimit("aws:lambda/permission:Permission"), undefined);
            assert.equal(autonameLength("orders-fn"), 17);
            assert.equal(autonameLength("ledger-queue", { fifo: true }), 25);
        });

        it("finds the longest name that fits from the tightest child", () => {
            const planned = [
                { type: "aws:iam/role:Role", logicalName: "abc-role" },
                { type: "aws:dynamodb/table:Table", logicalName: "abc-table" },
            ];
            assert.equal(longestFittingName(3, planned), 64 - 8 - "-role".length);
            assert.equal(physicalNameLength({ type: "aws:iam/role:Role", logicalName: "x", physicalName: "explicit" }), 8);
        });
    });

    for (const [component, configurations] of Object.entries(CONFIGURATIONS) as Array<[NamedComponent, Record<string, object>]>) {
        describe(component, () => {
            for (const [configuration, args] of Object.entries(configurations)) {
                it(`plans exactly the named children it creates (${configuration})`, async () => {
                    await construct(component, "w", args);
                    const actual = namedChildren().map((r) => `${r.type}::${r.name} ${registeredLength(r)}`).sort();
                    const planned = plannedNames(component, "w", args).map((p) => `${p.type}::${p.logicalName} ${physicalNameLength(p)}`).sort();
                    assert.deepEqual(planned, actual);
                });
            }

            const [worst, worstArgs] = Object.entries(configurations)[0];
            const max = MAX_COMPONENT_NAME_LENGTH[component];

            it(`fits every child at the documented maximum of ${max} characters (${worst}), with these exact lengths`, async () => {
                const name = nameOf(max);
                await construct(component, name, worstArgs);
                const lengths = Object.fromEntries(namedChildren().map((r) => [`${r.type.split(":").pop()} ${r.name.replace(name, "…")}`, registeredLength(r)]));
                for (const r of namedChildren()) assert.ok(registeredLength(r) <= physicalNameLimit(r.type)!, `${r.name}: ${registeredLength(r)} > ${physicalNameLimit(r.type)}`);
                assert.deepEqual(lengths, LENGTHS_AT_MAXIMUM[component]);
                assert.ok(namedChildren().some((r) => registeredLength(r) === physicalNameLimit(r.type)), "the maximum is tight: one child is at its limit");
            });

            it(`refuses ${max + 1} characters with the child, its length and the limit (${worst})`, () => {
                const name = nameOf(max + 1);
                const tightest = plannedNames(component, name, worstArgs).find((p) => physicalNameLength(p) > physicalNameLimit(p.type)!);
                assert.ok(tightest, "a child over its limit");
                const limit = PHYSICAL_NAME_LIMITS[tightest.type];
                const Component = loaded.c[component] as unknown as new (name: string, args: unknown) => pulumi.ComponentResource;
                assert.throws(
                    () => new Component(name, worstArgs),
                    (e: Error) =>
                        e instanceof ConfigurationError &&
                        e.message.startsWith(`${component} "${name}": name '${name}' (${max + 1} characters) is too long for ${component}: its ${limit.noun} name would be ${limit.max + 1} characters`) &&
                        e.message.endsWith(`over AWS's ${limit.max}; use at most ${max} characters (${max} fit with every option).`),
                );
            });
        });
    }

    describe("the example from the issue", () => {
        const fifo = CONFIGURATIONS.FifoTopicWorker["adaptive Controller"];

        it("refuses a 38-character FifoTopicWorker with adaptive concurrency: its controller's role would be 71 characters", () => {
            const name = "ledger-settlement-events-eu-central-01";
            assert.equal(name.length, 38);
            assert.throws(
                () => new loaded.c.FifoTopicWorker(name, fifo as never),
                {
                    name: "ConfigurationError",
                    message:
                        `FifoTopicWorker "${name}": name '${name}' (38 characters) is too long for FifoTopicWorker: its IAM role name would be 71 characters ` +
                        `(child "${name}-adaptive-controller-role" plus Pulumi's 8-character suffix), over AWS's 64; use at most 31 characters (31 fit with every option).`,
                },
            );
        });

        it("keeps accepting a longer name where the options in use leave room (existing stacks keep their names)", async () => {
            await construct("FifoTopicWorker", "ledger-settlement-events-eu-central-01", CONFIGURATIONS.FifoTopicWorker["existing topic"]);
            assert.ok(namedChildren().every((r) => registeredLength(r) <= physicalNameLimit(r.type)!));
        });

        it("refuses an account name over the 50 characters Organizations allows", () => {
            const args = { ...CONFIGURATIONS.IsolatedWorkloadAccount["new account with a bus"], accountName: "a".repeat(51) };
            assert.throws(() => new loaded.c.IsolatedWorkloadAccount("iso", args as never), {
                message: `IsolatedWorkloadAccount "iso": the AWS account name "${"a".repeat(51)}" is 51 characters, over AWS's 50.`,
            });
        });
    });
});

describe("dashboard names", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;
    const KINESIS = CONFIGURATIONS.KinesisOrderedWorker["circuit breaker"];
    const POOL = CONFIGURATIONS.EventBridgeWorkerPool.plain;
    const CONTROLLER = CONFIGURATIONS.ConcurrencyController["own table"];
    const clash = (owner: string, dashboard: string, taken: string) =>
        `${owner}: its dashboard would be named "${dashboard}", which ${taken} already uses in this program (CloudWatch would let one overwrite the other): give one of them another name.`;
    /**
     * One program run, as `pulumi up` or an Automation API run makes it: `runInPulumiStack` gives it a Stack resource
     * of its own, forgotten after the run (a `pulumi up` process ends with its run).
     */
    const programRun = async (program: () => void) => {
        try {
            await pulumi.runtime.runInPulumiStack(async () => program());
        } finally {
            (require("@pulumi/pulumi/runtime/state") as { setStackResource(stack: undefined): void }).setStackResource(undefined);
        }
    };
    const dashboards = () => registered.filter((r) => r.type === "aws:cloudwatch/dashboard:Dashboard").map((r) => r.inputs.dashboardName);

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    it("refuses a second component whose dashboard would have the same name, before any of its children exists", async () => {
        await assert.rejects(
            programRun(() => {
                new loaded.c.KinesisOrderedWorker("orders", KINESIS as never);
                new loaded.c.EventBridgeWorkerPool("orders", POOL as never);
            }),
            (error: unknown) => {
                assert.ok(error instanceof ConfigurationError);
                assert.equal(error.message, clash('EventBridgeWorkerPool "orders"', "project-test-orders", 'KinesisOrderedWorker "orders"'));
                return true;
            },
        );
        await settle();
        assert.ok(registered.some((r) => r.name === "orders-failures"), "the worker's children");
        assert.deepEqual(registered.filter((r) => ["orders-rule", "orders-target", "orders-dlq"].includes(r.name)), [], "none of the pool's");
    });

    /** `program` fails as the dashboard clash of `owner`, whose dashboard `taken` already has. */
    const refusedRun = (program: () => void, owner: string, dashboard: string, taken: string) => assert.rejects(programRun(program), { message: clash(owner, dashboard, taken) });

    it("refuses a semaphore named as a state machine's own semaphore, and a worker named as a controller's dashboard", async () => {
        const machineThenSemaphore = () => {
            new loaded.c.SemaphoreStateMachine("flow", { limit: 2, definition: WORK });
            new loaded.c.StepFunctionsSemaphore("flow-semaphore", { limit: 2 });
        };
        await refusedRun(machineThenSemaphore, 'StepFunctionsSemaphore "flow-semaphore"', "project-test-flow-semaphore", 'StepFunctionsSemaphore "flow-semaphore"');
        resetComponentState(loaded);
        const controllerThenPool = () => {
            new loaded.c.ConcurrencyController("orders", CONTROLLER as never);
            new loaded.c.EventBridgeWorkerPool("orders-controller", POOL as never);
        };
        await refusedRun(controllerThenPool, 'EventBridgeWorkerPool "orders-controller"', "project-test-orders-controller", 'ConcurrencyController "orders"');
    });

    it("refuses a controller named as a pool's own adaptive controller (<pool>-adaptive)", async () => {
        const poolThenController = () => {
            new loaded.c.EventBridgeWorkerPool("orders", CONFIGURATIONS.EventBridgeWorkerPool["adaptive Controller"] as never);
            new loaded.c.ConcurrencyController("orders-adaptive", CONTROLLER as never);
        };
        await refusedRun(poolThenController, 'ConcurrencyController "orders-adaptive"', "project-test-orders-adaptive-controller", 'ConcurrencyController "orders-adaptive"');
    });

    it("accepts the same name under two AWS providers, and again in the next program run in the same process", async () => {
        const aws = await import("@pulumi/aws");
        await programRun(() => {
            new loaded.c.KinesisOrderedWorker("orders", KINESIS as never, { provider: new aws.Provider("account-a", { region: "us-east-1" }) });
            new loaded.c.EventBridgeWorkerPool("orders", POOL as never, { providers: [new aws.Provider("account-b", { region: "us-east-1" })] });
        });
        await settle();
        assert.deepEqual(dashboards(), ["project-test-orders", "project-test-orders"], "one per provider");
        resetComponentState(loaded);
        await programRun(() => void new loaded.c.EventBridgeWorkerPool("orders", POOL as never));
        await programRun(() => void new loaded.c.EventBridgeWorkerPool("orders", POOL as never));
        await settle();
        assert.deepEqual(dashboards(), ["project-test-orders", "project-test-orders"], "a preview then an up, as Automation API runs them");
    });

    it("checks nothing outside a program run (unit-test mocks have no Stack resource), so tests may build a component twice", async () => {
        new loaded.c.EventBridgeWorkerPool("orders", POOL as never);
        new loaded.c.KinesisOrderedWorker("orders", KINESIS as never);
        await settle();
        assert.deepEqual(dashboards(), ["project-test-orders", "project-test-orders"]);
    });
});
