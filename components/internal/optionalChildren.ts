/**
 * The `transform` keys whose child a component creates only with some arguments, in one table, and the
 * rule that refuses such a key when the arguments given do not create its child: its patch would reach
 * nothing, so the key is an argument error rather than a silent no-op. Pure.
 *
 * Each condition is the one the component's constructor tests before it creates the child; a key of a
 * child every call creates (a worker's `function`, `role`, …) is not in the table.
 */
import type { NamedComponent } from "./componentNames";
import type { Validator } from "./validation";

/** The arguments the conditions read; each component's Args has the ones its entries use. */
export interface OptionalChildArgs {
    adaptiveConcurrency?: { mode?: unknown };
    circuitBreaker?: unknown;
    streamArn?: unknown;
    topicArn?: unknown;
    tableName?: unknown;
    accountId?: unknown;
    eventBusSourceAccountIds?: unknown;
    eventBusOrganizationId?: unknown;
    transform?: object;
}

/** A child that only some arguments create. */
export interface OptionalChild {
    /**
     * The child in words, for the message.
     * @example "control table"
     */
    readonly child: string;
    /**
     * When the component creates it, in words, completing "it exists only …".
     * @example "with adaptiveConcurrency"
     */
    readonly only: string;
    /** Whether these arguments create it. */
    readonly created: (args: OptionalChildArgs) => boolean;
}

/** A component's optional children, by `transform` key. */
export type OptionalChildren = Readonly<Record<string, OptionalChild>>;

/** What a worker's `adaptiveConcurrency` creates. */
const ADAPTIVE: OptionalChildren = {
    controlTable: { child: "control table", only: "with adaptiveConcurrency", created: (args) => Boolean(args.adaptiveConcurrency) },
    adaptiveController: { child: "adaptive controller", only: "with adaptiveConcurrency mode Controller", created: (args) => args.adaptiveConcurrency?.mode === "Controller" },
};

/** What an ordered worker's `circuitBreaker` creates. */
const BREAKER: OptionalChildren = {
    prober: { child: "breaker prober", only: "with circuitBreaker", created: (args) => Boolean(args.circuitBreaker) },
    proberRole: { child: "prober role", only: "with circuitBreaker", created: (args) => Boolean(args.circuitBreaker) },
    breakerTable: { child: "breaker table", only: "with circuitBreaker", created: (args) => Boolean(args.circuitBreaker) },
};

/** A controller's statistics table, unless it is given one. */
const CONTROLLER_TABLE: OptionalChildren = {
    table: { child: "statistics table", only: "without tableName", created: (args) => !args.tableName },
};

/** Every component's optional children (none for a component whose children every call creates). */
export const OPTIONAL_CHILDREN: Readonly<Record<NamedComponent, OptionalChildren>> = {
    EventBridgeWorkerPool: ADAPTIVE,
    KinesisOrderedWorker: { ...ADAPTIVE, ...BREAKER, stream: { child: "stream", only: "without streamArn", created: (args) => !args.streamArn } },
    FifoTopicWorker: { ...ADAPTIVE, ...BREAKER, topic: { child: "topic", only: "without topicArn", created: (args) => !args.topicArn } },
    ConcurrencyController: CONTROLLER_TABLE,
    ConcurrencyControllerGroup: CONTROLLER_TABLE,
    ControlPlaneBudget: {},
    StepFunctionsSemaphore: {},
    SemaphoreStateMachine: {},
    IsolatedWorkloadAccount: {
        account: { child: "account", only: "without accountId", created: (args) => !args.accountId },
        eventBus: {
            child: "event bus",
            only: "with eventBusSourceAccountIds or eventBusOrganizationId",
            created: (args) => Boolean(args.eventBusSourceAccountIds || args.eventBusOrganizationId),
        },
    },
    CrossAccountEventForwarder: {},
};

/**
 * One message per `transform` key of `component` that `args` set while creating no such child.
 * @example absentChildProblems("EventBridgeWorkerPool", { transform: { controlTable: {} } })
 * // ["transform.controlTable is set but no control table is created: it exists only with adaptiveConcurrency."]
 */
export function absentChildProblems(component: NamedComponent, args: OptionalChildArgs): string[] {
    return Object.entries(OPTIONAL_CHILDREN[component])
        .filter(([key, optional]) => (args.transform as Record<string, unknown> | undefined)?.[key] !== undefined && !optional.created(args))
        .map(([key, { child, only }]) => `transform.${key} is set but no ${child} is created: it exists only ${only}.`);
}

/**
 * Adds {@link absentChildProblems} to `validator`: the component's construction error lists them with
 * its other argument problems.
 * @example refuseAbsentChildren(new Validator(label), "KinesisOrderedWorker", args).integer("batchSize", args.batchSize, 1, 10_000)
 */
export function refuseAbsentChildren(validator: Validator, component: NamedComponent, args: OptionalChildArgs): Validator {
    for (const problem of absentChildProblems(component, args)) validator.rule(true, problem);
    return validator;
}
