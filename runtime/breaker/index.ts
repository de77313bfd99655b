/**
 * The circuit breaker for ordered workers: the pure decision ({@link decide}), the event source mapping
 * actuator, the DynamoDB state, the {@link CircuitBreaker} runtime and its Lambda wiring.
 */
export * from "./decision";
export * from "./actuator";
export { BREAKER_TABLE_KEY } from "./store";
export { BreakerStore } from "./store";
export type { BreakerRecord, BreakerStorePort } from "./store";
export * from "./outcomeBuffer";
export * from "./breaker";
export * from "./handlers";
