/**
 * IAM's limit on a role's inline policies, checked across the policies the components attach to one role
 * (a worker's role gets its own, the self-tuning and the breaker ones; a semaphore function's its own and
 * the DescribeExecution one). Mocks accept any size; IAM refuses the PutRolePolicy that goes over.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { configurationError, failDeployment } from "./validation";

/** Characters IAM accepts for all inline policies of one role together, whitespace not counted. */
export const ROLE_INLINE_POLICY_MAX_CHARS = 10_240;

/** Per role: the policies attached so far (logical names), the characters of those resolved, and whether it was reported. */
const attached = new WeakMap<aws.iam.Role, { names: string[]; chars: number; reported: boolean }>();

/**
 * Characters of a policy document as IAM counts them against {@link ROLE_INLINE_POLICY_MAX_CHARS}.
 * @example inlinePolicyChars('{ "Version": "2012-10-17" }') // 24
 */
export function inlinePolicyChars(document: string): number {
    return document.replace(/\s/g, "").length;
}

/**
 * An inline policy `logicalName` of `role`. Each policy is counted when it resolves, so a policy over the
 * limit on its own fails the deployment even while a later one (naming a resource not created yet) is
 * unknown; once the role's resolved inline policies come to more than {@link ROLE_INLINE_POLICY_MAX_CHARS},
 * the deployment fails once, naming them and their size.
 * @example attachInlinePolicy(`${name}-policy`, role, policyDocument(statements), 'EventBridgeWorkerPool "orders"', parent)
 */
export function attachInlinePolicy(logicalName: string, role: aws.iam.Role, policy: pulumi.Input<string>, label: string, parent: pulumi.Resource): aws.iam.RolePolicy {
    const entry = attached.get(role) ?? { names: [], chars: 0, reported: false };
    attached.set(role, entry);
    entry.names.push(logicalName);
    pulumi.output(policy).apply((document) => {
        entry.chars += inlinePolicyChars(document);
        if (entry.chars > ROLE_INLINE_POLICY_MAX_CHARS && !entry.reported) {
            entry.reported = true;
            failDeployment(
                configurationError(
                    `${label}: the inline policies of one role (${entry.names.join(", ")}) would be at least ${entry.chars} characters (whitespace not counted), over the ${ROLE_INLINE_POLICY_MAX_CHARS} IAM allows for one role's inline policies together; ` +
                        "move statements of policyStatements into a managed policy attached to the role (aws.iam.RolePolicyAttachment), or name fewer resources.",
                ),
            );
        }
    });
    return new aws.iam.RolePolicy(logicalName, { role: role.id, policy }, { parent });
}
