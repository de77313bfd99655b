/**
 * serverless-concurrency: Pulumi components for concurrency control in serverless applications.
 * Every export here is a component the multi-language plugin exposes as
 * `serverless-concurrency:index:<ClassName>`.
 */
export { EventBridgeWorkerPool, EventBridgeWorkerPoolArgs } from "./eventBridgeWorkerPool";
export { KinesisOrderedWorker, KinesisOrderedWorkerArgs, StartingPosition } from "./kinesisOrderedWorker";
export { FifoTopicWorker, FifoTopicWorkerArgs } from "./fifoTopicWorker";
export { ConcurrencyController, ConcurrencyControllerArgs, ControlTarget, SharedControlPlaneBudgetArgs } from "./concurrencyController";
export { ConcurrencyControllerGroup, ConcurrencyControllerGroupArgs, ControlGroupTargetArgs } from "./concurrencyControllerGroup";
export { ControlPlaneBudget, ControlPlaneBudgetArgs } from "./controlPlaneBudget";
export { AdaptiveConcurrencyArgs, AdaptiveMode } from "./adaptiveConcurrency";
export { SemaphoreSettingsArgs, StepFunctionsSemaphore, StepFunctionsSemaphoreArgs } from "./stepFunctionsSemaphore";
export { SemaphoreStateMachine, SemaphoreStateMachineArgs, WorkflowType } from "./semaphoreStateMachine";
export { CircuitBreakerArgs } from "./internal/circuitBreaker";
export { Architecture, WorkerFunctionArgs, WorkerVpcArgs } from "./internal/workerFunction";
export { PolicyStatementArgs } from "./internal/iam";
export { IsolatedWorkloadAccount, IsolatedWorkloadAccountArgs } from "./isolatedWorkloadAccount";
export { CrossAccountEventForwarder, CrossAccountEventForwarderArgs } from "./crossAccountEventForwarder";
