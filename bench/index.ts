/**
 * `npm run bench -- [--json] [NAME …]`: runs every `bench/*.bench.ts` module and the scale modules of
 * `bench/scale/` (see bench/runner.ts), or only the named ones, and prints their tables — or, with
 * `--json`, one JSON document holding every figure (progress goes to stderr). Exit code 2 on bad arguments.
 */
import * as path from "node:path";
import { benchNames, BenchUsageError, parseBenchArgs, runBenches } from "./runner";

async function main(): Promise<void> {
    // The SDK's notice about Node 22 would interleave with the tables.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    const options = parseBenchArgs(process.argv.slice(2), benchNames(__dirname));
    const stdout = (text: string) => process.stdout.write(`${text}\n`);
    // In JSON mode stdout carries the document alone: whatever a bench logs goes to stderr.
    if (options.json) console.log = (...args: unknown[]) => process.stderr.write(`${args.join(" ")}\n`);
    await runBenches(options, { benches: __dirname, scale: path.join(__dirname, "scale") }, { out: stdout, err: (text) => process.stderr.write(`${text}\n`) });
}

main().catch((error) => {
    console.error(error instanceof BenchUsageError ? error.message : error);
    process.exit(error instanceof BenchUsageError ? 2 : 1);
});
