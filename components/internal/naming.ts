/**
 * AWS's physical-name limits and Pulumi's autonaming, as data and arithmetic. Pure, no dependencies:
 * the components' construction check and the offline plan's check pass both call it.
 *
 * Pulumi autonames a resource as its logical name + "-" + 7 random characters (plus ".fifo" for FIFO
 * queues and topics) and refuses at preview when that exceeds the provider's limit ("name '…' plus 7
 * random chars is longer than maximum length 64").
 */

/** Characters Pulumi appends to a logical name: "-" and 7 random characters. */
export const AUTONAME_SUFFIX_LENGTH = 8;

/** The suffix AWS requires on FIFO queue and topic names; it counts towards the limit. */
export const FIFO_SUFFIX = ".fifo";

/** One resource type's name limit. */
export interface NameLimit {
    /** Longest physical name AWS accepts. */
    max: number;
    /** How messages call the name. @example "IAM role" */
    noun: string;
}

/** Limits of the resource types this package names (Pulumi type token → limit). */
export const PHYSICAL_NAME_LIMITS: Readonly<Record<string, NameLimit>> = {
    "aws:lambda/function:Function": { max: 64, noun: "Lambda function" },
    "aws:iam/role:Role": { max: 64, noun: "IAM role" },
    "aws:cloudwatch/eventRule:EventRule": { max: 64, noun: "EventBridge rule" },
    "aws:scheduler/schedule:Schedule": { max: 64, noun: "EventBridge schedule" },
    "aws:sqs/queue:Queue": { max: 80, noun: "SQS queue" },
    "aws:sfn/stateMachine:StateMachine": { max: 80, noun: "state machine" },
    "aws:kinesis/stream:Stream": { max: 128, noun: "Kinesis stream" },
    "aws:iam/policy:Policy": { max: 128, noun: "IAM policy" },
    "aws:iam/rolePolicy:RolePolicy": { max: 128, noun: "IAM inline policy" },
    "aws:dynamodb/table:Table": { max: 255, noun: "DynamoDB table" },
    "aws:sns/topic:Topic": { max: 256, noun: "SNS topic" },
    "aws:cloudwatch/eventBus:EventBus": { max: 256, noun: "EventBridge event bus" },
    "aws:cloudwatch/metricAlarm:MetricAlarm": { max: 255, noun: "CloudWatch alarm" },
    "aws:cloudwatch/dashboard:Dashboard": { max: 255, noun: "CloudWatch dashboard" },
    "aws:cloudwatch/logGroup:LogGroup": { max: 512, noun: "log group" },
    "aws:organizations/account:Account": { max: 50, noun: "AWS account" },
};

/**
 * The longest physical name AWS accepts for a resource type; `undefined` for types without a name
 * or without a limit this package knows.
 * @example physicalNameLimit("aws:iam/role:Role") // 64
 */
export function physicalNameLimit(typeToken: string): number | undefined {
    return PHYSICAL_NAME_LIMITS[typeToken]?.max;
}

/**
 * Length of the physical name Pulumi generates for `logicalName`: the name, "-", 7 random characters,
 * and ".fifo" for a FIFO queue or topic.
 * @example autonameLength("ledger-queue", { fifo: true }) // 25
 */
export function autonameLength(logicalName: string, options: { fifo?: boolean } = {}): number {
    return logicalName.length + AUTONAME_SUFFIX_LENGTH + (options.fifo ? FIFO_SUFFIX.length : 0);
}

/** A physical name a component will create: autonamed from a logical name, or set explicitly. */
export interface PlannedName {
    /** Pulumi type token of the child. */
    type: string;
    /** The child's logical name. */
    logicalName: string;
    /** The explicit physical name, when the component sets one (no random suffix). */
    physicalName?: string;
    /** A FIFO queue or topic (".fifo" is appended). @default false */
    fifo?: boolean;
    /** An explicit name given as an argument, not derived from the component's name. @default false */
    fixed?: boolean;
}

/** Length of the physical name of `planned`. */
export function physicalNameLength(planned: PlannedName): number {
    return planned.physicalName !== undefined ? planned.physicalName.length : autonameLength(planned.logicalName, { fifo: planned.fifo });
}

/** A planned name over its type's limit. */
export interface NameOverrun {
    planned: PlannedName;
    /** Its physical name's length. */
    length: number;
    /** The type's limit. */
    limit: NameLimit;
}

/** The planned names over their limits, the worst (most characters over) first. */
export function nameOverruns(planned: readonly PlannedName[]): NameOverrun[] {
    return planned
        .flatMap((p): NameOverrun[] => {
            const limit = PHYSICAL_NAME_LIMITS[p.type];
            const length = physicalNameLength(p);
            return limit !== undefined && length > limit.max ? [{ planned: p, length, limit }] : [];
        })
        .sort((a, b) => b.length - b.limit.max - (a.length - a.limit.max));
}

/**
 * The longest component name for which every planned name fits, given the plan for a name of
 * `nameLength` characters: each child derived from the name has as many characters to spare as its
 * limit leaves. `undefined` when nothing in the plan depends on the name.
 */
export function longestFittingName(nameLength: number, planned: readonly PlannedName[]): number | undefined {
    const headrooms = planned.flatMap((p) => {
        const limit = PHYSICAL_NAME_LIMITS[p.type];
        return limit === undefined || p.fixed ? [] : [limit.max - (physicalNameLength(p) - nameLength)];
    });
    return headrooms.length === 0 ? undefined : Math.min(...headrooms);
}
