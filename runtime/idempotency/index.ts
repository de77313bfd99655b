/** Idempotency building blocks: the owner-fenced DynamoDB store, payload hashing and the run sequence. */
export * from "./errors";
export * from "./hash";
export * from "./store";
export * from "./run";
export * from "./config";
