/**
 * SQS queues as every component makes them: encrypted at rest (SQS-managed keys, which EventBridge,
 * SNS and Lambda destinations can all write to), with a policy that admits only named AWS services
 * sending on behalf of one source ARN and denies any access without TLS.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The longest SQS retention, 14 days: dead-letter queues keep failures as long as possible. */
export const MAX_RETENTION_SECONDS = 1_209_600;

export interface QueueSpec {
    /** FIFO queue (`.fifo`). @default false */
    fifo?: boolean;
    /** @default 30 */
    visibilityTimeoutSeconds?: pulumi.Input<number>;
    /** @default 1209600 (14 days) */
    messageRetentionSeconds?: number;
    /** Dead-letter queue and receive count for a source queue. */
    deadLetter?: { queueArn: pulumi.Input<string>; maxReceiveCount: number };
}

/** A service allowed to send to the queue, only for `sourceArn`. */
export interface QueueSender {
    /** Service principal, e.g. `events.amazonaws.com`. */
    service: string;
    /** `aws:SourceArn` the service must act for (a rule or topic ARN). */
    sourceArn: pulumi.Input<string>;
}

/** Creates an encrypted queue; FIFO queues get high-throughput mode (dedup and throughput per group). */
export function createQueue(name: string, spec: QueueSpec, parent: pulumi.Resource): aws.sqs.Queue {
    const fifo = spec.fifo === true;
    return new aws.sqs.Queue(
        name,
        {
            fifoQueue: fifo || undefined,
            deduplicationScope: fifo ? "messageGroup" : undefined,
            fifoThroughputLimit: fifo ? "perMessageGroupId" : undefined,
            sqsManagedSseEnabled: true,
            visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds ?? 30,
            messageRetentionSeconds: spec.messageRetentionSeconds ?? MAX_RETENTION_SECONDS,
            redrivePolicy: spec.deadLetter
                ? pulumi.jsonStringify({ deadLetterTargetArn: spec.deadLetter.queueArn, maxReceiveCount: spec.deadLetter.maxReceiveCount })
                : undefined,
        },
        { parent },
    );
}

/** Attaches the queue policy: the listed senders (each for its source ARN only) and a TLS-only deny. */
export function attachQueuePolicy(name: string, queue: aws.sqs.Queue, senders: QueueSender[], parent: pulumi.Resource): aws.sqs.QueuePolicy {
    return new aws.sqs.QueuePolicy(name, { queueUrl: queue.url, policy: queuePolicyDocument(queue.arn, senders) }, { parent });
}

/** The policy document of `attachQueuePolicy`. */
function queuePolicyDocument(queueArn: pulumi.Input<string>, senders: QueueSender[]): pulumi.Output<string> {
    return pulumi.all([queueArn, pulumi.all(senders.map((s) => s.sourceArn))]).apply(([arn, sourceArns]) =>
        JSON.stringify({
            Version: "2012-10-17",
            Statement: [
                ...senders.map((sender, i) => ({
                    Sid: `Allow${sender.service.split(".")[0]}${i}`,
                    Effect: "Allow",
                    Principal: { Service: sender.service },
                    Action: "sqs:SendMessage",
                    Resource: arn,
                    Condition: { ArnEquals: { "aws:SourceArn": sourceArns[i] } },
                })),
                {
                    Sid: "DenyInsecureTransport",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "sqs:*",
                    Resource: arn,
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                },
            ],
        }),
    );
}
