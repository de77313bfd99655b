import * as assert from "node:assert/strict";
import { componentSchema } from "../helpers/componentSchema";

/** The multi-language plugin infers its schema from the exported components: every one must yield one. */
describe("multi-language schema", function () {
    this.timeout(120_000);
    let schema: any;
    let exported: string[];

    before(async () => ({ schema, exported } = await componentSchema()));

    it("has a resource for every exported component", () => {
        assert.ok(exported.length > 0);
        assert.deepEqual(
            Object.keys(schema.resources).sort(),
            exported.map((name) => `serverless-concurrency:index:${name}`),
        );
        for (const resource of Object.values(schema.resources) as Array<{ isComponent: boolean }>) assert.equal(resource.isComponent, true);
    });

    it("describes the EventBridgeWorkerPool inputs, required ones and outputs", () => {
        const pool = schema.resources["serverless-concurrency:index:EventBridgeWorkerPool"];
        assert.deepEqual(pool.requiredInputs.sort(), ["eventPattern", "function", "reservedConcurrency"]);
        assert.match(pool.inputProperties.reservedConcurrency.description, /thread pool/);
        assert.equal(pool.inputProperties.maxRetryAttempts.type, "number");
        for (const output of ["function", "rule", "deadLetterQueue", "idempotencyTable", "reservedConcurrency", "maxDownstreamConcurrency", "dashboardName"]) {
            assert.ok(pool.properties[output], `output ${output}`);
        }
        assert.equal(pool.properties.function.$ref, "/aws/v7.48.0/schema.json#/resources/aws:lambda%2Ffunction:Function");
    });

    it("shares WorkerFunctionArgs as a type with the architecture enum", () => {
        const fn = schema.types["serverless-concurrency:index:WorkerFunctionArgs"];
        assert.deepEqual(fn.required, ["handler"]);
        assert.ok(fn.properties.vpc && fn.properties.policyStatements && fn.properties.wrap);
        const architecture = schema.types["serverless-concurrency:index:Architecture"];
        assert.deepEqual(architecture.enum.map((e: { value: string }) => e.value).sort(), ["arm64", "x86_64"]);
    });
});
