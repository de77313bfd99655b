/**
 * Ordered batch processing: pure planning ({@link planBatch}, {@link resumeEntry},
 * {@link unfinishedEntries}), its executor ({@link processOrderedBatch}), the plumbing the ordered
 * runtime wrappers (`kinesisWorker`, `fifoWorker`) share, and the batch guards they consult ({@link registerBatchGuard}).
 */
export * from "./plan";
export * from "./processor";
export * from "./orderedWorker";
export * from "./batchGuard";
export * from "./errors";
export * from "./leaseWait";
