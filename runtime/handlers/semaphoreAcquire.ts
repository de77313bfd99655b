/** Lambda entry of the Step Functions semaphore's acquire function (configured from the environment). */
import { createAcquireHandler } from "../semaphore";

export const handler = createAcquireHandler();
