/**
 * EventBridge's limit on a rule's event pattern, as a check on the JSON a rule is created with: patterns
 * built from Outputs (state machine ARNs, account ids) are known only at deploy time, and Pulumi mocks
 * accept any size.
 */
import * as pulumi from "@pulumi/pulumi";
import { Validator } from "./validation";

/** Characters EventBridge accepts in a rule's pattern by default (quota "Event pattern size"). */
export const EVENT_PATTERN_DEFAULT_MAX_CHARS = 2048;

/** The most that quota can be raised to: a longer pattern cannot be deployed anywhere. */
export const EVENT_PATTERN_MAX_CHARS = 4096;

/**
 * The rule's `eventPattern` JSON. A pattern over {@link EVENT_PATTERN_MAX_CHARS} fails the deployment
 * with its size and `advice`; one over {@link EVENT_PATTERN_DEFAULT_MAX_CHARS} deploys only where the
 * quota was raised, so it is logged as a warning on `parent`.
 * @example eventPatternJson('EventBridgeWorkerPool "orders"', "eventPattern", { source: ["shop"] }, pool, "match fewer values")
 */
export function eventPatternJson(label: string, arg: string, pattern: pulumi.Input<{ [key: string]: unknown }>, parent: pulumi.Resource, advice: string): pulumi.Output<string> {
    const json = pulumi.jsonStringify(pattern);
    new Validator(label)
        .check(json, (text) =>
            text.length > EVENT_PATTERN_MAX_CHARS
                ? `${arg} is ${text.length} characters as JSON, over the ${EVENT_PATTERN_MAX_CHARS} EventBridge accepts for a rule's pattern even with its quota raised; ${advice}.`
                : undefined,
        )
        .throwIfInvalid(parent);
    return json.apply((text) => {
        if (text.length > EVENT_PATTERN_DEFAULT_MAX_CHARS && text.length <= EVENT_PATTERN_MAX_CHARS) {
            pulumi.log.warn(
                `${label}: ${arg} is ${text.length} characters as JSON, over the ${EVENT_PATTERN_DEFAULT_MAX_CHARS} EventBridge accepts by default: the rule deploys only where the "Event pattern size" quota was raised (to at most ${EVENT_PATTERN_MAX_CHARS}); otherwise ${advice}.`,
                parent,
            );
        }
        return text;
    });
}
