/** Lambda entry of the scheduled `ConcurrencyController`: one control interval per invocation. */
import { controlConfigFromEnv, createControllerHandler } from "../controller";

export const handler = createControllerHandler(controlConfigFromEnv());
