/**
 * The one check at the top of every component constructor: the arguments against the component's
 * contract (argumentSpec.ts), then the physical names its children will get (componentNames.ts).
 */
import { ArgumentSpec, checkArguments } from "./argumentSpec";
import { checkPhysicalNames, NamedComponent } from "./componentNames";

/**
 * Throws a `ConfigurationError` listing every argument problem, or naming the child whose physical name
 * would be over AWS's limit.
 * @example checkConstruction(EVENTBRIDGE_WORKER_POOL_ARGUMENTS, name, args)
 */
export function checkConstruction(spec: ArgumentSpec & { component: NamedComponent }, name: string, args: unknown): void {
    checkArguments(spec, name, args);
    checkPhysicalNames(spec.component, name, args);
}
