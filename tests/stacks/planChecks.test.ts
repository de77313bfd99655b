import * as assert from "node:assert/strict";
import type { OfflinePlan, PlannedResource } from "../../stacks/offlinePlan";
import { checkPlan, renderChecks } from "../../stacks/planChecks";

const resource = (type: string, name: string, inputs: Record<string, unknown> = {}, extra: Partial<PlannedResource> = {}): PlannedResource => ({
    type,
    name,
    custom: true,
    inputs,
    outputs: { id: `${name}-id`, name: inputs.name ?? name, arn: `arn:aws:x:us-east-1:111111111111:${name}` },
    ...extra,
});
const planOf = (resources: PlannedResource[], budgets: OfflinePlan["budgets"] = []): OfflinePlan => ({ stack: "test", resources, outputs: {}, budgets });

describe("offline plan check pass", () => {
    it("accepts a 56-character function name (56 + 8 = 64) and refuses 57, naming the limit", () => {
        const fits = resource("aws:lambda/function:Function", "f".repeat(56), { role: "r" });
        const tooLong = resource("aws:lambda/function:Function", "g".repeat(57), { role: "r" });
        assert.deepEqual(checkPlan(planOf([fits, tooLong])), [
            {
                subject: `Function "${"g".repeat(57)}"`,
                check: "name length",
                message: 'physical name is 65 characters (the logical name (57) + "-" + 7 random characters); Function names allow at most 64.',
            },
        ]);
    });

    it("counts the .fifo suffix of an autonamed FIFO queue against 80", () => {
        const queue = resource("aws:sqs/queue:Queue", "q".repeat(68), { fifoQueue: true });
        assert.equal(checkPlan(planOf([queue]))[0]?.message, 'physical name is 81 characters (the logical name (68) + "-" + 7 random characters + ".fifo"); Queue names allow at most 80.');
        assert.deepEqual(checkPlan(planOf([resource("aws:sqs/queue:Queue", "q".repeat(68))])), [], "a standard queue of the same name fits");
    });

    it("checks an explicit physical name as given (a dashboard's dashboardName)", () => {
        const dashboard = resource("aws:cloudwatch/dashboard:Dashboard", "d", { dashboardName: "x".repeat(256) });
        assert.equal(checkPlan(planOf([dashboard]))[0]?.message, "physical name is 256 characters (the explicit name); Dashboard names allow at most 255.");
    });

    it("fails a required reference that is not set, and a reference to a resource of another provider", () => {
        const role = resource("aws:iam/role:Role", "r", {}, { provider: "workload" });
        const fn = resource("aws:lambda/function:Function", "f", { role: role.outputs.arn });
        const target = resource("aws:cloudwatch/eventTarget:EventTarget", "t", { arn: fn.outputs.arn });
        assert.deepEqual(
            checkPlan(planOf([role, fn, target])).map((p) => `${p.check}: ${p.subject}: ${p.message}`),
            [
                'reference: Function "f": role names Role "r", deployed with provider "workload", but this resource is deployed with the default provider: a reference cannot cross accounts or regions.',
                'reference: EventTarget "t": rule is required and not set.',
            ],
        );
    });

    it("lets an EventTarget name an event bus of another account (how events cross accounts)", () => {
        const bus = resource("aws:cloudwatch/eventBus:EventBus", "bus", {}, { provider: "workload" });
        const rule = resource("aws:cloudwatch/eventRule:EventRule", "rule", {});
        const target = resource("aws:cloudwatch/eventTarget:EventTarget", "t", { rule: rule.outputs.name, arn: bus.outputs.arn });
        assert.deepEqual(checkPlan(planOf([bus, rule, target])), []);
    });

    it("fails a budget that keeps fewer than 100 unreserved of the quota in force", () => {
        const budgets = [{ account: "account of X", limit: 10, limitSource: "new-account quota", reservations: [{ component: 'EventBridgeWorkerPool "p"', concurrency: 5 }], unreserved: 5 }];
        const problems = checkPlan(planOf([], budgets));
        assert.deepEqual(problems, [
            { subject: "account of X", check: "budget", message: "reservations total 5 of a quota in force of 10 (new-account quota), leaving 5 unreserved; AWS keeps at least 100." },
        ]);
    });

    it("renders the list the plan fails with", () => {
        const tooLong = resource("aws:iam/role:Role", "r".repeat(60));
        const plan = planOf([tooLong]);
        assert.deepEqual(renderChecks(plan, checkPlan(plan)), [
            "  FAILED: 1 problem(s) that `pulumi preview` / `pulumi up` would meet:",
            `  - [name length] Role "${"r".repeat(60)}": physical name is 68 characters (the logical name (60) + "-" + 7 random characters); Role names allow at most 64.`,
        ]);
    });
});
