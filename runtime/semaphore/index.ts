/**
 * The Step Functions semaphore: pure planning over its shards ({@link planRelease}, {@link roomyShards}), its DynamoDB
 * store, the {@link Semaphore} protocol, its typed errors and the Lambda handler factories.
 */
export * from "./plan";
export { digest, SEMAPHORE_TABLE_KEYS } from "./store";
export type { Waiter } from "./store";
export * from "./errors";
export * from "./semaphore";
export * from "./handlers";
