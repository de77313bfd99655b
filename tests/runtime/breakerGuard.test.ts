import { strict as assert } from "node:assert";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
    DeleteEventSourceMappingCommand,
    GetEventSourceMappingCommand,
    LambdaClient,
    ListEventSourceMappingsCommand,
    UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import type { KinesisStreamRecord, SQSRecord } from "aws-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { activateCircuitBreaker, breakerGuard, CircuitBreaker, fifoWorker, kinesisWorker, registerBatchGuard, WorkerContext } from "../../runtime";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { kinesisRecord as recordOf } from "../helpers/kinesisRecords";
import { fakeLambdaContext, lineSink, LineSink } from "../helpers/lambdaContext";

const TABLE = "breakers";
const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";
const QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders.fifo";

/** A record of the test stream. */
function kinesisRecord(partitionKey: string, sequenceNumber: string): KinesisStreamRecord {
    return recordOf(STREAM, partitionKey, sequenceNumber);
}

function sqsRecord(messageId: string, groupId: string): SQSRecord {
    return {
        messageId,
        receiptHandle: `rh-${messageId}`,
        body: "{}",
        attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: "1700000000000",
            SenderId: "AIDAEXAMPLE",
            ApproximateFirstReceiveTimestamp: "1700000000001",
            MessageGroupId: groupId,
            MessageDeduplicationId: `dedup-${messageId}`,
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: QUEUE,
        awsRegion: "us-east-1",
    };
}

/** A downstream call that fails; the user's function falls back, so the record itself succeeds. */
const failingCallWithFallback = (ctx: WorkerContext) => ctx.downstream("ledger", () => Promise.reject(new Error("503"))).catch(() => "fallback");
const healthyCall = (ctx: WorkerContext) => ctx.downstream("ledger", async () => "ok");

describe("circuit breaker as a batch guard of the ordered wrappers (dynalite, mocked Lambda)", () => {
    let db: LocalDynamo;
    let lambda: AwsClientStub<LambdaClient>;
    let sink: LineSink;
    let n = 0;
    /** Unique per test: the breaker's item, the function (so no cached mapping lookup carries over) and its mapping. */
    let id: string;
    let functionName: string;
    let uuid: string;
    let stops: (() => void)[];

    const env = (source: string, extra: Record<string, string> = {}) => ({
        BREAKER_TABLE_NAME: TABLE,
        BREAKER_ID: id,
        BREAKER_EVENT_SOURCE_ARN: source,
        BREAKER_MIN_REQUESTS: "3",
        BREAKER_ERROR_THRESHOLD: "0.5",
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        ...extra,
    });
    const activate = (source: string, options: { extra?: Record<string, string>; dynamo?: DynamoDBClient } = {}) => {
        stops.push(activateCircuitBreaker({ env: env(source, options.extra), dynamo: options.dynamo ?? db.client, lambda: new LambdaClient({}), write: sink.write }));
    };
    const storedState = async () => {
        const { Item } = await db.client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: id } }, ConsistentRead: true }));
        return Item?.state?.S;
    };
    const updates = () => lambda.commandCalls(UpdateEventSourceMappingCommand).map((call) => call.args[0].input);
    const rejections = () => sink.json().filter((line) => typeof line.message === "string" && line.message.startsWith("batch rejected; "));
    const kinesisHandler = (call: (ctx: WorkerContext) => Promise<unknown>) => kinesisWorker(async (_record, ctx) => void (await call(ctx)), { idempotency: false, write: sink.write });

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "id");
        lambda = mockClient(LambdaClient);
    });
    after(async () => {
        lambda.restore();
        await db.stop();
    });
    beforeEach(() => {
        n++;
        [id, functionName, uuid] = [`orders-worker-${n}`, `orders-worker-fn-${n}`, `uuid-${n}`];
        sink = lineSink();
        stops = [];
        lambda.reset();
        lambda.on(ListEventSourceMappingsCommand).callsFake((input) => ({ EventSourceMappings: [{ UUID: uuid, EventSourceArn: input.EventSourceArn }] }));
        lambda.on(GetEventSourceMappingCommand).callsFake(() => ({ UUID: uuid, State: "Enabled", BatchSize: 100, EventSourceArn: STREAM, ParallelizationFactor: 2 }));
        lambda.on(UpdateEventSourceMappingCommand).resolves({});
    });
    afterEach(() => {
        stops.forEach((stop) => stop());
        assert.equal(lambda.commandCalls(DeleteEventSourceMappingCommand).length, 0, "the mapping is never deleted");
    });

    it("Kinesis: a batch whose downstream fails past the threshold trips the breaker, disables the worker's own mapping and resumes at the earliest record", async () => {
        activate(STREAM);
        const records = [kinesisRecord("a", "11"), kinesisRecord("b", "12"), kinesisRecord("a", "13")];
        const response = await kinesisHandler(failingCallWithFallback)({ Records: records }, fakeLambdaContext());
        assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: "11" }] }, "every record succeeded on its own, yet none is checkpointed");
        assert.equal(await storedState(), "open");
        assert.deepEqual(lambda.commandCalls(ListEventSourceMappingsCommand).map((call) => call.args[0].input), [
            { FunctionName: functionName, EventSourceArn: STREAM, Marker: undefined },
        ]);
        assert.deepEqual(updates().map((input) => [input.UUID, input.Enabled]), [[uuid, false]]);
        const [line] = rejections();
        assert.equal(rejections().length, 1);
        assert.deepEqual([line.level, line.reason, line.breaker, line.state, line.records], ["WARN", "circuit breaker open", id, "open", 3]);
    });

    it("FIFO: the tripping batch disables the mapping; succeeded messages are deleted as usual, failed ones come back", async () => {
        lambda.on(GetEventSourceMappingCommand).callsFake(() => ({ UUID: uuid, State: "Enabled", BatchSize: 10, EventSourceArn: QUEUE }));
        activate(QUEUE);
        const handler = fifoWorker(
            async (message, ctx) => {
                await failingCallWithFallback(ctx);
                if (message.raw.messageId === "m3") throw new Error("m3 failed on its own");
            },
            { idempotency: false, write: sink.write },
        );
        const records = [sqsRecord("m1", "g1"), sqsRecord("m2", "g1"), sqsRecord("m3", "g2"), sqsRecord("m4", "g3")];
        const response = await handler({ Records: records }, fakeLambdaContext());
        assert.deepEqual(response.batchItemFailures.map((failure) => failure.itemIdentifier), ["m3"], "no checkpoint to protect: re-running succeeded messages would only burn their receives");
        assert.equal(lambda.commandCalls(ListEventSourceMappingsCommand)[0].args[0].input.EventSourceArn, QUEUE);
        assert.deepEqual(updates().map((input) => [input.UUID, input.Enabled]), [[uuid, false]]);
        assert.equal(rejections().length, 1);
    });

    it("fails the batches still in flight while the breaker is open, without counting them", async () => {
        activate(STREAM);
        const handler = kinesisHandler(failingCallWithFallback);
        await handler({ Records: [kinesisRecord("a", "1"), kinesisRecord("b", "2"), kinesisRecord("c", "3")] }, fakeLambdaContext());
        const late = await kinesisHandler(healthyCall)({ Records: [kinesisRecord("a", "4"), kinesisRecord("b", "5")] }, fakeLambdaContext("req-2"));
        assert.deepEqual(late, { batchItemFailures: [{ itemIdentifier: "4" }] });
        assert.equal(updates().length, 1, "disabled once");
    });

    it("reports a healthy batch normally; an environment writes its counts once per flush period, and none for a batch without downstream calls", async () => {
        const commands: string[] = [];
        const counted = new DynamoDBClient({ endpoint: db.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
        counted.middlewareStack.add((next, context) => (args) => (commands.push(String(context.commandName)), next(args)), { step: "initialize" });
        // one counting window for the whole test, so the second batch adds to the window the first one started
        const oneWindow = { BREAKER_WINDOW_SECONDS: "1000000000", BREAKER_MAX_OPEN_SECONDS: "1000000000" };
        activate(STREAM, { extra: { ...oneWindow, BREAKER_FLUSH_SECONDS: "60" }, dynamo: counted });
        const handler = kinesisHandler(healthyCall);
        assert.deepEqual(await handler({ Records: [kinesisRecord("a", "1"), kinesisRecord("b", "2")] }, fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(commands, ["UpdateItemCommand", "GetItemCommand", "UpdateItemCommand"], "the first batch starts the window and learns the state");
        commands.length = 0;
        assert.deepEqual(await handler({ Records: [kinesisRecord("a", "3"), kinesisRecord("b", "4")] }, fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(commands, [], "inside the flush period the counts stay in memory");
        const quiet = kinesisWorker(async () => undefined, { idempotency: false, write: sink.write });
        assert.deepEqual(await quiet({ Records: [kinesisRecord("a", "5")] }, fakeLambdaContext()), { batchItemFailures: [] });
        assert.deepEqual(commands, []);
        assert.deepEqual([lambda.calls().length, rejections().length, await storedState()], [0, 0, "closed"]);
        stops.pop()!();
        activate(STREAM, { extra: { ...oneWindow, BREAKER_FLUSH_SECONDS: "0" }, dynamo: counted });
        await handler({ Records: [kinesisRecord("a", "6")] }, fakeLambdaContext());
        await handler({ Records: [kinesisRecord("a", "7")] }, fakeLambdaContext());
        assert.deepEqual(commands, ["UpdateItemCommand", "UpdateItemCommand"], "BREAKER_FLUSH_SECONDS=0: one write per batch");
        counted.destroy();
    });

    it("treats a breaker storage error as closed: logged, and the batch's own outcomes stand", async () => {
        activate(STREAM, { extra: { BREAKER_TABLE_NAME: "no-such-table" } });
        const response = await kinesisHandler(failingCallWithFallback)({ Records: [kinesisRecord("a", "1"), kinesisRecord("b", "2"), kinesisRecord("c", "3")] }, fakeLambdaContext());
        assert.deepEqual(response, { batchItemFailures: [] });
        const [line] = sink.json().filter((l) => l.message === "batch guard failed; the batch's own outcomes stand");
        assert.deepEqual([line.level, line.error.name], ["WARN", "ResourceNotFoundException"]);
        assert.deepEqual([updates().length, rejections().length], [0, 0]);
    });

    it("a breaker given by its event source needs an id, and some way to find its mapping", () => {
        assert.throws(() => new CircuitBreaker({ tableName: TABLE, eventSourceArn: STREAM }), /id is required when the mapping is given by eventSourceArn/);
        assert.throws(() => new CircuitBreaker({ tableName: TABLE, id }), /mappingUuid or eventSourceArn is required/);
    });

    it("lets a half-open breaker's successful probe batch through, and fails the batch of a failed probe", async () => {
        let clock = 1_000_020_000;
        const breaker = new CircuitBreaker({
            tableName: TABLE,
            id,
            eventSourceArn: STREAM,
            functionName,
            policy: { minRequests: 3, errorThreshold: 0.5, openSeconds: 30, successThreshold: 3 },
            dynamo: db.client,
            now: () => clock,
            write: sink.write,
        });
        stops.push(registerBatchGuard(breakerGuard(breaker)));
        await kinesisHandler(failingCallWithFallback)({ Records: [kinesisRecord("a", "1"), kinesisRecord("b", "2"), kinesisRecord("c", "3")] }, fakeLambdaContext());
        clock += 30_000;
        assert.equal((await breaker.tick()).state, "halfOpen");
        assert.deepEqual(updates().map((input) => [input.UUID, input.Enabled, input.BatchSize, input.ParallelizationFactor]), [
            [uuid, false, undefined, undefined],
            [uuid, true, 1, 1],
        ]);
        assert.deepEqual(await kinesisHandler(healthyCall)({ Records: [kinesisRecord("a", "1")] }, fakeLambdaContext()), { batchItemFailures: [] });
        assert.equal(await storedState(), "halfOpen");
        assert.deepEqual(await kinesisHandler(failingCallWithFallback)({ Records: [kinesisRecord("b", "2")] }, fakeLambdaContext()), { batchItemFailures: [{ itemIdentifier: "2" }] });
        assert.equal(await storedState(), "open");
    });
});
