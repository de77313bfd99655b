import { strict as assert } from "node:assert";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { LambdaClient, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";
import { injectFaults, seededRandom, THROTTLE_ERRORS } from "../helpers/faults";

describe("fault injection helper", () => {
    let db: LocalDynamo;
    before(async () => {
        db = await startDynalite();
        await db.createTable("faults", "id");
    });
    after(() => db.stop());

    const put = (id: string) => new PutItemCommand({ TableName: "faults", Item: { id: { S: id } }, ConditionExpression: "attribute_not_exists(id)" });
    const stored = async (id: string) => (await db.client.send(new GetItemCommand({ TableName: "faults", Key: { id: { S: id } } }))).Item;

    it("before: nothing is applied and the caller gets a connection error", async () => {
        const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "before", times: 1 }]);
        await assert.rejects(db.client.send(put("a")), { name: "ECONNRESET" });
        faults.restore();
        assert.equal(await stored("a"), undefined);
    });

    it("after + retry: the write is applied and the retried command fails its condition", async () => {
        const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "after", times: 1 }]);
        await assert.rejects(db.client.send(put("b")), { name: "ConditionalCheckFailedException" });
        faults.restore();
        assert.deepEqual(await stored("b"), { id: { S: "b" } });
        assert.deepEqual(faults.injected, [{ command: "PutItemCommand", fault: "after" }]);
    });

    it("after + throw: the write is applied and the caller gets a 500", async () => {
        const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "after", then: "throw" }]);
        await assert.rejects(db.client.send(put("c")), (e: Error & { $metadata: { httpStatusCode: number } }) => e.name === "InternalServerError" && e.$metadata.httpStatusCode === 500);
        faults.restore();
        assert.deepEqual(await stored("c"), { id: { S: "c" } });
    });

    it("throttle with a service's error name, only as many times as asked", async () => {
        const faults = injectFaults(db.client, [{ command: "PutItemCommand", fault: "throttle", errorName: THROTTLE_ERRORS.dynamodb, times: 1 }]);
        await assert.rejects(db.client.send(put("d")), { name: "ProvisionedThroughputExceededException" });
        await db.client.send(put("d"));
        faults.restore();
        assert.ok(await stored("d"));
    });

    it("probability with a seeded source hits a reproducible subset", async () => {
        const run = async () => {
            const faults = injectFaults(db.client, [{ command: "GetItemCommand", fault: "before", probability: 0.3 }], { random: seededRandom(7) });
            const outcomes: boolean[] = [];
            for (let i = 0; i < 20; i++) outcomes.push(await stored("d").then(() => true, () => false));
            faults.restore();
            return outcomes;
        };
        const first = await run();
        assert.deepEqual(await run(), first);
        assert.ok(first.includes(false) && first.includes(true));
    });

    it("works on a client whose send aws-sdk-client-mock replaced (after: applied twice)", async () => {
        const lambda = new LambdaClient({ region: "us-east-1" });
        const mock = mockClient(lambda);
        mock.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 5 });
        const faults = injectFaults(lambda, [{ command: "PutFunctionConcurrencyCommand", fault: "after" }]);
        assert.deepEqual(await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: "f", ReservedConcurrentExecutions: 5 })), { ReservedConcurrentExecutions: 5 });
        assert.equal(mock.commandCalls(PutFunctionConcurrencyCommand).length, 2);
        faults.restore();
        mock.restore();
    });
});
