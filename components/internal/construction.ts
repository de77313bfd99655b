/**
 * The one check at the top of every component constructor: the arguments against the component's
 * contract (argumentSpec.ts), its `tags` against AWS's tag rules (tags.ts), then the physical names its
 * children will get (componentNames.ts).
 */
import { ArgumentSpec, checkArguments } from "./argumentSpec";
import { checkPhysicalNames, NamedComponent } from "./componentNames";
import { tagProblems } from "./tags";
import { configurationError, plainValue } from "./validation";

/** Tag keys a component adds to its children's on top of the user's (through its provider's `defaultTags`). */
const OWN_TAG_KEYS: Partial<Record<NamedComponent, string[]>> = { IsolatedWorkloadAccount: ["serverless-concurrency:workload"] };

/**
 * Throws a `ConfigurationError` listing every argument problem, every tag AWS would refuse, or naming
 * the child whose physical name would be over AWS's limit.
 * @example checkConstruction(EVENTBRIDGE_WORKER_POOL_ARGUMENTS, name, args)
 */
export function checkConstruction(spec: ArgumentSpec & { component: NamedComponent }, name: string, args: unknown): void {
    checkArguments(spec, name, args);
    const tags = plainValue((args as { tags?: { [key: string]: unknown } } | undefined)?.tags);
    const added = (OWN_TAG_KEYS[spec.component] ?? []).filter((key) => tags === undefined || !(key in tags)).length;
    const problems = tagProblems(tags, added);
    if (problems.length > 0) throw configurationError(problems.map((problem) => `${spec.component} "${name}": ${problem}`).join("\n"));
    checkPhysicalNames(spec.component, name, args);
}
