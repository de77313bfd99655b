/**
 * Stack outputs in, manifests out: reads the JSON of `pulumi stack output --json` (a file or standard
 * input), finds every operations manifest in it, and picks components by name.
 */
import { readFile } from "node:fs/promises";
import { findManifests, ManifestSearch, OperationsManifest, RejectedManifest } from "../contracts/operations";
import { OutputsError, UnknownComponentError, UsageError } from "./errors";

/**
 * The manifests in the outputs named by `--outputs`, and the marked objects that could not be read.
 * @param source a file path, or `-` for standard input
 * @param readStdin reads standard input to its end
 * @throws UsageError without `--outputs`; OutputsError for a missing, empty or malformed file, or one without readable manifests
 * @example const { manifests, rejected } = await loadManifests("outputs.json", readStandardInput);
 */
export async function loadManifests(source: string | undefined, readStdin: () => Promise<string>): Promise<ManifestSearch> {
    if (source === undefined) throw new UsageError("--outputs FILE is required: the JSON of `pulumi stack output --json` (or - for standard input)");
    const label = source === "-" ? "standard input" : `outputs file ${source}`;
    const text = source === "-" ? await readStdin() : await readOutputsFile(source);
    return manifestsIn(text, label);
}

/**
 * The manifests in the text of a stack's outputs, and the marked objects that could not be read.
 * @param text the JSON
 * @param label how to name its source in messages
 * @throws OutputsError when it is empty, not JSON, or holds no readable manifest
 * @example manifestsIn(await readFile("outputs.json", "utf8"), "outputs file outputs.json").manifests
 */
export function manifestsIn(text: string, label: string): ManifestSearch {
    if (text.trim() === "") throw new OutputsError(`${label} is empty: pass the JSON of \`pulumi stack output --json\``);
    let outputs: unknown;
    try {
        outputs = JSON.parse(text);
    } catch (error) {
        throw new OutputsError(`${label} is not JSON (${(error as Error).message}): pass the JSON of \`pulumi stack output --json\``);
    }
    const search = findManifests(outputs);
    if (search.manifests.length > 0) return search;
    const { rejected } = search;
    const why = rejected.map((r) => `${r.path}: ${r.problems.join("; ")}`).join(" | ");
    throw new OutputsError(
        rejected.length > 0
            ? `${label} has no manifest this CLI can read (${why})`
            : `${label} has no serverless-concurrency operations manifest: export the components' \`operations\` outputs from the stack`,
    );
}

/**
 * The manifest of the component `name`.
 * @param rejected the manifests that could not be read, named in the error
 * @throws UnknownComponentError naming the known components and the unreadable manifests
 * @example selectManifest(manifests, "ledger").componentType // "FifoTopicWorker"
 */
export function selectManifest(manifests: readonly OperationsManifest[], name: string, rejected: readonly RejectedManifest[] = []): OperationsManifest {
    const found = manifests.filter((m) => m.name === name);
    if (found.length === 1) return found[0];
    const known = manifests.map((m) => `${m.name} (${m.componentType})`).join(", ");
    const unreadable = rejected.length === 0 ? "" : `; not readable: ${rejected.map(describeRejected).join(" | ")}`;
    if (found.length === 0) throw new UnknownComponentError(`unknown component "${name}"; known: ${known}${unreadable}`);
    throw new UnknownComponentError(`component name "${name}" is ambiguous: ${found.map((m) => `${m.componentType} in ${m.account}/${m.region}`).join(", ")}`);
}

/**
 * A manifest that could not be read, in one phrase: its name (when it has one), where it is, and why.
 * @example describeRejected({ path: "ledgerOperations", name: "ledger", problems: ["…"] }) // "ledger at ledgerOperations (…)"
 */
export function describeRejected(rejected: RejectedManifest): string {
    return `${rejected.name ?? "a manifest"} at ${rejected.path || "the top level"} (${rejected.problems.join("; ")})`;
}

async function readOutputsFile(path: string): Promise<string> {
    try {
        return await readFile(path, "utf8");
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (error as Error).message;
        throw new OutputsError(`cannot read outputs file ${path}: ${why}`);
    }
}
