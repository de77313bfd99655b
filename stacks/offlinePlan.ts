/**
 * Runs the example program under Pulumi mocks and records what it would create: every resource with its
 * resolved inputs, its parent and its resource options, the stack outputs and the concurrency budget.
 * Nothing here calls AWS or the Pulumi engine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { runInPulumiStack } from "@pulumi/pulumi/runtime/stack";
import { parse as parseYaml } from "yaml";
import type { AccountBudget } from "../components/internal/budget";

export const STACKS_DIRECTORY = __dirname;
const FAKE_ACCOUNT_ID = "111111111111";

export interface PlannedResource {
    type: string;
    name: string;
    /** Name of the parent resource, if it is not the stack. */
    parent?: string;
    /** `false` for components. */
    custom: boolean;
    /** Inputs as the provider would receive them (Outputs resolved with mock values). */
    inputs: Record<string, any>;
    /** The `ignoreChanges` resource option. */
    ignoreChanges?: string[];
    /** Name of the explicit provider, if any. */
    provider?: string;
}

export interface OfflinePlan {
    stack: string;
    resources: PlannedResource[];
    outputs: Record<string, unknown>;
    budgets: AccountBudget[];
}

/** Stacks that have a `Pulumi.<stack>.yaml` beside the program. */
export function knownStacks(): string[] {
    return fs
        .readdirSync(STACKS_DIRECTORY)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .sort();
}

/** A stack's config as Pulumi passes it to a program: `namespace:key` → string (objects as JSON). */
export function loadStackConfig(stack: string): Record<string, string> {
    if (!knownStacks().includes(stack)) {
        throw new Error(`Unknown stack "${stack}": no stacks/Pulumi.${stack}.yaml. Stacks: ${knownStacks().join(", ")}.`);
    }
    const file = path.join(STACKS_DIRECTORY, `Pulumi.${stack}.yaml`);
    const document = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    return Object.fromEntries(
        Object.entries(document.config ?? {}).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
    );
}

/**
 * Runs `program` (a module path) for `stack` under mocks. `stackReferences` gives the outputs each
 * `StackReference` name returns. Call once per process: mocks and module state are global.
 */
export async function recordPlan(
    stack: string,
    program: string,
    stackReferences: Record<string, Record<string, unknown>> = {},
): Promise<OfflinePlan> {
    const config = loadStackConfig(stack);
    const resources = new Map<string, PlannedResource>();
    const key = (type: string, name: string) => `${type}::${name}`;
    await pulumi.runtime.setMocks(planMocks(resources, key, stackReferences), projectName(), stack, false);
    pulumi.runtime.setAllConfig(config);
    const outputs = await runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            const planned: PlannedResource = resources.get(key(args.type, args.name)) ?? { type: args.type, name: args.name, custom: true, inputs: {} };
            planned.parent = (args.opts.parent as unknown as { __name?: string } | undefined)?.__name;
            planned.ignoreChanges = args.opts.ignoreChanges;
            resources.set(key(args.type, args.name), planned);
            return undefined;
        });
        return (await import(program)) as Record<string, unknown>;
    });
    await waitForRegistrations();
    const { concurrencyBudgets } = await import("../components/internal/budget");
    const resolved = await resolveOutputs(outputs ?? {});
    return { stack, resources: [...resources.values()].filter((r) => r.type !== "pulumi:pulumi:Stack"), outputs: resolved, budgets: concurrencyBudgets() };
}

function planMocks(
    resources: Map<string, PlannedResource>,
    key: (type: string, name: string) => string,
    stackReferences: Record<string, Record<string, unknown>>,
): pulumi.runtime.Mocks {
    return {
        newResource(args) {
            const planned: PlannedResource = resources.get(key(args.type, args.name)) ?? { type: args.type, name: args.name, custom: true, inputs: {} };
            planned.inputs = args.inputs;
            planned.custom = args.custom ?? true;
            planned.provider = args.provider ? args.provider.split("::")[3] : undefined;
            resources.set(key(args.type, args.name), planned);
            if (args.type === "pulumi:pulumi:StackReference") {
                return { id: args.inputs.name, state: { outputs: stackReferences[args.inputs.name] ?? {}, secretOutputNames: [] } };
            }
            return { id: `${args.name}-id`, state: mockState(args) };
        },
        call(args) {
            if (args.token === "aws:index/getRegion:getRegion") return { name: "us-east-1", region: "us-east-1", id: "us-east-1" };
            if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") return { accountId: FAKE_ACCOUNT_ID, arn: "", userId: "", id: FAKE_ACCOUNT_ID };
            if (args.token === "aws:index/getPartition:getPartition") return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            return args.inputs;
        },
    };
}

/** Plausible computed outputs: a name, an ARN and a queue URL derived from the resource name. */
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
    if (args.type === "awsx:ec2:Vpc") {
        // A remote component: its subnets are not registered under mocks, so make up their ids.
        return { vpcId: `vpc-${args.name}`, privateSubnetIds: [`subnet-${args.name}-private-a`, `subnet-${args.name}-private-b`], publicSubnetIds: [] };
    }
    const name = args.inputs.name ?? args.name;
    const service = args.type.split(":")[1]?.split("/")[0] ?? "unknown";
    return {
        ...args.inputs,
        name,
        arn: args.inputs.arn ?? `arn:aws:${service}:us-east-1:${FAKE_ACCOUNT_ID}:${name}`,
        url: `https://sqs.us-east-1.amazonaws.com/${FAKE_ACCOUNT_ID}/${name}`,
        uuid: `${args.name}-uuid`,
    };
}

function projectName(): string {
    const manifest = fs.readFileSync(path.join(STACKS_DIRECTORY, "..", "Pulumi.yaml"), "utf8");
    return (parseYaml(manifest) as { name: string }).name;
}

async function waitForRegistrations(): Promise<void> {
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    await settings.waitForRPCs();
}

async function resolveOutputs(outputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    const entries = await Promise.all(
        Object.entries(outputs).map(async ([name, value]) => [name, pulumi.Output.isInstance(value) ? await new Promise((r) => value.apply(r)) : value] as const),
    );
    return Object.fromEntries(entries);
}
