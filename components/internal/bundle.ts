/**
 * Handler bundling: esbuild turns the user's `"path/module.exportName"` plus the pattern's runtime
 * wrapper into one CommonJS file (`index.js`, entry `index.handler`) and its source map.
 *
 * The build is synchronous so a missing module or export is a construction error, and deterministic:
 * the same sources give a byte-identical archive, so `pulumi preview` shows no spurious diff.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as esbuild from "esbuild";
import * as pulumi from "@pulumi/pulumi";
import { ConfigurationError } from "../../contracts/errors";

/** The runtime wrapper a pattern puts around the user's function, e.g. `eventBridgeWorker`. */
export interface RuntimeWrapper {
    /** Module under `runtime/`, without extension, e.g. `"eventBridgeWorker"`. */
    module: string;
    /** The wrapper factory exported by that module. */
    exportName: string;
}

export interface BundleRequest {
    /** `"path/to/module.exportName"`, the path relative to `workingDirectory`. */
    handler: string;
    /** Wrap the user's export with this runtime wrapper; omit to use the export as the handler. */
    wrapper?: RuntimeWrapper;
    /**
     * Runtime modules (under `runtime/`, e.g. `"activation/adaptiveConcurrency"`) imported for their side
     * effects before the wrapper is built: they register invocation observers configured from the environment.
     */
    activations?: string[];
    /** Bundle `@aws-sdk/*` too instead of using the copy in the Lambda runtime. @default false */
    bundleAwsSdk?: boolean;
    /** The Lambda runtime the bundle runs on, e.g. `"nodejs24.x"`; esbuild targets its Node version. @default "nodejs22.x" */
    runtime?: string;
    /** Directory the handler path is relative to. @default process.cwd() */
    workingDirectory?: string;
}

export interface HandlerBundle {
    /** The Lambda deployment archive: `index.js` and `index.js.map`. */
    archive: pulumi.asset.AssetArchive;
    /** The bundled JavaScript, for inspection and tests. */
    code: string;
    /** The absolute path of the user's module. */
    modulePath: string;
}

const SOURCE_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];
const HANDLER_PATTERN = /^(?<module>[^\s]+)\.(?<exportName>[A-Za-z_$][\w$]*)$/;

/** Splits `"path/module.exportName"`; `undefined` when the string does not have that shape. */
export function parseHandler(handler: string): { module: string; exportName: string } | undefined {
    const match = HANDLER_PATTERN.exec(handler);
    return match?.groups ? { module: match.groups.module, exportName: match.groups.exportName } : undefined;
}

/** Bundles a handler; throws a {@link ConfigurationError} that names the path or the export when either is missing. */
export function bundleHandler(label: string, request: BundleRequest): HandlerBundle {
    const parsed = parseHandler(request.handler);
    if (!parsed) {
        throw new ConfigurationError(`${label}: function.handler must be "path/module.exportName"; received ${JSON.stringify(request.handler)}.`);
    }
    const workingDirectory = request.workingDirectory ?? process.cwd();
    const modulePath = resolveModule(label, workingDirectory, parsed.module);
    const entry = entrySource(request, modulePath, parsed.exportName);
    const result = build(entry, workingDirectory, { bundleAwsSdk: request.bundleAwsSdk, runtime: request.runtime }, (error) => describeBuildFailure(label, error, modulePath, parsed.exportName));
    return { ...toArchive(result), modulePath };
}

/**
 * Bundles a function the package itself provides: `runtime/<module>` must export `handler`
 * (e.g. `"handlers/controller"`, the scheduled concurrency controller).
 */
export function bundleRuntimeHandler(label: string, module: string): HandlerBundle {
    const modulePath = path.join(runtimeDirectory(), module);
    const entry = `export { handler } from ${JSON.stringify(modulePath)};\n`;
    const result = build(entry, runtimeDirectory(), {}, (error) => describeBuildFailure(label, error, modulePath, "handler"));
    return { ...toArchive(result), modulePath };
}

function toArchive(result: { outputFiles: esbuild.OutputFile[] }): { archive: pulumi.asset.AssetArchive; code: string } {
    const code = outputText(result, ".js");
    const map = outputText(result, ".js.map");
    const archive = new pulumi.asset.AssetArchive({
        "index.js": new pulumi.asset.StringAsset(code),
        "index.js.map": new pulumi.asset.StringAsset(map),
    });
    return { archive, code };
}

function resolveModule(label: string, workingDirectory: string, modulePath: string): string {
    const base = path.resolve(workingDirectory, modulePath);
    const candidates = [
        base,
        ...SOURCE_EXTENSIONS.map((ext) => base + ext),
        ...SOURCE_EXTENSIONS.map((ext) => path.join(base, "index" + ext)),
    ];
    const found = candidates.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
    if (!found) {
        throw new ConfigurationError(
            `${label}: function.handler module "${modulePath}" not found: looked for ${base}{${SOURCE_EXTENSIONS.join(",")}} ` +
                `and ${base}/index.* (paths are relative to ${workingDirectory}).`,
        );
    }
    return found;
}

function build(
    entry: string,
    workingDirectory: string,
    target: { bundleAwsSdk?: boolean; runtime?: string },
    describeFailure: (error: unknown) => string,
): esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] } {
    try {
        return esbuild.buildSync({
            stdin: { contents: entry, resolveDir: workingDirectory, sourcefile: "lambda-entry.ts", loader: "ts" },
            absWorkingDir: workingDirectory,
            outfile: path.join(workingDirectory, ".serverless-concurrency-bundle", "index.js"),
            bundle: true,
            platform: "node",
            target: nodeTarget(target.runtime),
            format: "cjs",
            sourcemap: "linked",
            write: false,
            logLevel: "silent",
            external: target.bundleAwsSdk ? [] : ["@aws-sdk/*"],
        });
    } catch (error) {
        throw new ConfigurationError(describeFailure(error));
    }
}

/** esbuild's target for a Lambda runtime: `"nodejs24.x"` → `"node24"`. */
export function nodeTarget(runtime = "nodejs22.x"): string {
    return runtime.replace(/^nodejs(\d+)\.x$/, "node$1");
}

/** The generated entry: activations first, then the user's function, wrapped or as-is, as `handler`. */
function entrySource(request: BundleRequest, modulePath: string, exportName: string): string {
    const userModule = JSON.stringify(modulePath);
    const { wrapper } = request;
    if (!wrapper) return `export { ${exportName} as handler } from ${userModule};\n`;
    const runtimeModule = JSON.stringify(path.join(runtimeDirectory(), wrapper.module));
    const activations = (request.activations ?? []).map((module) => `import ${JSON.stringify(path.join(runtimeDirectory(), module))};`);
    return [
        ...activations,
        `import { ${wrapper.exportName} as wrap } from ${runtimeModule};`,
        `import { ${exportName} as userFunction } from ${userModule};`,
        `export const handler = wrap(userFunction);`,
        "",
    ].join("\n");
}

function describeBuildFailure(label: string, error: unknown, modulePath: string, exportName: string): string {
    const errors = (error as esbuild.BuildFailure).errors ?? [];
    if (errors.some((e) => e.text.includes(`No matching export`) && e.text.includes(`"${exportName}"`))) {
        return `${label}: function.handler export "${exportName}" not found in ${modulePath}.`;
    }
    const details = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
    return `${label}: bundling ${modulePath} failed:\n  ${details.join("\n  ") || String(error)}`;
}

function outputText(result: { outputFiles: esbuild.OutputFile[] }, suffix: string): string {
    const file = result.outputFiles.find((f) => f.path.endsWith(suffix) && (suffix === ".js.map" || !f.path.endsWith(".map")));
    if (!file) throw new Error(`esbuild produced no ${suffix} output`);
    return file.text;
}

/**
 * The `runtime/` sources of this package, found from the package root whether this file runs from
 * source (`components/internal`) or compiled (`dist/components/internal`).
 */
export function runtimeDirectory(): string {
    let dir = __dirname;
    while (dir !== path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "serverless-concurrency") {
            return path.join(dir, "runtime");
        }
        dir = path.dirname(dir);
    }
    throw new Error(`serverless-concurrency: cannot find the package root above ${__dirname}`);
}
