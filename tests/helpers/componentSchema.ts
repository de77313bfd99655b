/**
 * The multi-language schema Pulumi infers from the exported components (what `pulumi package add`
 * sees), inferred once per mocha run: inference type-checks the package and takes seconds.
 */
import * as path from "node:path";
import { ComponentProvider, getPulumiComponents } from "@pulumi/pulumi/provider/experimental";

/** The schema and the names of the exported components. */
export interface ComponentSchema {
    schema: any;
    exported: string[];
}

let inferred: Promise<ComponentSchema> | undefined;

/** Infers the schema over every component exported from `components/` (cached). */
export function componentSchema(): Promise<ComponentSchema> {
    inferred ??= (async () => {
        const components = getPulumiComponents(await import("../../components"));
        const provider = new ComponentProvider({ name: "serverless-concurrency", dirname: path.join(__dirname, "..", ".."), components });
        return { schema: JSON.parse(await provider.getSchema()), exported: components.map((c) => c.name).sort() };
    })();
    return inferred;
}
