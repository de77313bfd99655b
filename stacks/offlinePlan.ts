/**
 * Runs the example program under Pulumi mocks and records what it would create: every resource with its
 * resolved inputs, its parent and its resource options, the stack outputs (and which are secret) and the
 * concurrency budget. Nothing here calls AWS or the Pulumi engine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { runInPulumiStack } from "@pulumi/pulumi/runtime/stack";
import { parse as parseYaml } from "yaml";
import type { AccountBudget } from "../components/internal/budget";
import { ServerlessConcurrencyError } from "../contracts/errors";
import { awsxVpcChildren, AWSX_VPC_TYPE } from "./planVpc";
import { revealOutputs, ResolvedOutputs } from "./stackOutputs";

export const STACKS_DIRECTORY = __dirname;

/** The offline plan cannot run or found a problem `pulumi up` would meet: an unknown stack, a bad option, a failed check. */
export class OfflinePlanError extends ServerlessConcurrencyError {
    override name = "OfflinePlanError";
}
/** The account id the mocks answer for the credentials' account. */
export const FAKE_ACCOUNT_ID = "111111111111";

export interface PlannedResource {
    type: string;
    name: string;
    /** `type::name` of the parent resource, if it is not the stack. */
    parent?: string;
    /** `false` for components. */
    custom: boolean;
    /** Inputs as the provider would receive them (Outputs resolved with mock values). */
    inputs: Record<string, any>;
    /** What the mocks answered: the id and the outputs other resources read (name, arn, url …). */
    outputs: Record<string, any>;
    /** The `ignoreChanges` resource option. */
    ignoreChanges?: string[];
    /** Name of the explicit provider, if any. */
    provider?: string;
    /** Set for resources the plan models because mocks cannot see them (the children of a remote component). */
    modelled?: string;
}

export interface OfflinePlan {
    stack: string;
    resources: PlannedResource[];
    /** The stack outputs, resolved; secret values are wrapped (see stackOutputs.ts). */
    outputs: ResolvedOutputs;
    budgets: AccountBudget[];
}

/** What a `StackReference` reads: the referenced stack's outputs and which of them are secret. */
export interface ReferencedStack {
    outputs: Record<string, unknown>;
    secretOutputNames: string[];
}

/** Answers a `StackReference` by its name (`<org>/<project>/<stack>`). */
export type StackReferenceResolver = (name: string) => Promise<ReferencedStack>;

/** `type::name`, the key a resource is recorded under. */
export function resourceKey(type: string, name: string): string {
    return `${type}::${name}`;
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
        throw new OfflinePlanError(`Unknown stack "${stack}": no stacks/Pulumi.${stack}.yaml. Stacks: ${knownStacks().join(", ")}.`);
    }
    const file = path.join(STACKS_DIRECTORY, `Pulumi.${stack}.yaml`);
    const document = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    return Object.fromEntries(
        Object.entries(document.config ?? {}).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
    );
}

/** The project name from Pulumi.yaml (the middle part of a StackReference name). */
export function projectName(): string {
    const manifest = fs.readFileSync(path.join(STACKS_DIRECTORY, "..", "Pulumi.yaml"), "utf8");
    return (parseYaml(manifest) as { name: string }).name;
}

/**
 * Runs `program` (a module path) for `stack` under mocks; `resolveStackReference` answers each
 * `StackReference`. Call once per process: mocks and module state are global.
 */
export async function recordPlan(stack: string, program: string, resolveStackReference: StackReferenceResolver): Promise<OfflinePlan> {
    const config = loadStackConfig(stack);
    const resources = new Map<string, PlannedResource>();
    await pulumi.runtime.setMocks(planMocks(resources, resolveStackReference), projectName(), stack, false);
    pulumi.runtime.setAllConfig(config);
    const outputs = await runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            const planned = plannedResource(resources, args.type, args.name);
            planned.parent = parentKey(args.opts.parent);
            planned.ignoreChanges = args.opts.ignoreChanges;
            return undefined;
        });
        // As the Pulumi CLI runs a program: its module exports are the stack outputs.
        return require(program) as Record<string, unknown>;
    });
    await waitForRegistrations();
    const { concurrencyBudgets } = await import("../components/internal/budget");
    const recorded = [...resources.values()].filter((r) => r.type !== "pulumi:pulumi:Stack");
    return { stack, resources: withModelledChildren(recorded), outputs: await revealOutputs(outputs ?? {}), budgets: concurrencyBudgets() };
}

function plannedResource(resources: Map<string, PlannedResource>, type: string, name: string): PlannedResource {
    const key = resourceKey(type, name);
    const planned = resources.get(key) ?? { type, name, custom: true, inputs: {}, outputs: {} };
    resources.set(key, planned);
    return planned;
}

function parentKey(parent: pulumi.Resource | undefined): string | undefined {
    const named = parent as unknown as { __pulumiType?: string; __name?: string } | undefined;
    return named?.__pulumiType && named.__name ? resourceKey(named.__pulumiType, named.__name) : undefined;
}

/** Remote components (the awsx VPC) register no children under mocks: add the children they create. */
function withModelledChildren(resources: PlannedResource[]): PlannedResource[] {
    return resources.flatMap((resource) => (resource.type === AWSX_VPC_TYPE ? [resource, ...awsxVpcChildren(resource)] : [resource]));
}

function planMocks(resources: Map<string, PlannedResource>, resolveStackReference: StackReferenceResolver): pulumi.runtime.Mocks {
    return {
        async newResource(args) {
            const planned = plannedResource(resources, args.type, args.name);
            planned.inputs = args.inputs;
            planned.custom = args.custom ?? true;
            planned.provider = args.provider ? args.provider.split("::")[3] : undefined;
            const answer =
                args.type === "pulumi:pulumi:StackReference"
                    ? { id: args.inputs.name, state: await resolveStackReference(args.inputs.name) }
                    : { id: `${args.name}-id`, state: mockState(args) };
            planned.outputs = { id: answer.id, ...answer.state };
            return answer;
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
    if (args.type === AWSX_VPC_TYPE) {
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

async function waitForRegistrations(): Promise<void> {
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    await settings.waitForRPCs();
}
