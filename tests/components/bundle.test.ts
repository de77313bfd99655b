import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { bundleHandler, parseHandler } from "../../components/internal/bundle";

const WRAPPER = { module: "eventBridgeWorker", exportName: "eventBridgeWorker" };

async function archiveText(archive: pulumi.asset.AssetArchive, file: string): Promise<string> {
    const assets = (await archive.assets) as Record<string, { text: Promise<string> }>;
    return assets[file].text;
}

describe("bundleHandler", function () {
    this.timeout(30_000);

    it("parses path/module.exportName", () => {
        assert.deepEqual(parseHandler("handlers/orders.handle"), { module: "handlers/orders", exportName: "handle" });
        assert.deepEqual(parseHandler("./a.b/c.d"), { module: "./a.b/c", exportName: "d" });
        assert.equal(parseHandler("handle"), undefined);
        assert.equal(parseHandler("handlers/orders."), undefined);
        assert.equal(parseHandler("handlers/orders.1x"), undefined);
    });

    it("is byte-identical for the same input, source map included", async () => {
        const a = bundleHandler("test", { handler: "tests/fixtures/handlers/orders.handle", wrapper: WRAPPER });
        const b = bundleHandler("test", { handler: "tests/fixtures/handlers/orders.handle", wrapper: WRAPPER });
        assert.equal(a.code, b.code);
        assert.equal(await archiveText(a.archive, "index.js.map"), await archiveText(b.archive, "index.js.map"));
        assert.equal(await archiveText(a.archive, "index.js"), a.code);
    });

    it("exports `handler` as the wrapped user function, with a source map reference", () => {
        const { code } = bundleHandler("test", { handler: "tests/fixtures/handlers/orders.handle", wrapper: WRAPPER });
        assert.match(code, /\nvar handler = eventBridgeWorker\(handle\);\n/);
        assert.match(code, /\/\/# sourceMappingURL=index\.js\.map\s*$/);
    });

    it("keeps the AWS SDK v3 external by default and bundles it on request", () => {
        const external = bundleHandler("test", { handler: "tests/fixtures/handlers/orders.handle", wrapper: WRAPPER });
        assert.match(external.code, /require\("@aws-sdk\/client-dynamodb"\)/);
        const bundled = bundleHandler("test", { handler: "tests/fixtures/handlers/orders.handle", wrapper: WRAPPER, bundleAwsSdk: true });
        assert.doesNotMatch(bundled.code, /require\("@aws-sdk\/client-dynamodb"\)/);
        assert.ok(bundled.code.length > external.code.length * 5);
    });

    it("runs: the bundle's handler wraps the user's function", async () => {
        const { code } = bundleHandler("test", { handler: "tests/fixtures/handlers/orders.rawHandler" });
        const module = { exports: {} as { handler?: (e: unknown) => Promise<unknown> } };
        new Function("module", "exports", "require", code)(module, module.exports, require);
        assert.deepEqual(await module.exports.handler!({ a: 1 }), { received: { a: 1 } });
    });
});
