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
 */
import { randomUUID } from "node:crypto";
import { AttributeValue, DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { TABLE_TTL_ATTRIBUTE } from "../../contracts/operations";

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
