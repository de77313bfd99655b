/**
 * The check pass of the offline plan: the rules Pulumi mocks cannot see, applied to every planned
 * resource. Pure: it reads a recorded plan and returns the problems.
 *
 * - Name length: Pulumi autonames a resource as its logical name + "-" + 7 random characters (plus
 *   ".fifo" for FIFO queues and topics) and refuses at preview when that exceeds the provider's limit;
 *   an explicit physical name is checked as given.
 * - References: the inputs that must name another resource are set, and a planned resource they name
 *   is deployed with the same provider (one account and region: a rule cannot target a rule, role or
 *   function of another account).
 * - Budget: every account keeps at least 100 unreserved executions of the quota in force.
 *
 * The limits are those of components/internal/naming.ts, which the components check at construction.
 */
import { AUTONAME_SUFFIX_LENGTH, FIFO_SUFFIX, PHYSICAL_NAME_LIMITS } from "../components/internal/naming";
import type { OfflinePlan, PlannedResource } from "./offlinePlan";
const UNRESERVED_MINIMUM = 100;

interface NameRule {
    /** The provider's maximum length of the physical name. */
    limit: number;
    /** The input that holds an explicit physical name. @default "name" */
    property?: string;
    /** The provider appends ".fifo" to an autonamed FIFO resource (`fifoQueue` / `fifoTopic`). */
    fifoInput?: string;
}

/** Where a type's physical name is found when it is not the `name` input or gains ".fifo". */
const NAME_INPUTS: Record<string, Omit<NameRule, "limit">> = {
    "aws:sqs/queue:Queue": { fifoInput: "fifoQueue" },
    "aws:sns/topic:Topic": { fifoInput: "fifoTopic" },
    "aws:cloudwatch/dashboard:Dashboard": { property: "dashboardName" },
};

/** Physical-name limits per type token (AWS API limits, as the provider enforces them at preview). */
export const NAME_RULES: Record<string, NameRule> = Object.fromEntries(
    Object.entries(PHYSICAL_NAME_LIMITS).map(([type, { max }]) => [type, { limit: max, ...NAME_INPUTS[type] }]),
);

interface ReferenceRule {
    /** The input that names the other resource. */
    input: string;
    /** Types it may name. */
    types: string[];
    /** The input may be left out (the resource then uses a default, e.g. the default bus). */
    optional?: boolean;
}

const FUNCTION = "aws:lambda/function:Function";
const ROLE = "aws:iam/role:Role";

/** Inputs that name another resource, per type token. */
export const REFERENCE_RULES: Record<string, ReferenceRule[]> = {
    [FUNCTION]: [{ input: "role", types: [ROLE] }],
    "aws:iam/rolePolicy:RolePolicy": [{ input: "role", types: [ROLE] }],
    "aws:lambda/permission:Permission": [{ input: "function", types: [FUNCTION] }],
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": [{ input: "functionName", types: [FUNCTION] }],
    "aws:lambda/eventSourceMapping:EventSourceMapping": [
        { input: "functionName", types: [FUNCTION] },
        { input: "eventSourceArn", types: ["aws:kinesis/stream:Stream", "aws:sqs/queue:Queue"] },
    ],
    "aws:cloudwatch/eventRule:EventRule": [{ input: "eventBusName", types: ["aws:cloudwatch/eventBus:EventBus"], optional: true }],
    "aws:cloudwatch/eventTarget:EventTarget": [
        { input: "rule", types: ["aws:cloudwatch/eventRule:EventRule"] },
        // A bus in another account is a valid target (that is how events cross accounts); other targets are not.
        { input: "arn", types: [FUNCTION, "aws:sqs/queue:Queue", "aws:sfn/stateMachine:StateMachine"] },
        { input: "roleArn", types: [ROLE], optional: true },
    ],
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": [{ input: "eventBusName", types: ["aws:cloudwatch/eventBus:EventBus"] }],
    "aws:sqs/queuePolicy:QueuePolicy": [{ input: "queueUrl", types: ["aws:sqs/queue:Queue"] }],
    "aws:sns/topicSubscription:TopicSubscription": [
        { input: "topic", types: ["aws:sns/topic:Topic"] },
        { input: "endpoint", types: ["aws:sqs/queue:Queue"] },
    ],
    "aws:sfn/stateMachine:StateMachine": [{ input: "roleArn", types: [ROLE] }],
};

/** One broken rule. */
export interface PlanProblem {
    /** `type "name"` of the resource (or the account, for the budget). */
    subject: string;
    /** Which check. */
    check: "name length" | "reference" | "budget";
    /** What is wrong and the limit. */
    message: string;
}

/** Every problem the plan would meet at `pulumi preview` / `up` that mocks do not report. */
export function checkPlan(plan: OfflinePlan): PlanProblem[] {
    const custom = plan.resources.filter((resource) => resource.custom && !resource.modelled);
    return [...custom.flatMap(nameProblems), ...custom.flatMap((resource) => referenceProblems(resource, custom)), ...budgetProblems(plan)];
}

/** The physical name AWS will see, and how it came about. */
export function physicalName(resource: PlannedResource, rule: NameRule): { name: string; autonamed: boolean } {
    const explicit = resource.inputs[rule.property ?? "name"];
    if (typeof explicit === "string" && explicit !== "") return { name: explicit, autonamed: false };
    const fifo = rule.fifoInput !== undefined && resource.inputs[rule.fifoInput] === true;
    return { name: `${resource.name}-${"x".repeat(AUTONAME_SUFFIX_LENGTH - 1)}${fifo ? FIFO_SUFFIX : ""}`, autonamed: true };
}

function nameProblems(resource: PlannedResource): PlanProblem[] {
    const rule = NAME_RULES[resource.type];
    if (!rule) return [];
    const { name, autonamed } = physicalName(resource, rule);
    if (name.length <= rule.limit) return [];
    const how = autonamed ? `the logical name (${resource.name.length}) + "-" + 7 random characters${name.endsWith(".fifo") ? ' + ".fifo"' : ""}` : "the explicit name";
    return [
        {
            subject: subjectOf(resource),
            check: "name length",
            message: `physical name is ${name.length} characters (${how}); ${shortType(resource.type)} names allow at most ${rule.limit}.`,
        },
    ];
}

function referenceProblems(resource: PlannedResource, resources: PlannedResource[]): PlanProblem[] {
    return (REFERENCE_RULES[resource.type] ?? []).flatMap((rule) => {
        const value = resource.inputs[rule.input];
        if (value === undefined || value === null || value === "") {
            return rule.optional ? [] : [{ subject: subjectOf(resource), check: "reference" as const, message: `${rule.input} is required and not set.` }];
        }
        const target = resources.find((other) => rule.types.includes(other.type) && namesResource(value, other));
        if (!target || (target.provider ?? "default") === (resource.provider ?? "default")) return [];
        return [
            {
                subject: subjectOf(resource),
                check: "reference" as const,
                message: `${rule.input} names ${subjectOf(target)}, deployed with ${providerLabel(target)}, but this resource is deployed with ${providerLabel(resource)}: a reference cannot cross accounts or regions.`,
            },
        ];
    });
}

function budgetProblems(plan: OfflinePlan): PlanProblem[] {
    return plan.budgets
        .filter((budget) => budget.reservations.length > 0 && budget.unreserved < UNRESERVED_MINIMUM)
        .map((budget) => ({
            subject: budget.account,
            check: "budget" as const,
            message: `reservations total ${budget.limit - budget.unreserved} of a quota in force of ${budget.limit} (${budget.limitSource}), leaving ${budget.unreserved} unreserved; AWS keeps at least ${UNRESERVED_MINIMUM}.`,
        }));
}

function namesResource(value: unknown, resource: PlannedResource): boolean {
    const identities = ["id", "name", "arn", "url"].map((key) => resource.outputs[key]).filter((identity) => typeof identity === "string");
    return identities.some((identity) => identity === value);
}

function subjectOf(resource: PlannedResource): string {
    return `${shortType(resource.type)} "${resource.name}"`;
}

function providerLabel(resource: PlannedResource): string {
    return resource.provider ? `provider "${resource.provider}"` : "the default provider";
}

function shortType(type: string): string {
    return type.split(":").pop() ?? type;
}

/** The check pass as the plan prints it: one line per problem, or the all-clear with what was checked. */
export function renderChecks(plan: OfflinePlan, problems: PlanProblem[]): string[] {
    if (problems.length === 0) {
        const named = plan.resources.filter((resource) => resource.custom && !resource.modelled && NAME_RULES[resource.type]).length;
        return [`  passed: ${named} physical names within their limits, references within one provider, every budget keeps ≥ ${UNRESERVED_MINIMUM} unreserved.`];
    }
    return [`  FAILED: ${problems.length} problem(s) that \`pulumi preview\` / \`pulumi up\` would meet:`, ...problems.map((p) => `  - [${p.check}] ${p.subject}: ${p.message}`)];
}
