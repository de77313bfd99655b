/**
 * DynamoDB state of circuit breakers: one item per breaker in a table keyed by the string attribute
 * `id` ({@link BREAKER_TABLE_KEY}).
 *
 * | attribute | content |
 * |---|---|
 * | `id` (S) | the breaker's id |
 * | `state` (S), `openUntil` (N, epoch ms), `failedProbes` (N), `probeSuccesses` (N) | {@link BreakerSnapshot} |
 * | `version` (N) | bumped by every state write; writes are conditioned on it (optimistic concurrency) |
 * | `windowStart` (N, epoch ms), `windowRequests` (N), `windowErrors` (N) | the current counting window (closed) |
 * | `original` (M: `batchSize`, `parallelizationFactor`) | mapping settings recorded when the breaker opened; removed once restored |
 * | `probeLeaseUntil` (N, epoch ms) | half-open: the deadline of the running probe; one probe at a time |
 * | `writer` (S) | a random token of the last state write, so a writer recognises its own write after a lost response |
 *
 * A flush of an environment's counts costs one UpdateItem (ADD to the window); state changes are a
 * conditional PutItem.
 *
 * Faults (tests/runtime/breakerFaults.test.ts): a window ADD whose response is lost and which the SDK
 * retries is counted twice — requests and errors alike, so the error rate is unchanged and only the
 * volume floor is reached sooner (so is a new window's SET whose response is lost: the retry fails its
 * condition and the caller's next attempt adds to the window it started); a state write whose response is lost is recognised by its `writer`
 * token and counts as done; a throttled or failed write rejects (the caller keeps its counts).
 * IAM: `dynamodb:GetItem`, `PutItem`, `UpdateItem` on the table; a prober (`tick` never counts) needs
 * only GetItem and PutItem.
 */
import { randomUUID } from "node:crypto";
import { AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand, UpdateItemCommandInput } from "@aws-sdk/client-dynamodb";
import { MappingSettings } from "./actuator";
import { BreakerSnapshot, BreakerState, CLOSED } from "./decision";

/** Key attribute of the breaker table (string). */
export const BREAKER_TABLE_KEY = "id";

/** Everything stored about a breaker. */
export interface BreakerRecord extends BreakerSnapshot {
    /** Write version; 0 for a breaker never written. */
    version: number;
    /** Start of the counting window, epoch ms. */
    windowStart: number;
    /** Calls counted in the window. */
    windowRequests: number;
    /** Failed calls counted in the window. */
    windowErrors: number;
    /** Mapping settings to restore on close. */
    original?: MappingSettings;
    /** Half-open: deadline of the running probe, epoch ms (0 when none). */
    probeLeaseUntil: number;
}

/** What the breaker needs from its storage; {@link BreakerStore} is the DynamoDB one. */
export interface BreakerStorePort {
    /** A consistent read; a breaker never written reads as closed, version 0. */
    read(): Promise<BreakerRecord>;
    /** Adds to the window `windowStart` while closed; the record after, or `undefined` when not closed or another window is current. */
    addToWindow(windowStart: number, requests: number, errors: number): Promise<BreakerRecord | undefined>;
    /** Starts window `windowStart` with these counts if closed and the stored window is older; the record after, or `undefined`. */
    startWindow(windowStart: number, requests: number, errors: number): Promise<BreakerRecord | undefined>;
    /** Replaces the record (version + 1) if its version is still `expectedVersion`; false when another writer won. */
    put(expectedVersion: number, record: Omit<BreakerRecord, "version">): Promise<boolean>;
}

/** Reads and conditional writes of one breaker's item. */
export class BreakerStore implements BreakerStorePort {
    /**
     * @param client DynamoDB client
     * @param tableName the breaker table
     * @param id the breaker's id
     */
    constructor(
        private readonly client: DynamoDBClient,
        private readonly tableName: string,
        private readonly id: string,
    ) {}

    /** A consistent read; a breaker never written reads as closed, version 0. */
    async read(): Promise<BreakerRecord> {
        const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(), ConsistentRead: true }));
        return parseRecord(Item ?? {});
    }

    /** Adds to the window that started at `windowStart` while the breaker is closed; the record after, or undefined. */
    addToWindow(windowStart: number, requests: number, errors: number): Promise<BreakerRecord | undefined> {
        return this.update({
            UpdateExpression: "ADD windowRequests :r, windowErrors :e",
            ConditionExpression: "#state = :closed AND windowStart = :w",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: { ":r": num(requests), ":e": num(errors), ":w": num(windowStart), ":closed": { S: BreakerState.Closed } },
        });
    }

    /** Starts the window `windowStart` with these counts, if the breaker is closed (or new) and its window older. */
    startWindow(windowStart: number, requests: number, errors: number): Promise<BreakerRecord | undefined> {
        return this.update({
            UpdateExpression:
                "SET windowStart = :w, windowRequests = :r, windowErrors = :e, #state = if_not_exists(#state, :closed), version = if_not_exists(version, :zero)",
            ConditionExpression: "(attribute_not_exists(#state) OR #state = :closed) AND (attribute_not_exists(windowStart) OR windowStart < :w)",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: { ":r": num(requests), ":e": num(errors), ":w": num(windowStart), ":closed": { S: BreakerState.Closed }, ":zero": num(0) },
        });
    }

    /**
     * Replaces the record (version + 1) if its version is still `expectedVersion`; false when another
     * writer won. A write whose response was lost (the SDK's retry then fails the condition) is
     * recognised by its token and returns true.
     */
    async put(expectedVersion: number, record: Omit<BreakerRecord, "version">): Promise<boolean> {
        const writer = randomUUID();
        try {
            await this.client.send(
                new PutItemCommand({
                    TableName: this.tableName,
                    Item: { ...this.key(), ...recordItem({ ...record, version: expectedVersion + 1 }), writer: { S: writer } },
                    ConditionExpression: expectedVersion === 0 ? "attribute_not_exists(version) OR version = :v" : "version = :v",
                    ExpressionAttributeValues: { ":v": num(expectedVersion) },
                }),
            );
            return true;
        } catch (error) {
            if (!isConditionFailure(error)) throw error;
            return this.wroteLast(writer, expectedVersion + 1);
        }
    }

    private async wroteLast(writer: string, version: number): Promise<boolean> {
        const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(), ConsistentRead: true }));
        return Item?.writer?.S === writer && Number(Item.version?.N) === version;
    }

    private async update(input: Omit<UpdateItemCommandInput, "TableName" | "Key">): Promise<BreakerRecord | undefined> {
        try {
            const { Attributes } = await this.client.send(
                new UpdateItemCommand({ TableName: this.tableName, Key: this.key(), ReturnValues: "ALL_NEW", ...input }),
            );
            return parseRecord(Attributes ?? {});
        } catch (error) {
            if (isConditionFailure(error)) return undefined;
            throw error;
        }
    }

    private key(): Record<string, AttributeValue> {
        return { [BREAKER_TABLE_KEY]: { S: this.id } };
    }
}

function recordItem(record: BreakerRecord): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = {
        state: { S: record.state },
        openUntil: num(record.openUntil),
        failedProbes: num(record.failedProbes),
        probeSuccesses: num(record.probeSuccesses),
        version: num(record.version),
        windowStart: num(record.windowStart),
        windowRequests: num(record.windowRequests),
        windowErrors: num(record.windowErrors),
        probeLeaseUntil: num(record.probeLeaseUntil),
    };
    if (record.original) item.original = { M: settingsItem(record.original) };
    return item;
}

function settingsItem(settings: MappingSettings): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = { batchSize: num(settings.batchSize) };
    if (settings.parallelizationFactor !== undefined) item.parallelizationFactor = num(settings.parallelizationFactor);
    return item;
}

function parseRecord(item: Record<string, AttributeValue>): BreakerRecord {
    const n = (name: string) => Number(item[name]?.N ?? 0);
    const original = item.original?.M;
    return {
        state: (item.state?.S as BreakerState | undefined) ?? CLOSED.state,
        openUntil: n("openUntil"),
        failedProbes: n("failedProbes"),
        probeSuccesses: n("probeSuccesses"),
        version: n("version"),
        windowStart: n("windowStart"),
        windowRequests: n("windowRequests"),
        windowErrors: n("windowErrors"),
        probeLeaseUntil: n("probeLeaseUntil"),
        original: original && {
            batchSize: Number(original.batchSize?.N ?? 0),
            parallelizationFactor: original.parallelizationFactor ? Number(original.parallelizationFactor.N) : undefined,
        },
    };
}

function num(value: number): AttributeValue {
    return { N: String(value) };
}

function isConditionFailure(error: unknown): boolean {
    return (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException";
}
