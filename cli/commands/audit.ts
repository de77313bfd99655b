/**
 * `audit NAME [--limit N] [--scan] [--json]`: the audit entries the CLI's changes of one component left, newest
 * first, per table they went to (controller, breaker, semaphore, idempotency table). Each table is read on its
 * own, so one that cannot be read shows its error in place and the others still show.
 *
 * The controller and semaphore tables are queried under `audit#<scope>` (reads grow with the entries asked
 * for). The breaker and idempotency tables are keyed by `id` alone: finding the entries means scanning the
 * whole table. A breaker table holds a few items per breaker, so it is always scanned; an idempotency table
 * holds one item per event, so it is scanned only with `--scan` (its reads grow with the table and compete
 * with the workers' for its capacity).
 */
import type { OperationsManifest } from "../../contracts/operations";
import {
    AUDIT_KEY_PREFIX,
    AuditLocation,
    breakerAuditLocation,
    controllerAuditLocation,
    idempotencyAuditLocation,
    readAuditEntries,
    semaphoreAuditLocation,
    StoredAuditEntry,
} from "../adapters/audit";
import type { AwsClients } from "../aws";
import { describeAwsError } from "../failures";
import { EXIT } from "../io";

/** One table's entries of a component, or why they were not read. */
export interface AuditTrail {
    /** Which changes write there, e.g. `controller (pause, resume)`. */
    label: string;
    /** The table. */
    tableName: string;
    /** The key prefix of its entries, e.g. `audit#payments`. */
    keyPrefix: string;
    /** Newest first (absent when not read). */
    entries?: StoredAuditEntry[];
    /** Items DynamoDB read to find them (a scan reads the whole table). */
    itemsRead?: number;
    /** Why it was not read: needs `--scan`. */
    skipped?: string;
    /** One line: why it could not be read. */
    error?: string;
}

/** What `audit` shows of one component. */
export interface ComponentAudit {
    /** Its name. */
    name: string;
    /** Its type. */
    componentType: string;
    /** One per table its changes write entries to; none for a component without changes. */
    trails: AuditTrail[];
}

/** How `audit` reads. */
export interface AuditOptions {
    /** Entries per table, newest first. */
    limit: number;
    /** Whether to scan the idempotency table. */
    scan: boolean;
}

/** A table the component's changes write entries to, and whether listing them needs `--scan`. */
interface TrailSpec {
    label: string;
    location: AuditLocation;
    needsScan: boolean;
}

/**
 * The tables the changes of `manifest` write entries to (the same locations the changes use).
 * @example trailsOf(ordersManifest).map((t) => t.label) // ["controller (pause, resume)", "idempotency table (idempotency forget)"]
 */
function trailsOf(manifest: OperationsManifest): TrailSpec[] {
    const trails: TrailSpec[] = [];
    if ("controller" in manifest && manifest.controller) trails.push({ label: "controller (pause, resume)", location: controllerAuditLocation(manifest.controller), needsScan: false });
    if ("breaker" in manifest && manifest.breaker) trails.push({ label: "breaker (open, close)", location: breakerAuditLocation(manifest.breaker), needsScan: false });
    if ("semaphore" in manifest) trails.push({ label: "semaphore (release)", location: semaphoreAuditLocation(manifest.semaphore), needsScan: false });
    if ("idempotencyTableName" in manifest) {
        const changes = manifest.componentType === "FifoTopicWorker" ? "idempotency forget, dlq redrive" : "idempotency forget";
        trails.push({ label: `idempotency table (${changes})`, location: idempotencyAuditLocation(manifest.idempotencyTableName, manifest.name), needsScan: true });
    }
    return trails;
}

/**
 * The entries of `manifest`'s changes, per table.
 * @example await readAudit(manifest, clients, { limit: 20, scan: false })
 */
export async function readAudit(manifest: OperationsManifest, clients: AwsClients, options: AuditOptions): Promise<ComponentAudit> {
    const trails = await Promise.all(trailsOf(manifest).map((spec) => readTrail(spec, clients, options)));
    return { name: manifest.name, componentType: manifest.componentType, trails };
}

async function readTrail({ label, location, needsScan }: TrailSpec, clients: AwsClients, options: AuditOptions): Promise<AuditTrail> {
    const keyPrefix = `${AUDIT_KEY_PREFIX}${location.scope}`;
    const trail = { label, tableName: location.tableName, keyPrefix };
    if (needsScan && !options.scan) {
        return { ...trail, skipped: "its items are keyed by id alone, so listing its entries scans the whole table (reads grow with the table, one item per event): add --scan" };
    }
    try {
        const reading = await readAuditEntries(clients.dynamodb, location, options.limit);
        return { ...trail, entries: reading.entries, itemsRead: reading.itemsRead };
    } catch (error) {
        return { ...trail, error: describeAwsError(error) };
    }
}

/**
 * Of the tables read (not those skipped for want of `--scan`): every one read {@link EXIT}`.ok`; some `partial`;
 * none `failed`.
 */
export function auditExitCode(audit: ComponentAudit): number {
    const tried = audit.trails.filter((t) => t.skipped === undefined);
    const failed = tried.filter((t) => t.error !== undefined).length;
    if (failed === 0) return EXIT.ok;
    return failed < tried.length ? EXIT.partial : EXIT.failed;
}

/**
 * Plain text: per table a heading, then per entry its time, outcome, command, caller and reason, what it said it
 * would change, and what landed or why it failed.
 * @example renderAudit(audit).join("\n")
 */
export function renderAudit(audit: ComponentAudit): string[] {
    const lines = [`${audit.name}  ${audit.componentType}  audit entries, newest first`];
    if (audit.trails.length === 0) lines.push("  none: no CLI change applies to it");
    for (const trail of audit.trails) {
        lines.push(`  ${trail.label}: ${trail.tableName}, ${trail.keyPrefix}…`);
        if (trail.skipped !== undefined) lines.push(`    not read: ${trail.skipped}`);
        else if (trail.error !== undefined) lines.push(`    ⚠ error: ${trail.error}`);
        else if (trail.entries!.length === 0) lines.push(`    none (${trail.itemsRead} items read)`);
        else for (const entry of trail.entries!) lines.push(...renderEntry(entry));
    }
    return lines;
}

function renderEntry(entry: StoredAuditEntry): string[] {
    const outcome = entry.outcome === "started" ? "started (no outcome recorded: still running, or the CLI stopped before it could write one)" : entry.outcome;
    return [
        `    ${entry.at}  ${outcome}  ${entry.command}`,
        `      by ${entry.caller}: ${entry.reason}`,
        ...entry.change.map((line) => `      said: ${line}`),
        ...entry.done.map((line) => `      done: ${line}`),
        ...(entry.error === undefined ? [] : [`      error: ${entry.error}`]),
    ];
}
