/** Metric names of the control loop and its actuator (namespace `ServerlessConcurrency`, dimension `Worker`). */
export const CONTROLLER_METRICS = {
    /** Count: the limit after each decision. */
    ConcurrencyLimit: "ConcurrencyLimit",
    /** Count: 1 per decision, with dimension `Reason`. */
    ControllerDecisions: "ControllerDecisions",
    /** Count: 1 each time AWS refused a reserved-concurrency raise for the unreserved floor (applied lower or held). */
    UnreservedFloorRefusals: "UnreservedFloorRefusals",
    /** Count: 1 each time a leader found, after applying, that a later leader had taken over (and restored that one's decision). */
    ControllerSuperseded: "ControllerSuperseded",
    /** Count: 1 per target whose control interval failed (its claim, pause read, statistics, metrics, setting read or change threw); `Worker` is the target's. */
    ControllerFailures: "ControllerFailures",
} as const;
