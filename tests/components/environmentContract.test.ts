/**
 * The component ↔ runtime contract: for every component and option, the environment a function gets is
 * exactly what the runtime bundled into it reads and accepts. Each function's real bundle (the archive
 * the component built) is loaded in-process with exactly that environment, as Lambda's cold start does.
 */
import * as assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
    ENV,
    Environment,
    FifoIdempotencyKey,
    optionalBoolean,
    optionalInteger,
    optionalJsonObject,
    optionalNumber,
    optionalString,
    requiredString,
} from "../../contracts/environment";
import { ofType, settle, loadComponents, LoadedComponents, resetComponentState } from "../helpers/pulumiMocks";

type Components = LoadedComponents["c"];

const ROOT = path.join(__dirname, "..", "..");
const POOL = "tests/fixtures/handlers/orders.handle";
const ORDERED = "tests/fixtures/handlers/ordered.handle";

/** How each variable of the contract parses; every name in ENV has an entry (a new name needs a decision here). */
const FORMATS: Record<(typeof ENV)[keyof typeof ENV], (env: Environment, name: string) => unknown> = {
    NODE_OPTIONS: (env, name) => assert.equal(requiredString(env, name), "--enable-source-maps"),
    WORKER_NAME: requiredString,
    IDEMPOTENCY_ENABLED: optionalBoolean,
    IDEMPOTENCY_TABLE_NAME: requiredString,
    IDEMPOTENCY_EXPIRY_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
    IDEMPOTENCY_LEASE_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
    IDEMPOTENCY_LOCAL_CACHE_SIZE: (env, name) => optionalInteger(env, name, { min: 0 }),
    IDEMPOTENCY_MAX_STORED_RESULT_BYTES: (env, name) => optionalInteger(env, name, { min: 0, max: 393_216 }),
    FIFO_IDEMPOTENCY_KEY: (env, name) => assert.ok(Object.values(FifoIdempotencyKey).includes(requiredString(env, name) as FifoIdempotencyKey)),
    IN_BATCH_PARALLELISM: (env, name) => optionalInteger(env, name, { min: 1, max: 1000 }),
    KPL_DEAGGREGATION: optionalBoolean,
    CONCURRENCY_CONTROL_MODE: (env, name) => assert.ok(["Controller", "SelfTuning"].includes(requiredString(env, name))),
    CONCURRENCY_CONTROL_CONFIG: (env, name) => assert.ok(optionalJsonObject(env, name)),
    BREAKER_TABLE_NAME: requiredString,
    BREAKER_MAPPING_UUID: requiredString,
    BREAKER_EVENT_SOURCE_ARN: (env, name) => assert.match(requiredString(env, name), /^arn:aws[a-z-]*:(kinesis|sqs):/),
    BREAKER_ID: requiredString,
    BREAKER_PROBE_LEASE_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
    BREAKER_ERROR_THRESHOLD: (env, name) => optionalNumber(env, name, { min: 0, max: 1 }),
    BREAKER_MIN_REQUESTS: (env, name) => optionalInteger(env, name, { min: 1 }),
    BREAKER_WINDOW_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
    BREAKER_OPEN_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
    BREAKER_MAX_OPEN_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
    BREAKER_BACKOFF_MULTIPLIER: (env, name) => optionalNumber(env, name, { min: 1 }),
    BREAKER_SUCCESS_THRESHOLD: (env, name) => optionalInteger(env, name, { min: 1 }),
    BREAKER_FLUSH_SECONDS: (env, name) => optionalInteger(env, name, { min: 0, max: 60 }),
    SEMAPHORE_TABLE_NAME: requiredString,
    SEMAPHORE_NAME: optionalString,
    SEMAPHORE_LIMIT: (env, name) => optionalInteger(env, name, { min: 1 }),
    SEMAPHORE_LEASE_SECONDS: (env, name) => optionalInteger(env, name, { min: 1 }),
};

/** What Lambda itself sets in every function (not part of the contract). */
const LAMBDA_PLATFORM: Record<string, string> = {
    AWS_REGION: "us-east-1",
    AWS_LAMBDA_FUNCTION_NAME: "contract-test-fn",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
};

/** The test's own setting: no SDK notice in the output. */
const QUIET = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };


const CONTRACT_NAMES = new Set<string>(Object.values(ENV));

/** Loads a bundle as a cold start does, with exactly `env`; returns the contract variables it read. */
function coldStart(code: string, env: Record<string, string>): Set<string> {
    const read = new Set<string>();
    const recorded = new Proxy({ ...QUIET, ...LAMBDA_PLATFORM, ...env } as Record<string, string>, {
        get(target, name) {
            if (typeof name === "string" && CONTRACT_NAMES.has(name)) read.add(name);
            return target[name as string];
        },
    });
    const saved = process.env;
    process.env = recorded;
    try {
        const module = { exports: {} as Record<string, unknown> };
        new Function("exports", "require", "module", "__filename", "__dirname", code)(module.exports, createRequire(path.join(ROOT, "index.js")), module, "index.js", ROOT);
        assert.equal(typeof module.exports.handler, "function", "the bundle exports its handler");
    } finally {
        process.env = saved;
    }
    return read;
}

/** Contract variables a bundle refers to in its code (for those read per invocation rather than at cold start). */
function referencedNames(code: string): Set<string> {
    const keyOf = new Map(Object.entries(ENV).map(([key, name]) => [key, name]));
    const referenced = new Set<string>();
    for (const name of CONTRACT_NAMES) if (new RegExp(`["'.\\[]${name}\\b`).test(code)) referenced.add(name);
    for (const match of code.matchAll(/\bENV\d*\.(\w+)/g)) if (keyOf.has(match[1])) referenced.add(keyOf.get(match[1])!);
    return referenced;
}

interface FunctionUnderTest {
    name: string;
    env: Record<string, string>;
    code: string;
}

async function functionsOf(): Promise<FunctionUnderTest[]> {
    return Promise.all(
        ofType("aws:lambda/function:Function").map(async (fn) => {
            const assets = (await (fn.inputs.code as pulumi.asset.AssetArchive).assets) as Record<string, { text: Promise<string> }>;
            return { name: fn.name, env: fn.inputs.environment.variables as Record<string, string>, code: await assets["index.js"].text };
        }),
    );
}

describe("environment contract: what a component sets is what its runtime reads and accepts", function () {
    this.timeout(180_000);
    let c: Components;
    let budget: LoadedComponents["budget"];

    before(async () => ({ c, budget } = await loadComponents()));
    beforeEach(() => resetComponentState({ c, budget }));

    it("every name in ENV has a format", () => {
        assert.deepEqual(Object.keys(FORMATS).sort(), [...CONTRACT_NAMES].sort());
    });

    const adaptive = (mode: "Controller" | "SelfTuning", min: number, max: number) => ({ mode, minConcurrency: min, maxConcurrency: max });
    const scenarios: Array<[string, (c: Components) => unknown, number]> = [
        ["EventBridgeWorkerPool", (c) => new c.EventBridgeWorkerPool("orders", { function: { handler: POOL }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5 }), 1],
        ["EventBridgeWorkerPool + Controller", (c) => new c.EventBridgeWorkerPool("orders", { function: { handler: POOL }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: adaptive("Controller", 2, 10) }), 2],
        ["EventBridgeWorkerPool + SelfTuning", (c) => new c.EventBridgeWorkerPool("orders", { function: { handler: POOL }, eventPattern: { source: ["shop"] }, reservedConcurrency: 5, adaptiveConcurrency: adaptive("SelfTuning", 2, 10) }), 1],
        ["KinesisOrderedWorker", (c) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED } }), 1],
        ["KinesisOrderedWorker + circuitBreaker", (c) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, circuitBreaker: { errorThreshold: 0.4, minRequests: 30, windowSeconds: 120, openSeconds: 60, maxOpenSeconds: 600, successThreshold: 2 } }), 2],
        ["KinesisOrderedWorker + SelfTuning", (c) => new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED }, shardCount: 2, adaptiveConcurrency: adaptive("SelfTuning", 1, 4) }), 1],
        ["FifoTopicWorker", (c) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5 }), 1],
        ["FifoTopicWorker, publisher deduplication ids", (c) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, contentBasedDeduplication: false }), 1],
        ["FifoTopicWorker + circuitBreaker", (c) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, circuitBreaker: {} }), 2],
        ["FifoTopicWorker + Controller", (c) => new c.FifoTopicWorker("ledger", { function: { handler: ORDERED }, maxConcurrency: 5, adaptiveConcurrency: adaptive("Controller", 2, 20) }), 2],
        [
            "ConcurrencyController on a mapping",
            (c) =>
                new c.ConcurrencyController("ctl", {
                    target: "KinesisParallelizationFactor",
                    functionName: "payments-fn",
                    eventSourceMappingArn: "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
                    eventSourceArn: "arn:aws:kinesis:us-east-1:123456789012:stream/payments",
                    shardCount: 2,
                    minConcurrency: 1,
                    maxConcurrency: 4,
                }),
            1,
        ],
        [
            "ConcurrencyController with a shared control-plane budget",
            (c) => new c.ConcurrencyController("ctl", { target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 1, maxConcurrency: 4, controlPlaneBudget: { tableName: "budget", tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/budget", requestsPerSecond: 12 } }),
            1,
        ],
        [
            "EventBridgeWorkerPool + SelfTuning with a shared control-plane budget",
            (c) =>
                new c.EventBridgeWorkerPool("orders", {
                    function: { handler: POOL },
                    eventPattern: { source: ["shop"] },
                    reservedConcurrency: 5,
                    adaptiveConcurrency: { ...adaptive("SelfTuning", 2, 10), controlPlaneBudget: { tableName: "budget", tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/budget" } },
                }),
            1,
        ],
        [
            "ConcurrencyControllerGroup (reserved concurrency, SQS and Kinesis targets, a budget)",
            (c) =>
                new c.ConcurrencyControllerGroup("shop", {
                    targets: [
                        { name: "orders", target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 1, maxConcurrency: 4 },
                        {
                            name: "ledger",
                            target: "SqsMaximumConcurrency",
                            functionName: "ledger-fn",
                            eventSourceMappingArn: "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
                            eventSourceArn: "arn:aws:sqs:us-east-1:123456789012:ledger.fifo",
                            queueName: "ledger.fifo",
                            minConcurrency: 2,
                            maxConcurrency: 20,
                        },
                        {
                            name: "payments",
                            target: "KinesisParallelizationFactor",
                            functionName: "payments-fn",
                            eventSourceMappingArn: "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
                            eventSourceArn: "arn:aws:kinesis:us-east-1:123456789012:stream/payments",
                            shardCount: 2,
                            minConcurrency: 1,
                            maxConcurrency: 4,
                        },
                    ],
                    controlPlaneBudget: { tableName: "budget", tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/budget" },
                }),
            1,
        ],
        ["StepFunctionsSemaphore (acquire, release, cleanup, sweeper)", (c) => new c.StepFunctionsSemaphore("erp", { limit: 3 }), 4],
    ];

    for (const [title, create, functionCount] of scenarios) {
        it(`${title}: names from ENV, values that parse, a cold start that reads every variable set and needs no other`, async () => {
            create(c);
            await settle();
            const functions = await functionsOf();
            assert.equal(functions.length, functionCount);
            for (const fn of functions) {
                const names = Object.keys(fn.env);
                assert.deepEqual(names.filter((name) => !CONTRACT_NAMES.has(name)), [], `${fn.name}: names outside ENV`);
                for (const name of names) {
                    assert.doesNotThrow(() => FORMATS[name as keyof typeof FORMATS](fn.env, name), `${fn.name}: ${name}=${JSON.stringify(fn.env[name])}`);
                }
                const read = coldStart(fn.code, fn.env);
                const referenced = referencedNames(fn.code);
                const unread = names.filter((name) => name !== ENV.nodeOptions && !read.has(name) && !referenced.has(name));
                assert.deepEqual(unread, [], `${fn.name}: set but never read by its runtime`);
                for (const name of names.filter((n) => read.has(n))) {
                    const { [name]: _removed, ...without } = fn.env;
                    try {
                        coldStart(fn.code, without);
                    } catch (error) {
                        assert.match(String((error as Error).message), new RegExp(name), `${fn.name}: a cold start without ${name} must name it`);
                    }
                }
            }
        });
    }

    it("a controller group's cold start refuses a configuration its targets do not share, naming the variable and the target", async () => {
        new c.ConcurrencyControllerGroup("shop", { targets: [{ name: "orders", target: "ReservedConcurrency", functionName: "orders-fn", minConcurrency: 1, maxConcurrency: 4 }] });
        await settle();
        const [fn] = await functionsOf();
        const config = JSON.parse(fn.env[ENV.concurrencyControlConfig]);
        const broken = { ...config, targets: [...config.targets, { ...config.targets[0], target: { kind: "ReservedConcurrency", functionName: "billing-fn" }, intervalSeconds: 300 }] };
        assert.throws(
            () => coldStart(fn.code, { ...fn.env, [ENV.concurrencyControlConfig]: JSON.stringify(broken) }),
            (e: Error) => e.message.startsWith("environment variable CONCURRENCY_CONTROL_CONFIG (a controller group) is invalid (1 problem):\n- every target needs the same intervalSeconds and metricsDelaySeconds"),
        );
    });

    it("a cold start refuses a value outside the contract, naming the variable", async () => {
        new c.KinesisOrderedWorker("payments", { function: { handler: ORDERED } });
        await settle();
        const [fn] = await functionsOf();
        assert.throws(() => coldStart(fn.code, { ...fn.env, [ENV.inBatchParallelism]: "many" }), /IN_BATCH_PARALLELISM/);
        assert.throws(() => FORMATS[ENV.inBatchParallelism]({ [ENV.inBatchParallelism]: "many" }, ENV.inBatchParallelism), /IN_BATCH_PARALLELISM/);
        assert.throws(() => coldStart(fn.code, { ...fn.env, [ENV.kplDeaggregation]: "no" }), /environment variable KPL_DEAGGREGATION must be "true" or "false"; received "no"/);
    });
});
