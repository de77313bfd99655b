/**
 * serverless-concurrency: Pulumi components for concurrency control in serverless applications.
 * Every export here is a component the multi-language plugin exposes as
 * `serverless-concurrency:index:<ClassName>`.
 */
export { EventBridgeWorkerPool, EventBridgeWorkerPoolArgs } from "./eventBridgeWorkerPool";
export { Architecture, WorkerFunctionArgs, WorkerVpcArgs } from "./internal/workerFunction";
export { PolicyStatementArgs } from "./internal/iam";
