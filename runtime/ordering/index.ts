/**
 * Ordered batch processing: pure planning ({@link planBatch}, {@link resumeEntry},
 * {@link unfinishedEntries}), its executor ({@link processOrderedBatch}) and the plumbing the ordered
 * runtime wrappers (`kinesisWorker`, `fifoWorker`) share.
 */
export * from "./plan";
export * from "./processor";
export * from "./orderedWorker";
