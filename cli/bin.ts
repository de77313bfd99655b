#!/usr/bin/env node
/**
 * The `serverless-concurrency` executable (package.json `bin` → `dist/cli/bin.js`, compiled by
 * tsconfig.build.json with this shebang kept). Everything else is in {@link runCli}.
 */
import { runCli } from "./index";

void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
