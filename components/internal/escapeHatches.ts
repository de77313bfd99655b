/**
 * Escape hatches every component offers, SST/awsx style, in a form the multi-language schema can infer:
 * `tags` for every taggable child and `transform`, plain objects merged into a named child's args.
 *
 * One mechanism for all components: a Pulumi `transformations` resource option that the component
 * registers for itself at `super(...)`. Pulumi runs it in-process for every descendant (it works under
 * mocks and inside the multi-language plugin, unlike the engine-side `transforms` option), and it keys
 * each `transform` entry by the child's type token and logical name, so no child's name changes.
 */
import * as pulumi from "@pulumi/pulumi";
import { isDeferred } from "./validation";

/** Plain object merged into one child's resource args (see {@link mergeArgs}); values may be Outputs. */
export type ChildArgsPatch = { [key: string]: any };

/** What every component takes: tags for its children and a `transform` per child. */
export interface EscapeHatchArgs {
    /**
     * Tags added to every taggable child (function, role, log group, queues, tables, streams, topics,
     * rules, alarms, state machines); a child's own `transform` may override them. At most 50 keys of
     * 1–128 characters, not starting with `aws:`, and values of at most 256 (AWS's rules).
     * @default none
     * @example { team: "payments", costCenter: "4711" }
     */
    tags?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
}

/** Which child a `transform` key means: its type token and its logical name. */
export interface ChildRef {
    type: string;
    name: string;
}

/** The `transform` keys a component offers, each naming one child. */
export type ChildCatalog<K extends string> = Record<K, ChildRef>;

/** Type tokens of the children the components create that accept `tags`. */
export const TAGGABLE_TYPES: ReadonlySet<string> = new Set([
    "aws:cloudwatch/eventBus:EventBus",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:dynamodb/table:Table",
    "aws:iam/role:Role",
    "aws:kinesis/stream:Stream",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/function:Function",
    "aws:organizations/account:Account",
    "aws:sfn/stateMachine:StateMachine",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
]);

/** Child type tokens the catalogs use. */
export const CHILD_TYPES = {
    function: "aws:lambda/function:Function",
    role: "aws:iam/role:Role",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
    queue: "aws:sqs/queue:Queue",
    table: "aws:dynamodb/table:Table",
    eventSourceMapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
    stream: "aws:kinesis/stream:Stream",
    topic: "aws:sns/topic:Topic",
    rule: "aws:cloudwatch/eventRule:EventRule",
    eventTarget: "aws:cloudwatch/eventTarget:EventTarget",
    stateMachine: "aws:sfn/stateMachine:StateMachine",
    account: "aws:organizations/account:Account",
    eventBus: "aws:cloudwatch/eventBus:EventBus",
} as const;

/** The catalog entries of a worker function built by `createWorkerFunction(name, …)`. */
export function workerFunctionChildren(name: string): ChildCatalog<"function" | "role" | "logGroup"> {
    return {
        function: { type: CHILD_TYPES.function, name: `${name}-fn` },
        role: { type: CHILD_TYPES.role, name: `${name}-role` },
        logGroup: { type: CHILD_TYPES.logGroup, name: `${name}-logs` },
    };
}

/**
 * The component's own resource options plus the transformation that applies `tags` and `transform`:
 * the one line a component needs, `super(token, name, {}, withEscapeHatches(opts, args, catalog))`.
 * @example super(TOKEN, name, {}, withEscapeHatches(opts, args, poolChildren(name)));
 */
export function withEscapeHatches<K extends string>(
    opts: pulumi.ComponentResourceOptions | undefined,
    args: (EscapeHatchArgs & { transform?: Partial<Record<K, ChildArgsPatch>> }) | undefined,
    catalog: ChildCatalog<K>,
): pulumi.ComponentResourceOptions | undefined {
    const transformation = childTransformation(args?.tags, args?.transform ?? {}, catalog);
    return transformation ? pulumi.mergeOptions(opts, { transformations: [transformation] }) : opts;
}

/** The transformation, or `undefined` when there is nothing to apply (no option changes at all). */
export function childTransformation<K extends string>(
    tags: EscapeHatchArgs["tags"],
    transform: Partial<Record<K, ChildArgsPatch>>,
    catalog: ChildCatalog<K>,
): pulumi.ResourceTransformation | undefined {
    const patches = (Object.keys(transform) as K[])
        .filter((key) => transform[key] !== undefined && catalog[key] !== undefined)
        .map((key) => ({ child: catalog[key], patch: transform[key]! }));
    if (tags === undefined && patches.length === 0) return undefined;
    return ({ type, name, props, opts }) => {
        const tagged = tags !== undefined && TAGGABLE_TYPES.has(type) ? { ...props, tags: mergeArgs(props.tags, tags) } : props;
        const patch = patches.find(({ child }) => child.type === type && child.name === name)?.patch;
        if (tagged === props && patch === undefined) return undefined;
        return { props: patch === undefined ? tagged : mergeArgs(tagged, patch), opts };
    };
}

/**
 * `patch` merged over `base`: plain objects key by key (deeply), Outputs and Promises resolved and then
 * merged the same way, anything else (strings, numbers, arrays) replaced by the patch's value.
 * @example mergeArgs({ timeout: 30, environment: { variables: env } }, { environment: { variables: { X: "1" } } })
 */
export function mergeArgs(base: any, patch: any): any {
    if (patch === undefined) return base;
    if (isDeferred(base) || isDeferred(patch)) {
        return isMergeable(base) && isMergeable(patch) ? pulumi.all([base, patch]).apply(([b, p]) => mergeArgs(b, p)) : patch;
    }
    if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
    const merged: { [key: string]: any } = { ...base };
    for (const [key, value] of Object.entries(patch)) merged[key] = mergeArgs(base[key], value);
    return merged;
}

/** Values an Output may resolve to that merge key by key: plain objects (or another deferred value). */
function isMergeable(value: unknown): boolean {
    return isDeferred(value) || isPlainObject(value);
}

function isPlainObject(value: unknown): value is { [key: string]: unknown } {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    const prototype = Object.getPrototypeOf(value);
    return prototype === Object.prototype || prototype === null;
}

/** The `transform` entries every worker offers: its function, the function's role and log group, its idempotency table. */
export interface WorkerTransformArgs {
    /**
     * Merged into the worker function's args (`aws.lambda.FunctionArgs`).
     * @default none
     * @example { description: "ledger worker", kmsKeyArn: key.arn }
     */
    function?: { [key: string]: any };
    /**
     * Merged into the function role's args (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    role?: { [key: string]: any };
    /**
     * Merged into the function log group's args (`aws.cloudwatch.LogGroupArgs`).
     * @default none
     * @example { kmsKeyId: logsKey.arn }
     */
    logGroup?: { [key: string]: any };
    /**
     * Merged into the idempotency table's args (`aws.dynamodb.TableArgs`).
     * @default none
     * @example { deletionProtectionEnabled: true }
     */
    table?: { [key: string]: any };
}

/** The catalog entries of {@link WorkerTransformArgs} for a worker named `name`. */
export function workerChildren(name: string): ChildCatalog<keyof WorkerTransformArgs> {
    return { ...workerFunctionChildren(name), table: { type: CHILD_TYPES.table, name: `${name}-idempotency` } };
}
