/**
 * The controller's state as the CLI sees it: the last decision (the target's `control` item, written by
 * either driver), the operator's pause (`runtime/controller/pause.ts`) and the live setting (through the
 * runtime's `ConcurrencyActuator`, so a pinned limit obeys the same ranges and the unreserved-100 guard).
 * Re-point here if the controller store's layout moves.
 */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { ControllerReference } from "../../contracts/operations";
import { ApplyResult, ConcurrencyActuator, ConcurrencyDecision, CONTROLLER_TABLE_KEYS, ControlledTarget, TARGET_RANGES, targetKey } from "../../runtime/controller";
import { ControllerPause, ControllerPauseStore, ResumeOutcome } from "../../runtime/controller/pause";
import { discard } from "../io";

/** Sort key of the lease-and-decision item (runtime/controller/store.ts). */
const CONTROL_SORT_KEY = "control";

/** The last interval a driver claimed, and the decision it stored. */
export interface LastDecision {
    /** The control interval claimed last. */
    interval: number;
    /** When it was claimed, epoch ms. */
    claimedAt: number;
    /** The decision stored for it (absent while the interval is being decided, or when a run failed). */
    decision?: ConcurrencyDecision;
}

/** One controller's items and setting. */
export class ControllerAdapter {
    /** The key of the target's items (`targetKey`). */
    readonly key: string;
    private readonly target: ControlledTarget;
    private readonly pauses: ControllerPauseStore;
    private readonly actuator: ConcurrencyActuator;

    /**
     * @param reference the manifest's controller
     * @param clients DynamoDB for the table, Lambda for the setting
     */
    constructor(
        private readonly reference: ControllerReference,
        private readonly clients: { dynamodb: DynamoDBClient; lambda: LambdaClient },
    ) {
        this.target = reference.target as ControlledTarget;
        this.key = targetKey(this.target);
        this.pauses = new ControllerPauseStore(clients.dynamodb, reference.tableName, this.key);
        // Its floor-refusal WARN and metric lines would land in the CLI's output; the CLI prints the limit applied.
        this.actuator = new ConcurrencyActuator({ client: clients.lambda, maxAttempts: 3, write: discard });
    }

    /** The allowed values of the setting. */
    get range(): { min: number; max: number } {
        return TARGET_RANGES[this.target.kind];
    }

    /** The last claimed interval and its decision; `undefined` when no driver ever ran. */
    async lastDecision(): Promise<LastDecision | undefined> {
        const { Item } = await this.clients.dynamodb.send(
            new GetItemCommand({
                TableName: this.reference.tableName,
                Key: { [CONTROLLER_TABLE_KEYS.partitionKey]: { S: this.key }, [CONTROLLER_TABLE_KEYS.sortKey]: { S: CONTROL_SORT_KEY } },
                ConsistentRead: true,
            }),
        );
        if (!Item) return undefined;
        const decision = Item.decision?.S ? (JSON.parse(Item.decision.S) as ConcurrencyDecision) : undefined;
        return { interval: Number(Item.interval?.N ?? 0), claimedAt: Number(Item.claimedAt?.N ?? 0), decision };
    }

    /** The operator's pause, if any. */
    pause(): Promise<ControllerPause | undefined> {
        return this.pauses.read();
    }

    /** Pauses the target (see `ControllerPauseStore.pause`). */
    setPause(pause: ControllerPause): Promise<void> {
        return this.pauses.pause(pause);
    }

    /** Removes the pause `expected` (see `ControllerPauseStore.resume`). */
    resume(expected: ControllerPause): Promise<ResumeOutcome> {
        return this.pauses.resume(expected);
    }

    /** The live setting (`undefined`: a function without reserved concurrency, a mapping without a maximum). */
    setting(): Promise<number | undefined> {
        return this.actuator.read(this.target);
    }

    /** Sets the live setting to `limit` (within the kind's range; raising reserved concurrency keeps 100 unreserved). */
    applySetting(limit: number): Promise<ApplyResult> {
        return this.actuator.apply(this.target, limit);
    }
}
