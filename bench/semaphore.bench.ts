/**
 * Step Functions semaphore: our task-token semaphore (FIFO hand-off, no polling) against the polling
 * semaphore of the public aws-samples (`sam/app-control-concurrency-with-dynamodb`), modelled faithfully:
 * its acquire task is a conditional `dynamodb:updateItem` whose `Retry` on `States.ALL` (interval 1 s,
 * backoff rate 2, six attempts) also retries the failed condition, and only then its Catch goes
 * Get → Choice → Wait 3 s → acquire again. Step Functions bills every retry as a state transition.
 *
 * - State transitions per execution are counted from the events of local runs (aws-local-stepfunctions)
 *   of both machines, each with every Task overridden: `StateEntered` plus `StateRetried`. The polling
 *   machine's acquire fails until the simulated clock of its attempts reaches the wait.
 * - Hand-off delay: ours measured on dynalite (in-process), from the start of the holder's release to the
 *   queued waiter's SendTaskSuccess (mocked); the peer's from the same attempt schedule, for a permit that
 *   frees at a uniformly random instant of the waiter's cycle (one waiter: the time to its next attempt).
 *
 * `figures()` returns every figure as data (for `npm run bench -- --json`); `run()` prints the table.
 */
// Fake credentials (nothing reaches AWS) and the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20.
import "../tests/helpers/setup";
import { performance } from "node:perf_hooks";
import { SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { RunOptions, StateMachine, StateMachineDefinition } from "aws-local-stepfunctions";
import { AslDefinition, protect, SEMAPHORE_STATE_NAMES } from "../components/internal/semaphoreAsl";
import { createLogger } from "../runtime/log";
import { Metrics } from "../runtime/metrics";
import { Semaphore } from "../runtime/semaphore";
import { startDynalite } from "../tests/helpers/dynalite";
import { PRICES, PRICES_AS_OF } from "./prices";

/** Shown as the section heading by `npm run bench`. */
export const title = "Step Functions semaphore: task tokens vs the aws-samples polling semaphore";

const WAITS_SECONDS = [10, 60, 600, 3600];
const POLL_WAIT_SECONDS = 3;
/** The sample's retrier on States.ALL: IntervalSeconds 1 (the default), BackoffRate 2, MaxAttempts 6. */
const RETRY = { intervalSeconds: 1, backoffRate: 2, maxAttempts: 6 };
const HAND_OFFS = 200;
const LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:";
const WORK: AslDefinition = { StartAt: "Work", States: { Work: { Type: "Task", Resource: `${LAMBDA}work`, End: true } } };

/**
 * The sample's polling semaphore (its "Get Lock" Parallel, the work, the release), with its retriers and
 * catchers on the acquire task as published; the lock-item initialisation branch is left out (it runs
 * once per lock, not per execution).
 */
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
                            Retry: [
                                { ErrorEquals: ["DynamoDB.AmazonDynamoDBException"], MaxAttempts: 0 },
                                { ErrorEquals: ["States.ALL"], IntervalSeconds: RETRY.intervalSeconds, MaxAttempts: RETRY.maxAttempts, BackoffRate: RETRY.backoffRate },
                            ],
                            Catch: [{ ErrorEquals: ["DynamoDB.ConditionalCheckFailedException"], Next: "GetCurrentLockRecord", ResultPath: "$.acquisitionError" }],
                            End: true,
                        },
                        GetCurrentLockRecord: { Type: "Task", Resource: "arn:aws:states:::dynamodb:getItem", Parameters: { TableName: "locks" }, ResultPath: "$.lock", Next: "CheckIfLockAcquired" },
                        CheckIfLockAcquired: {
                            Type: "Choice",
                            Choices: [{ Variable: "$.lock.held", BooleanEquals: true, Next: "AlreadyHeld" }],
                            Default: "WaitToGetLock",
                        },
                        AlreadyHeld: { Type: "Succeed" },
                        WaitToGetLock: { Type: "Wait", Seconds: POLL_WAIT_SECONDS, Next: "AcquireLock" },
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
 * When, in seconds from the start of a polling cycle, the acquire task tries its conditional write: the
 * first attempt, then after each retry interval (1, 2, 4, 8, 16, 32 s). The cycle ends with the Get, the
 * Choice and the 3 s Wait, so the next cycle starts at the last attempt + 3 s.
 */
function attemptOffsets(): { offsets: number[]; cycleSeconds: number } {
    const offsets = [0];
    let interval = RETRY.intervalSeconds;
    for (let i = 0; i < RETRY.maxAttempts; i++) {
        offsets.push(offsets[offsets.length - 1] + interval);
        interval *= RETRY.backoffRate;
    }
    return { offsets, cycleSeconds: offsets[offsets.length - 1] + POLL_WAIT_SECONDS };
}

/**
 * Runs `definition` locally and counts the transitions Step Functions bills: states entered and retries.
 * Each Task yields a macrotask first: aws-local-stepfunctions forwards a Parallel branch's events
 * asynchronously and drops those still pending when the execution ends, if the branch runs ahead.
 */
async function countTransitions(definition: AslDefinition, handlers: Record<string, (input: unknown) => unknown>): Promise<number> {
    const machine = new StateMachine(definition as unknown as StateMachineDefinition);
    const yielding = Object.fromEntries(
        Object.entries(handlers).map(([name, handler]) => [name, async (input: unknown) => (await new Promise(setImmediate), handler(input))]),
    );
    const overrides = { taskResourceLocalHandlers: yielding, waitTimeOverrides: { WaitToGetLock: 0 }, retryIntervalOverrides: { AcquireLock: 0 } } as RunOptions["overrides"];
    const context = { Execution: { Id: "arn:aws:states:us-east-1:123456789012:execution:bench:1" }, Task: { Token: "token" } };
    const { result, eventLogs } = machine.run({}, { overrides, context });
    let entered = 0;
    for await (const event of eventLogs) if (event.type === "StateEntered" || event.type === "StateRetried") entered++;
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
 * Polling: each attempt of the acquire task fails while the simulated clock (the attempt schedule of
 * {@link attemptOffsets}) is before `waitSeconds`. Cross-checked against the structure: 6 states once
 * (GetLock, the successful AcquireLock, DoWork, Work, ReleaseLock, Done), plus one transition per failed
 * attempt (the entry or a retry of AcquireLock) and 3 per failed cycle (GetCurrentLockRecord,
 * CheckIfLockAcquired, WaitToGetLock).
 */
async function pollingTransitions(waitSeconds: number): Promise<number> {
    const { offsets, cycleSeconds } = attemptOffsets();
    let cycle = 0;
    let attempt = 0;
    let failedAttempts = 0;
    const acquire = () => {
        const clock = cycle * cycleSeconds + offsets[attempt];
        if (clock >= waitSeconds) return {};
        failedAttempts++;
        attempt++;
        throw Object.assign(new Error("The conditional request failed"), { name: "DynamoDB.ConditionalCheckFailedException" });
    };
    const getLock = () => {
        cycle++;
        attempt = 0;
        return { held: false };
    };
    const counted = await countTransitions(POLLING, { AcquireLock: acquire, GetCurrentLockRecord: getLock, Work: () => ({}), ReleaseLock: () => ({}) });
    const expected = 6 + failedAttempts + 3 * cycle;
    if (counted !== expected) throw new Error(`the local run counted ${counted} transitions; the structure gives ${expected}`);
    return counted;
}

/**
 * The peer's hand-off delay: a permit frees at a uniformly random instant of a lone waiter's cycle and is
 * taken at its next attempt. Sampled on a 1 ms grid over one cycle.
 */
function pollingHandOffDelaysMs(): number[] {
    const { offsets, cycleSeconds } = attemptOffsets();
    const attempts = [...offsets, cycleSeconds].map((s) => s * 1000);
    const delays: number[] = [];
    for (let t = 0; t < cycleSeconds * 1000; t++) delays.push(attempts.find((a) => a > t)! - t);
    return delays;
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
        const semaphore = new Semaphore({
            tableName: "bench-semaphore",
            name: "bench",
            limit: 1,
            dynamo: db.client,
            logger: createLogger({ write: () => undefined }),
            metrics: new Metrics({ write: () => undefined }),
        });
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

/** Every figure of this bench, measured in one run. */
export interface SemaphoreBenchFigures {
    pricesAsOf: string;
    transitionsPerExecution: Array<{ waitSeconds: number; ours: number; polling: number; oursUsdPerMillion: number; pollingUsdPerMillion: number }>;
    handOffDelayMs: { ours: { median: number; p95: number; samples: number; where: string }; polling: { median: number; p95: number; mean: number; where: string } };
    dynamoRequestsPerContendedExecution: { ours: number; polling: string };
    pollingAttemptSchedule: { offsetsSeconds: number[]; cycleSeconds: number };
}

/**
 * Measures everything (local Step Functions runs of both machines, hand-offs on dynalite) and returns the data.
 * @example const { transitionsPerExecution } = await figures();
 */
export async function figures(): Promise<SemaphoreBenchFigures> {
    const ours = await oursTransitions();
    const usdPerMillion = (transitions: number) => Math.round(transitions * PRICES.sfnStandardTransition * 1e6);
    const transitionsPerExecution = [];
    for (const waitSeconds of WAITS_SECONDS) {
        const polling = await pollingTransitions(waitSeconds);
        transitionsPerExecution.push({ waitSeconds, ours, polling, oursUsdPerMillion: usdPerMillion(ours), pollingUsdPerMillion: usdPerMillion(polling) });
    }
    const { delaysMs, dynamoRequestsPerExecution } = await measureHandOffs();
    const pollingDelays = pollingHandOffDelaysMs();
    const { offsets, cycleSeconds } = attemptOffsets();
    return {
        pricesAsOf: PRICES_AS_OF,
        transitionsPerExecution,
        handOffDelayMs: {
            ours: { median: round1(percentile(delaysMs, 0.5)), p95: round1(percentile(delaysMs, 0.95)), samples: HAND_OFFS, where: "dynalite, in-process; add a few ms per request on DynamoDB" },
            polling: {
                median: percentile(pollingDelays, 0.5),
                p95: percentile(pollingDelays, 0.95),
                mean: Math.round(pollingDelays.reduce((a, b) => a + b, 0) / pollingDelays.length),
                where: "the attempt schedule, permit freed at a uniformly random instant of a lone waiter's cycle",
            },
        },
        dynamoRequestsPerContendedExecution: { ours: round1(dynamoRequestsPerExecution), polling: `${offsets.length + 1} per ${cycleSeconds} s of waiting + 2` },
        pollingAttemptSchedule: { offsetsSeconds: offsets, cycleSeconds },
    };
}

function round1(value: number): number {
    return Math.round(value * 10) / 10;
}

const NOTES = [
    `Transitions: states entered plus retries in local runs (aws-local-stepfunctions), priced at $${PRICES.sfnStandardTransition * 1000} per 1,000 (us-east-1 Standard, ${PRICES_AS_OF}).`,
    "The polling model keeps the sample's retrier on States.ALL (1 s, backoff 2, 6 attempts), which also retries the failed condition: a cycle is 7 attempts over 63 s, then Get, Choice and a 3 s Wait.",
    "Ours does not depend on the wait: the waiting task costs no transition, and heartbeats (sent by the sweeper) add none.",
    "Hand-off: ours measured on in-process dynalite; the peer's follows from its attempt schedule (a lone waiter; more waiters shorten it, since one of them tries sooner).",
].join(" ");

const ratio = (a: number, b: number) => `${(b / a).toFixed(1)}×`;
const usd = (value: number) => `$${value.toLocaleString("en-US")}`;
const ms = (value: number) => `${value.toLocaleString("en-US")} ms`;

/** Measures everything and returns the Markdown table. */
export async function run(): Promise<string> {
    const f = await figures();
    const rows: string[][] = [];
    for (const t of f.transitionsPerExecution) {
        rows.push([`State transitions per execution, ${t.waitSeconds.toLocaleString("en-US")} s wait`, String(t.ours), String(t.polling), ratio(t.ours, t.polling)]);
        rows.push([`Step Functions cost per 1M executions, ${t.waitSeconds.toLocaleString("en-US")} s wait`, usd(t.oursUsdPerMillion), usd(t.pollingUsdPerMillion), ratio(t.oursUsdPerMillion, t.pollingUsdPerMillion)]);
    }
    const { ours, polling } = f.handOffDelayMs;
    rows.push([
        `Permit hand-off delay, median / p95`,
        `${ours.median} / ${ours.p95} ms (${ours.samples} hand-offs, dynalite in-process)`,
        `${ms(polling.median)} / ${ms(polling.p95)} (mean ${ms(polling.mean)}; from the attempt schedule)`,
        ratio(ours.median, polling.median),
    ]);
    rows.push(["DynamoDB requests per contended execution (acquire queued, release hands off)", String(f.dynamoRequestsPerContendedExecution.ours), f.dynamoRequestsPerContendedExecution.polling, "—"]);
    rows.push(["Lambda invocations per execution", "2 (acquire, release)", "0 (direct DynamoDB integration)", "—"]);
    const header = ["Measure", "Task token + FIFO hand-off (ours)", "aws-samples polling semaphore", "Polling / ours"];
    const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
    return `${table}\n\n${NOTES}`;
}
