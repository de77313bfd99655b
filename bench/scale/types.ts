/**
 * The shape every `bench/scale/*.ts` module returns: one row per (pattern, operation, layout), measured on
 * dynalite with the consumed capacity read from the responses (`ReturnConsumedCapacity: "TOTAL"`).
 */

/** One measured operation. */
export interface ScaleRow {
    /** The issue table's row, e.g. "Semaphore", "Controller statistics". */
    pattern: string;
    /** What one operation is, e.g. "acquire + release at 1,000 permits held". */
    operation: string;
    /** Which layout was measured. */
    layout: "before" | "after";
    /** AWS requests per operation, measured. */
    requestsPerOperation: number;
    /** Write capacity units per operation, measured (0 when none). */
    wcuPerOperation: number;
    /** Read capacity units per operation, measured (0 when none). */
    rcuPerOperation: number;
    /** The limit that binds first, e.g. "1,000 WCU/s on one item". */
    bindingLimit: string;
    /** Operations per second at which `bindingLimit` is reached, computed from the measured counts. */
    ceilingPerSecond: number;
    /** Dollars per million operations at the list prices of `bench/prices.ts`. */
    costPerMillion: number;
    /** Caveats of the figure. */
    note?: string;
}

/** A scale module: `measure()` starts what it needs (dynalite), measures both layouts and stops. */
export interface ScaleModule {
    measure(): Promise<ScaleRow[]>;
}
