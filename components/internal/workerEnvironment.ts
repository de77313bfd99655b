/**
 * The environment every wrapped worker's runtime reads, built from the contract's names
 * (`contracts/environment.ts`): the worker's name and its idempotency table with expiry and lease.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../../contracts/environment";

/** How long the worker remembers processed keys and honours an in-progress claim. */
export interface IdempotencyWindow {
    /** Seconds a completed key is remembered. */
    idempotencyExpirySeconds: number;
    /** Seconds an in-progress claim blocks duplicates. */
    idempotencyLeaseSeconds: number;
}

/** `WORKER_NAME` and the `IDEMPOTENCY_*` variables of a worker. */
export function workerEnvironment(name: string, table: aws.dynamodb.Table, window: IdempotencyWindow): { [key: string]: pulumi.Input<string> } {
    return {
        [ENV.workerName]: name,
        [ENV.idempotencyTableName]: table.name,
        [ENV.idempotencyExpirySeconds]: String(window.idempotencyExpirySeconds),
        [ENV.idempotencyLeaseSeconds]: String(window.idempotencyLeaseSeconds),
    };
}
