#!/usr/bin/env node
/**
 * The `serverless-concurrency` executable (package.json `bin` → `dist/cli/bin.js`, compiled by
 * tsconfig.build.json with this shebang kept). Everything else is in {@link runCli}.
 */
import { runCli } from "./index";

// The SDK's notice about future Node versions is no concern of an operator's command and would break
// the promise of one line on standard error; an operator who wants it sets the variable to "false".
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
