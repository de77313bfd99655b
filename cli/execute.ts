/**
 * Running a parsed command: `status`, `audit`, `idempotency show`, and the changes (plan → print → confirm →
 * caller identity → audit entry → apply, step by step → the entry's outcome).
 */
import type { ManifestSearch, OperationsManifest } from "../contracts/operations";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { AuditEntry, AuditLocation, AuditOutcome, DEFAULT_AUDIT_RETENTION_DAYS, recordAuditOutcome, writeAuditEntry } from "./adapters/audit";
import { callerIdentity, CallerIdentity } from "./adapters/aws";
import { IdempotencyAdapter } from "./adapters/idempotency";
import { ChangeCommand, CliCommand, isChangeCommand } from "./args";
import type { AwsClients } from "./aws";
import { auditExitCode, readAudit, renderAudit } from "./commands/audit";
import { ChangeStep, planChange } from "./commands/changes";
import { readStatus, renderStatus, statusExitCode } from "./commands/status";
import { AwsAccessError, CliError, IncompleteChangeError, NotConfirmedError, NotFoundError, RefusedChangeError, UnsupportedOperationError } from "./errors";
import { awsAccessError, describeAwsError } from "./failures";
import { EXIT, Io } from "./io";
import { describeHiddenSecrets, selectManifest } from "./outputs";

/**
 * Runs `command` on the manifests found; returns the exit code.
 * @throws CliError (or an SDK error) for the caller to print
 */
export async function execute(command: Exclude<CliCommand, { kind: "help" }>, search: ManifestSearch, clientsFor: (m: OperationsManifest) => AwsClients, io: Io): Promise<number> {
    if (command.kind === "status") {
        const statuses = await readStatus(search, command.names, { clientsFor, now: io.now });
        io.stdout(command.json ? `${JSON.stringify(statuses, null, 2)}\n` : `${renderStatus(statuses).join("\n")}\n`);
        // A secret may be any output, not a manifest: a note, not a failed part.
        if (command.names.length === 0 && search.hiddenSecrets.length > 0) io.stderr(`serverless-concurrency: not searched: ${describeHiddenSecrets(search.hiddenSecrets)}\n`);
        return statusExitCode(statuses);
    }
    const manifest = selectManifest(search.manifests, command.name, search.rejected, search.hiddenSecrets);
    const clients = clientsFor(manifest);
    if (command.kind === "idempotency-show") return showIdempotency(manifest, command.key, clients, io);
    if (command.kind === "audit") {
        const audit = await readAudit(manifest, clients, { limit: command.limit, scan: command.scan });
        io.stdout(command.json ? `${JSON.stringify(audit, null, 2)}\n` : `${renderAudit(audit).join("\n")}\n`);
        return auditExitCode(audit);
    }
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

/** Plan → print → confirm → identity → audit → apply → outcome. */
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
    const key = await writeAuditEntry(clients.dynamodb, plan.audit, auditEntry(command, manifest, who, plan.lines, io.now())).catch((error: unknown) => {
        // Applied with every response lost, the entry exists and says "started"; nothing else was done.
        throw new AwsAccessError(`not applied: the audit entry could not be written (${describeAwsError(error)}); an entry saying "started" with no outcome may remain in ${plan.audit.tableName}`);
    });
    const run = await runSteps(plan.steps, io);
    await recordOutcome(clients.dynamodb, { location: plan.audit, key }, run, io);
    if (run.failure) throw run.failure;
    return EXIT.ok;
}

function auditEntry(command: ChangeCommand, manifest: OperationsManifest, who: CallerIdentity, change: string[], at: number): AuditEntry {
    return {
        at,
        command: commandLine(command),
        component: manifest.name,
        componentType: manifest.componentType,
        caller: who.arn,
        account: who.account,
        reason: command.reason,
        change,
        retentionDays: command.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS,
    };
}

/** What the steps of a change did. */
interface StepsRun {
    /** For the audit entry. */
    outcome: AuditOutcome;
    /** The error to report, when a step failed. */
    failure?: CliError;
}

/** Runs the steps in order, printing what each did as it lands; stops at the first that fails. */
async function runSteps(steps: ChangeStep[], io: Io): Promise<StepsRun> {
    const done: string[] = [];
    for (const [index, step] of steps.entries()) {
        try {
            const lines = await step.run();
            io.stdout(`${lines.join("\n")}\n`);
            done.push(...lines);
        } catch (error) {
            const failure = stepFailure(steps, index, error);
            return { outcome: { outcome: index === 0 ? "failed" : "partial", done, error: failure.message }, failure };
        }
    }
    return { outcome: { outcome: "applied", done } };
}

/**
 * The error of step `index`: as it is when it was the first (nothing landed before it); else which steps
 * landed, which one failed and why, which were not tried, and how the state gets finished.
 */
function stepFailure(steps: ChangeStep[], index: number, error: unknown): CliError {
    if (index === 0) return awsAccessError(error);
    const step = steps[index];
    const notTried = steps.slice(index + 1).map((s) => s.what);
    return new IncompleteChangeError(
        [
            `applied in part: done: ${steps.slice(0, index).map((s) => s.what).join("; ")}`,
            `NOT done: ${step.what} (${describeAwsError(error)})`,
            ...(notTried.length > 0 ? [`not tried: ${notTried.join("; ")}`] : []),
            // A refusal says why the state moved on; the step's hint assumes it merely did not land.
            ...(step.ifNotDone && !(error instanceof RefusedChangeError) ? [step.ifNotDone] : []),
        ].join("; "),
    );
}

/** Updates the audit entry with the outcome; a failure to do so is said on stderr and leaves the exit code as the change's. */
async function recordOutcome(client: AwsClients["dynamodb"], entry: { location: AuditLocation; key: Record<string, AttributeValue> }, run: StepsRun, io: Io): Promise<void> {
    try {
        await recordAuditOutcome(client, entry.location, entry.key, run.outcome);
    } catch (error) {
        io.stderr(`serverless-concurrency: the audit entry still says "started": its outcome (${run.outcome.outcome}) could not be written: ${describeAwsError(error)}\n`);
    }
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

