import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { revealOutputs, stackOutputJson, stackReferenceState } from "../../stacks/stackOutputs";

describe("stack outputs as the Pulumi CLI prints them", () => {
    const exports = () => ({
        zone: pulumi.output("us-east-1"),
        password: pulumi.secret("hunter2"),
        nested: { token: pulumi.secret("abc"), count: pulumi.output(3) },
        absent: pulumi.output(undefined),
    });

    it("prints secrets as [secret] at any depth, keys sorted, undefined outputs dropped", async () => {
        assert.equal(
            stackOutputJson(await revealOutputs(exports()), false),
            '{\n  "nested": {\n    "count": 3,\n    "token": "[secret]"\n  },\n  "password": "[secret]",\n  "zone": "us-east-1"\n}\n',
        );
    });

    it("shows them with --show-secrets", async () => {
        assert.deepEqual(JSON.parse(stackOutputJson(await revealOutputs(exports()), true)), { nested: { count: 3, token: "abc" }, password: "hunter2", zone: "us-east-1" });
    });

    it("answers a StackReference with the values and the names of the outputs that hold a secret", async () => {
        assert.deepEqual(stackReferenceState(await revealOutputs(exports())), {
            outputs: { zone: "us-east-1", password: "hunter2", nested: { token: "abc", count: 3 } },
            secretOutputNames: ["nested", "password"],
        });
    });
});
