/**
 * Audit entries of the CLI's changes: one item per change, written next to the state it changes (the
 * component's own table) under an `audit#` key prefix, before the change is applied — a change whose
 * entry cannot be written is not made — and updated with the outcome after it. Each entry expires through the table's TTL (`expiresAt`, which
 * every component's table has enabled) after its retention, 90 days unless `--audit-retention-days`
 * says otherwise; entries written before they had the attribute stay until deleted.
 *
 * | table keys | key of an entry |
 * |---|---|
 * | `id` (idempotency, breaker tables) | `id` = `audit#<scope>#<ISO time>#<random>` |
 * | `pk`, `sk` (controller, semaphore tables) | `pk` = `audit#<scope>`, `sk` = `<ISO time>#<random>` |
 *
 * Attributes: `at` (S, ISO time), `command` (S), `component` (S), `componentType` (S), `caller` (S, ARN),
 * `account` (S), `reason` (S), `change` (S, what the CLI printed it would change), `expiresAt` (N, epoch
 * seconds: `at` plus the retention), `outcome` (S, {@link AuditOutcome}`["outcome"]`: `started` until the
 * change ends), `done` (S, what the steps that landed printed) and `error` (S, the failure).
 *
 * `audit` reads them back ({@link readAuditEntries}): a query under `audit#<scope>` on a `pk`/`sk` table, a
 * whole-table scan with a `begins_with` filter on an `id` table (which has no index by key prefix).
 */
import { randomUUID } from "node:crypto";
import { AttributeValue, DynamoDBClient, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { BreakerReference, ControllerReference, SemaphoreReference, TABLE_TTL_ATTRIBUTE } from "../../contracts/operations";
import { targetKey } from "../../runtime/controller";

/** The prefix of every audit key. */
export const AUDIT_KEY_PREFIX = "audit#";

/** How long an audit entry is kept unless `--audit-retention-days` says otherwise, in days. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;

/** Where an entry goes. */
export interface AuditLocation {
    /** The component's table. */
    tableName: string;
    /** Its key schema. */
    keys: "id" | "pk-sk";
    /** What the entry is about (breaker id, controller target key, semaphore name, component name). */
    scope: string;
}

/** Where the entries of a controller's changes (`controller pause` / `resume`) go: its table, under its target's key. */
export function controllerAuditLocation(reference: ControllerReference): AuditLocation {
    return { tableName: reference.tableName, keys: "pk-sk", scope: targetKey(reference.target) };
}

/** Where the entries of a breaker's changes (`breaker open` / `close`) go: its table, under its id. */
export function breakerAuditLocation(reference: BreakerReference): AuditLocation {
    return { tableName: reference.tableName, keys: "id", scope: reference.id };
}

/** Where the entries of a semaphore's changes (`semaphore release`) go: its table, under its name. */
export function semaphoreAuditLocation(reference: SemaphoreReference): AuditLocation {
    return { tableName: reference.tableName, keys: "pk-sk", scope: reference.name };
}

/** Where the entries of a worker's `idempotency forget` and `dlq redrive` go: its idempotency table, under its name. */
export function idempotencyAuditLocation(tableName: string, component: string): AuditLocation {
    return { tableName, keys: "id", scope: component };
}

/** What an entry says. */
export interface AuditEntry {
    /** When, epoch ms. */
    at: number;
    /** The command line, without the options that only locate things. */
    command: string;
    /** The component's name. */
    component: string;
    /** The component's type. */
    componentType: string;
    /** The caller's ARN. */
    caller: string;
    /** The caller's account. */
    account: string;
    /** `--reason`. */
    reason: string;
    /** What the CLI said it would change. */
    change: string[];
    /** Days after `at` when the table's TTL deletes the entry. */
    retentionDays: number;
}

/**
 * Writes one entry (its key is unique, so an SDK retry rewrites the same entry); returns its key.
 * @example await writeAuditEntry(dynamodb, { tableName, keys: "id", scope: "payments" }, entry)
 */
export async function writeAuditEntry(client: DynamoDBClient, location: AuditLocation, entry: AuditEntry): Promise<Record<string, AttributeValue>> {
    const key = auditKey(location, new Date(entry.at).toISOString());
    await client.send(
        new PutItemCommand({
            TableName: location.tableName,
            Item: {
                ...key,
                at: { S: new Date(entry.at).toISOString() },
                command: { S: entry.command },
                component: { S: entry.component },
                componentType: { S: entry.componentType },
                caller: { S: entry.caller },
                account: { S: entry.account },
                reason: { S: entry.reason },
                change: { S: entry.change.join("\n") },
                [TABLE_TTL_ATTRIBUTE]: { N: String(expiresAt(entry)) },
                outcome: { S: "started" },
            },
        }),
    );
    return key;
}

/** How a change ended. */
export interface AuditOutcome {
    /** `applied`: every step landed; `failed`: none did; `partial`: some did, then one failed. */
    outcome: "applied" | "failed" | "partial";
    /** What the steps that landed printed. */
    done: string[];
    /** The failure, when a step failed. */
    error?: string;
}

/**
 * Records how the change of the entry at `key` ended (a SET of the same values, so an SDK retry is harmless).
 * @example await recordAuditOutcome(dynamodb, location, key, { outcome: "applied", done: ["paused …"] })
 */
export async function recordAuditOutcome(client: DynamoDBClient, location: AuditLocation, key: Record<string, AttributeValue>, outcome: AuditOutcome): Promise<void> {
    const attributes: Record<string, string> = { outcome: outcome.outcome, done: outcome.done.join("\n"), ...(outcome.error === undefined ? {} : { error: outcome.error }) };
    const names = Object.keys(attributes);
    await client.send(
        new UpdateItemCommand({
            TableName: location.tableName,
            Key: key,
            UpdateExpression: `SET ${names.map((name) => `#${name} = :${name}`).join(", ")}`,
            ExpressionAttributeNames: Object.fromEntries(names.map((name) => [`#${name}`, name])),
            ExpressionAttributeValues: Object.fromEntries(names.map((name) => [`:${name}`, { S: attributes[name] }])),
        }),
    );
}

/** When the table's TTL deletes the entry: epoch seconds, `retentionDays` after `at`. */
function expiresAt(entry: AuditEntry): number {
    return Math.floor(entry.at / 1000) + entry.retentionDays * 86_400;
}

function auditKey(location: AuditLocation, isoTime: string): Record<string, AttributeValue> {
    const unique = `${isoTime}#${randomUUID().slice(0, 8)}`;
    if (location.keys === "id") return { id: { S: `${AUDIT_KEY_PREFIX}${location.scope}#${unique}` } };
    return { pk: { S: `${AUDIT_KEY_PREFIX}${location.scope}` }, sk: { S: unique } };
}

/** An entry as read back (every attribute an entry has; `outcome` `started` while its change runs or when the CLI stopped). */
export interface StoredAuditEntry extends Omit<AuditEntry, "at" | "retentionDays"> {
    /** When, ISO time. */
    at: string;
    /** `started`, `applied`, `failed` or `partial`. */
    outcome: string;
    /** What the steps that landed printed. */
    done: string[];
    /** The failure, when a step failed. */
    error?: string;
    /** When the table's TTL deletes it, ISO time; absent for entries written before entries had it. */
    expiresAt?: string;
}

/** The newest entries of one location, and how many items were read to find them. */
export interface AuditReading {
    /** Newest first. */
    entries: StoredAuditEntry[];
    /** Items DynamoDB read (a scan reads every item of the table). */
    itemsRead: number;
}

/**
 * The newest `limit` entries of `location`, newest first. A `pk`/`sk` table is queried under `audit#<scope>`
 * (newest first by its sort key, `limit` items at most, strongly consistent); an `id` table has no index by key
 * prefix, so it is scanned whole with a `begins_with` filter (eventually consistent: a change that ended a moment
 * ago may still read `started`): its reads grow with the table, not with the entries. Only items whose key has
 * exactly an entry's shape count (see {@link isEntryOf}).
 * @example await readAuditEntries(dynamodb, { tableName: "orders-control", keys: "pk-sk", scope: "ReservedConcurrency:orders-fn" }, 20)
 */
export async function readAuditEntries(client: DynamoDBClient, location: AuditLocation, limit: number): Promise<AuditReading> {
    const items = location.keys === "pk-sk" ? await queryEntries(client, location, limit) : await scanEntries(client, location);
    const entries = items.list.filter((item) => isEntryOf(location, item)).map(storedEntry).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    return { entries: entries.slice(0, limit), itemsRead: items.read };
}

/** One page of a query or scan: its items, how many it read, where the next starts. */
interface Page {
    Items?: Record<string, AttributeValue>[];
    ScannedCount?: number;
    LastEvaluatedKey?: Record<string, AttributeValue>;
}

/**
 * Reads pages until there are no more or `enough` of items; `read` asks for the page after `start`, given the
 * items so far. Returns the items and how many items DynamoDB read.
 */
async function readPages(read: (start: Record<string, AttributeValue> | undefined, found: number) => Promise<Page>, enough = Infinity): Promise<{ list: Record<string, AttributeValue>[]; read: number }> {
    const list: Record<string, AttributeValue>[] = [];
    let scanned = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
        const page = await read(start, list.length);
        list.push(...(page.Items ?? []));
        scanned += page.ScannedCount ?? page.Items?.length ?? 0;
        start = page.LastEvaluatedKey;
    } while (start && list.length < enough);
    return { list, read: scanned };
}

function queryEntries(client: DynamoDBClient, location: AuditLocation, limit: number): Promise<{ list: Record<string, AttributeValue>[]; read: number }> {
    const query = (start: Record<string, AttributeValue> | undefined, found: number) =>
        client.send(
            new QueryCommand({
                TableName: location.tableName,
                KeyConditionExpression: "pk = :pk",
                ExpressionAttributeValues: { ":pk": { S: `${AUDIT_KEY_PREFIX}${location.scope}` } },
                ScanIndexForward: false,
                // (An outcome written just before this read shows, not a stale "started"; a query reads few items.)
                ConsistentRead: true,
                Limit: limit - found,
                ExclusiveStartKey: start,
            }),
        );
    return readPages(query, limit);
}

/** Every page: the entries may be on any of them (a scan has no order). */
function scanEntries(client: DynamoDBClient, location: AuditLocation): Promise<{ list: Record<string, AttributeValue>[]; read: number }> {
    const scan = (start: Record<string, AttributeValue> | undefined) =>
        client.send(
            new ScanCommand({
                TableName: location.tableName,
                FilterExpression: "begins_with(id, :prefix)",
                ExpressionAttributeValues: { ":prefix": { S: `${AUDIT_KEY_PREFIX}${location.scope}#` } },
                ExclusiveStartKey: start,
            }),
        );
    return readPages(scan);
}

/** The time and random part of an entry's key, after its scope: `<ISO time>#<8 hex digits>` ({@link auditKey}). */
const ENTRY_SUFFIX = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{8}$/;

/**
 * Whether `item` is an entry of `location` itself: its key is exactly the scope's prefix then an entry's suffix (the
 * `begins_with` filter also matches the entries of a scope that continues with `#`, and any item of an idempotency table
 * whose event key happens to start like one), and it has a command and an outcome.
 */
function isEntryOf(location: AuditLocation, item: Record<string, AttributeValue>): boolean {
    const suffix = location.keys === "id" ? withoutPrefix(item.id?.S, `${AUDIT_KEY_PREFIX}${location.scope}#`) : item.sk?.S;
    return suffix !== undefined && ENTRY_SUFFIX.test(suffix) && item.command?.S !== undefined && item.outcome?.S !== undefined;
}

function withoutPrefix(text: string | undefined, prefix: string): string | undefined {
    return text?.startsWith(prefix) ? text.slice(prefix.length) : undefined;
}

function storedEntry(item: Record<string, AttributeValue>): StoredAuditEntry {
    const text = (name: string) => item[name]?.S ?? "";
    const lines = (name: string) => (text(name) === "" ? [] : text(name).split("\n"));
    const expires = item[TABLE_TTL_ATTRIBUTE]?.N;
    return {
        at: text("at"),
        command: text("command"),
        component: text("component"),
        componentType: text("componentType"),
        caller: text("caller"),
        account: text("account"),
        reason: text("reason"),
        change: lines("change"),
        outcome: text("outcome"),
        done: lines("done"),
        ...(item.error?.S === undefined ? {} : { error: item.error.S }),
        ...(expires === undefined ? {} : { expiresAt: new Date(Number(expires) * 1000).toISOString() }),
    };
}
