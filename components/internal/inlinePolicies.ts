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

/** The policies attached so far to each role. */
const attached = new WeakMap<aws.iam.Role, pulumi.Output<string>[]>();

/**
 * Characters of a policy document as IAM counts them against {@link ROLE_INLINE_POLICY_MAX_CHARS}.
 * @example inlinePolicyChars('{ "Version": "2012-10-17" }') // 22
 */
export function inlinePolicyChars(document: string): number {
    return document.replace(/\s/g, "").length;
}

/**
 * An inline policy `logicalName` of `role`. When the role's inline policies attached through here come
 * to more than {@link ROLE_INLINE_POLICY_MAX_CHARS}, the deployment fails once, naming the role and its size:
 * the check of the role's last policy counts them all (a component attaches every policy while it is
 * constructed, before any of them resolves).
 * @example attachInlinePolicy(`${name}-policy`, role, policyDocument(statements), 'EventBridgeWorkerPool "orders"', parent)
 */
export function attachInlinePolicy(
    logicalName: string,
    role: aws.iam.Role,
    policy: pulumi.Input<string>,
    label: string,
    parent: pulumi.Resource,
    opts: pulumi.CustomResourceOptions = {},
): aws.iam.RolePolicy {
    const policies = attached.get(role) ?? [];
    attached.set(role, policies);
    policies.push(pulumi.output(policy));
    const count = policies.length;
    pulumi.all([role.name, ...policies]).apply(([roleName, ...documents]) => {
        if (policies.length !== count) return; // a later policy's check counts this one too
        const chars = documents.reduce((sum, document) => sum + inlinePolicyChars(document), 0);
        if (chars > ROLE_INLINE_POLICY_MAX_CHARS) {
            failDeployment(
                configurationError(
                    `${label}: the inline policies of role ${roleName} would be ${chars} characters (whitespace not counted), over the ${ROLE_INLINE_POLICY_MAX_CHARS} IAM allows for one role's inline policies together; ` +
                        "move statements of policyStatements into a managed policy attached to the role (aws.iam.RolePolicyAttachment), or name fewer resources.",
                ),
            );
        }
    });
    return new aws.iam.RolePolicy(logicalName, { role: role.id, policy }, { parent, ...opts });
}
