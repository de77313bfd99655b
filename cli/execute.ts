/**
 * Running a parsed command: `status`, `idempotency show`, and the changes (plan → print → confirm →
 * caller identity → audit entry → apply).
 */
import type { OperationsManifest } from "../contracts/operations";
import { AuditEntry, DEFAULT_AUDIT_RETENTION_DAYS, writeAuditEntry } from "./adapters/audit";
import { callerIdentity, CallerIdentity } from "./adapters/aws";
import { IdempotencyAdapter } from "./adapters/idempotency";
import { ChangeCommand, CliCommand, isChangeCommand } from "./args";
import type { AwsClients } from "./aws";
import { planChange } from "./commands/changes";
import { completelyRead, readStatus, renderStatus } from "./commands/status";
import { NotConfirmedError, NotFoundError, RefusedChangeError, UnsupportedOperationError } from "./errors";
import { EXIT, Io } from "./io";
import { selectManifest } from "./outputs";

/**
 * Runs `command` on the manifests; returns the exit code.
 * @throws CliError (or an SDK error) for the caller to print
 */
export async function execute(command: Exclude<CliCommand, { kind: "help" }>, manifests: OperationsManifest[], clientsFor: (m: OperationsManifest) => AwsClients, io: Io): Promise<number> {
    if (command.kind === "status") {
        const statuses = await readStatus(manifests, command.names, { clientsFor, now: io.now });
        io.stdout(command.json ? `${JSON.stringify(statuses, null, 2)}\n` : `${renderStatus(statuses).join("\n")}\n`);
        return completelyRead(statuses) ? EXIT.ok : EXIT.partial;
    }
    const manifest = selectManifest(manifests, command.name);
    const clients = clientsFor(manifest);
    if (command.kind === "idempotency-show") return showIdempotency(manifest, command.key, clients, io);
    if (!isChangeCommand(command)) throw new UnsupportedOperationError(`command ${(command as CliCommand).kind} is not implemented`);
    return change(command, manifest, clients, io);
}

async function showIdempotency(manifest: OperationsManifest, key: string, clients: AwsClients, io: Io): Promise<number> {
    if (!("idempotencyTableName" in manifest)) throw new UnsupportedOperationError(`${manifest.componentType} "${manifest.name}" has no idempotency table`);
    const record = await new IdempotencyAdapter(clients.dynamodb, manifest.idempotencyTableName).read(key);
    if (!record) throw new NotFoundError(`no idempotency record for key "${key}" in ${manifest.idempotencyTableName}`);
    const lease = record.status === "COMPLETED" ? undefined : new Date(record.leaseExpiresAt).toISOString();
    io.stdout(
        `${JSON.stringify({ key, status: record.status, leaseExpiresAt: lease, expiresAt: new Date(record.expiresAt * 1000).toISOString(), payloadHash: record.payloadHash, result: record.result === undefined ? undefined : JSON.parse(record.result) }, null, 2)}\n`,
    );
    return EXIT.ok;
}

/** Plan → print → confirm → identity → audit → apply. */
async function change(command: ChangeCommand, manifest: OperationsManifest, clients: AwsClients, io: Io): Promise<number> {
    let identity: Promise<CallerIdentity> | undefined;
    const caller = () => (identity ??= callerIdentity(clients.sts));
    const plan = await planChange(command, manifest, { clients, now: io.now, caller: async () => (await caller()).arn });
    io.stdout(`${plan.lines.join("\n")}\n`);
    await confirm(command.yes, io);
    const who = await caller();
    if (who.account !== manifest.account) {
        throw new RefusedChangeError(`the credentials are for account ${who.account}, but ${manifest.name} is in ${manifest.account}: use --profile for that account`);
    }
    const entry: AuditEntry = {
        at: io.now(),
        command: commandLine(command),
        component: manifest.name,
        componentType: manifest.componentType,
        caller: who.arn,
        account: who.account,
        reason: command.reason,
        change: plan.lines,
        retentionDays: command.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS,
    };
    await writeAuditEntry(clients.dynamodb, plan.audit, entry);
    const done = await plan.apply();
    io.stdout(`${done.join("\n")}\n`);
    return EXIT.ok;
}

async function confirm(yes: boolean, io: Io): Promise<void> {
    if (yes) return;
    if (!io.interactive) throw new NotConfirmedError("not applied: standard input is not a terminal, so a change needs --yes");
    const answer = (await io.ask("Apply? [y/N] ")).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new NotConfirmedError("not applied: not confirmed");
}

/** The command as the audit entry records it: the words and the options that say what changes. */
function commandLine(command: ChangeCommand): string {
    const words = command.kind.replace("-", " ");
    const args = [
        command.name,
        "executionArn" in command ? command.executionArn : undefined,
        "key" in command ? command.key : undefined,
        "pinnedLimit" in command && command.pinnedLimit !== undefined ? `--at ${command.pinnedLimit}` : undefined,
        "openSeconds" in command && command.openSeconds !== undefined ? `--for ${command.openSeconds}` : undefined,
    ];
    return [words, ...args.filter((a) => a !== undefined)].join(" ");
}

