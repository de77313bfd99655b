/**
 * Pulumi mocks for component tests (reference/pulumi.md §2). Import components only after
 * `installMocks()`, and call `settle()` before asserting on `registered`.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT_ID = "123456789012";
export const REGION = "us-east-1";

/** Every resource registered since the last `resetRegistrations()`. */
export const registered: pulumi.runtime.MockResourceArgs[] = [];

/** Invokes made since the last reset. */
export const invoked: pulumi.runtime.MockCallArgs[] = [];

/** Extra state per resource type, for outputs a test needs (merged over the defaults). */
const stateOverrides = new Map<string, (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown>>();

const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
        registered.push(args);
        const name = args.inputs.name ?? `${args.name}-${args.type.split(":").pop()!.toLowerCase()}`;
        const service = arnService(args.type);
        const arn = args.inputs.arn ?? (args.type === "aws:lambda/eventSourceMapping:EventSourceMapping" ? mappingArnOf(args.name) : `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${name}`);
        const state = {
            ...args.inputs,
            name,
            arn,
            url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/${name}`,
            uuid: `${args.name}-uuid`,
            ...(stateOverrides.get(args.type)?.(args) ?? {}),
        };
        return { id: `${args.name}-id`, state };
    },
    call(args) {
        invoked.push(args);
        switch (args.token) {
            case "aws:index/getRegion:getRegion":
                return { name: REGION, region: REGION, id: REGION };
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/test`, userId: "test", id: ACCOUNT_ID };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            default:
                throw new Error(`unexpected invoke ${args.token}`);
        }
    },
};

/**
 * The mock ARN of the event source mapping named `name`, shaped as AWS's (its last part a UUID made from
 * the name), so the components' format checks accept it.
 * @example mappingArnOf("payments-esm") // "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:5d1c…"
 */
export function mappingArnOf(name: string): string {
    const hex = createHash("md5").update(name).digest("hex");
    return `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:event-source-mapping:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The service part of a mock ARN: `aws:cloudwatch/eventRule:EventRule` → `events`. */
function arnService(type: string): string {
    const module = type.split(":")[1] ?? "unknown";
    const byModule: Record<string, string> = { "cloudwatch/eventRule": "events", "cloudwatch/eventBus": "events", "cloudwatch/logGroup": "logs" };
    return byModule[module] ?? module.split("/")[0];
}

/** The `ignoreChanges` option of each registration (`type::name`), read off the mock monitor. */
export const ignoredChanges = new Map<string, string[]>();

/** What each registration (`type::name`) waits for (`dependsOn`, resolved), as `type::name`, read off the mock monitor. */
export const dependencies = new Map<string, string[]>();

/** `type::name` of a URN (`urn:pulumi:<stack>::<project>::<parent types$>type::name`). */
function urnKey(urn: string): string {
    const [, , types, name] = urn.split("::");
    return `${types.split("$").pop()}::${name}`;
}

/**
 * Mocks see inputs, not resource options; the monitor's requests carry them. Wrap its
 * `registerResource` to record `ignoreChanges` and the dependencies.
 */
function recordIgnoreChanges(): void {
    type Request = { getType(): string; getName(): string; getIgnorechangesList(): string[]; getDependenciesList(): string[] };
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Request, callback: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        ignoredChanges.set(`${req.getType()}::${req.getName()}`, req.getIgnorechangesList());
        dependencies.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList().map(urnKey));
        return register(req, callback);
    };
}

/** Installs the mocks; `config` keys are set as given (e.g. `"serverless-concurrency:accountConcurrencyLimit"`). */
export async function installMocks(config: Record<string, string> = {}, project = "project", stack = "test"): Promise<void> {
    pulumi.runtime.setAllConfig(config);
    await pulumi.runtime.setMocks(mocks, project, stack, false);
    recordIgnoreChanges();
}

/** Adds outputs for one resource type, e.g. a stream's `shardCount`. */
export function overrideState(type: string, state: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown>): void {
    stateOverrides.set(type, state);
}

export function resetRegistrations(): void {
    registered.length = 0;
    invoked.length = 0;
    ignoredChanges.clear();
    dependencies.clear();
}

/** Waits until every pending registration has reached the mocks. */
export async function settle(): Promise<void> {
    // `waitForRPCs` is internal to @pulumi/pulumi but exported at runtime; it drains the RPC queue.
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    await settings.waitForRPCs();
}

/** Resolves an Output (only for known values; mocks run with preview = false). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

/** The registrations of one resource type. */
export function ofType(type: string): pulumi.runtime.MockResourceArgs[] {
    return registered.filter((r) => r.type === type);
}

/** The single registration of a type and name; throws when absent. */
export function resource(type: string, name: string): pulumi.runtime.MockResourceArgs {
    const found = registered.find((r) => r.type === type && r.name === name);
    if (!found) throw new Error(`no ${type} named ${name}; registered: ${registered.map((r) => `${r.type}::${r.name}`).join(", ")}`);
    return found;
}

/** Parses a JSON-string input (policies, patterns). */
export function json(input: unknown): any {
    return typeof input === "string" ? JSON.parse(input) : input;
}

/** The component library and its budget module, imported after the mocks are installed. */
export interface LoadedComponents {
    c: typeof import("../../components");
    budget: typeof import("../../components/internal/budget");
}

/** Installs the mocks, then imports the components (never before: see reference/pulumi.md §2). */
export async function loadComponents(): Promise<LoadedComponents> {
    await installMocks();
    return { c: await import("../../components"), budget: await import("../../components/internal/budget") };
}

/** Forgets registrations and reservations between tests. */
export function resetComponentState(loaded: LoadedComponents): void {
    resetRegistrations();
    loaded.budget.resetConcurrencyBudgets();
}
