/**
 * An operator's pause of a controlled target: while paused, neither the scheduled controller nor
 * self-tuning changes the setting; with a pinned limit, the setting is held at that value.
 *
 * One item in the controller table, beside the target's lease and statistics:
 * | `pk` | `sk` | attributes |
 * |---|---|---|
 * | target key (`targetKey`) | `pause` | `pausedAt` (N, epoch ms), `pausedBy` (S), `reason` (S), `pinnedLimit` (N, optional) |
 *
 * The item exists exactly while the target is paused: pausing is one PutItem, resuming one DeleteItem,
 * both idempotent (a retried request changes nothing more). The drivers read it with one consistent
 * GetItem per interval, only the lease winner, before deciding (`dynamodb:GetItem` on the table, which
 * both drivers already have).
 */
import { AttributeValue, ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ConfigurationError } from "../../contracts/errors";
import { LineWriter, Logger } from "../log";
import { Metrics } from "../metrics";
import type { ApplyResult, ConcurrencyActuatorPort } from "./actuator";
import { CONTROLLER_TABLE_KEYS } from "./store";
import type { ControlledTarget } from "./targets";

/** Sort key of the pause item. */
export const PAUSE_SORT_KEY = "pause";

/** The metric a driver emits (Count 1, dimension `Worker`) for every interval it holds because of a pause. */
export const CONTROLLER_PAUSED_METRIC = "ControllerPaused";

/** A target's pause, as stored. */
export interface ControllerPause {
    /**
     * When it was paused, epoch milliseconds.
     * @example 1767225600000
     */
    pausedAt: number;
    /**
     * Who paused it (the caller's ARN).
     * @example "arn:aws:sts::123456789012:assumed-role/oncall/jane"
     */
    pausedBy: string;
    /**
     * Why.
     * @example "downstream maintenance until 04:00"
     */
    reason: string;
    /**
     * The setting to hold while paused; the drivers restore it if something else moved it.
     * @default undefined (hold whatever the setting is)
     * @example 5
     */
    pinnedLimit?: number;
}

/** What {@link ControllerPauseStore.resume} did: removed the pause, found it gone, or found another pause in its place. */
export type ResumeOutcome = "resumed" | "gone" | "replaced";

/**
 * What a driver does this interval: run normally, or hold — leave the setting as it is, or (pinned)
 * bring it back to the pinned limit.
 */
export type PauseVerdict =
    | { action: "run" }
    | { action: "hold"; pause: ControllerPause }
    | { action: "pin"; limit: number; pause: ControllerPause };

/**
 * Whether the target is paused.
 * @param pause the stored pause, `undefined` when none
 * @example if (isPaused(await pauses.read())) return; // leave the setting alone
 */
export function isPaused(pause: ControllerPause | undefined): pause is ControllerPause {
    return pause !== undefined;
}

/**
 * The pure decision a driver makes before deciding or applying anything.
 * @param pause the stored pause, `undefined` when none
 * @param currentSetting the target's setting as just read (`undefined`: none, e.g. no reserved concurrency)
 * @example pauseVerdict({ pausedAt, pausedBy, reason, pinnedLimit: 5 }, 8) // { action: "pin", limit: 5, pause }
 */
export function pauseVerdict(pause: ControllerPause | undefined, currentSetting: number | undefined): PauseVerdict {
    if (!isPaused(pause)) return { action: "run" };
    if (pause.pinnedLimit !== undefined && pause.pinnedLimit !== currentSetting) return { action: "pin", limit: pause.pinnedLimit, pause };
    return { action: "hold", pause };
}

/** Reads and writes one target's pause item. */
export class ControllerPauseStore {
    /**
     * @param client DynamoDB client
     * @param tableName the controller table ({@link CONTROLLER_TABLE_KEYS})
     * @param key the target's key (`targetKey(target)`)
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
        private readonly key: string,
    ) {}

    /** A consistent read; `undefined` when the target is not paused. */
    async read(): Promise<ControllerPause | undefined> {
        const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.itemKey(), ConsistentRead: true }));
        return Item ? parsePause(Item) : undefined;
    }

    /**
     * Pauses the target (replacing an earlier pause).
     * @param pause who, why, when, and the optional pinned limit (a positive integer)
     * @throws ConfigurationError when `pinnedLimit` is not a positive integer
     */
    async pause(pause: ControllerPause): Promise<void> {
        if (pause.pinnedLimit !== undefined && !(Number.isInteger(pause.pinnedLimit) && pause.pinnedLimit >= 1)) {
            throw new ConfigurationError(`a pinned limit must be a positive integer; received ${pause.pinnedLimit}`);
        }
        await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: { ...this.itemKey(), ...pauseItem(pause) } }));
    }

    /**
     * Resumes the target; nothing happens when it was not paused. With `expected` (the pause as read), only
     * that pause is removed: a pause someone set since is kept (`"replaced"`). A pause already gone counts
     * as resumed (this delete applied, its response lost and retried, or another resume), except one that
     * went between a refused delete and the read that followed (`"gone"`).
     * @param expected the pause to remove, by when and by whom it was set
     * @example await store.resume(await store.read()) // "resumed"
     */
    async resume(expected?: Pick<ControllerPause, "pausedAt" | "pausedBy">): Promise<ResumeOutcome> {
        const condition = expected && {
            // A field the pause was read without (an item written by hand) cannot be compared: it must still be absent.
            ConditionExpression: "(attribute_not_exists(pausedAt) OR pausedAt = :pausedAt) AND (attribute_not_exists(pausedBy) OR pausedBy = :pausedBy)",
            ExpressionAttributeValues: { ":pausedAt": { N: String(expected.pausedAt) }, ":pausedBy": { S: expected.pausedBy } },
        };
        try {
            await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: this.itemKey(), ...condition }));
            return "resumed";
        } catch (error) {
            if (!(error instanceof ConditionalCheckFailedException)) throw error;
            return (await this.read()) === undefined ? "gone" : "replaced";
        }
    }

    private itemKey(): Record<string, AttributeValue> {
        return { [CONTROLLER_TABLE_KEYS.partitionKey]: { S: this.key }, [CONTROLLER_TABLE_KEYS.sortKey]: { S: PAUSE_SORT_KEY } };
    }
}

function pauseItem(pause: ControllerPause): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = {
        pausedAt: { N: String(pause.pausedAt) },
        pausedBy: { S: pause.pausedBy },
        reason: { S: pause.reason },
    };
    if (pause.pinnedLimit !== undefined) item.pinnedLimit = { N: String(pause.pinnedLimit) };
    return item;
}

function parsePause(item: Record<string, AttributeValue>): ControllerPause {
    const pause: ControllerPause = { pausedAt: Number(item.pausedAt?.N ?? 0), pausedBy: item.pausedBy?.S ?? "", reason: item.reason?.S ?? "" };
    if (item.pinnedLimit?.N !== undefined) pause.pinnedLimit = Number(item.pinnedLimit.N);
    return pause;
}

/** What a driver's interval step needs to honour a pause. */
export interface PauseStep {
    /** The target's pause item. */
    pauses: ControllerPauseStore;
    /** The driver's actuator (a pin is applied through it, with its ranges, guard and retries). */
    actuator: ConcurrencyActuatorPort;
    /** The setting driven. */
    target: ControlledTarget;
    /** The interval being run (logged). */
    interval: number;
    /** The `Worker` dimension of the `ControllerPaused` metric. */
    worker: string;
    /** The driver's logger. */
    log: Logger;
    /**
     * Where the metric line goes.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
    /**
     * Dry run: a pin is logged, not applied.
     * @default false
     * @example true
     */
    dryRun?: boolean;
}

/** What {@link holdWhilePaused} did in a paused interval. */
export interface PausedInterval {
    /** The pause honoured. */
    pause: ControllerPause;
    /** The setting as read (when pinned) — the drivers read nothing else while paused. */
    setting?: number;
    /** The pin's change, when one was applied. */
    applied?: ApplyResult;
}

/**
 * The drivers' pause step, run by the lease winner right after it claimed the interval and before it
 * reads signals or decides: `undefined` when the target is not paused (carry on); otherwise the interval
 * is held — a pinned limit that something moved is set back — with one `controller paused` log line and
 * the `ControllerPaused` metric (Count 1). A pause item that cannot be read throws, like any failed read
 * of the interval: the setting is left alone and the interval stays claimed.
 * @example
 * const held = await holdWhilePaused({ pauses, actuator, target: config.target, interval, worker, log, write, dryRun: config.dryRun });
 * if (held) return { status: "paused", interval, ...held };
 */
export async function holdWhilePaused(step: PauseStep): Promise<PausedInterval | undefined> {
    const pause = await step.pauses.read();
    if (!isPaused(pause)) return undefined;
    const setting = pause.pinnedLimit === undefined ? undefined : await step.actuator.read(step.target);
    const verdict = pauseVerdict(pause, setting);
    const applied = verdict.action === "pin" && !step.dryRun ? await step.actuator.apply(step.target, verdict.limit, { current: setting }) : undefined;
    step.log.info("controller paused", {
        target: step.target,
        interval: step.interval,
        pausedAt: pause.pausedAt,
        pausedBy: pause.pausedBy,
        reason: pause.reason,
        pinnedLimit: pause.pinnedLimit,
        setting,
        restored: applied?.changed ?? false,
        dryRun: step.dryRun ?? false,
    });
    const metrics = new Metrics({ worker: step.worker, write: step.write });
    metrics.add(CONTROLLER_PAUSED_METRIC, "Count", 1);
    metrics.flush();
    return { pause, setting, applied };
}
