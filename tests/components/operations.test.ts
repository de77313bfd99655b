import * as assert from "node:assert/strict";
import type * as pulumiType from "@pulumi/pulumi";
import { ACCOUNT_ID, installMocks, invoked, REGION, resetRegistrations, settle, valueOf } from "../helpers/pulumiMocks";
import { findManifests, isOperationsManifest, OPERATIONS_MARKER } from "../../contracts/operations";

describe("operationsManifest (components/internal/operations.ts)", function () {
    this.timeout(60_000);
    let pulumi: typeof pulumiType;
    let aws: typeof import("@pulumi/aws");
    let operations: typeof import("../../components/internal/operations");

    before(async () => {
        await installMocks();
        pulumi = await import("@pulumi/pulumi");
        aws = await import("@pulumi/aws");
        operations = await import("../../components/internal/operations");
    });
    beforeEach(() => resetRegistrations());

    /** A component with a queue pair and a table, like a FIFO worker's. */
    function fixture(name: string, opts?: pulumiType.ComponentResourceOptions) {
        const component = new pulumi.ComponentResource("test:index:Fixture", name, {}, opts);
        const dlq = new aws.sqs.Queue(`${name}-dlq`, { fifoQueue: true }, { parent: component });
        const queue = new aws.sqs.Queue(`${name}-queue`, { fifoQueue: true }, { parent: component });
        const table = new aws.dynamodb.Table(`${name}-idempotency`, { hashKey: "id", attributes: [{ name: "id", type: "S" }] }, { parent: component });
        return { component, dlq, queue, table };
    }

    it("resolves every Output into a plain manifest with the marker, region and account, dropping options that are off", async () => {
        const { component, dlq, queue, table } = fixture("ledger");
        const manifest = await valueOf(
            operations.operationsManifest(component, {
                componentType: "FifoTopicWorker",
                name: "ledger",
                functionName: pulumi.output("ledger-fn"),
                topicArn: "arn:aws:sns:us-east-1:123456789012:ledger.fifo",
                queue: { url: queue.url, arn: queue.arn },
                deadLetterQueue: { url: dlq.url, arn: dlq.arn },
                mappingUuid: pulumi.output("uuid-1"),
                idempotencyTableName: table.name,
                dashboardName: "project-test-ledger",
                controller: undefined,
                breaker: { tableName: pulumi.output("ledger-breaker"), id: "ledger" },
            }),
        );
        assert.deepEqual(manifest, {
            [OPERATIONS_MARKER]: 1,
            componentType: "FifoTopicWorker",
            name: "ledger",
            region: REGION,
            account: ACCOUNT_ID,
            functionName: "ledger-fn",
            topicArn: "arn:aws:sns:us-east-1:123456789012:ledger.fifo",
            queue: { url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/ledger-queue-queue`, arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:ledger-queue-queue` },
            deadLetterQueue: { url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/ledger-dlq-queue`, arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:ledger-dlq-queue` },
            mappingUuid: "uuid-1",
            idempotencyTableName: "ledger-idempotency-table",
            dashboardName: "project-test-ledger",
            breaker: { tableName: "ledger-breaker", id: "ledger" },
        });
        assert.ok(!("controller" in manifest), "an option that is off leaves no key (plain JSON)");
        assert.ok(isOperationsManifest(manifest));
        assert.deepEqual(findManifests({ ledger: { operations: manifest } }).manifests, [manifest], "what the helper writes, the CLI finds");
    });

    it("asks the component's own provider for the region and account", async () => {
        const provider = new aws.Provider("workload", { region: "eu-west-1" });
        const { component } = fixture("pool", { providers: { aws: provider } });
        const manifest = operations.operationsManifest(component, {
            componentType: "StepFunctionsSemaphore",
            name: "erp",
            semaphore: { tableName: "erp-table", name: "erp", limit: 2 },
            deadLetterQueue: { url: "https://sqs/erp-dlq", arn: "arn:aws:sqs:eu-west-1:1:erp-dlq" },
        });
        await valueOf(manifest);
        await settle();
        const lookups = invoked.filter((call) => call.token === "aws:index/getRegion:getRegion" || call.token === "aws:index/getCallerIdentity:getCallerIdentity");
        assert.equal(lookups.length, 2);
        for (const call of lookups) assert.match(call.provider ?? "", /::workload::/, `${call.token} went through the component's provider`);
    });
});
