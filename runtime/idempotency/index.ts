/**
 * Idempotency building blocks: the persistence port with its DynamoDB and in-memory stores, the pure
 * record decisions, payload hashing and the run sequence.
 */
export * from "./errors";
export * from "./hash";
export * from "./persistence";
export * from "./records";
export * from "./store";
export * from "./memoryStore";
export * from "./run";
export * from "./config";
export * from "./report";
