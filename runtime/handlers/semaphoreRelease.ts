/** Lambda entry of the Step Functions semaphore's release function (configured from the environment). */
import { createReleaseHandler } from "../semaphore";

export const handler = createReleaseHandler();
