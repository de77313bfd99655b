/**
 * EventBridge refuses a rule whose pattern is over 2,048 characters (the default "Event pattern size"
 * quota; at most 4,096 when raised). Mocks accept any size, so the components check the JSON they create
 * the rule with, also when it is known only at deploy time.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { EVENT_PATTERN_DEFAULT_MAX_CHARS, EVENT_PATTERN_MAX_CHARS } from "../../components/internal/eventPatterns";
import { loadComponents, LoadedComponents, resetComponentState, resource, settle } from "../helpers/pulumiMocks";
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
