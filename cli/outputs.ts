/**
 * Stack outputs in, manifests out: reads the JSON of `pulumi stack output --json` (a file or standard
 * input), finds every operations manifest in it, and picks components by name.
 */
import { readFile } from "node:fs/promises";
import { findManifests, ManifestSearch, OperationsManifest, RejectedManifest, SECRET_PLACEHOLDER } from "../contracts/operations";
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
    const { rejected, hiddenSecrets } = search;
    const why = rejected.map((r) => `${r.path}: ${r.problems.join("; ")}`).join(" | ");
    const hidden = hiddenSecrets.length > 0 ? `; ${describeHiddenSecrets(hiddenSecrets)}` : "";
    throw new OutputsError(
        rejected.length > 0
            ? `${label} has no manifest this CLI can read (${why})${hidden}`
            : hiddenSecrets.length > 0
              ? `${label} has no serverless-concurrency operations manifest in the clear: ${describeHiddenSecrets(hiddenSecrets)}`
              : `${label} has no serverless-concurrency operations manifest: export the components' \`operations\` outputs from the stack`,
    );
}

/**
 * The outputs `pulumi stack output --json` hid as secrets, and how to show them: an `operations` output is secret
 * when a secret input (e.g. a StackReference output) flowed into it.
 * @example describeHiddenSecrets(["ledgerOperations"]) // "ledgerOperations is a secret, printed as \"[secret]\": …"
 */
export function describeHiddenSecrets(paths: readonly string[]): string {
    const what = paths.length === 1 ? `${paths[0]} is a secret` : `${paths.join(", ")} are secrets`;
    return `${what}, printed as "${SECRET_PLACEHOLDER}": run \`pulumi stack output --json --show-secrets\` to include a manifest there`;
}

/**
 * The manifest of the component `name`.
 * @param rejected the manifests that could not be read, named in the error
 * @param hiddenSecrets the outputs hidden as secrets, named in the error (one of them may be its manifest)
 * @throws UnknownComponentError naming the known components, the unreadable manifests and the hidden secrets
 * @example selectManifest(manifests, "ledger").componentType // "FifoTopicWorker"
 */
export function selectManifest(manifests: readonly OperationsManifest[], name: string, rejected: readonly RejectedManifest[] = [], hiddenSecrets: readonly string[] = []): OperationsManifest {
    const found = manifests.filter((m) => m.name === name);
    if (found.length === 1) return found[0];
    const known = manifests.map((m) => `${m.name} (${m.componentType})`).join(", ");
    const unreadable = rejected.length === 0 ? "" : `; not readable: ${rejected.map(describeRejected).join(" | ")}`;
    const hidden = hiddenSecrets.length === 0 ? "" : `; ${describeHiddenSecrets(hiddenSecrets)}`;
    if (found.length === 0) throw new UnknownComponentError(`unknown component "${name}"; known: ${known}${unreadable}${hidden}`);
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
