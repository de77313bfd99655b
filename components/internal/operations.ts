/**
 * Builds a component's `operations` output: the manifest of `contracts/operations.ts` from the
 * component's resources, with the region and account its provider deploys to (the invokes run with the
 * component as parent, so a component given an `aws.Provider` reports that provider's account).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ManifestFields, OPERATIONS_MARKER, OPERATIONS_VERSION, OperationsManifest } from "../../contracts/operations";

/** `T` with every leaf a `pulumi.Input` (Outputs may sit anywhere inside). */
export type DeepInput<T> = T extends string | number | boolean | undefined
    ? pulumi.Input<T>
    : T extends readonly (infer E)[]
      ? pulumi.Input<DeepInput<E>[]>
      : pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>;

/**
 * The manifest Output of `parent`. Fields left `undefined` (an option that is off) are dropped.
 * @param parent the component; its provider answers the region and account look-ups
 * @param fields everything but the marker, region and account; Outputs allowed at any depth
 * @example
 * this.operations = operationsManifest(this, {
 *     componentType: "FifoTopicWorker", name, functionName: this.function.name, topicArn: this.topicArn,
 *     queue: { url: this.queue.url, arn: this.queue.arn }, deadLetterQueue: { url: this.deadLetterQueue.url, arn: this.deadLetterQueue.arn },
 *     mappingUuid: this.eventSourceMapping.uuid, idempotencyTableName: this.idempotencyTable.name, dashboardName: this.dashboardName,
 * });
 */
export function operationsManifest<F extends ManifestFields>(parent: pulumi.Resource, fields: DeepInput<F>): pulumi.Output<OperationsManifest> {
    const region = aws.getRegionOutput({}, { parent }).region;
    const account = aws.getCallerIdentityOutput({}, { parent }).accountId;
    return pulumi.all([pulumi.output(fields as pulumi.Input<object>), region, account]).apply(
        ([resolved, regionName, accountId]) =>
            withoutUndefined({ [OPERATIONS_MARKER]: OPERATIONS_VERSION, ...resolved, region: regionName, account: accountId }) as OperationsManifest,
    );
}

/** A copy without `undefined` members at any depth, so the output is plain JSON. */
function withoutUndefined(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(withoutUndefined);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
        Object.entries(value)
            .filter(([, member]) => member !== undefined)
            .map(([key, member]) => [key, withoutUndefined(member)]),
    );
}
