import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyDocument } from "./internal/iam";
import { createAlarms } from "./internal/observability";
import { attachQueuePolicy, createQueue } from "./internal/queues";
import { componentLabel, plainValue, Validator } from "./internal/validation";
import { eventPatternJson } from "./internal/eventPatterns";
import { queueNotEmptyAlarm } from "./internal/workerAlarms";
import { CROSS_ACCOUNT_EVENT_FORWARDER_ARGUMENTS } from "./internal/argumentSpecs";
import { checkConstruction } from "./internal/construction";
import { ChildCatalog, CHILD_TYPES, EscapeHatchArgs, withEscapeHatches } from "./internal/escapeHatches";
import { operationsManifest } from "./internal/operations";

/** `transform` entries of a {@link CrossAccountEventForwarder}: plain objects merged into that child's args. */
export interface CrossAccountEventForwarderTransformArgs {
    /**
     * Merged into the forwarding rule's args (`aws.cloudwatch.EventRuleArgs`).
     * @default none
     * @example { description: "orders to the workload account" }
     */
    rule?: { [key: string]: any };
    /**
     * Merged into the rule target's args (`aws.cloudwatch.EventTargetArgs`).
     * @default none
     * @example { inputPath: "$.detail" }
     */
    target?: { [key: string]: any };
    /**
     * Merged into the forwarding role's args (`aws.iam.RoleArgs`).
     * @default none
     * @example { permissionsBoundary: boundary.arn }
     */
    role?: { [key: string]: any };
    /**
     * Merged into the dead-letter queue's args (`aws.sqs.QueueArgs`). A customer-managed key must admit EventBridge
     * (`events.amazonaws.com`: `kms:GenerateDataKey*`, `kms:Decrypt`) in its key policy: it writes the events it
     * could not forward; the component grants no KMS action.
     * @default none
     * @example { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false }
     */
    deadLetterQueue?: { [key: string]: any };
}

/** The children `transform` can reach, by key. */
function forwarderChildren(name: string): ChildCatalog<keyof CrossAccountEventForwarderTransformArgs> {
    return {
        rule: { type: CHILD_TYPES.rule, name: `${name}-rule` },
        target: { type: CHILD_TYPES.eventTarget, name: `${name}-target` },
        role: { type: CHILD_TYPES.role, name: `${name}-role` },
        deadLetterQueue: { type: CHILD_TYPES.queue, name: `${name}-dlq` },
    };
}

export interface CrossAccountEventForwarderArgs extends EscapeHatchArgs {
    /**
     * The events to forward; at most 2,048 characters as JSON, EventBridge's default quota (up to 4,096
     * warns that only a raised quota takes it; more fails the deployment).
     * @example { source: ["shop.orders"] }
     */
    eventPattern: pulumi.Input<{ [key: string]: any }>;
    /**
     * The bus in the other account, e.g. `IsolatedWorkloadAccount.eventBusArn`.
     * @example "arn:aws:events:us-east-1:222222222222:event-bus/orders"
     */
    targetEventBusArn: pulumi.Input<string>;
    /**
     * The bus in this account the rule listens on.
     * @default "default"
     * @example "shop-events"
     */
    sourceEventBusName?: pulumi.Input<string>;
    /**
     * EventBridge retries of the delivery, 0–185.
     * @default 185
     * @example 20
     */
    maxRetryAttempts?: number;
    /**
     * How long EventBridge keeps retrying, 60–86400 s.
     * @default 86400
     * @example 3600
     */
    maxEventAgeSeconds?: number;
    /**
     * SNS topic ARNs notified when the DLQ alarm fires or recovers.
     * @default []
     * @example [oncall.arn]
     */
    alarmActions?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Escape hatch: plain objects merged into one child's args each (rule, target, role, deadLetterQueue).
     * For code-level changes from TypeScript, Pulumi's own `transforms` resource option also reaches every
     * child.
     * @default none
     * @example { deadLetterQueue: { kmsMasterKeyId: key.arn, sqsManagedSseEnabled: false } }
     */
    transform?: CrossAccountEventForwarderTransformArgs;
}

/**
 * Forwards matching events from a bus in this account to a bus in another account: a rule, a target
 * with a role that may only put events on that bus, and a dead-letter queue for deliveries that fail.
 *
 * @example
 * new CrossAccountEventForwarder("orders-to-workload", {
 *     eventPattern: { source: ["shop.orders"] },
 *     targetEventBusArn: account.eventBusArn,
 * });
 */
export class CrossAccountEventForwarder extends pulumi.ComponentResource {
    /** The forwarding rule. */
    public readonly rule: aws.cloudwatch.EventRule;
    /** The role EventBridge assumes to put events on the target bus; only on behalf of {@link rule}. */
    public readonly role: aws.iam.Role;
    /** Events that could not be delivered. */
    public readonly deadLetterQueue: aws.sqs.Queue;
    /**
     * What an operator tool needs to find this component's live state; see the serverless-concurrency CLI.
     * A plain JSON object of the shape `OperationsManifest` (contracts/operations.ts; `isOperationsManifest`
     * narrows it), typed `any` because the multi-language schema cannot describe that literal-typed union.
     */
    public readonly operations: pulumi.Output<any>;

    constructor(name: string, args: CrossAccountEventForwarderArgs, opts?: pulumi.ComponentResourceOptions) {
        super("serverless-concurrency:index:CrossAccountEventForwarder", name, {}, withEscapeHatches(opts, args, forwarderChildren(name)));
        checkConstruction(CROSS_ACCOUNT_EVENT_FORWARDER_ARGUMENTS, name, args);
        validateForwarderArgs(componentLabel("CrossAccountEventForwarder", name), args).throwIfInvalid(this);
        const eventBusName = args.sourceEventBusName ?? "default";

        this.rule = new aws.cloudwatch.EventRule(`${name}-rule`, {
                eventBusName,
                eventPattern: eventPatternJson(componentLabel("CrossAccountEventForwarder", name), "eventPattern", args.eventPattern, this, "match fewer values, or split it over several forwarders"),
                state: "ENABLED",
            }, { parent: this });
        const sourceAccountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        this.role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: ruleTrustPolicy(sourceAccountId, this.rule.arn) }, { parent: this });
        new aws.iam.RolePolicy(`${name}-policy`, { role: this.role.id, policy: policyDocument([{ actions: ["events:PutEvents"], resources: [args.targetEventBusArn] }]) }, { parent: this });
        this.deadLetterQueue = createQueue(`${name}-dlq`, {}, this);
        attachQueuePolicy(`${name}-dlq-policy`, this.deadLetterQueue, [{ service: "events.amazonaws.com", sourceArn: this.rule.arn }], this);
        new aws.cloudwatch.EventTarget(
            `${name}-target`,
            {
                rule: this.rule.name,
                eventBusName,
                arn: args.targetEventBusArn,
                roleArn: this.role.arn,
                retryPolicy: { maximumRetryAttempts: args.maxRetryAttempts ?? 185, maximumEventAgeInSeconds: args.maxEventAgeSeconds ?? 86_400 },
                deadLetterConfig: { arn: this.deadLetterQueue.arn },
            },
            { parent: this },
        );
        createAlarms(name, [queueNotEmptyAlarm("dlq-not-empty", this.deadLetterQueue, "Events could not be forwarded to the other account's bus: check its policy and redrive.")], args.alarmActions, this);
        this.operations = operationsManifest(this, {
            componentType: "CrossAccountEventForwarder",
            name,
            ruleName: this.rule.name,
            targetEventBusArn: args.targetEventBusArn,
            deadLetterQueue: { url: this.deadLetterQueue.url, arn: this.deadLetterQueue.arn },
        });
        this.registerOutputs({ rule: this.rule, role: this.role, deadLetterQueue: this.deadLetterQueue, operations: this.operations });
    }
}

/**
 * The trust policy of the forwarding role: EventBridge may assume it only on behalf of this rule in this
 * account (`aws:SourceArn`, `aws:SourceAccount`), so no other rule — in this account or another that
 * learns the role's ARN — can make EventBridge put events with it (the confused-deputy problem).
 */
export function ruleTrustPolicy(sourceAccountId: pulumi.Input<string>, ruleArn: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sts:AssumeRole",
                Condition: { StringEquals: { "aws:SourceAccount": sourceAccountId }, ArnEquals: { "aws:SourceArn": ruleArn } },
            },
        ],
    });
}

/** Collects every problem with the arguments; pure. */
export function validateForwarderArgs(label: string, args: CrossAccountEventForwarderArgs): Validator {
    return new Validator(label)
        .eventPattern("eventPattern", args.eventPattern)
        .matches("targetEventBusArn", plainValue(args.targetEventBusArn), /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[\w.\-/]+$/, "an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)")
        .integer("maxRetryAttempts", args.maxRetryAttempts, 0, 185)
        .integer("maxEventAgeSeconds", args.maxEventAgeSeconds, 60, 86_400);
}
