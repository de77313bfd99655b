import { strict as assert } from "node:assert";
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { KinesisStreamRecord } from "aws-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { createInvocationScope, kinesisWorker } from "../../runtime";
import { kinesisRecord as recordOf } from "../helpers/kinesisRecords";
import { fakeLambdaContext } from "../helpers/lambdaContext";

const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";
const BREAKER_MODULE = "../../runtime/activation/circuitBreaker";
const ADAPTIVE_MODULE = "../../runtime/activation/adaptiveConcurrency";

/** Evaluates a side-effect module afresh, as a cold start does. */
function coldStart(modulePath: string): { deactivate: () => void } {
    const resolved = require.resolve(modulePath);
    delete require.cache[resolved];
    return require(resolved);
}

/** Sets environment variables for one test and restores them afterwards. */
function useEnvironment(): (variables: Record<string, string | undefined>) => void {
    const saved = new Map<string, string | undefined>();
    afterEach(() => {
        for (const [name, value] of saved) {
            if (value === undefined) delete process.env[name];
            else process.env[name] = value;
        }
        saved.clear();
    });
    return (variables) => {
        for (const [name, value] of Object.entries(variables)) {
            if (!saved.has(name)) saved.set(name, process.env[name]);
            if (value === undefined) delete process.env[name];
            else process.env[name] = value;
        }
    };
}

/** A record of the test stream. */
function kinesisRecord(partitionKey: string, sequenceNumber: string): KinesisStreamRecord {
    return recordOf(STREAM, partitionKey, sequenceNumber);
}

describe("activation modules: registered from the environment at cold start (mocked DynamoDB)", () => {
    let dynamo: AwsClientStub<DynamoDBClient>;
    const setEnv = useEnvironment();
    const updates = () => dynamo.commandCalls(UpdateItemCommand).map((call) => call.args[0].input);

    before(() => {
        dynamo = mockClient(DynamoDBClient);
    });
    after(() => dynamo.restore());
    beforeEach(() => {
        dynamo.reset();
        dynamo.on(UpdateItemCommand).resolves({ Attributes: { state: { S: "closed" }, windowStart: { N: "0" } } });
    });

    it("circuitBreaker: the guard records each batch's downstream outcomes in the breaker named by BREAKER_ID", async () => {
        setEnv({ BREAKER_TABLE_NAME: "orders-breaker", BREAKER_ID: "orders-worker", BREAKER_EVENT_SOURCE_ARN: STREAM, BREAKER_MAPPING_UUID: undefined });
        const { deactivate } = coldStart(BREAKER_MODULE);
        const handler = kinesisWorker(async (_record, ctx) => void (await ctx.downstream("ledger", async () => "ok")), { idempotency: false, write: () => undefined });
        try {
            assert.deepEqual(await handler({ Records: [kinesisRecord("a", "1")] }, fakeLambdaContext()), { batchItemFailures: [] });
        } finally {
            deactivate();
        }
        await handler({ Records: [kinesisRecord("a", "2")] }, fakeLambdaContext());
        assert.deepEqual(
            updates().map((input) => [input.TableName, input.Key]),
            [["orders-breaker", { id: { S: "orders-worker" } }]],
            "one write while active, none after deactivate",
        );
    });

    it("circuitBreaker: fails the cold start, naming the variable, on a bad environment", () => {
        setEnv({ BREAKER_TABLE_NAME: "orders-breaker", BREAKER_ID: undefined, BREAKER_EVENT_SOURCE_ARN: STREAM, BREAKER_MAPPING_UUID: undefined });
        assert.throws(() => coldStart(BREAKER_MODULE), /environment variable BREAKER_ID is required/);
        setEnv({ BREAKER_ID: "orders-worker", BREAKER_EVENT_SOURCE_ARN: undefined });
        assert.throws(() => coldStart(BREAKER_MODULE), /BREAKER_MAPPING_UUID or BREAKER_EVENT_SOURCE_ARN is required/);
        setEnv({ BREAKER_EVENT_SOURCE_ARN: STREAM, BREAKER_MIN_REQUESTS: "many" });
        assert.throws(() => coldStart(BREAKER_MODULE), /BREAKER_MIN_REQUESTS must be an integer; received "many"/);
    });

    it("adaptiveConcurrency: Controller mode records each invocation's statistics under the running function's key", async () => {
        const config = { target: { kind: "ReservedConcurrency" }, params: { min: 1, max: 50 }, tableName: "orders-control", metrics: {} };
        setEnv({ AWS_LAMBDA_FUNCTION_NAME: "orders-worker-fn", CONCURRENCY_CONTROL_MODE: "Controller", CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });
        const { deactivate } = coldStart(ADAPTIVE_MODULE);
        try {
            const scope = createInvocationScope(fakeLambdaContext(), { write: () => undefined });
            await scope.ctx.downstream("ledger", async () => "ok");
            await scope.finish();
        } finally {
            deactivate();
        }
        const [put] = dynamo.commandCalls(PutItemCommand).map((call) => call.args[0].input);
        assert.equal(put.TableName, "orders-control");
        assert.match(String(put.Item?.pk?.S), /^ReservedConcurrency:orders-worker-fn#stats#[0-3]$/);
        assert.match(String(put.Item?.sk?.S), /^\d+#[0-9a-f-]{36}$/, "<interval>#<environment id>");
        assert.deepEqual([put.Item?.calls, put.Item?.errors], [{ N: "1" }, { N: "0" }]);
    });

    it("adaptiveConcurrency: fails the cold start on an unknown mode or a missing configuration", () => {
        setEnv({ CONCURRENCY_CONTROL_MODE: "Automatic", CONCURRENCY_CONTROL_CONFIG: "{}" });
        assert.throws(() => coldStart(ADAPTIVE_MODULE), /CONCURRENCY_CONTROL_MODE must be one of Controller, SelfTuning; received "Automatic"/);
        setEnv({ CONCURRENCY_CONTROL_MODE: "SelfTuning", CONCURRENCY_CONTROL_CONFIG: undefined });
        assert.throws(() => coldStart(ADAPTIVE_MODULE), /CONCURRENCY_CONTROL_CONFIG is required/);
    });
});
