/**
 * What the offline plan answers for `StackReference`s, per stack: the outputs the referenced stacks
 * would export (made-up ids, shaped like the real ones).
 */
const MANAGEMENT_OUTPUTS = {
    workloadAccountId: "222222222222",
    workloadRoleArn: "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole",
    workloadEventBusName: "orders-workload-bus",
};

export function stackReferenceOutputs(stack: string): Record<string, Record<string, unknown>> {
    return stack === "workload" ? { "organization/serverless-concurrency-example/management": MANAGEMENT_OUTPUTS } : {};
}
