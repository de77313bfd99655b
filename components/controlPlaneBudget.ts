import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CONTROL_PLANE_BUDGET_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { CHILD_TYPES, EscapeHatchArgs, withEscapeHatches } from "./internal/escapeHatches";

/** `transform` entries of a {@link ControlPlaneBudget}: plain objects merged into that child's args. */
export interface ControlPlaneBudgetTransformArgs {
    /**
     * Merged into the budget table's args (`aws.dynamodb.TableArgs`).
     * @default none
     * @example { deletionProtectionEnabled: true }
     */
    table?: { [key: string]: any };
}

/** Arguments of {@link ControlPlaneBudget}; all optional (plus `tags` and `transform` as on every component). */
export interface ControlPlaneBudgetArgs extends EscapeHatchArgs {
    /**
     * Point-in-time recovery of the table. Its one item is a token bucket that rebuilds itself (a lost
     * item is a full bucket), so there is nothing worth restoring; turn it on where policy asks for it.
     * @default false
     * @example true
     */
    pointInTimeRecovery?: boolean;
    /**
     * Escape hatch: a plain object merged into the table's args. For code-level changes from TypeScript,
     * Pulumi's own `transforms` resource option also reaches it.
     * @default none
     * @example { table: { deletionProtectionEnabled: true } }
     */
    transform?: ControlPlaneBudgetTransformArgs;
}

/**
 * The account's shared Lambda control-plane budget: one DynamoDB table per account and Region holding a
 * token bucket (the runtime's `DynamoDbControlPlaneBudget`: item `pk = "lambda-control-plane"`, a
 * consistent GetItem and a conditional PutItem per call). Give its `tableName` and `tableArn` to every
 * `ConcurrencyController`, `ConcurrencyControllerGroup` and worker `adaptiveConcurrency` of the account
 * (`controlPlaneBudget`): their `PutFunctionConcurrency` and `UpdateEventSourceMapping` calls together
 * then stay under the 15 requests/s the Lambda control plane allows per account. Create one per account
 * and Region; a stack that does not own it passes the names from a `StackReference`.
 *
 * On demand and encrypted at rest; costs one read and one write unit per control-plane call.
 *
 * @example
 * const budget = new ControlPlaneBudget("control-plane");
 * new ConcurrencyController("orders", {
 *     target: "ReservedConcurrency", functionName: fn.name, minConcurrency: 2, maxConcurrency: 50,
 *     controlPlaneBudget: { tableName: budget.tableName, tableArn: budget.tableArn },
 * });
 */
export class ControlPlaneBudget extends pulumi.ComponentResource {
    /** The budget table. */
    public readonly table: aws.dynamodb.Table;
    /** Its name: `controlPlaneBudget.tableName` of the controllers and workers that share it. */
    public readonly tableName: pulumi.Output<string>;
    /** Its ARN: `controlPlaneBudget.tableArn` (they get `dynamodb:GetItem` and `dynamodb:PutItem` on it). */
    public readonly tableArn: pulumi.Output<string>;

    constructor(name: string, args: ControlPlaneBudgetArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:ControlPlaneBudget", name, {}, withEscapeHatches(opts, args, budgetChildren(name)));
        checkConstruction(CONTROL_PLANE_BUDGET_ARGUMENTS, name, args);
        this.table = new aws.dynamodb.Table(
            `${name}-table`,
            {
                billingMode: "PAY_PER_REQUEST",
                // The key DynamoDbControlPlaneBudget reads and writes (runtime/controller/budget.ts).
                hashKey: "pk",
                attributes: [{ name: "pk", type: "S" }],
                pointInTimeRecovery: { enabled: args.pointInTimeRecovery ?? false },
                serverSideEncryption: { enabled: true },
            },
            { parent: this },
        );
        this.tableName = this.table.name;
        this.tableArn = this.table.arn;
        this.registerOutputs({ table: this.table, tableName: this.tableName, tableArn: this.tableArn });
    }
}

/** The children `transform` can reach, by key. */
function budgetChildren(name: string) {
    return { table: { type: CHILD_TYPES.table, name: `${name}-table` } };
}
