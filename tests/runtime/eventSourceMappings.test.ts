import { strict as assert } from "node:assert";
import { LambdaClient, ListEventSourceMappingsCommand, TooManyRequestsException } from "@aws-sdk/client-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { ConfigurationError } from "../../contracts/errors";
import { ownFunctionName, resolveOwnMappingUuid, targetKey } from "../../runtime";

const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";

describe("resolveOwnMappingUuid (aws-sdk-client-mock)", () => {
    let lambda: AwsClientStub<LambdaClient>;
    let fn = 0;
    /** A function name no earlier test has cached a lookup for. */
    let functionName: string;
    const listCalls = () => lambda.commandCalls(ListEventSourceMappingsCommand).map((call) => call.args[0].input);

    before(() => {
        lambda = mockClient(LambdaClient);
    });
    after(() => lambda.restore());
    beforeEach(() => {
        lambda.reset();
        functionName = `orders-worker-${++fn}`;
    });

    it("lists the mappings of the function for the source and returns the one UUID", async () => {
        lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: "uuid-1", EventSourceArn: STREAM }] });
        assert.equal(await resolveOwnMappingUuid({ lambda: new LambdaClient({}), functionName, eventSourceArn: STREAM }), "uuid-1");
        assert.deepEqual(listCalls(), [{ FunctionName: functionName, EventSourceArn: STREAM, Marker: undefined }]);
    });

    it("defaults to the running function (AWS_LAMBDA_FUNCTION_NAME) and names the variable when it is missing", async () => {
        lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: "uuid-own" }] });
        const saved = process.env.AWS_LAMBDA_FUNCTION_NAME;
        try {
            process.env.AWS_LAMBDA_FUNCTION_NAME = functionName;
            assert.equal(await resolveOwnMappingUuid({ eventSourceArn: STREAM }), "uuid-own");
            assert.equal(listCalls()[0].FunctionName, functionName);
            delete process.env.AWS_LAMBDA_FUNCTION_NAME;
            await assert.rejects(resolveOwnMappingUuid({ eventSourceArn: STREAM }), /AWS_LAMBDA_FUNCTION_NAME is not set/);
        } finally {
            process.env.AWS_LAMBDA_FUNCTION_NAME = saved;
            if (saved === undefined) delete process.env.AWS_LAMBDA_FUNCTION_NAME;
        }
    });

    it("caches the answer per function and source: one lookup for sequential and concurrent callers", async () => {
        lambda.on(ListEventSourceMappingsCommand).callsFake((input) => ({ EventSourceMappings: [{ UUID: `uuid-of-${input.EventSourceArn}` }] }));
        const resolve = (eventSourceArn: string) => resolveOwnMappingUuid({ lambda: new LambdaClient({}), functionName, eventSourceArn });
        const concurrent = await Promise.all([resolve(STREAM), resolve(STREAM)]);
        assert.deepEqual([...concurrent, await resolve(STREAM)], Array(3).fill(`uuid-of-${STREAM}`));
        assert.equal(await resolve("arn:aws:sqs:us-east-1:123456789012:other.fifo"), "uuid-of-arn:aws:sqs:us-east-1:123456789012:other.fifo");
        assert.equal(listCalls().length, 2, "one lookup per source");
    });

    it("follows NextMarker across pages", async () => {
        lambda
            .on(ListEventSourceMappingsCommand)
            .resolvesOnce({ EventSourceMappings: [], NextMarker: "page-2" })
            .resolvesOnce({ EventSourceMappings: [{ UUID: "uuid-2" }] });
        assert.equal(await resolveOwnMappingUuid({ lambda: new LambdaClient({}), functionName, eventSourceArn: STREAM }), "uuid-2");
        assert.deepEqual(listCalls().map((input) => input.Marker), [undefined, "page-2"]);
    });

    it("fails clearly when the function has no mapping for the source, or several", async () => {
        const resolve = () => resolveOwnMappingUuid({ lambda: new LambdaClient({}), functionName, eventSourceArn: STREAM });
        lambda
            .on(ListEventSourceMappingsCommand)
            .resolvesOnce({ EventSourceMappings: [] })
            .resolvesOnce({ EventSourceMappings: [{ UUID: "a" }, { UUID: "b" }] });
        await assert.rejects(resolve(), (e: unknown) => e instanceof ConfigurationError && e.message === `Expected exactly one event source mapping from ${STREAM} to function ${functionName}; found none.`);
        await assert.rejects(resolve(), (e: unknown) => e instanceof ConfigurationError && /found 2 \(a, b\)\.$/.test(e.message));
    });

    it("does not cache a failed lookup: the next call asks again", async () => {
        lambda
            .on(ListEventSourceMappingsCommand)
            .rejectsOnce(new TooManyRequestsException({ message: "Rate exceeded", $metadata: {} }))
            .resolvesOnce({ EventSourceMappings: [{ UUID: "uuid-3" }] });
        const resolve = () => resolveOwnMappingUuid({ lambda: new LambdaClient({}), functionName, eventSourceArn: STREAM });
        await assert.rejects(resolve(), { name: "TooManyRequestsException" });
        assert.equal(await resolve(), "uuid-3");
        assert.equal(listCalls().length, 2);
    });
});

describe("ownFunctionName and targetKey", () => {
    it("reads the running function's name from the environment", () => {
        assert.equal(ownFunctionName({ AWS_LAMBDA_FUNCTION_NAME: "orders-worker" }), "orders-worker");
        assert.throws(() => ownFunctionName({}), (e: unknown) => e instanceof ConfigurationError && /AWS_LAMBDA_FUNCTION_NAME is not set/.test(e.message));
    });

    it("keys reserved concurrency by function name, the same for a name, an ARN and the running function", () => {
        const saved = process.env.AWS_LAMBDA_FUNCTION_NAME;
        process.env.AWS_LAMBDA_FUNCTION_NAME = "orders-worker";
        try {
            const keys = [
                targetKey({ kind: "ReservedConcurrency", functionName: "orders-worker" }),
                targetKey({ kind: "ReservedConcurrency", functionName: "arn:aws:lambda:us-east-1:123456789012:function:orders-worker" }),
                targetKey({ kind: "ReservedConcurrency" }),
            ];
            assert.deepEqual(keys, Array(3).fill("ReservedConcurrency:orders-worker"));
        } finally {
            process.env.AWS_LAMBDA_FUNCTION_NAME = saved;
            if (saved === undefined) delete process.env.AWS_LAMBDA_FUNCTION_NAME;
        }
    });

    it("keys a mapping by its event source whenever it is given, so the controller (with the UUID) and the worker (without) agree", () => {
        const controller = targetKey({ kind: "KinesisParallelizationFactor", uuid: "uuid-1", eventSourceArn: STREAM });
        const worker = targetKey({ kind: "KinesisParallelizationFactor", eventSourceArn: STREAM });
        assert.deepEqual([controller, worker], [`KinesisParallelizationFactor:${STREAM}`, `KinesisParallelizationFactor:${STREAM}`]);
        assert.equal(targetKey({ kind: "SqsMaximumConcurrency", uuid: "uuid-2" }), "SqsMaximumConcurrency:uuid-2");
        assert.throws(() => targetKey({ kind: "SqsMaximumConcurrency" }), /SqsMaximumConcurrency target needs eventSourceArn or uuid/);
    });
});
