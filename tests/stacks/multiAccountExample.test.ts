/**
 * The `isolated` example on a fresh account, as the README documents it: the first `pulumi up` creates the
 * account, requests the quota and forwards events to the new bus; the pool follows once the quota in force
 * holds it. Run on the component mocks with the stack's config keys.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ACCOUNT_ID, json, loadComponents, LoadedComponents, ofType, resetComponentState, resource, settle, valueOf } from "../helpers/pulumiMocks";

type Example = typeof import("../../stacks/patterns/multiAccount");

const FRESH_ACCOUNT = { name: "orders-workers", create: true, email: "aws+orders-workers@shop.internal", concurrencyQuota: 3000 };

describe("the isolated example on a fresh account", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;
    let example: Example;
    let savedConfig: string | undefined;

    before(async () => {
        loaded = await loadComponents();
        example = await import("../../stacks/patterns/multiAccount");
        savedConfig = process.env.PULUMI_CONFIG;
    });
    beforeEach(() => resetComponentState(loaded));
    after(() => {
        process.env.PULUMI_CONFIG = savedConfig;
    });

    /** Runs the example with `workloadAccount` set to `account` (the project of the mocks is "project"). */
    async function runIsolated(account: object): Promise<Record<string, pulumi.Input<unknown>>> {
        pulumi.runtime.setAllConfig({ "project:workloadAccount": JSON.stringify(account), "project:heavyConcurrency": "800" });
        const outputs = example.isolatedAccountExample(new pulumi.Config());
        await settle();
        return outputs;
    }

    it("step 1: creates the account, requests the quota and forwards the source account's events to the new bus; the pool waits", async () => {
        const outputs = await runIsolated(FRESH_ACCOUNT);
        assert.equal(resource("aws:organizations/account:Account", "orders-workload-account").inputs.email, FRESH_ACCOUNT.email);
        assert.equal(resource("aws:servicequotas/serviceQuota:ServiceQuota", "orders-workload-lambda-concurrency").inputs.value, 3000);
        const target = resource("aws:cloudwatch/eventTarget:EventTarget", "orders-to-workload-target");
        assert.ok(!target.provider, "the forwarder runs in the source account (default provider)");
        assert.equal(target.inputs.eventBusName, "default");
        assert.equal(target.inputs.arn, `arn:aws:events:us-east-1:${ACCOUNT_ID}:orders-workload-bus-eventbus`, "it targets the new account's bus");
        assert.deepEqual(json(resource("aws:cloudwatch/eventRule:EventRule", "orders-to-workload-rule").inputs.eventPattern), { source: ["shop.orders"], "detail-type": ["OrderPlaced"] });
        assert.equal(ofType("serverless-concurrency:index:EventBridgeWorkerPool").length, 0, "no reservation the new account's quota cannot hold");
        assert.match(String(await valueOf(pulumi.output(outputs.heavyPoolStatus))), /^orders-heavy \(reserved concurrency 800\) waits for the workload account's Lambda quota: 10 in force leaves 0 reservable\./);
        assert.deepEqual(
            loaded.budget.concurrencyBudgets().map((b) => [b.account, b.limit, b.reservations.length]),
            [['account of IsolatedWorkloadAccount "orders-workload"', 10, 0]],
        );
    });

    it("step 2: once the approved quota is in force, deploys the pool in the account, on its bus, budgeted against that quota", async () => {
        await runIsolated({ ...FRESH_ACCOUNT, concurrencyQuotaInForce: 3000 });
        const rule = resource("aws:cloudwatch/eventRule:EventRule", "orders-heavy-rule");
        assert.match(rule.provider ?? "", /orders-workload-provider/);
        assert.equal(rule.inputs.eventBusName, "orders-workload-bus-eventbus");
        assert.equal(resource("aws:lambda/function:Function", "orders-heavy-fn").inputs.reservedConcurrentExecutions, 800);
        assert.ok(ofType("aws:cloudwatch/eventTarget:EventTarget").some((t) => t.name === "orders-to-workload-target"), "the forwarder stays");
        assert.deepEqual(
            loaded.budget.concurrencyBudgets().map((b) => [b.limit, b.limitSource, b.unreserved]),
            [[3000, 'quota in force given to IsolatedWorkloadAccount "orders-workload"', 2200]],
        );
    });

    const refused: Array<[string, object, RegExp]> = [
        ["neither id nor create", { name: "orders-workers" }, /It has neither\.$/],
        ["an email without create: true", { name: "orders-workers", email: "aws+orders@shop.internal" }, /It has `email` without `create: true` \(creating an account is opt-in\)\.$/],
        ["an example.com address", { ...FRESH_ACCOUNT, email: "aws+orders-workers@example.com" }, /Its email aws\+orders-workers@example\.com is at a reserved domain that receives no mail/],
        ["both id and create", { ...FRESH_ACCOUNT, id: "222222222222" }, /It has both `id` and `create: true`\.$/],
    ];
    for (const [title, account, message] of refused) {
        it(`refuses to create an account from ${title}`, () => {
            assert.equal(example.accountConfigProblem(account as never)?.startsWith("config serverless-concurrency-example:workloadAccount needs either `id`"), true);
            assert.match(example.accountConfigProblem(account as never) ?? "", message);
        });
    }
});
