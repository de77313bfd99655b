/**
 * `--profile NAME` checked before any AWS call: for a profile that is in neither shared file, the SDK's
 * own error ("Could not load credentials from any providers") does not name it. No SDK imports.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "./errors";

/**
 * Checks that the shared config file has a `[profile NAME]` section (`[default]` for `default`) or the
 * shared credentials file a `[NAME]` one, where the SDK looks: `AWS_CONFIG_FILE` and
 * `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials` (`~/` is the home directory).
 * @param env the environment that locates the files
 * @throws UsageError naming the profile and both files when neither has it
 * @example await assertProfileExists("prod-oncall")
 */
export async function assertProfileExists(profile: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const home = env.HOME ?? homedir();
    const inHome = (path: string) => (path.startsWith("~/") ? join(home, path.slice(2)) : path);
    const configFile = inHome(env.AWS_CONFIG_FILE ?? "~/.aws/config");
    const credentialsFile = inHome(env.AWS_SHARED_CREDENTIALS_FILE ?? "~/.aws/credentials");
    const [config, credentials] = await Promise.all([sectionsOf(configFile), sectionsOf(credentialsFile)]);
    if (config.has(`profile ${profile}`) || (profile === "default" && config.has("default")) || credentials.has(profile)) return;
    throw new UsageError(`profile "${profile}" is in neither ${configFile} nor ${credentialsFile}: check the name (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), or create it with \`aws configure --profile ${profile}\``);
}

/** `[prefix name]` or `[prefix "name"]`, as the SDK's ini parser reads a section with a prefix. */
const PREFIXED_SECTION = /^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/;

/** The section names of an ini file as the SDK reads them (`profile x` for `[profile "x"]`); none when it cannot be read. */
async function sectionsOf(path: string): Promise<Set<string>> {
    const text = await readFile(path, "utf8").catch(() => "");
    const sections = text
        .split(/\r?\n/)
        .map((line) => line.split(/(^|\s)[;#]/)[0].trim())
        .filter((line) => line.startsWith("[") && line.endsWith("]"))
        .map((line) => line.slice(1, -1))
        .map(sectionName);
    return new Set(sections);
}

function sectionName(inBrackets: string): string {
    const prefixed = PREFIXED_SECTION.exec(inBrackets);
    return prefixed ? `${prefixed[1]} ${prefixed[3]}` : inBrackets;
}
