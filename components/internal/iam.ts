/**
 * IAM documents as plain data: every statement names its actions and resources, and the checks
 * below keep the package's rule that no statement uses a `*` action.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** One IAM statement. Resources may be Outputs (ARNs of the component's own children). */
export interface PolicyStatementArgs {
    /**
     * `Allow` or `Deny`, spelled so (IAM refuses `allow`).
     * @default "Allow"
     * @example "Deny"
     */
    effect?: string;
    /**
     * IAM actions such as `"dynamodb:GetItem"`; wildcards in actions are rejected.
     * @example ["dynamodb:GetItem", "dynamodb:PutItem"]
     */
    actions: string[];
    /**
     * Resource ARNs; at least one. Use `"*"` only where AWS supports no narrower resource.
     * @example [table.arn]
     */
    resources: pulumi.Input<string>[];
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: Array<{ Effect: string; Action: string[]; Resource: string[] }>;
}

/** Builds the JSON policy document of a set of statements (resolved Outputs included). */
export function policyDocument(statements: pulumi.Input<PolicyStatementArgs>[]): pulumi.Output<string> {
    return pulumi.output(statements).apply((resolved) => JSON.stringify(toDocument(resolved)));
}

/** The document for resolved statements. */
export function toDocument(statements: Array<{ effect?: string; actions: string[]; resources: string[] }>): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: statements.map((s) => ({ Effect: s.effect ?? "Allow", Action: s.actions, Resource: s.resources })),
    };
}

/** The two values IAM accepts for a statement's `Effect` (case-sensitive). */
const STATEMENT_EFFECTS = ["Allow", "Deny"];

/**
 * Messages for statements IAM would refuse or that break least privilege: an effect other than `Allow` or
 * `Deny`, an action with `*`, or no resource.
 */
export function policyStatementProblems(statements: Array<{ effect?: unknown; actions: string[]; resources: unknown[] }>): string[] {
    const problems: string[] = [];
    for (const statement of statements) {
        if (statement.effect !== undefined && !STATEMENT_EFFECTS.includes(statement.effect as string)) {
            problems.push(`policyStatements: effect must be "Allow" or "Deny" (IAM is case-sensitive here); received ${JSON.stringify(statement.effect)}.`);
        }
        for (const action of statement.actions.filter((a) => a.includes("*"))) {
            problems.push(`policyStatements: action "${action}" uses a wildcard; name each action.`);
        }
        if (statement.resources.length === 0) {
            problems.push(`policyStatements: the statement for ${statement.actions.join(", ")} names no resource.`);
        }
    }
    return problems;
}

/** The AWS partition (`aws`, `aws-us-gov`, `aws-cn`) of the provider `parent` deploys with, for ARNs. */
export function partitionOf(parent: pulumi.Resource): pulumi.Output<string> {
    return aws.getPartitionOutput({}, { parent }).partition;
}

/** The trust policy that lets a service assume a role. */
export function assumeRolePolicy(service: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
    });
}
