/**
 * Pattern 2 in the example: a Kinesis worker and an SNS FIFO → SQS FIFO worker in the private
 * subnets of a VPC, where the downstream they protect lives.
 */
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { FifoTopicWorker, KinesisOrderedWorker } from "../../components";

export function orderedWorkersExample(config: pulumi.Config) {
    const vpc = new awsx.ec2.Vpc("workers", { numberOfAvailabilityZones: 2, natGateways: { strategy: "Single" } });
    const workerSecurityGroup = new aws.ec2.SecurityGroup("workers", {
        vpcId: vpc.vpcId,
        description: "Ordered workers: outbound only (to the downstream and AWS APIs)",
        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
    });
    const placement = { subnetIds: vpc.privateSubnetIds, securityGroupIds: [workerSecurityGroup.id] };

    const payments = new KinesisOrderedWorker("payments", {
        function: { handler: "stacks/handlers/payments.handle", vpc: placement },
        shardCount: config.getNumber("paymentShards") ?? 2,
        parallelizationFactor: config.getNumber("paymentsParallelizationFactor") ?? 2,
        batchSize: 100,
        batchWindowSeconds: 1,
        inBatchParallelism: 10,
        // Pattern 3: stop pulling while the ledger database fails; records wait in the stream.
        circuitBreaker: { errorThreshold: 0.5, minRequests: 20, maxOpenSeconds: 900 },
    });
    const ledger = new FifoTopicWorker("ledger", {
        function: { handler: "stacks/handlers/ledger.handle", vpc: placement },
        maxConcurrency: config.getNumber("ledgerMaxConcurrency") ?? 5,
        batchSize: 10,
        // Pattern 3: the function tunes its own mapping's maximum concurrency under a lease.
        adaptiveConcurrency: { mode: "SelfTuning", minConcurrency: 2, maxConcurrency: 20, latencyTargetMs: 200 },
    });
    return {
        paymentsStreamArn: payments.streamArn,
        paymentsMaxConcurrency: payments.maxConcurrency,
        paymentsMaxDownstreamConcurrency: payments.maxDownstreamConcurrency,
        ledgerTopicArn: ledger.topicArn,
        ledgerMaxConcurrency: ledger.maxConcurrency,
        ledgerMaxDownstreamConcurrency: ledger.maxDownstreamConcurrency,
        paymentsOperations: payments.operations,
        ledgerOperations: ledger.operations,
    };
}
