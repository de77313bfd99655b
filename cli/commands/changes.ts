/**
 * The commands that change state. Each reads the current state and returns a {@link ChangePlan}: the
 * lines that say what will change, where its audit entry goes, and the steps that apply it (each says
 * what it did, so a change that stops part-way can say what landed).
 * Refusals (nothing to release, a claim still running, a DLQ AWS cannot redrive) are raised here,
 * before anything is asked or written.
 */
import type { ControllerReference, OperationsManifest } from "../../contracts/operations";
import { AuditLocation, breakerAuditLocation, controllerAuditLocation, idempotencyAuditLocation, semaphoreAuditLocation } from "../adapters/audit";
import { latestMoveTask, mappingSettings, MoveTask, moveTaskActive, queueDepth, startRedrive } from "../adapters/aws";
import { BreakerAdapter, ForcedBy, ForcedWrite } from "../adapters/breaker";
import { ControllerAdapter } from "../adapters/controller";
import { IdempotencyAdapter } from "../adapters/idempotency";
import { SemaphoreAdapter } from "../adapters/semaphore";
import type { ChangeCommand } from "../args";
import { AwsClients } from "../aws";
import { RefusedChangeError, UnsupportedOperationError, UsageError } from "../errors";

/** One step of a change; the steps run in order, and a failed step stops the ones after it. */
export interface ChangeStep {
    /** What it does, as a failure names it, e.g. `set ReservedConcurrency to 6`. */
    what: string;
    /** Does it; returns what was done, one line each. */
    run(): Promise<string[]>;
    /** What the operator should know when it fails after earlier steps landed (how the state gets finished). */
    ifNotDone?: string;
}

/** A change, ready to be confirmed, audited and applied. */
export interface ChangePlan {
    /** What will change, one line each. */
    lines: string[];
    /** Where the audit entry goes. */
    audit: AuditLocation;
    /** The steps that apply it. */
    steps: ChangeStep[];
}

/** What a plan needs. */
export interface ChangeContext {
    /** The component's clients. */
    clients: AwsClients;
    /** Clock, epoch ms. */
    now: () => number;
    /** The caller's ARN, for the pause item. */
    caller: () => Promise<string>;
}

/** Breaker open time without `--for`: the default longest open time (`maxOpenSeconds`). */
export const DEFAULT_FORCED_OPEN_SECONDS = 900;

/**
 * The plan of `command` on `manifest`.
 * @throws UnsupportedOperationError when the command does not apply to this component
 * @throws RefusedChangeError when the current state does not allow it
 */
export function planChange(command: ChangeCommand, manifest: OperationsManifest, context: ChangeContext): Promise<ChangePlan> {
    switch (command.kind) {
        case "controller-pause":
            return planPause(manifest, command.pinnedLimit, command.reason, context);
        case "controller-resume":
            return planResume(manifest, context);
        case "breaker-open":
            return planBreaker(manifest, "open", command.openSeconds ?? DEFAULT_FORCED_OPEN_SECONDS, context);
        case "breaker-close":
            return planBreaker(manifest, "close", 0, context);
        case "semaphore-release":
            return planRelease(manifest, command.executionArn, context);
        case "idempotency-forget":
            return planForget(manifest, command.key, context);
        case "dlq-redrive":
            return planRedrive(manifest, context);
    }
}

function controllerOf(manifest: OperationsManifest): ControllerReference {
    const controller = "controller" in manifest ? manifest.controller : undefined;
    if (!controller) throw new UnsupportedOperationError(`${manifest.componentType} "${manifest.name}" has no adaptive concurrency: there is no controller to pause or resume`);
    return controller;
}

async function planPause(manifest: OperationsManifest, pinnedLimit: number | undefined, reason: string, context: ChangeContext): Promise<ChangePlan> {
    const reference = controllerOf(manifest);
    const controller = new ControllerAdapter(reference, context.clients);
    const { min, max } = controller.range;
    if (pinnedLimit !== undefined && (pinnedLimit < min || pinnedLimit > max)) {
        throw new UsageError(`--at must be from ${min} to ${max} for ${reference.target.kind}; received ${pinnedLimit}`);
    }
    const [current, existing] = await Promise.all([controller.setting(), controller.pause()]);
    const lines = [
        `pause the ${reference.mode === "SelfTuning" ? "self-tuning" : "scheduled controller"} of ${manifest.name} (${controller.key})${existing ? " (already paused: replaced)" : ""}:`,
        `  neither driver changes ${reference.target.kind} while paused (each held interval logs and emits ControllerPaused)`,
        pinnedLimit === undefined
            ? `  ${reference.target.kind} stays at ${current ?? "none"}`
            : `  set ${reference.target.kind} from ${current ?? "none"} to ${pinnedLimit} now, and hold it there`,
    ];
    return {
        lines,
        audit: controllerAuditLocation(reference),
        steps: [pauseStep(controller, { reason, pinnedLimit }, context), ...(pinnedLimit === undefined ? [] : [pinStep(controller, reference.target.kind, pinnedLimit)])],
    };
}

function pauseStep(controller: ControllerAdapter, pause: { reason: string; pinnedLimit?: number }, context: ChangeContext): ChangeStep {
    return {
        what: `store the pause of ${controller.key}`,
        async run() {
            await controller.setPause({ pausedAt: context.now(), pausedBy: await context.caller(), ...pause });
            return [`paused ${controller.key}`];
        },
    };
}

function pinStep(controller: ControllerAdapter, kind: string, limit: number): ChangeStep {
    return {
        what: `set ${kind} to ${limit}`,
        ifNotDone: "the controller is paused, so neither driver changes the setting: run the command again to set it, or `controller resume`",
        async run() {
            const result = await controller.applySetting(limit);
            const limited = result.limitedBy ? ` (limited to ${result.applied}: 100 executions must stay unreserved in the account)` : "";
            return [`${kind} ${result.changed ? `set to ${result.applied}` : `already ${result.applied}`}${limited}`];
        },
    };
}

async function planResume(manifest: OperationsManifest, context: ChangeContext): Promise<ChangePlan> {
    const reference = controllerOf(manifest);
    const controller = new ControllerAdapter(reference, context.clients);
    const existing = await controller.pause();
    if (!existing) throw new RefusedChangeError(`the controller of ${manifest.name} (${controller.key}) is not paused`);
    const since = new Date(existing.pausedAt).toISOString();
    return {
        lines: [`resume the controller of ${manifest.name} (${controller.key}), paused since ${since} by ${existing.pausedBy} (${existing.reason}): it decides again from the next interval`],
        audit: controllerAuditLocation(reference),
        steps: [
            {
                what: `remove the pause of ${controller.key}`,
                async run() {
                    const outcome = await controller.resume(existing);
                    if (outcome === "replaced") {
                        const now = await controller.pause();
                        const by = now ? `, by ${now.pausedBy} at ${new Date(now.pausedAt).toISOString()} (${now.reason})` : "";
                        throw new RefusedChangeError(`the pause of ${controller.key} was replaced since it was read${by}: not resumed; run resume again to remove that one`);
                    }
                    return [outcome === "resumed" ? `resumed ${controller.key}` : `resumed ${controller.key} (another pause had replaced the one read, and someone resumed that one meanwhile)`];
                },
            },
        ],
    };
}

async function planBreaker(manifest: OperationsManifest, action: "open" | "close", openSeconds: number, context: ChangeContext): Promise<ChangePlan> {
    const reference = "breaker" in manifest ? manifest.breaker : undefined;
    if (!reference || !("mappingUuid" in manifest)) throw new UnsupportedOperationError(`${manifest.componentType} "${manifest.name}" has no circuit breaker`);
    const breaker = new BreakerAdapter(reference, manifest.mappingUuid, context.clients, context.now);
    const [record, mapping] = await Promise.all([breaker.read(), mappingSettings(context.clients.lambda, manifest.mappingUuid)]);
    const forced: ForcedBreaker = { breaker, id: reference.id, mappingUuid: manifest.mappingUuid, by: async () => ({ worker: manifest.name, caller: await context.caller() }) };
    const audit = breakerAuditLocation(reference);
    const now = `breaker ${reference.id} is ${record.state}; mapping ${manifest.mappingUuid} is ${mapping.state} (batch size ${mapping.batchSize ?? "?"})`;
    if (action === "open") {
        const until = new Date(context.now() + openSeconds * 1000).toISOString();
        return {
            lines: [now, `open it until ${until} and disable the mapping (its position and messages stay); after that the prober half-opens it as usual`],
            audit,
            steps: openSteps(forced, openSeconds, until),
        };
    }
    const restore = record.original ? `batch size ${record.original.batchSize}${record.original.parallelizationFactor ? `, parallelization factor ${record.original.parallelizationFactor}` : ""}` : "its current settings";
    return { lines: [now, `close it and enable the mapping with ${restore}`], audit, steps: closeSteps(forced, restore) };
}

/** What the steps of a forced breaker change share. */
interface ForcedBreaker {
    /** The breaker's adapter. */
    breaker: BreakerAdapter;
    /** Its id. */
    id: string;
    /** The mapping it drives. */
    mappingUuid: string;
    /** Who forces it (asked when the transition is recorded). */
    by: () => Promise<ForcedBy>;
}

function openSteps({ breaker, id, mappingUuid, by }: ForcedBreaker, openSeconds: number, until: string): ChangeStep[] {
    let write: ForcedWrite;
    return [
        {
            what: `write breaker ${id} open`,
            async run() {
                write = await breaker.writeOpen(openSeconds);
                return [`breaker ${id} open until ${until}`];
            },
        },
        { what: "record the transition", run: async () => [await breaker.recordForced(write, await by())] },
        {
            what: `disable mapping ${mappingUuid}`,
            ifNotDone: "the breaker is open, so the workers fail their batches; the prober disables the mapping at its next tick, or run the command again",
            run: async () => [(await breaker.disableMapping()) ? `mapping ${mappingUuid} disabled` : `mapping ${mappingUuid} was disabled already`],
        },
    ];
}

function closeSteps({ breaker, id, mappingUuid, by }: ForcedBreaker, restore: string): ChangeStep[] {
    let write: ForcedWrite;
    const finish = "the prober finishes the close at its next tick, or run the command again";
    return [
        {
            what: `write breaker ${id} closed`,
            async run() {
                write = await breaker.writeClosed();
                return [`breaker ${id} closed`];
            },
        },
        { what: "record the transition", run: async () => [await breaker.recordForced(write, await by())] },
        {
            what: `enable mapping ${mappingUuid} with ${restore}`,
            ifNotDone: finish,
            run: async () => [(await breaker.restoreMapping(write.written.original)) ? `mapping ${mappingUuid} enabled with ${restore}` : `mapping ${mappingUuid} was enabled with ${restore} already`],
        },
        { what: "forget the settings recorded at the trip", ifNotDone: finish, run: async () => [await breaker.forgetOriginal(write.written)] },
    ];
}

async function planRelease(manifest: OperationsManifest, executionArn: string, context: ChangeContext): Promise<ChangePlan> {
    if (!("semaphore" in manifest)) throw new UnsupportedOperationError(`${manifest.componentType} "${manifest.name}" has no semaphore`);
    const reference = manifest.semaphore;
    const semaphore = new SemaphoreAdapter(reference, context.clients);
    const view = await semaphore.read();
    const { holder, queuePosition } = SemaphoreAdapter.roleOf(view, executionArn);
    if (!holder && queuePosition === undefined) {
        throw new RefusedChangeError(`${executionArn} holds no permit of semaphore ${reference.name} and is not waiting (${view.inUse} of ${view.limit} in use)`);
    }
    const next = view.queue.find((q) => q.waiter && q.waiter.executionArn !== executionArn)?.waiter?.executionArn;
    const lines = holder
        ? [`release the permit ${executionArn} holds since ${new Date(holder.grantedAt).toISOString()} (${view.inUse} of ${view.limit} in use)`, `  it goes to ${next ? `the oldest live waiter, ${next}` : "the pool (nobody waits)"}`]
        : [`drop ${executionArn} from the queue of semaphore ${reference.name} (position ${queuePosition! + 1} of ${view.queue.length}); its execution is not woken`];
    return {
        lines,
        audit: semaphoreAuditLocation(reference),
        steps: releaseSteps(semaphore, { semaphore: reference.name, component: manifest.name }, executionArn, next),
    };
}

/** Release, then read back who holds the permits now (`next`: the waiter expected to get it). */
function releaseSteps(semaphore: SemaphoreAdapter, names: { semaphore: string; component: string }, executionArn: string, next: string | undefined): ChangeStep[] {
    return [
        {
            what: `release ${executionArn}`,
            async run() {
                const outcome = await semaphore.release(executionArn);
                return [`released: permit ${outcome.released ? "freed" : "not held"}, waiter ${outcome.droppedWaiter ? "dropped" : "not queued"}`];
            },
        },
        {
            what: `read semaphore ${names.semaphore} back`,
            ifNotDone: `the release stands; \`status ${names.component}\` shows who holds the permits now`,
            async run() {
                const after = await semaphore.read();
                const granted = next && after.holders.some((h) => h.executionArn === next) ? `${next} now holds it; ` : "";
                return [`${granted}${after.inUse} of ${after.limit} in use`];
            },
        },
    ];
}

function idempotencyTableOf(manifest: OperationsManifest): string {
    if (!("idempotencyTableName" in manifest)) throw new UnsupportedOperationError(`${manifest.componentType} "${manifest.name}" has no idempotency table`);
    return manifest.idempotencyTableName;
}

async function planForget(manifest: OperationsManifest, key: string, context: ChangeContext): Promise<ChangePlan> {
    const tableName = idempotencyTableOf(manifest);
    const store = new IdempotencyAdapter(context.clients.dynamodb, tableName);
    const record = await store.read(key);
    if (!record) throw new RefusedChangeError(`no idempotency record for key "${key}" in ${tableName}: the next delivery runs anyway`);
    if (record.status !== "COMPLETED" && record.leaseExpiresAt > context.now()) {
        throw new RefusedChangeError(
            `key "${key}" is being processed (claim leased until ${new Date(record.leaseExpiresAt).toISOString()}); forgetting it now would let a duplicate run beside it: wait for the lease`,
        );
    }
    const what = record.status === "COMPLETED" ? `the COMPLETED record (result ${record.result ?? "none"})` : "the abandoned INPROGRESS claim (lease passed)";
    return {
        lines: [`delete ${what} of key "${key}" in ${tableName}: the next delivery of that event runs the function again`],
        audit: idempotencyAuditLocation(tableName, manifest.name),
        steps: [
            {
                what: `delete the record of key "${key}"`,
                async run() {
                    const outcome = await store.forget(record);
                    if (outcome === "changed") {
                        throw new RefusedChangeError(
                            `the record of key "${key}" is not the one that was read: another delivery claimed or replaced it since ` +
                                `(if this command's first delete landed and its response was lost, that record is a new one); it is left as it is: run the command again to see it`,
                        );
                    }
                    return [outcome === "deleted" ? `forgot key "${key}"` : `forgot key "${key}" (its record was gone when the delete was retried: the first attempt deleted it, or someone else did)`];
                },
            },
        ],
    };
}

/** Why each DLQ that SQS cannot redrive cannot be (StartMessageMoveTask moves only DLQs of SQS queues). */
const NO_REDRIVE: Partial<Record<OperationsManifest["componentType"], string>> = {
    EventBridgeWorkerPool:
        "its dead-letter queue is fed by EventBridge (target DLQ) and Lambda (on-failure destination), not by an SQS queue's redrive policy, and SQS message move tasks only redrive DLQs of SQS queues; re-send the events (each message holds the event) with `aws events put-events`, after `idempotency forget` if they had completed",
    KinesisOrderedWorker:
        "its failure queue is the mapping's on-failure destination: its messages hold the failed records' shard and sequence numbers, not the records; re-read those records from the stream while its retention keeps them and put them again",
    StepFunctionsSemaphore:
        "its dead-letter queue is fed by EventBridge (cleanup rule) and Lambda (on-failure destination), not by an SQS queue; the sweeper reclaims the permits those events would have released: inspect the messages and delete them",
    ConcurrencyController: "it has no dead-letter queue",
    SemaphoreStateMachine: "it has no dead-letter queue of its own (see its semaphore)",
};

async function planRedrive(manifest: OperationsManifest, context: ChangeContext): Promise<ChangePlan> {
    if (manifest.componentType !== "FifoTopicWorker") {
        throw new UnsupportedOperationError(`dlq redrive is not possible for ${manifest.componentType} "${manifest.name}": ${NO_REDRIVE[manifest.componentType]}`);
    }
    const { sqs } = context.clients;
    const source = manifest.deadLetterQueue.arn;
    const follow = `follow it with \`aws sqs list-message-move-tasks --source-arn ${source}\``;
    const latest = await latestMoveTask(sqs, source);
    if (moveTaskActive(latest)) {
        throw new RefusedChangeError(`a message move task is already at work on the dead-letter queue of ${manifest.name} (${describeMoveTask(latest)}): SQS runs one per queue; ${follow}`);
    }
    const depth = await queueDepth(sqs, manifest.deadLetterQueue.url);
    if (depth.visible + depth.inFlight === 0) throw new RefusedChangeError(`the dead-letter queue of ${manifest.name} is empty: nothing to redrive`);
    if (depth.visible === 0) {
        throw new RefusedChangeError(
            `the dead-letter queue of ${manifest.name} has no visible message: its ${depth.inFlight} message(s) are in flight (received, for example by a console poll, and not yet visible again); run this again once their visibility timeout has passed`,
        );
    }
    const inFlight = depth.inFlight > 0 ? ` (${depth.inFlight} more are in flight: received by a reader and not visible now)` : "";
    return {
        lines: [
            `move the ${depth.visible} message(s) of ${source} back to ${manifest.queue.arn} (an SQS message move task)${inFlight}`,
            "  they rejoin their groups behind the messages already queued: their order relative to those is not kept",
        ],
        audit: idempotencyAuditLocation(manifest.idempotencyTableName, manifest.name),
        steps: [
            {
                what: "start the message move task",
                async run() {
                    try {
                        const handle = await startRedrive(sqs, source, manifest.queue.arn);
                        return [`redrive started (task ${handle}); ${follow}`];
                    } catch (error) {
                        // A start applied whose response was lost is retried by the SDK, and SQS refuses the retry
                        // (one task per queue): a task to this queue newer than the one the plan saw is that one.
                        if (!refusedAsRunning(error)) throw error;
                        const task = await latestMoveTask(sqs, source).catch(() => undefined);
                        if (!(task && startedByThisRedrive(task, manifest.queue.arn, latest))) throw error;
                        const state = task.status === "COMPLETED" ? "done" : "at work";
                        return [`redrive ${state} (${describeMoveTask(task)}): its start's response was lost and the retry was refused because the task ran; ${follow}`];
                    }
                },
            },
        ],
    };
}

/** SQS's refusal of a second task on a queue (`InvalidParameterValue`; some endpoints say `UnsupportedOperation`). */
function refusedAsRunning(error: unknown): boolean {
    const name = (error as { name?: string } | null)?.name ?? "";
    return name === "InvalidParameterValue" || name.endsWith("UnsupportedOperation");
}

/** Whether `task` can be the one this start made: at work or done, to `destinationArn`, newer than the plan's newest (`before`). */
function startedByThisRedrive(task: MoveTask, destinationArn: string, before: MoveTask | undefined): boolean {
    const ours = task.status === "RUNNING" || task.status === "COMPLETED";
    const newer = before === undefined || (task.startedAt !== undefined && before.startedAt !== undefined && task.startedAt > before.startedAt);
    return ours && newer && task.destinationArn === destinationArn;
}

/** `task H, RUNNING, started <ISO>, 3 of 10 moved`, with the parts SQS gave. */
function describeMoveTask(task: MoveTask): string {
    const parts = [task.handle ? `task ${task.handle}` : "task", task.status];
    if (task.startedAt !== undefined) parts.push(`started ${new Date(task.startedAt).toISOString()}`);
    if (task.moved !== undefined && task.toMove !== undefined) parts.push(`${task.moved} of ${task.toMove} moved`);
    return parts.join(", ");
}
