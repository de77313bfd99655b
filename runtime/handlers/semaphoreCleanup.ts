/** Lambda entry of the Step Functions semaphore's cleanup function (configured from the environment). */
import { createCleanupHandler } from "../semaphore";

export const handler = createCleanupHandler();
