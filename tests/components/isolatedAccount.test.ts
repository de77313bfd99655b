import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { json, ofType, registered, resource, settle, valueOf, loadComponents, LoadedComponents, resetComponentState } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];
type Budget = LoadedComponents["budget"];

const NEW_ACCOUNT = { accountName: "orders-workers", email: "aws+orders@example.com", region: "us-east-1" };

describe("isolated workload accounts", function () {
    this.timeout(60_000);
    let c: Components;
    let budget: Budget;

    before(async () => ({ c, budget } = await loadComponents()));
    beforeEach(() => resetComponentState({ c, budget }));

    describe("IsolatedWorkloadAccount", () => {
        it("creates the account with billing access denied for IAM users, in the given OU", async () => {
            await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { ...NEW_ACCOUNT, parentId: "ou-ab12-cdefgh34" }));
            assert.deepEqual(resource("aws:organizations/account:Account", "orders-account").inputs, {
                name: "orders-workers",
                email: "aws+orders@example.com",
                parentId: "ou-ab12-cdefgh34",
                roleName: "OrganizationAccountAccessRole",
                iamUserAccessToBilling: "DENY",
                closeOnDeletion: false,
            });
        });

        it("retains a created account on deletion unless closeOnDeletion is set, which closes it instead", async () => {
            const retained = recordRetainOnDelete();
            await settleAfter(() => new c.IsolatedWorkloadAccount("kept", NEW_ACCOUNT));
            await settleAfter(() => new c.IsolatedWorkloadAccount("closed", { ...NEW_ACCOUNT, closeOnDeletion: true }));
            assert.equal(resource("aws:organizations/account:Account", "kept-account").inputs.closeOnDeletion, false);
            assert.equal(retained.get("kept-account"), true, "pulumi destroy leaves the account open in the organization");
            assert.equal(resource("aws:organizations/account:Account", "closed-account").inputs.closeOnDeletion, true);
            assert.equal(retained.get("closed-account"), false, "pulumi destroy closes the account");
        });

        it("gives a provider that assumes the role built from the account id and allows only that account", async () => {
            const account = await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { accountId: "222222222222", region: "eu-west-1", roleName: "Deployer" }));
            assert.equal(ofType("aws:organizations/account:Account").length, 0, "adopting creates no account");
            const provider = resource("pulumi:providers:aws", "orders-provider").inputs;
            assert.equal(provider.region, "eu-west-1");
            assert.deepEqual(json(provider.assumeRoles), [{ roleArn: "arn:aws:iam::222222222222:role/Deployer", sessionName: "serverless-concurrency-orders" }]);
            assert.deepEqual(json(provider.allowedAccountIds), ["222222222222"]);
            assert.deepEqual(json(provider.defaultTags), { tags: { "serverless-concurrency:workload": "orders" } });
            assert.equal(await valueOf(account.roleArn), "arn:aws:iam::222222222222:role/Deployer");
            assert.equal(await valueOf(account.accountId), "222222222222");
        });

        it("requests the Lambda concurrency quota through the account's provider", async () => {
            await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { accountId: "222222222222", region: "us-east-1", lambdaConcurrencyQuota: 3000 }));
            const quota = resource("aws:servicequotas/serviceQuota:ServiceQuota", "orders-lambda-concurrency");
            assert.deepEqual(quota.inputs, { serviceCode: "lambda", quotaCode: "L-B99A9384", value: 3000 });
            assert.match(quota.provider ?? "", /orders-provider/);
        });

        const pool = (name: string, reserved: number, opts = {}) =>
            new c.EventBridgeWorkerPool(name, { function: { handler: "tests/fixtures/handlers/orders.handle" }, eventPattern: { source: ["a"] }, reservedConcurrency: reserved }, opts);

        it("budgets workers with its provider against the quota in force, and others against the default", async () => {
            const account = await settleAfter(
                () => new c.IsolatedWorkloadAccount("orders", { accountId: "222222222222", region: "us-east-1", lambdaConcurrencyQuota: 5000, lambdaConcurrencyQuotaInForce: 3000 }),
            );
            pool("heavy", 2500, { provider: account.provider });
            pool("light", 800);
            await settle();
            const fn = resource("aws:lambda/function:Function", "heavy-fn");
            assert.match(fn.provider ?? "", /orders-provider/, "the worker's resources are registered under the account's provider");
            assert.deepEqual(
                budget.concurrencyBudgets().map((b) => [b.account, b.limit, b.limitSource, b.unreserved]),
                [
                    ['account of IsolatedWorkloadAccount "orders"', 3000, 'quota in force given to IsolatedWorkloadAccount "orders"', 500],
                    ["default AWS provider", 1000, "Lambda default quota", 200],
                ],
            );
            assert.throws(() => pool("more", 500, { provider: account.provider }), (e: Error) =>
                e.message.startsWith(
                    'Concurrency budget exceeded for the account of IsolatedWorkloadAccount "orders": reservations total 3000, but an account limit of 3000 (quota in force given to IsolatedWorkloadAccount "orders") leaves only 2900 reservable',
                ),
            );
        });

        it("budgets a new account against the new-account quota, not the requested one, until the quota in force is given", async () => {
            const account = await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { ...NEW_ACCOUNT, lambdaConcurrencyQuota: 3000 }));
            assert.throws(() => pool("heavy", 800, { provider: account.provider }), (e: Error) =>
                e.message.startsWith(
                    'Concurrency budget exceeded for the account of IsolatedWorkloadAccount "orders": reservations total 800, but an account limit of 10 ' +
                        '(new-account quota assumed for IsolatedWorkloadAccount "orders"; the request for 3000 counts once AWS approves it: then set lambdaConcurrencyQuotaInForce) leaves only -90 reservable',
                ),
            );
            assert.deepEqual(budget.concurrencyBudgets().map((b) => [b.limit, b.reservations.length]), [[10, 0]], "an account with no reservation is fine");
        });

        it("does not count a quota request for an adopted account whose quota in force is unknown", async () => {
            const account = await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { accountId: "222222222222", region: "us-east-1", lambdaConcurrencyQuota: 3000 }));
            pool("heavy", 800, { provider: account.provider });
            assert.deepEqual(budget.concurrencyBudgets().map((b) => [b.limit, b.limitSource]), [[1000, "Lambda default quota"]]);
        });

        it("creates an event bus whose policy admits only the source accounts", async () => {
            const account = await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { ...NEW_ACCOUNT, eventBusSourceAccountIds: ["111111111111", "333333333333"] }));
            const policy = json(resource("aws:cloudwatch/eventBusPolicy:EventBusPolicy", "orders-bus-policy").inputs.policy);
            assert.deepEqual(policy.Statement, [
                {
                    Sid: "SourceAccountsPutEvents",
                    Effect: "Allow",
                    Principal: { AWS: ["arn:aws:iam::111111111111:root", "arn:aws:iam::333333333333:root"] },
                    Action: "events:PutEvents",
                    Resource: "arn:aws:events:us-east-1:123456789012:orders-bus-eventbus",
                },
            ]);
            assert.match(resource("aws:cloudwatch/eventBus:EventBus", "orders-bus").provider ?? "", /orders-provider/);
            assert.equal(await valueOf(account.eventBusArn), "arn:aws:events:us-east-1:123456789012:orders-bus-eventbus");
        });

        it("admits an organization with aws:PrincipalOrgID", async () => {
            await settleAfter(() => new c.IsolatedWorkloadAccount("orders", { ...NEW_ACCOUNT, eventBusOrganizationId: "o-abc123def4" }));
            const policy = json(resource("aws:cloudwatch/eventBusPolicy:EventBusPolicy", "orders-bus-policy").inputs.policy);
            assert.deepEqual(policy.Statement[0].Condition, { StringEquals: { "aws:PrincipalOrgID": "o-abc123def4" } });
        });

        it("creates no bus unless asked", async () => {
            const account = await settleAfter(() => new c.IsolatedWorkloadAccount("orders", NEW_ACCOUNT));
            assert.equal(ofType("aws:cloudwatch/eventBus:EventBus").length, 0);
            assert.equal(await valueOf(account.eventBusArn), undefined);
        });

        const LABEL = 'IsolatedWorkloadAccount "orders"';
        const invalid: Array<[string, Partial<import("../../components").IsolatedWorkloadAccountArgs>, string]> = [
            ["both email and accountId", { accountId: "222222222222" }, "give exactly one of email (create an account) and accountId (adopt one); received both."],
            ["neither email nor accountId", { email: undefined }, "give exactly one of email (create an account) and accountId (adopt one); received neither."],
            ["an invalid email", { email: "not-an-email" }, 'email must be an email address; received "not-an-email".'],
            ["an invalid account id", { email: undefined, accountId: "1234" }, 'accountId must be a 12-digit AWS account id; received "1234".'],
            ["a quota below 100", { lambdaConcurrencyQuota: 50 }, "lambdaConcurrencyQuota must be an integer from 100 to 1000000; received 50."],
            ["a quota in force of 0", { lambdaConcurrencyQuotaInForce: 0 }, "lambdaConcurrencyQuotaInForce must be an integer from 1 to 1000000; received 0."],
            ["a bad region", { region: "mars" }, 'region must be an AWS region such as us-east-1; received "mars".'],
            ["a new account without a name", { accountName: undefined }, "accountName is required when creating an account (with email)."],
            ["an invalid role name", { roleName: "no spaces allowed" }, 'roleName must be an IAM role name; received "no spaces allowed".'],
            ["an invalid source account", { eventBusSourceAccountIds: ["111111111111", "abc"] }, 'eventBusSourceAccountIds must be 12-digit AWS account ids; received ["111111111111","abc"].'],
        ];
        for (const [title, overrides, message] of invalid) {
            it(`rejects ${title}`, () => {
                assert.throws(() => new c.IsolatedWorkloadAccount("orders", { ...NEW_ACCOUNT, ...overrides }), (e: Error) => e.message.includes(`${LABEL}: ${message}`));
            });
        }
    });

    describe("CrossAccountEventForwarder", () => {
        const BUS = "arn:aws:events:us-east-1:222222222222:event-bus/orders";

        it("forwards matching events to the other bus with a role limited to that bus, and a DLQ", async () => {
            await settleAfter(() => new c.CrossAccountEventForwarder("fwd", { eventPattern: { source: ["shop.orders"] }, targetEventBusArn: BUS }));
            assert.deepEqual(
                registered.map((r) => r.name).sort(),
                ["fwd", "fwd-dlq", "fwd-dlq-not-empty", "fwd-dlq-policy", "fwd-policy", "fwd-role", "fwd-rule", "fwd-target"],
            );
            assert.deepEqual(json(resource("aws:iam/rolePolicy:RolePolicy", "fwd-policy").inputs.policy).Statement, [{ Effect: "Allow", Action: ["events:PutEvents"], Resource: [BUS] }]);
            assert.deepEqual(json(resource("aws:iam/role:Role", "fwd-role").inputs.assumeRolePolicy).Statement[0].Principal, { Service: "events.amazonaws.com" });
            const target = resource("aws:cloudwatch/eventTarget:EventTarget", "fwd-target").inputs;
            assert.deepEqual(target, {
                rule: "fwd-rule-eventrule",
                eventBusName: "default",
                arn: BUS,
                roleArn: "arn:aws:iam:us-east-1:123456789012:fwd-role-role",
                retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86400 },
                deadLetterConfig: { arn: "arn:aws:sqs:us-east-1:123456789012:fwd-dlq-queue" },
            });
            const dlqPolicy = json(resource("aws:sqs/queuePolicy:QueuePolicy", "fwd-dlq-policy").inputs.policy);
            assert.deepEqual(dlqPolicy.Statement[0].Condition, { ArnEquals: { "aws:SourceArn": "arn:aws:events:us-east-1:123456789012:fwd-rule-eventrule" } });
        });

        const invalid: Array<[string, Partial<import("../../components").CrossAccountEventForwarderArgs>, string]> = [
            ["a pattern that is not an object", { eventPattern: "shop.orders" as never }, 'eventPattern must be a non-empty object such as { source: ["shop.orders"] }; received "shop.orders".'],
            ["a target that is not a bus ARN", { targetEventBusArn: "arn:aws:sqs:us-east-1:222222222222:q" }, 'targetEventBusArn must be an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>); received "arn:aws:sqs:us-east-1:222222222222:q".'],
            ["186 retries", { maxRetryAttempts: 186 }, "maxRetryAttempts must be an integer from 0 to 185; received 186."],
        ];
        for (const [title, overrides, message] of invalid) {
            it(`rejects ${title}`, () => {
                assert.throws(
                    () => new c.CrossAccountEventForwarder("fwd", { eventPattern: { source: ["a"] }, targetEventBusArn: BUS, ...overrides }),
                    (e: Error) => e.message.includes(`CrossAccountEventForwarder "fwd": ${message}`),
                );
            });
        }
    });
});

/** `retainOnDelete` of each registration by name, read off the mock monitor's requests (mocks see only inputs). */
function recordRetainOnDelete(): Map<string, boolean> {
    type Request = { getName(): string; getRetainondelete(): boolean };
    const retained = new Map<string, boolean>();
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Request, callback: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        retained.set(req.getName(), req.getRetainondelete());
        return register(req, callback);
    };
    return retained;
}

async function settleAfter<T>(create: () => T): Promise<T> {
    const created = create();
    await settle();
    return created;
}
