/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in turn (alphabetical) and prints its table.
 * A bench module exports `title: string` and `run(): Promise<string>` returning a Markdown table
 * whose figures were measured side by side in this one run.
 */
import { readdirSync } from "node:fs";
import * as path from "node:path";

interface BenchModule {
    title: string;
    run(): Promise<string>;
}

async function main(): Promise<void> {
    // The SDK's notice about Node 22 would interleave with the tables.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    const files = readdirSync(__dirname).filter((f) => f.endsWith(".bench.ts")).sort();
    for (const file of files) {
        const bench = (await import(path.join(__dirname, file))) as BenchModule;
        console.log(`\n## ${bench.title}\n`);
        console.log(await bench.run());
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
