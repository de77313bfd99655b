/**
 * `npm start -- [--stack NAME]`: the offline plan of the example program. Runs stacks/index.ts under
 * Pulumi mocks with the stack's config, prints the component tree with the settings that matter, the
 * concurrency budget per account, and writes a Mermaid diagram to plan/<stack>.mmd.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { knownStacks, OfflinePlan, PlannedResource, recordPlan } from "./offlinePlan";
import { stackReferenceOutputs } from "./planReferences";

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
    const children = new Map<string | undefined, PlannedResource[]>();
    for (const resource of plan.resources) {
        const siblings = children.get(resource.parent) ?? [];
        siblings.push(resource);
        children.set(resource.parent, siblings);
    }
    const lines: string[] = [];
    const visit = (parent: string | undefined, depth: number) => {
        for (const resource of children.get(parent) ?? []) {
            const settings = settingsOf(resource);
            const ignored = resource.ignoreChanges?.length ? ` [ignoreChanges: ${resource.ignoreChanges.join(", ")}]` : "";
            const provider = resource.provider ? ` (provider ${resource.provider})` : "";
            lines.push(`${"  ".repeat(depth)}${resource.custom ? "-" : "+"} ${SHORT_TYPE(resource.type)} ${resource.name}${provider}${settings ? `: ${settings}` : ""}${ignored}`);
            visit(resource.name, depth + 1);
        }
    };
    visit(undefined, 0);
    return lines;
}

/** The budget of every account the program reserves concurrency in. */
export function renderBudgets(plan: OfflinePlan): string[] {
    if (plan.budgets.length === 0) return ["  (no reserved concurrency)"];
    return plan.budgets.flatMap((budget) => [
        `  ${budget.account}: limit ${budget.limit} (${budget.limitSource}), reserved ${budget.limit - budget.unreserved}, unreserved ${budget.unreserved} (must stay ≥ 100)`,
        ...budget.reservations.map((r) => `    - ${r.component}: ${r.concurrency}`),
    ]);
}

/** A Mermaid flowchart: components as subgraphs, an edge wherever an input names another resource. */
export function renderMermaid(plan: OfflinePlan): string {
    const id = (resource: PlannedResource) => resource.name.replace(/[^A-Za-z0-9_]/g, "_");
    const lines = ["flowchart LR"];
    const renderChildren = (parent: string | undefined, depth: number) => {
        for (const resource of plan.resources.filter((r) => r.parent === parent && !r.type.includes("MetricAlarm"))) {
            const pad = "  ".repeat(depth);
            const nested = plan.resources.some((r) => r.parent === resource.name);
            if (nested) {
                lines.push(`${pad}subgraph ${id(resource)}["${SHORT_TYPE(resource.type)} ${resource.name}"]`);
                renderChildren(resource.name, depth + 1);
                lines.push(`${pad}end`);
            } else {
                lines.push(`${pad}${id(resource)}["${SHORT_TYPE(resource.type)}<br/>${resource.name}"]`);
            }
        }
    };
    renderChildren(undefined, 1);
    const drawn = plan.resources.filter((r) => r.custom && !r.type.includes("MetricAlarm"));
    for (const resource of drawn) {
        const text = JSON.stringify(resource.inputs);
        for (const other of drawn.filter((r) => r !== resource)) {
            if (text.includes(`:${other.name}"`) || text.includes(`"${other.name}"`)) lines.push(`  ${id(resource)} --> ${id(other)}`);
        }
    }
    return lines.join("\n") + "\n";
}

function stackArgument(argv: string[]): string {
    const index = argv.indexOf("--stack");
    if (index === -1) return "dev";
    const stack = argv[index + 1];
    if (!stack) throw new Error(`--stack needs a name. Stacks: ${knownStacks().join(", ")}.`);
    return stack;
}

async function main(): Promise<void> {
    const stack = stackArgument(process.argv.slice(2));
    const plan = await recordPlan(stack, path.join(__dirname, "index"), stackReferenceOutputs(stack));
    const diagram = path.join(process.cwd(), "plan", `${stack}.mmd`);
    fs.mkdirSync(path.dirname(diagram), { recursive: true });
    fs.writeFileSync(diagram, renderMermaid(plan));
    const outputs = Object.entries(plan.outputs).map(([name, value]) => `  ${name}: ${JSON.stringify(value)}`);
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
            "Stack outputs:",
            ...outputs,
            "",
            `Diagram: ${path.relative(process.cwd(), diagram)}`,
        ].join("\n"),
    );
}

if (require.main === module) {
    main().catch((error: Error) => {
        console.error(error.message);
        process.exit(2);
    });
}
