/**
 * Isolated accounts in the example. Two ways to run them:
 * - two stacks: `management` (run with management-account credentials) creates the workload account,
 *   its bus and the forwarder; `workload` reads its outputs through a StackReference and deploys the
 *   worker pool into that account through a provider that assumes the account's role;
 * - one stack: `isolated` creates the account and deploys the pool with the account's provider directly.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CrossAccountEventForwarder, EventBridgeWorkerPool, IsolatedWorkloadAccount } from "../../components";

const ORDER_EVENTS = { source: ["shop.orders"], "detail-type": ["OrderPlaced"] };

function workloadAccount(config: pulumi.Config): IsolatedWorkloadAccount {
    const account = config.requireObject<{ name: string; email?: string; id?: string; parentId?: string; concurrencyQuota?: number }>("workloadAccount");
    const sourceAccountId = aws.getCallerIdentityOutput().accountId;
    return new IsolatedWorkloadAccount("orders-workload", {
        accountName: account.id ? undefined : account.name,
        email: account.email,
        accountId: account.id,
        parentId: account.parentId,
        region: aws.config.region ?? "us-east-1",
        lambdaConcurrencyQuota: account.concurrencyQuota,
        eventBusSourceAccountIds: [sourceAccountId],
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
    const account = workloadAccount(config);
    const forwarder = new CrossAccountEventForwarder("orders-to-workload", {
        eventPattern: ORDER_EVENTS,
        targetEventBusArn: account.eventBusArn.apply((arn) => arn!),
    });
    return {
        workloadAccountId: account.accountId,
        workloadRoleArn: account.roleArn,
        workloadEventBusName: account.eventBusName.apply((name) => name!),
        forwarderDeadLetterQueueUrl: forwarder.deadLetterQueue.url,
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
    return { heavyFunctionName: pool.function.name, heavyReservedConcurrency: pool.reservedConcurrency };
}

/** `isolated` stack: everything in one program, the pool deployed with the account's own provider. */
export function isolatedAccountExample(config: pulumi.Config) {
    const account = workloadAccount(config);
    const pool = heavyPool(config, account.eventBusName.apply((name) => name!), account.provider);
    return { workloadAccountId: account.accountId, heavyFunctionName: pool.function.name };
}
