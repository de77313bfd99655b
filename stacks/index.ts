/**
 * The example program: `pulumi up -s <stack>` deploys it; `npm start -- --stack <stack>` prints its plan
 * offline. Stack settings live in stacks/Pulumi.<stack>.yaml; `patterns` picks what a stack deploys.
 *
 * Every output of the selected examples is a top-level stack output (`pulumi stack output NAME`,
 * `StackReference.requireOutput("NAME")`). `outputs` repeats them as one object, as earlier versions
 * exported them, for scripts that read `pulumi stack output outputs`.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigurationError } from "../contracts/errors";
import { isolatedAccountExample, managementExample, workloadExample } from "./patterns/multiAccount";
import { orderedWorkersExample } from "./patterns/orderedWorkers";
import { semaphoreExample } from "./patterns/semaphore";
import { workerPoolExample } from "./patterns/workerPool";

type Example = (config: pulumi.Config) => Record<string, pulumi.Input<unknown>>;

const examples: Record<string, Example> = {
    workerPool: workerPoolExample,
    orderedWorkers: orderedWorkersExample,
    management: managementExample,
    workload: workloadExample,
    isolatedAccount: isolatedAccountExample,
    semaphore: semaphoreExample,
};

/** The outputs of the examples the stack's `patterns` config selects. */
function selectedOutputs(config: pulumi.Config): Record<string, pulumi.Input<unknown>> {
    const patterns = config.getObject<string[]>("patterns") ?? ["workerPool"];
    const unknown = patterns.filter((p) => !(p in examples));
    if (unknown.length > 0) {
        throw new ConfigurationError(`Unknown pattern(s) ${unknown.join(", ")} in config "patterns"; known: ${Object.keys(examples).join(", ")}.`);
    }
    return Object.assign({}, ...patterns.map((pattern) => examples[pattern](config)));
}

const stackOutputs = selectedOutputs(new pulumi.Config());

export = { ...stackOutputs, outputs: stackOutputs };
