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

    it("skips values that are only known at deploy time", () => {
        const v = new Validator(label).integer("x", pulumi.output(0), 1, 2).oneOf("y", Promise.resolve("z"), ["a"]);
        assert.deepEqual(v.messages(), []);
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
