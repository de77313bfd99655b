/**
 * `npm start -- [--stack NAME]`: the offline plan of the example program. Runs stacks/index.ts under
 * Pulumi mocks with the stack's config, prints the component tree with the settings that matter, the
 * concurrency budget per account and the check pass (planChecks.ts), and writes a Mermaid diagram to
 * plan/<stack>.mmd. `--outputs-json FILE [--show-secrets]` also writes the stack outputs as
 * `pulumi stack output --json` prints them. The plan fails (exit 2) when the check pass finds a problem.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { knownStacks, OfflinePlan, OfflinePlanError, PlannedResource, recordPlan, resourceKey } from "./offlinePlan";
import { checkPlan, renderChecks } from "./planChecks";
import { planReferencedStack, PLAN_CHAIN_VARIABLE } from "./planReferences";
import { plainOutputs, stackOutputJson, stackReferenceState } from "./stackOutputs";

const SHORT_TYPE = (type: string) => type.split(":").pop() ?? type;
const SHORT_ARN = (value: unknown) => (typeof value === "string" && value.startsWith("arn:") ? value.split(":").pop() : value);

/** One-line summary of the settings that matter for a resource type; empty for the rest. */
export function settingsOf(resource: PlannedResource): string {
    const i = resource.inputs;
    switch (resource.type) {
        case "aws:lambda/function:Function":
            return `reserved concurrency ${i.reservedConcurrentExecutions ?? "none"}, timeout ${i.timeout} s, memory ${i.memorySize} MB, ${i.architectures?.join("/")}${i.vpcConfig ? `, in VPC subnets ${i.vpcConfig.subnetIds?.join(" ")}` : ""}`;
        case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
            return `async retries ${i.maximumRetryAttempts}, max event age ${i.maximumEventAgeInSeconds} s, on failure → ${SHORT_ARN(i.destinationConfig?.onFailure?.destination) ?? "none"}`;
        case "aws:cloudwatch/eventTarget:EventTarget":
            return `target retries ${i.retryPolicy?.maximumRetryAttempts}, max event age ${i.retryPolicy?.maximumEventAgeInSeconds} s, DLQ → ${SHORT_ARN(i.deadLetterConfig?.arn) ?? "none"}`;
        case "aws:cloudwatch/eventRule:EventRule":
            return `bus ${i.eventBusName ?? "default"}, ${i.eventPattern ? `pattern ${i.eventPattern}` : `schedule ${i.scheduleExpression}`}`;
        case "aws:sqs/queue:Queue":
            return [i.fifoQueue ? "FIFO (high throughput)" : "standard", `visibility ${i.visibilityTimeoutSeconds} s`, i.redrivePolicy ? `redrive ${i.redrivePolicy}` : "", i.sqsManagedSseEnabled || i.kmsMasterKeyId ? "encrypted" : "NOT ENCRYPTED"]
                .filter(Boolean)
                .join(", ");
        case "aws:lambda/eventSourceMapping:EventSourceMapping":
            return Object.entries({
                "batch size": i.batchSize,
                window: i.maximumBatchingWindowInSeconds,
                "parallelization factor": i.parallelizationFactor,
                "max concurrency": i.scalingConfig?.maximumConcurrency,
                "starting position": i.startingPosition,
                bisect: i.bisectBatchOnFunctionError,
                retries: i.maximumRetryAttempts,
                "max record age": i.maximumRecordAgeInSeconds,
                "on failure": SHORT_ARN(i.destinationConfig?.onFailure?.destinationArn),
            })
                .filter(([, value]) => value !== undefined)
                .map(([label, value]) => `${label} ${value}`)
                .join(", ");
        case "aws:kinesis/stream:Stream":
            return `${i.streamModeDetails?.streamMode ?? "PROVISIONED"}${i.shardCount ? `, ${i.shardCount} shards` : ""}, retention ${i.retentionPeriod} h, encryption ${i.encryptionType}`;
        case "aws:dynamodb/table:Table":
            return `key ${i.hashKey}${i.rangeKey ? `+${i.rangeKey}` : ""}, ${i.billingMode}, TTL ${i.ttl?.attributeName}, PITR ${i.pointInTimeRecovery?.enabled}, encrypted ${i.serverSideEncryption?.enabled}`;
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            return `${i.namespace} ${i.metricName} ${i.statistic} > ${i.threshold} for ${i.evaluationPeriods} × ${i.period} s`;
        default:
            return "";
    }
}

/** The component tree, children indented under their parent, with settings and ignored fields. */
export function renderTree(plan: OfflinePlan): string[] {
    const children = childrenByParent(plan);
    const lines: string[] = [];
    const visit = (parent: string | undefined, depth: number) => {
        for (const resource of children.get(parent) ?? []) {
            const settings = settingsOf(resource);
            const ignored = resource.ignoreChanges?.length ? ` [ignoreChanges: ${resource.ignoreChanges.join(", ")}]` : "";
            const provider = resource.provider ? ` (provider ${resource.provider})` : "";
            const modelled = resource.modelled ? ` [${resource.modelled}]` : "";
            lines.push(`${"  ".repeat(depth)}${resource.custom ? "-" : "+"} ${SHORT_TYPE(resource.type)} ${resource.name}${provider}${settings ? `: ${settings}` : ""}${ignored}${modelled}`);
            visit(resourceKey(resource.type, resource.name), depth + 1);
        }
    };
    visit(undefined, 0);
    return lines;
}

function childrenByParent(plan: OfflinePlan): Map<string | undefined, PlannedResource[]> {
    const children = new Map<string | undefined, PlannedResource[]>();
    for (const resource of plan.resources) {
        const siblings = children.get(resource.parent) ?? [];
        siblings.push(resource);
        children.set(resource.parent, siblings);
    }
    return children;
}

/** The budget of every account the program reserves concurrency in. */
export function renderBudgets(plan: OfflinePlan): string[] {
    if (plan.budgets.length === 0) return ["  (no reserved concurrency)"];
    return plan.budgets.flatMap((budget) => [
        `  ${budget.account}: limit ${budget.limit} (${budget.limitSource}), reserved ${budget.limit - budget.unreserved}, unreserved ${budget.unreserved} (must stay ≥ 100)`,
        ...budget.reservations.map((r) => `    - ${r.component}: ${r.concurrency}`),
    ]);
}

/**
 * Mermaid node ids, one per resource and unique: resources of different types may share a name (an
 * awsx VPC component, its VPC and its internet gateway are all called "workers").
 */
export function mermaidIds(resources: PlannedResource[]): Map<PlannedResource, string> {
    const ids = new Map<PlannedResource, string>();
    const taken = new Set<string>();
    for (const resource of resources) {
        const base = `${SHORT_TYPE(resource.type)}_${resource.name}`.replace(/[^A-Za-z0-9_]/g, "_");
        let id = base;
        for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
        taken.add(id);
        ids.set(resource, id);
    }
    return ids;
}

/** A Mermaid flowchart: components as subgraphs, an edge wherever an input names another resource. */
export function renderMermaid(plan: OfflinePlan): string {
    const drawnResources = plan.resources.filter((r) => !r.type.includes("MetricAlarm"));
    const ids = mermaidIds(drawnResources);
    const children = childrenByParent({ ...plan, resources: drawnResources });
    const lines = ["flowchart LR"];
    const renderChildren = (parent: string | undefined, depth: number) => {
        for (const resource of children.get(parent) ?? []) {
            const pad = "  ".repeat(depth);
            const key = resourceKey(resource.type, resource.name);
            if (children.has(key)) {
                lines.push(`${pad}subgraph ${ids.get(resource)}["${SHORT_TYPE(resource.type)} ${resource.name}"]`);
                renderChildren(key, depth + 1);
                lines.push(`${pad}end`);
            } else {
                lines.push(`${pad}${ids.get(resource)}["${SHORT_TYPE(resource.type)}<br/>${resource.name}"]`);
            }
        }
    };
    renderChildren(undefined, 1);
    const drawn = drawnResources.filter((r) => r.custom && !children.has(resourceKey(r.type, r.name)));
    for (const resource of drawn) {
        const text = JSON.stringify(resource.inputs);
        for (const other of drawn.filter((r) => r !== resource && !r.modelled)) {
            if (text.includes(`:${other.name}"`) || text.includes(`"${other.name}"`)) lines.push(`  ${ids.get(resource)} --> ${ids.get(other)}`);
        }
    }
    return lines.join("\n") + "\n";
}

/** The command line of `npm start -- …`. */
export interface PlanOptions {
    /** `--stack NAME` @default "dev" */
    stack: string;
    /** `--outputs-json FILE`: write the outputs as `pulumi stack output --json` prints them. */
    outputsJson?: string;
    /** `--show-secrets`: with `--outputs-json`, print secret values instead of "[secret]". */
    showSecrets: boolean;
    /** `--stack-reference-json FILE`: what a StackReference to this stack reads (used by planReferences.ts). */
    stackReferenceJson?: string;
}

/** Parses the arguments after `npm start --`. */
export function parsePlanOptions(argv: string[]): PlanOptions {
    const valueOf = (flag: string): string | undefined => {
        const index = argv.indexOf(flag);
        if (index === -1) return undefined;
        const value = argv[index + 1];
        if (!value || value.startsWith("--")) throw new OfflinePlanError(`${flag} needs a value.${flag === "--stack" ? ` Stacks: ${knownStacks().join(", ")}.` : ""}`);
        return value;
    };
    return {
        stack: valueOf("--stack") ?? "dev",
        outputsJson: valueOf("--outputs-json"),
        showSecrets: argv.includes("--show-secrets"),
        stackReferenceJson: valueOf("--stack-reference-json"),
    };
}

async function plan(argv: string[], program: string): Promise<void> {
    const options = parsePlanOptions(argv);
    const { stack } = options;
    process.env[PLAN_CHAIN_VARIABLE] ||= stack;
    const plan = await recordPlan(stack, program, planReferencedStack);
    const problems = checkPlan(plan);
    const diagram = path.join(process.cwd(), "plan", `${stack}.mmd`);
    fs.mkdirSync(path.dirname(diagram), { recursive: true });
    fs.writeFileSync(diagram, renderMermaid(plan));
    const outputs = Object.entries(plainOutputs(plan.outputs, false) as Record<string, unknown>).map(([name, value]) => `  ${name}: ${JSON.stringify(value)}`);
    console.log(
        [
            `Offline plan for stack "${stack}" (${plan.resources.length} resources).`,
            "No cloud call and no provider validation happened: the program ran under Pulumi mocks, with",
            "made-up ids and ARNs. `pulumi preview -s " + stack + "` with AWS credentials is the real check.",
            "",
            "Resources (+ component, - resource):",
            ...renderTree(plan),
            "",
            "Concurrency budget per account and region:",
            ...renderBudgets(plan),
            "",
            "Check pass (names after autonaming, references, budgets against the quota in force):",
            ...renderChecks(plan, problems),
            "",
            "Stack outputs:",
            ...outputs,
            "",
            `Diagram: ${path.relative(process.cwd(), diagram)}`,
        ].join("\n"),
    );
    if (problems.length > 0) throw new OfflinePlanError(renderChecks(plan, problems).join("\n"));
    if (options.outputsJson) fs.writeFileSync(options.outputsJson, stackOutputJson(plan.outputs, options.showSecrets));
    if (options.stackReferenceJson) fs.writeFileSync(options.stackReferenceJson, JSON.stringify(stackReferenceState(plan.outputs)));
}

/** Prints the failure as `pulumi up` would end: the message, no stack trace; exit code 2. */
function fail(error: unknown): never {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
}

/**
 * `npm start -- …` for `program` (a module path; the example program by default). Exits 2 with the
 * message when the plan fails: the program throws, an Output fails (e.g. `requireOutput` of an output the
 * referenced stack does not export) or the check pass finds a problem.
 */
export function runPlanCommand(argv: string[], program = path.join(__dirname, "index")): void {
    // A failed Output rejects inside a registration, not in the plan's own promise chain.
    process.on("unhandledRejection", fail);
    plan(argv, program).catch(fail);
}

if (require.main === module) runPlanCommand(process.argv.slice(2));
