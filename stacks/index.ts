/**
 * The example program: `pulumi up -s <stack>` deploys it; `npm start -- --stack <stack>` prints its plan
 * offline. Stack settings live in stacks/Pulumi.<stack>.yaml; `patterns` picks what a stack deploys.
 */
import * as pulumi from "@pulumi/pulumi";
import { isolatedAccountExample, managementExample, workloadExample } from "./patterns/multiAccount";
import { orderedWorkersExample } from "./patterns/orderedWorkers";
import { semaphoreExample } from "./patterns/semaphore";
import { workerPoolExample } from "./patterns/workerPool";

const config = new pulumi.Config();
const patterns = config.getObject<string[]>("patterns") ?? ["workerPool"];

const examples: Record<string, (config: pulumi.Config) => Record<string, pulumi.Output<unknown>>> = {
    workerPool: workerPoolExample,
    orderedWorkers: orderedWorkersExample,
    management: managementExample,
    workload: workloadExample,
    isolatedAccount: isolatedAccountExample,
    semaphore: semaphoreExample,
};
const unknown = patterns.filter((p) => !(p in examples));
if (unknown.length > 0) {
    throw new Error(`Unknown pattern(s) ${unknown.join(", ")} in config "patterns"; known: ${Object.keys(examples).join(", ")}.`);
}

/** Every output of the selected examples, as stack outputs. */
export const outputs = Object.assign({}, ...patterns.map((pattern) => examples[pattern](config)));
