import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { Validator, componentLabel } from "../../components/internal/validation";

describe("Validator", () => {
    const label = componentLabel("EventBridgeWorkerPool", "orders");

    it("names the component, the argument, the range and the value received", () => {
        const v = new Validator(label).integer("reservedConcurrency", 0, 1, 900);
        assert.deepEqual(v.messages(), [
            'EventBridgeWorkerPool "orders": reservedConcurrency must be an integer from 1 to 900; received 0.',
        ]);
    });

    it("rejects non-integers and accepts the bounds", () => {
        assert.equal(new Validator(label).integer("x", 1.5, 1, 2).messages().length, 1);
        assert.equal(new Validator(label).integer("x", 1, 1, 2).integer("y", 2, 1, 2).messages().length, 0);
    });

    it("leaves values known only at deploy time out of the messages known now", () => {
        const v = new Validator(label).integer("x", pulumi.output(0), 1, 2).oneOf("y", Promise.resolve("z"), ["a"]);
        assert.deepEqual(v.messages(), []);
    });

    it("checks an Output's range when it resolves, with the message a plain value gets", async () => {
        const v = new Validator(label).integer("reservedConcurrency", pulumi.output(0), 1, 900).integer("limit", Promise.resolve(2), 1, 1000, "one item per semaphore");
        const deferred = await new Promise<string[]>((resolve) => v.deferredMessages().apply(resolve));
        assert.deepEqual(deferred, [new Validator(label).integer("reservedConcurrency", 0, 1, 900).messages()[0]]);
        assert.equal(deferred[0], 'EventBridgeWorkerPool "orders": reservedConcurrency must be an integer from 1 to 900; received 0.');
    });

    it("says why a range is what it is", () => {
        assert.deepEqual(new Validator(label).integer("limit", 0, 1, 10000, "every sweep reads each shard item of four permits").messages(), [
            `${label}: limit must be an integer from 1 to 10000 (every sweep reads each shard item of four permits); received 0.`,
        ]);
    });

    it("checks fractions as (min, max]", () => {
        assert.equal(new Validator(label).fraction("t", 0, 0, 1).messages().length, 1);
        assert.equal(new Validator(label).fraction("t", 1, 0, 1).messages().length, 0);
        assert.match(new Validator(label).fraction("t", 1.5, 0, 1).messages()[0], /greater than 0 and at most 1; received 1.5/);
    });

    it("lists every problem in one error", () => {
        const v = new Validator(label)
            .oneOf("mode", "Fast" as string, ["Controller", "SelfTuning"])
            .matches("handler", "nodot", /^.+\.[A-Za-z_$][\w$]*$/, 'a "path/module.exportName" string')
            .rule(true, "min must not exceed max.");
        assert.throws(
            () => v.throwIfInvalid(),
            (e: Error) =>
                e.message ===
                [
                    `${label}: mode must be one of Controller, SelfTuning; received "Fast".`,
                    `${label}: handler must be a "path/module.exportName" string; received "nodot".`,
                    `${label}: min must not exceed max.`,
                ].join("\n"),
        );
    });
});
