/**
 * What `npm run bench` does, as small testable pieces: parse the arguments, find the benches and the
 * scale modules, run them, and print either Markdown tables or one JSON document holding every figure.
 *
 * - A bench is `bench/NAME.bench.ts` exporting `title: string` and `run(): Promise<string>` (Markdown: tables
 *   and caveat lines). Its tables go into the JSON as rows keyed by heading, its other lines as `notes`.
 * - A scale module is `bench/scale/NAME.ts` (not `types.ts`) exporting `measure(): Promise<ScaleRow[]>`;
 *   all of them together are the bench called `scale`.
 */
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { PRICES_AS_OF } from "./prices";
import type { ScaleRow } from "./scale/types";

/** A `bench/*.bench.ts` module. */
export interface BenchModule {
    /** Section heading. */
    title: string;
    /** Measures and returns Markdown: tables plus caveat lines. */
    run(): Promise<string>;
}

/** Parsed `npm run bench -- [--json] [NAME …]`. */
export interface BenchOptions {
    /** Print one JSON document instead of Markdown. */
    json: boolean;
    /** Benches to run (file names without `.bench.ts`, or `scale`); empty = all. */
    names: string[];
}

/** A Markdown table as data. */
export interface Table {
    /** Column headings. */
    headings: string[];
    /** One object per row, keyed by heading. */
    rows: Record<string, string>[];
}

/** One bench's figures in the JSON document. */
export interface BenchReport {
    /** Section heading. */
    title: string;
    /** Its tables. */
    tables: Table[];
    /** Its non-table lines: what each figure means and its caveats. */
    notes: string[];
    /** Only for `scale`: the rows as measured, numbers unformatted. */
    rows?: ScaleRow[];
}

/** The JSON document `npm run bench -- --json` prints. */
export interface BenchDocument {
    /** When it ran (ISO 8601). */
    generatedAt: string;
    /** The date of the list prices every cost figure uses. */
    pricesAsOf: string;
    /** Bench name → its figures, in run order. */
    benches: Record<string, BenchReport>;
}

/** Bad arguments: an unknown bench name. */
export class BenchUsageError extends Error {
    /** @param message what is wrong */
    constructor(message: string) {
        super(message);
        this.name = "BenchUsageError";
    }
}

/** The name of the scale bench. */
export const SCALE = "scale";

/**
 * Parses the arguments after `--`.
 * @param argv e.g. `["--json", "ordered"]`
 * @param known the bench names there are (with `scale`)
 * @throws BenchUsageError naming the known benches for an unknown name or flag
 * @example parseBenchArgs(["--json"], ["controller", "scale"]) // { json: true, names: [] }
 */
export function parseBenchArgs(argv: string[], known: string[]): BenchOptions {
    const names: string[] = [];
    let json = false;
    for (const arg of argv) {
        if (arg === "--json") json = true;
        else if (known.includes(arg)) names.push(arg);
        else throw new BenchUsageError(`Unknown bench or flag "${arg}". Benches: ${known.join(", ")}; flag: --json.`);
    }
    return { json, names };
}

/**
 * The bench names in `dir`: `*.bench.ts` files without the suffix, sorted, then `scale`.
 * @param dir the bench directory
 * @example benchNames(__dirname) // ["controller", "cost", "idempotency", "ordered", "semaphore", "scale"]
 */
export function benchNames(dir: string): string[] {
    const files = readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).sort();
    return [...files.map((f) => f.slice(0, -".bench.ts".length)), SCALE];
}

/**
 * Runs every scale module in `dir` (each `*.ts` but `types.ts` that exports `measure`), in name order.
 * @param dir e.g. `bench/scale`
 * @example const rows = await measureScale(path.join(__dirname, "scale"));
 */
export async function measureScale(dir: string): Promise<ScaleRow[]> {
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "types.ts").sort();
    const rows: ScaleRow[] = [];
    for (const file of files) {
        const module = (await import(path.join(dir, file))) as { measure?: () => Promise<ScaleRow[]> };
        if (typeof module.measure === "function") rows.push(...(await module.measure()));
    }
    return rows;
}

/** Column headings of {@link scaleTable}. */
export const SCALE_HEADINGS = ["pattern", "operation", "layout", "requests/op", "WCU/op", "binding limit", "ceiling/s", "after ÷ before", "$/million"];

/**
 * The scale rows as one Markdown table; "after ÷ before" is the ceiling ratio of the same pattern and
 * operation (on the "after" row).
 * @param rows as the scale modules return them
 * @example scaleTable(await measureScale(dir))
 */
export function scaleTable(rows: ScaleRow[]): string {
    const ceilingBefore = new Map(rows.filter((r) => r.layout === "before").map((r) => [`${r.pattern}\u0000${r.operation}`, r.ceilingPerSecond]));
    const cells = rows.map((r) => {
        const before = ceilingBefore.get(`${r.pattern}\u0000${r.operation}`);
        const ratio = r.layout === "after" && before ? `${(r.ceilingPerSecond / before).toFixed(1)}×` : "";
        return [r.pattern, r.operation, r.layout, num(r.requestsPerOperation), num(r.wcuPerOperation), r.bindingLimit, num(r.ceilingPerSecond), ratio, `$${r.costPerMillion.toFixed(2)}`];
    });
    const notes = rows.filter((r) => r.note).map((r) => `- ${r.pattern}, ${r.operation} (${r.layout}): ${r.note}`);
    return [markdownTable(SCALE_HEADINGS, cells), ...(notes.length ? ["", ...notes] : [])].join("\n");
}

/**
 * Splits Markdown into its tables and its other non-empty lines.
 * @param markdown a bench's output
 * @example parseMarkdown("| a |\n|---|\n| 1 |\nnote") // { tables: [{ headings: ["a"], rows: [{ a: "1" }] }], notes: ["note"] }
 */
export function parseMarkdown(markdown: string): { tables: Table[]; notes: string[] } {
    const tables: Table[] = [];
    const notes: string[] = [];
    const lines = markdown.split("\n");
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i].trim();
        if (line.startsWith("|") && /^\|[\s:|-]+\|$/.test(lines[i + 1]?.trim() ?? "")) {
            const headings = cellsOf(line);
            const rows: Record<string, string>[] = [];
            for (i += 2; i < lines.length && lines[i].trim().startsWith("|"); i++) {
                const cells = cellsOf(lines[i].trim());
                rows.push(Object.fromEntries(headings.map((h, k) => [h, cells[k] ?? ""])));
            }
            tables.push({ headings, rows });
            i -= 1;
        } else if (line) notes.push(line);
    }
    return { tables, notes };
}

/**
 * Renders a bench's figures back to Markdown (the README is generated with this).
 * @param report one entry of {@link BenchDocument.benches}
 * @example renderReport(document.benches.ordered)
 */
export function renderReport(report: BenchReport): string {
    const tables = report.tables.map((t) => markdownTable(t.headings, t.rows.map((r) => t.headings.map((h) => r[h] ?? ""))));
    return [...tables, ...report.notes].join("\n\n");
}

/** Where the runner writes (stdout and stderr in the CLI; arrays in tests). */
export interface BenchOutput {
    /** Receives tables or the JSON document. */
    out(text: string): void;
    /** Receives progress and anything a bench logs. */
    err(text: string): void;
}

/**
 * Runs the chosen benches and prints them.
 * @param options from {@link parseBenchArgs}
 * @param dirs the bench directory and the scale-module directory
 * @param output where tables, the JSON document and progress go
 * @example await runBenches({ json: true, names: [] }, { benches: __dirname, scale: path.join(__dirname, "scale") }, io);
 */
export async function runBenches(options: BenchOptions, dirs: { benches: string; scale: string }, output: BenchOutput): Promise<BenchDocument> {
    const names = options.names.length ? options.names : benchNames(dirs.benches);
    const document: BenchDocument = { generatedAt: new Date().toISOString(), pricesAsOf: PRICES_AS_OF, benches: {} };
    for (const name of names) {
        const started = Date.now();
        const report = name === SCALE ? await scaleReport(dirs.scale) : await benchReport(path.join(dirs.benches, `${name}.bench.ts`));
        document.benches[name] = report;
        output.err(`bench ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (!options.json) output.out(`\n## ${report.title}\n\n${renderReport(report)}`);
    }
    if (options.json) output.out(JSON.stringify(document, null, 2));
    return document;
}

async function benchReport(file: string): Promise<BenchReport> {
    const bench = (await import(file)) as BenchModule;
    return { title: bench.title, ...parseMarkdown(await bench.run()) };
}

async function scaleReport(dir: string): Promise<BenchReport> {
    const rows = await measureScale(dir);
    const title = "Scale: requests, write units and ceilings per operation, before and after (dynalite, consumed capacity)";
    return { title, ...parseMarkdown(rows.length ? scaleTable(rows) : "No scale modules in bench/scale yet."), rows };
}

/**
 * A Markdown table.
 * @param headings the column headings
 * @param rows the cells, one array per row
 * @example markdownTable(["a", "b"], [["1", "2"]]) // "| a | b |\n|---|---|\n| 1 | 2 |"
 */
export function markdownTable(headings: string[], rows: string[][]): string {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(headings), `|${headings.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

function cellsOf(line: string): string[] {
    return line.replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

function num(value: number): string {
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
}
