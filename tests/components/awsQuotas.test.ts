/**
 * Sizes AWS refuses that mocks accept, checked by the components on the values they create resources with
 * (also when those are known only at deploy time):
 * - EventBridge refuses a rule whose pattern is over 2,048 characters (the default "Event pattern size"
 *   quota; at most 4,096 when raised);
 * - IAM refuses a role whose inline policies together are over 10,240 characters, whitespace not counted.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { EVENT_PATTERN_DEFAULT_MAX_CHARS, EVENT_PATTERN_MAX_CHARS } from "../../components/internal/eventPatterns";
import { inlinePolicyChars, ROLE_INLINE_POLICY_MAX_CHARS } from "../../components/internal/inlinePolicies";
import { loadComponents, LoadedComponents, ofType, resetComponentState, resource, settle } from "../helpers/pulumiMocks";
import { rejectionsDuring } from "../helpers/rejections";

const HANDLER = "tests/fixtures/handlers/orders.handle";
const machineArn = (i: number) => `arn:aws:states:us-east-1:123456789012:stateMachine:orders-checkout-flow-${String(i).padStart(2, "0")}`;

describe("event pattern size", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;
    let warnings: string[];
    const originalWarn = pulumi.log.warn;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => {
        resetComponentState(loaded);
        warnings = [];
        (pulumi.log as { warn: (message: string) => Promise<void> }).warn = async (message: string) => void warnings.push(message);
    });
    afterEach(() => ((pulumi.log as { warn: typeof originalWarn }).warn = originalWarn));

    /** A pool whose pattern's JSON is exactly `chars` characters. */
    async function poolWithPattern(chars: number): Promise<Error[]> {
        const padding = chars - JSON.stringify({ source: [""] }).length;
        return rejectionsDuring(async () => {
            new loaded.c.EventBridgeWorkerPool("pool", { function: { handler: HANDLER }, eventPattern: { source: [pulumi.output("s".repeat(padding))] }, reservedConcurrency: 5 });
            await settle();
        });
    }

    it("deploys a pool pattern of 2,048 characters silently; over it, warns that only a raised quota takes it", async () => {
        assert.deepEqual(await poolWithPattern(EVENT_PATTERN_DEFAULT_MAX_CHARS), []);
        assert.equal(resource("aws:cloudwatch/eventRule:EventRule", "pool-rule").inputs.eventPattern.length, 2048);
        assert.deepEqual(warnings, []);
        resetComponentState(loaded);
        assert.deepEqual(await poolWithPattern(EVENT_PATTERN_DEFAULT_MAX_CHARS + 1), []);
        assert.deepEqual(warnings, [
            'EventBridgeWorkerPool "pool": eventPattern is 2049 characters as JSON, over the 2048 EventBridge accepts by default: the rule deploys only where the "Event pattern size" quota was raised (to at most 4096); otherwise match fewer values, or split it over several pools.',
        ]);
    });

    it("fails the deployment of a pattern over 4,096 characters, which no quota admits", async () => {
        assert.deepEqual(await poolWithPattern(EVENT_PATTERN_MAX_CHARS), []);
        resetComponentState(loaded);
        const rejections = await poolWithPattern(EVENT_PATTERN_MAX_CHARS + 1);
        assert.deepEqual(
            rejections.map((e) => e.message),
            ['EventBridgeWorkerPool "pool": eventPattern is 4097 characters as JSON, over the 4096 EventBridge accepts for a rule\'s pattern even with its quota raised; match fewer values, or split it over several pools.'],
        );
    });

    it("checks the forwarder's pattern the same way", async () => {
        const rejections = await rejectionsDuring(async () => {
            new loaded.c.CrossAccountEventForwarder("fwd", { eventPattern: { source: ["s".repeat(5000)] }, targetEventBusArn: "arn:aws:events:us-east-1:222222222222:event-bus/orders" });
            await settle();
        });
        assert.deepEqual(
            rejections.map((e) => e.message),
            ['CrossAccountEventForwarder "fwd": eventPattern is 5015 characters as JSON, over the 4096 EventBridge accepts for a rule\'s pattern even with its quota raised; match fewer values, or split it over several forwarders.'],
        );
    });

    it("semaphore: the cleanup pattern grows with protectedStateMachineArns; 10 machines fit, 12 warn, 30 fail with what to do", async () => {
        const semaphore = async (machines: number) => {
            resetComponentState(loaded);
            warnings = [];
            const rejections = await rejectionsDuring(async () => {
                new loaded.c.StepFunctionsSemaphore("sem", { limit: 2, protectedStateMachineArns: Array.from({ length: machines }, (_, i) => pulumi.output(machineArn(i))) });
                await settle();
            });
            return { rejections: rejections.map((e) => e.message), warnings, chars: rejections.length ? undefined : resource("aws:cloudwatch/eventRule:EventRule", "sem-cleanup-rule").inputs.eventPattern.length };
        };
        const ten = await semaphore(10);
        assert.deepEqual([ten.rejections, ten.warnings], [[], []]);
        assert.ok(ten.chars! <= 2048, `${ten.chars}`);
        const twelve = await semaphore(12);
        assert.deepEqual(twelve.rejections, []);
        assert.equal(twelve.warnings.length, 1);
        assert.match(twelve.warnings[0], /^StepFunctionsSemaphore "sem": the cleanup rule's pattern \(two entries per protectedStateMachineArns\) is \d+ characters as JSON, over the 2048/);
        const thirty = await semaphore(30);
        assert.equal(thirty.rejections.length, 1);
        assert.match(
            thirty.rejections[0],
            /^StepFunctionsSemaphore "sem": the cleanup rule's pattern \(two entries per protectedStateMachineArns\) is \d+ characters as JSON, over the 4096 EventBridge accepts for a rule's pattern even with its quota raised; protect fewer state machines with one semaphore, or name none: the rule then matches every machine's executions, and the cleanup releases nothing for an execution that holds no permit\.$/,
        );
    });
});

describe("inline policy size per role", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    /** The worker role's inline policies, in characters as IAM counts them. */
    const roleChars = (role: string) =>
        ofType("aws:iam/rolePolicy:RolePolicy")
            .filter((p) => p.inputs.role === `${role}-id`)
            .reduce((sum, p) => sum + inlinePolicyChars(p.inputs.policy), 0);

    /** A pool whose user statements name `count` buckets' objects. */
    async function pool(count: number, extra: object = {}): Promise<Error[]> {
        const resources = Array.from({ length: count }, (_, i) => pulumi.output(`arn:aws:s3:::orders-archive-${String(i).padStart(4, "0")}/*`));
        return rejectionsDuring(async () => {
            new loaded.c.EventBridgeWorkerPool("pool", {
                function: { handler: HANDLER, policyStatements: [{ actions: ["s3:GetObject"], resources }] },
                eventPattern: { source: ["shop"] },
                reservedConcurrency: 5,
                ...extra,
            });
            await settle();
        });
    }

    it("counts every inline policy of a role together, the self-tuning one included, and fails the deployment once over 10,240", async () => {
        const adaptive = { adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 10 } };
        assert.deepEqual(await pool(200, adaptive), []);
        const own = inlinePolicyChars(resource("aws:iam/rolePolicy:RolePolicy", "pool-policy").inputs.policy);
        const selfTuning = inlinePolicyChars(resource("aws:iam/rolePolicy:RolePolicy", "pool-self-tuning").inputs.policy);
        assert.equal(roleChars("pool-role"), own + selfTuning);
        assert.ok(own + selfTuning <= ROLE_INLINE_POLICY_MAX_CHARS, `${own + selfTuning}`);
        // Buckets so that the worker's own policy fits alone and the self-tuning one takes the role over.
        const perBucket = (own - inlinePolicyChars(JSON.stringify({}))) / 200;
        const buckets = Math.floor((ROLE_INLINE_POLICY_MAX_CHARS - selfTuning) / perBucket) + 5;
        resetComponentState(loaded);
        const rejections = await pool(buckets, adaptive);
        const ownNow = inlinePolicyChars(resource("aws:iam/rolePolicy:RolePolicy", "pool-policy").inputs.policy);
        assert.ok(ownNow <= ROLE_INLINE_POLICY_MAX_CHARS && ownNow + selfTuning > ROLE_INLINE_POLICY_MAX_CHARS, `${ownNow} + ${selfTuning}`);
        assert.deepEqual(
            rejections.map((e) => e.message),
            [
                `EventBridgeWorkerPool "pool": the inline policies of one role (pool-policy, pool-self-tuning) would be at least ${ownNow + selfTuning} characters (whitespace not counted), over the 10240 IAM allows for one role's inline policies together; move statements of policyStatements into a managed policy attached to the role (aws.iam.RolePolicyAttachment), or name fewer resources.`,
            ],
        );
    });

    it("a policy over the limit on its own fails the deployment while the role's later policy is still unknown", async () => {
        const rejections = await rejectionsDuring(async (soFar) => {
            const { attachInlinePolicy } = await import("../../components/internal/inlinePolicies");
            const parent = new loaded.c.ControlPlaneBudget("budget");
            const role = new (await import("@pulumi/aws")).iam.Role("r", { assumeRolePolicy: "{}" }, { parent });
            attachInlinePolicy("r-big", role, JSON.stringify({ Statement: ["x".repeat(ROLE_INLINE_POLICY_MAX_CHARS)] }), "Test", parent);
            // Known only later (as a policy naming the function is): the check does not wait for it.
            let resolveLater: (document: string) => void = () => undefined;
            attachInlinePolicy("r-later", role, new Promise<string>((resolve) => (resolveLater = resolve)), "Test", parent);
            await new Promise((resolve) => setTimeout(resolve, 100));
            assert.equal(soFar.length, 1, "reported before the later policy resolved");
            resolveLater("{}");
            await settle();
        });
        assert.equal(rejections.length, 1);
        assert.match(rejections[0].message, /^Test: the inline policies of one role \(r-big, r-later\) would be at least 102\d\d characters/);
    });

    it("counts as IAM does, without whitespace", () => {
        assert.equal(inlinePolicyChars('{ "Version": "2012-10-17",\n  "Statement": [] }'), JSON.stringify({ Version: "2012-10-17", Statement: [] }).length);
    });
});

describe("tags", function () {
    this.timeout(60_000);
    let loaded: LoadedComponents;

    before(async () => (loaded = await loadComponents()));
    beforeEach(() => resetComponentState(loaded));

    const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`team-${i}`, "orders"]));
    const pool = (tags: Record<string, string>) =>
        new loaded.c.EventBridgeWorkerPool("pool", { function: { handler: HANDLER }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, tags });

    it("takes 50 tags per resource, refuses 51, and 50 where the component adds one of its own", async () => {
        assert.doesNotThrow(() => pool(many(50)));
        await settle();
        assert.equal(Object.keys(resource("aws:lambda/function:Function", "pool-fn").inputs.tags).length, 50);
        resetComponentState(loaded);
        assert.throws(() => pool(many(51)), { message: 'EventBridgeWorkerPool "pool": tags may hold at most 50 keys per resource; received 51.' });
        const account = (tags: Record<string, string>) => new loaded.c.IsolatedWorkloadAccount("acct", { accountId: "222222222222", region: "us-east-1", tags });
        assert.doesNotThrow(() => account(many(49)));
        assert.throws(() => account(many(50)), {
            message: 'IsolatedWorkloadAccount "acct": tags may hold at most 50 keys per resource (49 here: the component adds 1 of its own); received 50.',
        });
        resetComponentState(loaded);
        assert.doesNotThrow(() => account({ ...many(49), "serverless-concurrency:workload": "orders" }), "the component's own key given by the user is not counted twice");
    });

    it("refuses keys AWS reserves or cannot store and values over 256 characters, naming each", () => {
        assert.throws(() => pool({ "AWS:owner": "me", ["k".repeat(129)]: "v", big: "v".repeat(257) }), {
            message: [
                'EventBridgeWorkerPool "pool": tags key "AWS:owner" starts with "aws:", which AWS reserves for its own tags.',
                `EventBridgeWorkerPool "pool": tags key "${"k".repeat(129)}" must be 1–128 characters long.`,
                'EventBridgeWorkerPool "pool": tags value of "big" is 257 characters, over the 256 AWS allows.',
            ].join("\n"),
        });
    });
});
