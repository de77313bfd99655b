/** Lambda entry of the Step Functions semaphore's sweeper function (configured from the environment). */
import { createSweeperHandler } from "../semaphore";

export const handler = createSweeperHandler();
