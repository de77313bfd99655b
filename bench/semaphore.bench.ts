/**
 * Step Functions semaphore: our task-token semaphore (FIFO hand-off, no polling) against the polling
 * semaphore of the public samples (conditional DynamoDB update, on failure read, Choice, Wait 3 s, try again).
 *
 * - State transitions per execution are counted from `StateEntered` events of local runs
 *   (aws-local-stepfunctions) of both machines, each with every Task overridden; the polling machine's
 *   acquire fails until its simulated 3 s loops add up to the wait.
 * - The permit hand-off delay of ours is measured on dynalite (in-process): from the start of the
 *   holder's release to the queued waiter's SendTaskSuccess (mocked). The polling semaphore's follows from
 *   its construction: a waiter is anywhere in its 3 s sleep when the permit frees.
 */
// Fake credentials (nothing reaches AWS) and the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20.
import "../tests/helpers/setup";
import { performance } from "node:perf_hooks";
import { SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { RunOptions, StateMachine, StateMachineDefinition } from "aws-local-stepfunctions";
import { AslDefinition, protect, SEMAPHORE_STATE_NAMES } from "../components/internal/semaphoreAsl";
import { createLogger } from "../runtime/log";
import { Semaphore } from "../runtime/semaphore";
import { startDynalite } from "../tests/helpers/dynalite";

/** Shown as the section heading by `npm run bench`. */
export const title = "Step Functions semaphore: task tokens vs a 3 s polling loop";

const WAITS_SECONDS = [10, 60, 600];
const POLL_SECONDS = 3;
const HAND_OFFS = 200;
const USD_PER_TRANSITION = 0.025 / 1000;
const LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:";
const WORK: AslDefinition = { StartAt: "Work", States: { Work: { Type: "Task", Resource: `${LAMBDA}work`, End: true } } };

/** The public samples' polling semaphore, reduced to its loop (their extra Retry on States.ALL is left out). */
const POLLING: AslDefinition = {
    StartAt: "GetLock",
    States: {
        GetLock: {
            Type: "Parallel",
            ResultPath: null,
            Branches: [
                {
                    StartAt: "AcquireLock",
                    States: {
                        AcquireLock: {
                            Type: "Task",
                            Resource: "arn:aws:states:::dynamodb:updateItem",
                            Parameters: { TableName: "locks" },
                            Catch: [{ ErrorEquals: ["DynamoDB.ConditionalCheckFailedException"], Next: "GetCurrentLockRecord" }],
                            End: true,
                        },
                        GetCurrentLockRecord: { Type: "Task", Resource: "arn:aws:states:::dynamodb:getItem", Parameters: { TableName: "locks" }, Next: "CheckIfLockAcquired" },
                        CheckIfLockAcquired: {
                            Type: "Choice",
                            Choices: [{ Variable: "$.held", BooleanEquals: true, Next: "AlreadyHeld" }],
                            Default: "WaitToGetLock",
                        },
                        AlreadyHeld: { Type: "Succeed" },
                        WaitToGetLock: { Type: "Wait", Seconds: POLL_SECONDS, Next: "AcquireLock" },
                    },
                },
            ],
            Next: "DoWork",
        },
        DoWork: { Type: "Parallel", ResultPath: null, Branches: [WORK], Next: "ReleaseLock" },
        ReleaseLock: { Type: "Task", Resource: "arn:aws:states:::dynamodb:updateItem", Parameters: { TableName: "locks" }, Next: "Done" },
        Done: { Type: "Succeed" },
    },
};

/**
 * Runs `definition` locally and counts the states entered (Step Functions bills each as a transition).
 * Each Task yields a macrotask first: aws-local-stepfunctions forwards a Parallel branch's events
 * asynchronously and drops those still pending when the execution ends, if the branch runs ahead.
 */
async function countTransitions(definition: AslDefinition, handlers: Record<string, (input: unknown) => unknown>): Promise<number> {
    const machine = new StateMachine(definition as unknown as StateMachineDefinition);
    const yielding = Object.fromEntries(
        Object.entries(handlers).map(([name, handler]) => [name, async (input: unknown) => (await new Promise(setImmediate), handler(input))]),
    );
    const overrides = { taskResourceLocalHandlers: yielding, waitTimeOverrides: { WaitToGetLock: 0 } } as RunOptions["overrides"];
    const context = { Execution: { Id: "arn:aws:states:us-east-1:123456789012:execution:bench:1" }, Task: { Token: "token" } };
    const { result, eventLogs } = machine.run({}, { overrides, context });
    let entered = 0;
    for await (const event of eventLogs) if (event.type === "StateEntered") entered++;
    await result;
    return entered;
}

/** Ours: the acquire task resumes when granted, however long that took; the wait costs no transition. */
function oursTransitions(): Promise<number> {
    const names = SEMAPHORE_STATE_NAMES;
    const protectedMachine = protect({ acquireFunctionArn: `${LAMBDA}acquire`, releaseFunctionArn: `${LAMBDA}release` }, WORK);
    const lambda = () => ({ Payload: {}, StatusCode: 200 });
    return countTransitions(protectedMachine, { [names.acquire]: () => ({ granted: true }), Work: () => ({}), [names.release]: lambda });
}

/**
 * Polling: each try fails until the simulated loops have waited `waitSeconds`. Cross-checked against the
 * structure: 6 states once (GetLock, the last AcquireLock, DoWork, Work, ReleaseLock, Done) plus 4 per
 * failed try (AcquireLock, GetCurrentLockRecord, CheckIfLockAcquired, WaitToGetLock).
 */
async function pollingTransitions(waitSeconds: number): Promise<number> {
    let failedTries = 0;
    const acquire = () => {
        if (failedTries * POLL_SECONDS >= waitSeconds) return {};
        failedTries++;
        throw Object.assign(new Error("lock is full"), { name: "DynamoDB.ConditionalCheckFailedException" });
    };
    const counted = await countTransitions(POLLING, { AcquireLock: acquire, GetCurrentLockRecord: () => ({ held: false }), Work: () => ({}), ReleaseLock: () => ({}) });
    if (counted !== 6 + 4 * failedTries) throw new Error(`the local run counted ${counted} transitions; the structure gives ${6 + 4 * failedTries}`);
    return counted;
}

interface HandOffs {
    delaysMs: number[];
    dynamoRequestsPerExecution: number;
}

/** Limit 1, one holder and one queued waiter, `HAND_OFFS` times: release → waiter's SendTaskSuccess. */
async function measureHandOffs(): Promise<HandOffs> {
    const db = await startDynalite();
    const sfn = mockClient(SFNClient);
    try {
        await db.createTable("bench-semaphore", "pk", "sk");
        let requests = 0;
        db.client.middlewareStack.add((next) => (args) => (requests++, next(args)), { step: "initialize" });
        const woken = new Map<string, number>();
        sfn.on(SendTaskSuccessCommand).callsFake(({ taskToken }) => (woken.set(taskToken, performance.now()), {}));
        const semaphore = new Semaphore({ tableName: "bench-semaphore", name: "bench", limit: 1, dynamo: db.client, logger: createLogger({ write: () => undefined }) });
        const arn = (i: number) => `arn:aws:states:us-east-1:123456789012:execution:bench:${i}`;
        await semaphore.acquire({ executionArn: arn(0), token: "t0" });
        requests = 0;
        const delaysMs: number[] = [];
        for (let i = 1; i <= HAND_OFFS; i++) {
            await semaphore.acquire({ executionArn: arn(i), token: `t${i}` });
            const start = performance.now();
            await semaphore.release(arn(i - 1));
            delaysMs.push(woken.get(`t${i}`)! - start);
        }
        return { delaysMs, dynamoRequestsPerExecution: requests / HAND_OFFS };
    } finally {
        sfn.restore();
        await db.stop();
    }
}

function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const NOTES = [
    "Transitions: states entered in local runs (aws-local-stepfunctions), $0.025 per 1,000 (us-east-1 Standard).",
    "The polling model leaves out the samples' Retry on States.ALL, which also retries the conditional failure (more transitions).",
    "Ours does not depend on the wait: the waiting task costs no transition, and heartbeats (sent by the sweeper) add none.",
    "Hand-off: ours measured on in-process dynalite (4 requests + SendTaskSuccess; add a few ms per request on DynamoDB);",
    "polling's follows from its 3 s sleep.",
].join(" ");

const usd = (transitions: number) => `$${Math.round(transitions * USD_PER_TRANSITION * 1e6).toLocaleString("en-US")}`;
const ratio = (a: number, b: number) => `${(b / a).toFixed(1)}×`;

/** Measures everything and returns the Markdown table. */
export async function run(): Promise<string> {
    const ours = await oursTransitions();
    const rows: string[][] = [];
    for (const wait of WAITS_SECONDS) {
        const polling = await pollingTransitions(wait);
        rows.push([`State transitions per execution, ${wait} s wait`, String(ours), String(polling), ratio(ours, polling)]);
        rows.push([`Step Functions cost per 1M executions, ${wait} s wait`, usd(ours), usd(polling), ratio(ours, polling)]);
    }
    const { delaysMs, dynamoRequestsPerExecution } = await measureHandOffs();
    const pollMs = POLL_SECONDS * 1000;
    rows.push([
        `Permit hand-off delay, median / p95 (${HAND_OFFS} hand-offs)`,
        `${percentile(delaysMs, 0.5).toFixed(1)} / ${percentile(delaysMs, 0.95).toFixed(1)} ms (dynalite, in-process)`,
        `${(pollMs * 0.5).toLocaleString("en-US")} / ${(pollMs * 0.95).toLocaleString("en-US")} ms (uniform in the 3 s sleep)`,
        ratio(percentile(delaysMs, 0.5), pollMs * 0.5),
    ]);
    rows.push(["DynamoDB requests per contended execution (acquire queued, release hands off)", dynamoRequestsPerExecution.toFixed(1), "2 per 3 s of waiting + 2", "—"]);
    rows.push(["Lambda invocations per execution", "2 (acquire, release)", "0 (direct DynamoDB integration)", "—"]);
    const header = ["Measure", "Task token + FIFO hand-off (ours)", "Polling, 3 s loop", "Polling / ours"];
    const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
    return `${table}\n\n${NOTES}`;
}
