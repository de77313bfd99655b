/**
 * Adaptive concurrency: the pure decision shared by the controller and self-tuning drivers.
 */
export * from "./decision";
export * from "./targets";
export * from "./actuator";
export * from "./store";
export * from "./statistics";
export * from "./budget";
export * from "./metrics";
export type { ControlOutcome, DecideConcurrency } from "./loop";
export * from "./cloudwatch";
export * from "./driver";
