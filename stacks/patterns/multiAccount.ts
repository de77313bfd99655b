/**
 * Isolated accounts in the example. Two ways to run them:
 * - two stacks: `management` (run with management-account credentials) creates the workload account,
 *   its bus and the forwarder; `workload` reads its outputs through a StackReference and deploys the
 *   worker pool into that account through a provider that assumes the account's role;
 * - one stack: `isolated` creates the account, forwards the events to it and deploys the pool with the
 *   account's provider directly, once the account's quota in force can hold it.
 * Creating an account is opt-in (`workloadAccount.create: true` and a real `email`); by default the
 * config adopts an existing account by `id`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CrossAccountEventForwarder, EventBridgeWorkerPool, IsolatedWorkloadAccount } from "../../components";
import { NEW_ACCOUNT_LAMBDA_CONCURRENCY } from "../../components/isolatedWorkloadAccount";
import { ConfigurationError } from "../../contracts/errors";

const ORDER_EVENTS = { source: ["shop.orders"], "detail-type": ["OrderPlaced"] };
/** AWS keeps this many executions unreserved in every account. */
const UNRESERVED_MINIMUM = 100;
/** Domains reserved for documentation (RFC 2606): nobody receives their mail, so a root user there is lost. */
const RESERVED_EMAIL_DOMAIN = /@(?:[\w-]+\.)*example\.(?:com|org|net)$|@[\w.-]+\.(?:example|test|invalid)$/i;

/** Config `workloadAccount`: adopt an account by `id`, or create one (opt-in: `create: true` and a real `email`). */
export interface WorkloadAccountConfig {
    name: string;
    id?: string;
    create?: boolean;
    email?: string;
    parentId?: string;
    concurrencyQuota?: number;
    concurrencyQuotaInForce?: number;
    closeOnDeletion?: boolean;
}

const ACCOUNT_CONFIG_HELP =
    'config serverless-concurrency-example:workloadAccount needs either `id` (adopt an existing member account) or `create: true` with `email` (create a new AWS account, whose root user gets that address). ' +
    "Set one, e.g. `pulumi config set --path workloadAccount.id 123456789012`, or `pulumi config set --path workloadAccount.create true` and `pulumi config set --path workloadAccount.email aws+orders@yourcompany.com`.";

/** Checks the `workloadAccount` config: creating a real account is never the default. */
export function accountConfigProblem(account: WorkloadAccountConfig): string | undefined {
    if (account.id && account.create) return `${ACCOUNT_CONFIG_HELP} It has both \`id\` and \`create: true\`.`;
    if (account.id) return undefined;
    if (account.create !== true) return `${ACCOUNT_CONFIG_HELP} It has ${account.email ? "`email` without `create: true` (creating an account is opt-in)" : "neither"}.`;
    if (!account.email) return `${ACCOUNT_CONFIG_HELP} It has \`create: true\` without \`email\`.`;
    if (RESERVED_EMAIL_DOMAIN.test(account.email)) return `${ACCOUNT_CONFIG_HELP} Its email ${account.email} is at a reserved domain that receives no mail: the new account's root user could never be recovered.`;
    return undefined;
}

function workloadAccount(config: pulumi.Config): { account: IsolatedWorkloadAccount; settings: WorkloadAccountConfig } {
    const settings = config.requireObject<WorkloadAccountConfig>("workloadAccount");
    const problem = accountConfigProblem(settings);
    if (problem) throw new ConfigurationError(problem);
    const sourceAccountId = aws.getCallerIdentityOutput().accountId;
    const account = new IsolatedWorkloadAccount("orders-workload", {
        accountName: settings.id ? undefined : settings.name,
        email: settings.id ? undefined : settings.email,
        accountId: settings.id,
        parentId: settings.parentId,
        region: aws.config.region ?? "us-east-1",
        lambdaConcurrencyQuota: settings.concurrencyQuota,
        lambdaConcurrencyQuotaInForce: settings.concurrencyQuotaInForce,
        closeOnDeletion: settings.closeOnDeletion,
        eventBusSourceAccountIds: [sourceAccountId],
    });
    return { account, settings };
}

/** Forwards order events from this account's default bus to the workload account's bus. */
function forwardOrders(account: IsolatedWorkloadAccount): CrossAccountEventForwarder {
    return new CrossAccountEventForwarder("orders-to-workload", {
        eventPattern: ORDER_EVENTS,
        targetEventBusArn: account.eventBusArn.apply((arn) => arn!),
    });
}

function heavyPool(config: pulumi.Config, eventBusName: pulumi.Input<string>, provider: aws.Provider): EventBridgeWorkerPool {
    return new EventBridgeWorkerPool(
        "orders-heavy",
        {
            function: { handler: "stacks/handlers/orders.handle", timeoutSeconds: 60 },
            eventBusName,
            eventPattern: ORDER_EVENTS,
            reservedConcurrency: config.getNumber("heavyConcurrency") ?? 800,
        },
        { provider },
    );
}

/** `management` stack: the account, its bus, and the forwarder from this account's default bus. */
export function managementExample(config: pulumi.Config) {
    const { account } = workloadAccount(config);
    const forwarder = forwardOrders(account);
    return {
        workloadAccountId: account.accountId,
        workloadRoleArn: account.roleArn,
        workloadEventBusName: account.eventBusName.apply((name) => name!),
        forwarderDeadLetterQueueUrl: forwarder.deadLetterQueue.url,
        workloadAccountOperations: account.operations,
        forwarderOperations: forwarder.operations,
    };
}

/** `workload` stack: the pool in the workload account, wired from the management stack's outputs. */
export function workloadExample(config: pulumi.Config) {
    const management = new pulumi.StackReference(config.require("managementStack"));
    const accountId = management.requireOutput("workloadAccountId") as pulumi.Output<string>;
    const provider = new aws.Provider("workload", {
        region: aws.config.region ?? "us-east-1",
        assumeRoles: [{ roleArn: management.requireOutput("workloadRoleArn") as pulumi.Output<string>, sessionName: "serverless-concurrency-workload" }],
        allowedAccountIds: [accountId],
    });
    const pool = heavyPool(config, management.requireOutput("workloadEventBusName") as pulumi.Output<string>, provider);
    return { heavyFunctionName: pool.function.name, heavyReservedConcurrency: pool.reservedConcurrency, heavyOperations: pool.operations };
}

/**
 * `isolated` stack: everything in one program — the account, its bus, the forwarder from this account,
 * and the pool deployed with the account's own provider once the account's quota in force can hold it.
 * On a new account that is a two-step deploy: the first `pulumi up` creates the account, requests the
 * quota and forwards events (they reach the new bus, where no rule listens yet); after AWS approves the request,
 * `workloadAccount.concurrencyQuotaInForce` is set and the second `pulumi up` adds the pool.
 */
export function isolatedAccountExample(config: pulumi.Config) {
    const { account, settings } = workloadAccount(config);
    const forwarder = forwardOrders(account);
    const heavyConcurrency = config.getNumber("heavyConcurrency") ?? 800;
    const quota = settings.concurrencyQuotaInForce ?? (settings.id ? undefined : NEW_ACCOUNT_LAMBDA_CONCURRENCY);
    const outputs = {
        workloadAccountId: account.accountId,
        forwarderDeadLetterQueueUrl: forwarder.deadLetterQueue.url,
        workloadAccountOperations: account.operations,
        forwarderOperations: forwarder.operations,
    };
    if (quota !== undefined && heavyConcurrency > quota - UNRESERVED_MINIMUM) {
        const waiting =
            `orders-heavy (reserved concurrency ${heavyConcurrency}) waits for the workload account's Lambda quota: ${quota} in force leaves ${Math.max(quota - UNRESERVED_MINIMUM, 0)} reservable. ` +
            "Once AWS approves the quota request, run `pulumi config set --path workloadAccount.concurrencyQuotaInForce <approved value>` and `pulumi up` again.";
        pulumi.log.warn(waiting);
        return { ...outputs, heavyPoolStatus: waiting };
    }
    const pool = heavyPool(config, account.eventBusName.apply((name) => name!), account.provider);
    return { ...outputs, heavyFunctionName: pool.function.name, heavyPoolStatus: "deployed", heavyOperations: pool.operations };
}
