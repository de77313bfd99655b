/**
 * Side-effect module the components bundle before a worker's wrapper when its `adaptiveConcurrency`
 * option is on. At cold start it reads `CONCURRENCY_CONTROL_MODE` (`Controller` | `SelfTuning`) and
 * `CONCURRENCY_CONTROL_CONFIG` (JSON `ControlLoopConfig`) and registers the worker's side of the control
 * loop ({@link activateAdaptiveConcurrency}). In `SelfTuning` the target and `metrics.functionName` may omit
 * what the worker cannot know at deploy time (its own function name, its own mapping's UUID). Any other
 * mode, or a bad configuration, fails the cold start. Not exported from `serverless-concurrency/runtime`:
 * importing it has this effect.
 */
import { activateAdaptiveConcurrency } from "../controller/driver";

/**
 * Stops what this module registered at cold start.
 * @example deactivate();
 */
export const deactivate = activateAdaptiveConcurrency();
