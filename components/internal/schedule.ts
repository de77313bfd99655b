/** Scheduled invocation of a package-provided function (controller, breaker prober, semaphore sweeper). */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ScheduleSpec {
    /** `rate(N minute|minutes)`. */
    expression: string;
    /** Seconds between runs: a run older than that is not worth starting. */
    intervalSeconds: number;
    /** Where a failed run is recorded (a DLQ that alarms); the function's error alarm reports it otherwise. */
    onFailureDestination?: pulumi.Input<string>;
}

/**
 * A run that fails is not retried by EventBridge or Lambda: a late run would land in a later interval,
 * whose own run does the work. There is no event to keep, so a DLQ is optional.
 */
export function scheduleFunction(name: string, fn: aws.lambda.Function, spec: ScheduleSpec, parent: pulumi.Resource): aws.cloudwatch.EventRule {
    const maxAgeSeconds = Math.min(Math.max(spec.intervalSeconds, 60), 21_600);
    const rule = new aws.cloudwatch.EventRule(`${name}-schedule`, { scheduleExpression: spec.expression, state: "ENABLED" }, { parent });
    const permission = new aws.lambda.Permission(
        `${name}-invoke`,
        { action: "lambda:InvokeFunction", function: fn.name, principal: "events.amazonaws.com", sourceArn: rule.arn },
        { parent },
    );
    new aws.cloudwatch.EventTarget(
        `${name}-target`,
        { rule: rule.name, arn: fn.arn, retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: maxAgeSeconds } },
        { parent, dependsOn: [permission] },
    );
    new aws.lambda.FunctionEventInvokeConfig(
        `${name}-async`,
        {
            functionName: fn.name,
            maximumRetryAttempts: 0,
            maximumEventAgeInSeconds: maxAgeSeconds,
            destinationConfig: spec.onFailureDestination ? { onFailure: { destination: spec.onFailureDestination } } : undefined,
        },
        { parent },
    );
    return rule;
}

/** `rate(1 minute)` or `rate(N minutes)`. */
export function rateInMinutes(minutes: number): string {
    return minutes === 1 ? "rate(1 minute)" : `rate(${minutes} minutes)`;
}
