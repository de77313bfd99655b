/**
 * Confused deputy: a role that an AWS service assumes on behalf of a resource must say which resource
 * (`aws:SourceArn`) in which account (`aws:SourceAccount`); otherwise any rule, state machine or
 * schedule that learns the role's ARN can make the service act with it. Checked over every exported
 * component with every option that creates roles. Lambda execution roles are exempt (Lambda sets no
 * source context when it assumes a function's role).
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ACCOUNT_ID, json, loadComponents, LoadedComponents, ofType, resetComponentState, settle } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];

const HANDLER = "tests/fixtures/handlers/orders.handle";
const ORDERED = "tests/fixtures/handlers/ordered.handle";
const WORK = { StartAt: "CallErp", States: { CallErp: { Type: "Task", Resource: "arn:aws:lambda:us-east-1:123456789012:function:erp", End: true } } };

/** Each exported component with the arguments that make it create every role it can. */
const EVERY_ROLE: Record<string, (c: Components) => void> = {
    EventBridgeWorkerPool: (c) =>
        new c.EventBridgeWorkerPool("pool", {
            function: { handler: HANDLER },
            eventPattern: { source: ["a"] },
            reservedConcurrency: 5,
            adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 },
        }),
    KinesisOrderedWorker: (c) => new c.KinesisOrderedWorker("stream", { function: { handler: ORDERED }, circuitBreaker: {} }),
    FifoTopicWorker: (c) =>
        new c.FifoTopicWorker("fifo", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: 10 }, circuitBreaker: {} }),
    ConcurrencyController: (c) => new c.ConcurrencyController("ctl", { target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 2, maxConcurrency: 50 }),
    ConcurrencyControllerGroup: (c) =>
        new c.ConcurrencyControllerGroup("group", { targets: [{ name: "orders", target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 2, maxConcurrency: 50 }] }),
    ControlPlaneBudget: (c) => new c.ControlPlaneBudget("budget"),
    StepFunctionsSemaphore: (c) => new c.StepFunctionsSemaphore("sem", { limit: 2 }),
    SemaphoreStateMachine: (c) => new c.SemaphoreStateMachine("machine", { limit: 2, definition: WORK }),
    IsolatedWorkloadAccount: (c) => new c.IsolatedWorkloadAccount("acct", { accountId: "222222222222", region: "us-east-1", eventBusSourceAccountIds: ["111111111111"] }),
    CrossAccountEventForwarder: (c) =>
        new c.CrossAccountEventForwarder("fwd", { eventPattern: { source: ["a"] }, targetEventBusArn: "arn:aws:events:us-east-1:222222222222:event-bus/orders" }),
};

/** Components that create no role at all (a table, an account reached through a provider). */
const ROLELESS = new Set(["IsolatedWorkloadAccount", "ControlPlaneBudget"]);

interface TrustStatement {
    Principal?: { Service?: string | string[] };
    Condition?: Record<string, Record<string, unknown>>;
}

/** Every problem with the service trust of the roles registered so far. */
function confusedDeputyProblems(): string[] {
    return ofType("aws:iam/role:Role").flatMap((role) =>
        (json(role.inputs.assumeRolePolicy).Statement as TrustStatement[]).flatMap((statement) => {
            const services = [statement.Principal?.Service ?? []].flat().filter((service) => service !== "lambda.amazonaws.com");
            return services.flatMap((service) => statementProblems(role.name, service, statement.Condition ?? {}));
        }),
    );
}

function statementProblems(role: string, service: string, condition: Record<string, Record<string, unknown>>): string[] {
    const problems: string[] = [];
    if (condition.StringEquals?.["aws:SourceAccount"] !== ACCOUNT_ID) {
        problems.push(`role ${role} (${service}): no StringEquals aws:SourceAccount = ${ACCOUNT_ID}; has ${JSON.stringify(condition)}`);
    }
    const sourceArns = [condition.ArnEquals?.["aws:SourceArn"] ?? condition.ArnLike?.["aws:SourceArn"] ?? []].flat();
    const servicePrefix = `arn:aws:${service.split(".")[0]}:`;
    if (sourceArns.length === 0 || sourceArns.some((arn) => typeof arn !== "string" || !arn.startsWith(servicePrefix) || arn.endsWith(":*"))) {
        problems.push(`role ${role} (${service}): aws:SourceArn must name this component's ${servicePrefix}… resources (ArnEquals or ArnLike); has ${JSON.stringify(sourceArns)}`);
    }
    return problems;
}

describe("confused-deputy conditions on service roles", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    it("covers every exported component", () => {
        const exported = Object.entries(loaded.c)
            .filter(([, value]) => typeof value === "function" && (value as { prototype?: unknown }).prototype instanceof pulumi.ComponentResource)
            .map(([name]) => name)
            .sort();
        assert.deepEqual(Object.keys(EVERY_ROLE).sort(), exported);
    });

    for (const [component, create] of Object.entries(EVERY_ROLE)) {
        it(`${component}: every role an AWS service other than Lambda assumes names aws:SourceAccount and aws:SourceArn`, async () => {
            create(loaded.c);
            await settle();
            assert.ok(ofType("aws:iam/role:Role").length > 0 || ROLELESS.has(component), `${component} created no role`);
            assert.deepEqual(confusedDeputyProblems(), []);
        });
    }

    it("CrossAccountEventForwarder: the role trusts EventBridge only for its own rule in its own account", async () => {
        EVERY_ROLE.CrossAccountEventForwarder(loaded.c);
        await settle();
        const [role] = ofType("aws:iam/role:Role");
        assert.deepEqual(json(role.inputs.assumeRolePolicy), {
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: { Service: "events.amazonaws.com" },
                    Action: "sts:AssumeRole",
                    Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT_ID }, ArnEquals: { "aws:SourceArn": `arn:aws:events:us-east-1:${ACCOUNT_ID}:fwd-rule-eventrule` } },
                },
            ],
        });
    });
});
