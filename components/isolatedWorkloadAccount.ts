import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { setAccountConcurrencyLimit } from "./internal/budget";
import { partitionOf } from "./internal/iam";
import { componentLabel, Validator } from "./internal/validation";
import { ISOLATED_WORKLOAD_ACCOUNT_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { refuseAbsentChildren } from "./internal/optionalChildren";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches } from "./internal/escapeHatches";
import { operationsManifest } from "./internal/operations";

/** Service Quotas code of Lambda's "Concurrent executions" per account and region. */
export const LAMBDA_CONCURRENCY_QUOTA_CODE = "L-B99A9384";
/** The role AWS Organizations creates in a new account, trusted by the management account. */
export const DEFAULT_ACCOUNT_ROLE_NAME = "OrganizationAccountAccessRole";
/**
 * The Lambda concurrent-executions quota to assume for a newly created account until its raised quota is
 * known: new accounts start with reduced quotas (a public example shows 10; aws-facts.md §2), far below the
 * default 1000, and a quota request is asynchronous.
 */
export const NEW_ACCOUNT_LAMBDA_CONCURRENCY = 10;

/** `transform` entries of an {@link IsolatedWorkloadAccount}: plain objects merged into that child's args. */
export interface IsolatedWorkloadAccountTransformArgs {
    /**
     * Merged into the created account's args (`aws.organizations.AccountArgs`). Only when it creates one: with
     * `accountId` the key is an argument error.
     * @default none
     * @example { createGovcloud: true }
     */
    account?: { [key: string]: any };
    /**
     * Merged into the event bus's args (`aws.cloudwatch.EventBusArgs`). Only when it creates one (with
     * `eventBusSourceAccountIds` or `eventBusOrganizationId`); without, the key is an argument error.
     * @default none
     * @example { kmsKeyIdentifier: busKey.arn }
     */
    eventBus?: { [key: string]: any };
}

/** The children `transform` can reach, by key. */
function accountChildren(name: string): ChildCatalog<keyof IsolatedWorkloadAccountTransformArgs> {
    return {
        account: { type: CHILD_TYPES.account, name: `${name}-account` },
        eventBus: { type: CHILD_TYPES.eventBus, name: `${name}-bus` },
    };
}

export interface IsolatedWorkloadAccountArgs extends EscapeHatchArgs {
    /**
     * Name of the new account; required with `email`.
     * @default none (not used when adopting with `accountId`)
     * @example "orders-workers"
     */
    accountName?: string;
    /**
     * Root email of the new account; unique across AWS. Give this or `accountId`.
     * @default none (give `accountId` instead)
     * @example "aws+orders@example.com"
     */
    email?: string;
    /**
     * Adopt an existing member account instead of creating one (12 digits). Give this or `email`.
     * @default none (a new account is created from `email`)
     * @example "222222222222"
     */
    accountId?: string;
    /**
     * Organizational unit (or root) id to place a new account in.
     * @default the organization root
     * @example "ou-a1b2-c3d4e5f6"
     */
    parentId?: pulumi.Input<string>;
    /**
     * Role assumed in the account; created by Organizations for a new account.
     * @default "OrganizationAccountAccessRole"
     * @example "WorkloadDeployRole"
     */
    roleName?: string;
    /**
     * Region of the provider, the quota request and the event bus.
     * @example "eu-west-1"
     */
    region: string;
    /**
     * Request this Lambda concurrent-executions quota in the account, 100–1000000 (Service Quotas,
     * asynchronous: AWS may take hours or open a support case). The request does not change the budget:
     * until AWS approves it the account keeps its current quota, so workers are budgeted against
     * `lambdaConcurrencyQuotaInForce`.
     * @default none (no request; the account keeps its current quota)
     * @example 3000
     */
    lambdaConcurrencyQuota?: number;
    /**
     * The Lambda concurrent-executions quota in force in the account now (Service Quotas "applied quota
     * value" of `L-B99A9384`), 1–1000000: workers deployed with this account's provider are budgeted
     * against it. Set it once a quota request is approved.
     * @default for a created account 10 (`NEW_ACCOUNT_LAMBDA_CONCURRENCY`: new accounts start with reduced
     * quotas); for an adopted account the config `serverless-concurrency:accountConcurrencyLimit`, else 1000
     * @example 3000
     */
    lambdaConcurrencyQuotaInForce?: number;
    /**
     * What deleting a created account (`pulumi destroy`, or removing it from the program) does. `false`:
     * the account is retained — removed from the stack, left open in the organization with whatever it
     * still holds (Pulumi's `retainOnDelete`). `true`: AWS closes it (suspended for 90 days, then
     * permanently closed; at most 10 % of the organization's accounts per 30 days).
     * @default false
     * @example true
     */
    closeOnDeletion?: boolean;
    /**
     * Create an event bus in the account that these source accounts (12-digit ids) may put events on.
     * @default none (no bus, unless `eventBusOrganizationId` is given)
     * @example ["111111111111"]
     */
    eventBusSourceAccountIds?: pulumi.Input<string>[];
    /**
     * Or admit the whole organization to the event bus.
     * @default none (no bus, unless `eventBusSourceAccountIds` is given)
     * @example "o-abc123def4"
     */
    eventBusOrganizationId?: pulumi.Input<string>;
    /**
     * Tags for the account, its event bus, and default tags for everything deployed through its provider
     * (which also sets `serverless-concurrency:workload` to the component's name). A plain object or an Output.
     * At most 49 keys (the component adds its own), keys of 1–128 characters not starting with `aws:`,
     * values of at most 256 characters.
     * @default {}
     * @example { team: "orders", "cost-center": "1234" }
     */
    tags?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;
    /**
     * Escape hatch: plain objects merged into one child's args each (account, eventBus). For code-level
     * changes from TypeScript, Pulumi's own `transforms` resource option also reaches every child.
     * @default none
     * @example { eventBus: { kmsKeyIdentifier: busKey.arn } }
     */
    transform?: IsolatedWorkloadAccountTransformArgs;
}

/**
 * An AWS account of its own for a concurrency-hungry workload, so its reserved concurrency cannot starve
 * user-facing functions: a new Organizations account (or an adopted one), a provider that assumes the
 * access role in it, an optional Lambda concurrency quota request, and an optional event bus that only
 * the listed source accounts (or the organization) may write to.
 *
 * Deploy it with management-account credentials; pass `account.provider` to the workload's components.
 * Their reservations are budgeted against the quota in force (`lambdaConcurrencyQuotaInForce`; 10 for a
 * new account until it is given), not the requested one. Deleting it retains a created account unless
 * `closeOnDeletion` is set.
 *
 * @example
 * const account = new IsolatedWorkloadAccount("orders", {
 *     accountName: "orders-workers", email: "aws+orders@yourcompany.com", region: "us-east-1",
 *     lambdaConcurrencyQuota: 3000, lambdaConcurrencyQuotaInForce: 3000, eventBusSourceAccountIds: ["111111111111"],
 * });
 * new EventBridgeWorkerPool("orders", { ... }, { provider: account.provider });
 */
export class IsolatedWorkloadAccount extends pulumi.ComponentResource {
    /** The account id. */
    public readonly accountId: pulumi.Output<string>;
    /** The role the provider assumes. */
    public readonly roleArn: pulumi.Output<string>;
    /** A provider deploying into the account (only into it: `allowedAccountIds`). */
    public readonly provider: aws.Provider;
    /** The event bus in the account, if one was requested. */
    public readonly eventBusArn: pulumi.Output<string | undefined>;
    /** The event bus name, if one was requested. */
    public readonly eventBusName: pulumi.Output<string | undefined>;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: IsolatedWorkloadAccountArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:IsolatedWorkloadAccount", name, {}, withEscapeHatches(opts, args, accountChildren(name)));
        checkConstruction(ISOLATED_WORKLOAD_ACCOUNT_ARGUMENTS, name, args);
        const label = componentLabel("IsolatedWorkloadAccount", name);
        validateAccountArgs(label, args).throwIfInvalid(this);

        const roleName = args.roleName ?? DEFAULT_ACCOUNT_ROLE_NAME;
        this.accountId = args.accountId ? pulumi.output(args.accountId) : this.createAccount(name, args, roleName).id;
        const partition = partitionOf(this);
        this.roleArn = pulumi.interpolate`arn:${partition}:iam::${this.accountId}:role/${roleName}`;
        this.provider = new aws.Provider(
            `${name}-provider`,
            {
                region: args.region as aws.Region,
                assumeRoles: [{ roleArn: this.roleArn, sessionName: `serverless-concurrency-${name}`.slice(0, 64) }],
                allowedAccountIds: [this.accountId],
                defaultTags: { tags: pulumi.output(args.tags).apply((tags) => ({ "serverless-concurrency:workload": name, ...tags })) },
            },
            { parent: this },
        );
        if (args.lambdaConcurrencyQuota !== undefined) {
            new aws.servicequotas.ServiceQuota(
                `${name}-lambda-concurrency`,
                { serviceCode: "lambda", quotaCode: LAMBDA_CONCURRENCY_QUOTA_CODE, value: args.lambdaConcurrencyQuota },
                { parent: this, provider: this.provider },
            );
        }
        const quota = quotaInForce(label, args);
        if (quota) setAccountConcurrencyLimit(this.provider, quota.value, quota.source, `account of ${label}`);
        const bus = this.createEventBus(name, args);
        this.eventBusArn = bus ? bus.arn : pulumi.output(undefined);
        this.eventBusName = bus ? bus.name : pulumi.output(undefined);
        this.operations = operationsManifest(this, {
            componentType: "IsolatedWorkloadAccount",
            name,
            workloadAccountId: this.accountId,
            roleArn: this.roleArn,
            eventBusArn: this.eventBusArn as pulumi.Output<string>, // undefined when no bus: dropped from the manifest
        });
        this.registerOutputs({ accountId: this.accountId, roleArn: this.roleArn, provider: this.provider, eventBusArn: this.eventBusArn, eventBusName: this.eventBusName, operations: this.operations });
    }

    private createAccount(name: string, args: IsolatedWorkloadAccountArgs, roleName: string): aws.organizations.Account {
        return new aws.organizations.Account(
            `${name}-account`,
            {
                name: args.accountName,
                email: args.email!,
                parentId: args.parentId,
                roleName,
                iamUserAccessToBilling: "DENY",
                closeOnDeletion: args.closeOnDeletion ?? false,
                tags: args.tags,
            },
            // Organizations ignores changes to the role name after creation; do not diff on it. Without
            // closing, deleting would try to remove the account from the organization, which AWS refuses
            // for an account that has no payment method of its own: retain it instead.
            { parent: this, ignoreChanges: ["roleName"], retainOnDelete: !(args.closeOnDeletion ?? false) },
        );
    }

    private createEventBus(name: string, args: IsolatedWorkloadAccountArgs): aws.cloudwatch.EventBus | undefined {
        if (!args.eventBusSourceAccountIds && !args.eventBusOrganizationId) return undefined;
        const bus = new aws.cloudwatch.EventBus(`${name}-bus`, {}, { parent: this, provider: this.provider });
        new aws.cloudwatch.EventBusPolicy(
            `${name}-bus-policy`,
            { eventBusName: bus.name, policy: eventBusPolicy(bus.arn, args.eventBusSourceAccountIds, args.eventBusOrganizationId, partitionOf(this)) },
            { parent: this, provider: this.provider },
        );
        return bus;
    }
}

/**
 * The quota the budget uses for the account: the one in force when known, the reduced quota of a new
 * account otherwise; nothing for an adopted account without one (the default budget applies).
 */
export function quotaInForce(label: string, args: IsolatedWorkloadAccountArgs): { value: number; source: string } | undefined {
    if (args.lambdaConcurrencyQuotaInForce !== undefined) return { value: args.lambdaConcurrencyQuotaInForce, source: `quota in force given to ${label}` };
    if (args.accountId !== undefined) return undefined;
    const pending = args.lambdaConcurrencyQuota === undefined ? "" : `; the request for ${args.lambdaConcurrencyQuota} counts once AWS approves it: then set lambdaConcurrencyQuotaInForce`;
    return { value: NEW_ACCOUNT_LAMBDA_CONCURRENCY, source: `new-account quota assumed for ${label}${pending}` };
}

/** The bus policy: `events:PutEvents` for the listed accounts and/or the organization, nothing else. */
export function eventBusPolicy(
    busArn: pulumi.Input<string>,
    sourceAccountIds: pulumi.Input<string>[] | undefined,
    organizationId: pulumi.Input<string> | undefined,
    partition: pulumi.Input<string>,
): pulumi.Output<string> {
    return pulumi.all([busArn, pulumi.all(sourceAccountIds ?? []), organizationId, partition]).apply(([arn, accounts, organization, awsPartition]) => {
        const statements: object[] = [];
        if (accounts.length > 0) {
            statements.push({
                Sid: "SourceAccountsPutEvents",
                Effect: "Allow",
                Principal: { AWS: accounts.map((account) => `arn:${awsPartition}:iam::${account}:root`) },
                Action: "events:PutEvents",
                Resource: arn,
            });
        }
        if (organization) {
            statements.push({
                Sid: "OrganizationPutEvents",
                Effect: "Allow",
                Principal: "*",
                Action: "events:PutEvents",
                Resource: arn,
                Condition: { StringEquals: { "aws:PrincipalOrgID": organization } },
            });
        }
        return JSON.stringify({ Version: "2012-10-17", Statement: statements });
    });
}

/** Collects every problem with the arguments; pure. */
export function validateAccountArgs(label: string, args: IsolatedWorkloadAccountArgs): Validator {
    const creating = args.email !== undefined;
    const adopting = args.accountId !== undefined;
    return refuseAbsentChildren(new Validator(label), "IsolatedWorkloadAccount", args)
        .rule(
            creating === adopting,
            `give exactly one of email (create an account) and accountId (adopt one); received ${creating ? "both" : "neither"}.`,
        )
        .matches("email", args.email, /^[^\s@]+@[^\s@]+\.[^\s@]+$/, "an email address")
        .matches("accountId", args.accountId, /^\d{12}$/, "a 12-digit AWS account id")
        .rule(creating && !args.accountName, "accountName is required when creating an account (with email).")
        .matches("roleName", args.roleName, /^[\w+=,.@-]{1,64}$/, "an IAM role name")
        .matches("region", args.region, /^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region such as us-east-1")
        .integer("lambdaConcurrencyQuota", args.lambdaConcurrencyQuota, 100, 1_000_000)
        .integer("lambdaConcurrencyQuotaInForce", args.lambdaConcurrencyQuotaInForce, 1, 1_000_000)
        .rule(
            (args.eventBusSourceAccountIds ?? []).some((id) => typeof id === "string" && !/^\d{12}$/.test(id)),
            `eventBusSourceAccountIds must be 12-digit AWS account ids; received ${JSON.stringify(args.eventBusSourceAccountIds)}.`,
        );
}
