/**
 * `TS_NODE_TRANSPILE_ONLY=true npx ts-node bench/bundleSize.ts`: what logging and metrics cost a worker
 * function, the package's own runtime/log.ts + runtime/metrics.ts against Powertools Logger + Metrics.
 *
 * Each variant is a handler that writes one log line and one EMF metric with a dimension, bundled as the
 * components bundle a worker (esbuild: node22, cjs, AWS SDK external; unminified, as shipped, and
 * minified for reference). Cold start is measured in fresh Node processes, variants interleaved, as the
 * time to load and evaluate the bundle and the time of the first invocation (Powertools initialises on
 * first use); medians over the runs. The empty handler is the floor every Node process pays.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const ROOT = path.join(__dirname, "..");
const RUNS = 15;

export const title = "Logging and metrics in a worker bundle: runtime/log.ts + metrics.ts vs Powertools";

const VARIANTS: Record<string, string> = {
    "empty handler (floor)": "export const handler = async () => ({});",
    "runtime/log.ts + runtime/metrics.ts": `
        import { createLogger } from "./runtime/log";
        import { Metrics, MetricName } from "./runtime/metrics";
        export const handler = async () => {
            createLogger({ fields: { worker: "orders" } }).info("processed", { eventId: "e-1" });
            const metrics = new Metrics({ worker: "orders", write: () => undefined });
            metrics.add(MetricName.DownstreamLatency, "Milliseconds", 12, { Downstream: "erp" });
            metrics.flush();
            return {};
        };`,
    "Powertools Logger + Metrics 2.36": `
        import { Logger } from "@aws-lambda-powertools/logger";
        import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
        export const handler = async () => {
            new Logger({ serviceName: "orders" }).info("processed", { eventId: "e-1" });
            const metrics = new Metrics({ namespace: "ServerlessConcurrency", serviceName: "orders", logger: { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, info: () => undefined } as never });
            metrics.addDimension("Downstream", "erp");
            metrics.addMetric("DownstreamLatency", MetricUnit.Milliseconds, 12);
            metrics.publishStoredMetrics();
            return {};
        };`,
};

interface Measured {
    variant: string;
    bytes: number;
    minifiedBytes: number;
    gzipBytes: number;
    file: string;
}

function bundle(contents: string, minify: boolean): string {
    const result = esbuild.buildSync({
        stdin: { contents, resolveDir: ROOT, sourcefile: "entry.ts", loader: "ts" },
        bundle: true,
        platform: "node",
        target: "node22",
        format: "cjs",
        write: false,
        minify,
        logLevel: "silent",
        external: ["@aws-sdk/*"],
    });
    return result.outputFiles[0].text;
}

/** Milliseconds to require the bundle and to run its first invocation, in a fresh process. */
function coldStart(file: string): { load: number; firstInvoke: number } {
    const script = `
        const start = process.hrtime.bigint();
        const { handler } = require(${JSON.stringify(file)});
        const loaded = process.hrtime.bigint();
        handler({}, {}).then(() => {
            const invoked = process.hrtime.bigint();
            process.stderr.write(JSON.stringify({ load: Number(loaded - start) / 1e6, firstInvoke: Number(invoked - loaded) / 1e6 }));
        });`;
    const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
    if (child.status !== 0) throw new Error(`cold start of ${file} failed: ${child.stderr}`);
    return JSON.parse(child.stderr);
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
}

export async function run(): Promise<string> {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-size-"));
    const measured: Measured[] = Object.entries(VARIANTS).map(([variant, contents], index) => {
        const code = bundle(contents, false);
        const file = path.join(directory, `variant-${index}.js`);
        fs.writeFileSync(file, code);
        return { variant, bytes: Buffer.byteLength(code), minifiedBytes: Buffer.byteLength(bundle(contents, true)), gzipBytes: gzipSync(code).length, file };
    });
    const timings = new Map(measured.map((m) => [m.variant, { load: [] as number[], firstInvoke: [] as number[] }]));
    for (let i = 0; i < RUNS; i++) {
        for (const m of measured) {
            const { load, firstInvoke } = coldStart(m.file);
            timings.get(m.variant)!.load.push(load);
            timings.get(m.variant)!.firstInvoke.push(firstInvoke);
        }
    }
    fs.rmSync(directory, { recursive: true, force: true });
    const kb = (bytes: number) => (bytes / 1024).toFixed(1);
    const rows = measured.map((m) => {
        const t = timings.get(m.variant)!;
        return `| ${m.variant} | ${kb(m.bytes)} | ${kb(m.minifiedBytes)} | ${kb(m.gzipBytes)} | ${median(t.load).toFixed(2)} | ${median(t.firstInvoke).toFixed(2)} |`;
    });
    return [
        `Node ${process.version}, esbuild ${esbuild.version}, ${RUNS} fresh processes per variant, interleaved; medians.`,
        "",
        "| variant | bundle KiB | minified KiB | gzip KiB | load + evaluate ms | first invocation ms |",
        "|---|---|---|---|---|---|",
        ...rows,
    ].join("\n");
}

if (require.main === module) {
    run().then((table) => console.log(`## ${title}\n\n${table}`), (error) => {
        console.error(error);
        process.exit(1);
    });
}
