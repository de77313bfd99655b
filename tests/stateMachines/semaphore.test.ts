import { strict as assert } from "node:assert";
import { SendTaskSuccessCommand, SFNClient, TaskDoesNotExist } from "@aws-sdk/client-sfn";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { RunOptions, StateMachine, StateMachineDefinition } from "aws-local-stepfunctions";
import {
    acquireState,
    AslDefinition,
    protect,
    releaseState,
    SEMAPHORE_STATE_NAMES,
    SemaphoreAslArgs,
} from "../../components/internal/semaphoreAsl";
import { createLogger } from "../../runtime/log";
import { createAcquireHandler, createReleaseHandler } from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { LocalDynamo, startDynalite } from "../helpers/dynalite";

// asl-validator ships no types; it adds QueryLanguage to every state of what it validates, so it gets a copy.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const aslValidator = require("asl-validator") as (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };

const ARGS: SemaphoreAslArgs = {
    acquireFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:sem-acquire",
    releaseFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:sem-release",
};
const WORK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:work";
const NAMES = SEMAPHORE_STATE_NAMES;

const work: AslDefinition = {
    Comment: "Calls a fragile API.",
    TimeoutSeconds: 7200,
    StartAt: "Work",
    States: { Work: { Type: "Task", Resource: WORK_ARN, End: true } },
};

function assertValid(definition: unknown): void {
    const { isValid, errorsText } = aslValidator(structuredClone(definition));
    assert.ok(isValid, errorsText("\n"));
}

describe("semaphore ASL", () => {
    it("uses the integration ARNs of the functions' partition (GovCloud, China)", () => {
        const gov: SemaphoreAslArgs = {
            acquireFunctionArn: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:sem-acquire",
            releaseFunctionArn: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:sem-release",
        };
        assert.equal(acquireState(gov, "Work").Resource, "arn:aws-us-gov:states:::lambda:invoke.waitForTaskToken");
        assert.equal(releaseState(gov).Resource, "arn:aws-us-gov:states:::lambda:invoke");
        assert.equal(acquireState(ARGS, "Work").Resource, "arn:aws:states:::lambda:invoke.waitForTaskToken");
    });

    describe("every generated definition passes asl-validator", () => {
        it("acquire and release composed by hand", () => {
            assertValid({
                StartAt: "Acquire",
                States: {
                    Acquire: acquireState(ARGS, "Work"),
                    Work: { Type: "Task", Resource: WORK_ARN, Next: "Release" },
                    Release: releaseState(ARGS),
                },
            });
            assertValid({ StartAt: "Release", States: { Release: releaseState(ARGS, "Done"), Done: { Type: "Succeed" } } });
        });

        const definitions: [string, AslDefinition][] = [
            ["one task", work],
            [
                "choice with Succeed and Fail ends",
                {
                    StartAt: "Check",
                    States: {
                        Check: { Type: "Choice", Choices: [{ Variable: "$.ok", BooleanEquals: true, Next: "Fine" }], Default: "Broken" },
                        Fine: { Type: "Succeed" },
                        Broken: { Type: "Fail", Error: "Broken", Cause: "input said so" },
                    },
                },
            ],
            [
                "map and wait",
                {
                    StartAt: "Each",
                    States: {
                        Each: {
                            Type: "Map",
                            ItemsPath: "$.items",
                            MaxConcurrency: 2,
                            ItemProcessor: { StartAt: "One", States: { One: { Type: "Task", Resource: WORK_ARN, End: true } } },
                            Next: "Pause",
                        },
                        Pause: { Type: "Wait", Seconds: 5, End: true },
                    },
                },
            ],
        ];
        for (const [title, definition] of definitions) it(`protect(): ${title}`, () => assertValid(protect(ARGS, definition)));
    });

    describe("structure", () => {
        it("acquire waits on a task token with the execution ARN, a timeout and a shorter heartbeat", () => {
            const state = acquireState({ ...ARGS, waitTimeoutSeconds: 900, heartbeatSeconds: 120 }, "Next");
            assert.equal(state.Resource, "arn:aws:states:::lambda:invoke.waitForTaskToken");
            assert.deepEqual(state.Parameters, {
                FunctionName: ARGS.acquireFunctionArn,
                Payload: { "token.$": "$$.Task.Token", "executionArn.$": "$$.Execution.Id" },
            });
            assert.deepEqual([state.TimeoutSeconds, state.HeartbeatSeconds, state.ResultPath, state.Next], [900, 120, null, "Next"]);
            assert.deepEqual([acquireState(ARGS, "N").TimeoutSeconds, acquireState(ARGS, "N").HeartbeatSeconds], [3600, 300]);
            assert.equal(acquireState({ ...ARGS, waitTimeoutSeconds: 60 }, "N").HeartbeatSeconds, 59);
        });

        it("release ends the execution without next and keeps the input", () => {
            assert.deepEqual(releaseState(ARGS), {
                Type: "Task",
                Comment: "Releases this execution's semaphore permit.",
                Resource: "arn:aws:states:::lambda:invoke",
                Parameters: { FunctionName: ARGS.releaseFunctionArn, Payload: { "executionArn.$": "$$.Execution.Id" } },
                ResultPath: null,
                Retry: releaseState(ARGS).Retry,
                End: true,
            });
            assert.equal(releaseState(ARGS, "After").Next, "After");
        });

        it("protect keeps top-level fields and sends every error after acquire through release to a re-raising Fail", () => {
            const protectedDefinition = protect(ARGS, work);
            assert.deepEqual([protectedDefinition.Comment, protectedDefinition.TimeoutSeconds, protectedDefinition.StartAt], [work.Comment, 7200, NAMES.acquire]);
            const states = protectedDefinition.States;
            for (const name of [NAMES.acquire, NAMES.work]) {
                assert.deepEqual(states[name].Catch, [{ ErrorEquals: ["States.ALL"], Next: NAMES.releaseAfterError }]);
            }
            assert.deepEqual(states[NAMES.work].Branches, [{ StartAt: work.StartAt, States: work.States }]);
            assert.equal(states[NAMES.work].Next, NAMES.release);
            assert.equal(states[NAMES.releaseAfterError].Next, NAMES.fail);
            assert.deepEqual(states[NAMES.fail], { Type: "Fail", Comment: states[NAMES.fail].Comment, ErrorPath: "$.Error", CausePath: "$.Cause" });
        });
    });

    describe("bad input names the argument and the value", () => {
        const cases: [string, () => unknown, RegExp][] = [
            ["no StartAt", () => protect(ARGS, { States: work.States } as never), /definition.StartAt must be the name of one of definition.States \(Work\); received undefined\./],
            ["StartAt naming no state", () => protect(ARGS, { ...work, StartAt: "Nope" }), /definition.StartAt must be .*; received "Nope"\./],
            ["no States", () => protect(ARGS, { StartAt: "Work" } as never), /definition.States must be a non-empty object of states; received undefined\./],
            ["empty States", () => protect(ARGS, { StartAt: "Work", States: {} }), /definition.States must be a non-empty object of states; received \{\}\./],
            ["not an object", () => protect(ARGS, "{}" as never), /definition must be an object with StartAt and States; received "\{\}"\./],
            [
                "a state named like the semaphore's",
                () => protect(ARGS, { StartAt: "ReleaseSemaphore", States: { ReleaseSemaphore: { Type: "Succeed" } } }),
                /definition.States must not use the semaphore's state names \(AcquireSemaphore, .*\); received a state named "ReleaseSemaphore"\./,
            ],
            ["JSONata", () => protect(ARGS, { ...work, QueryLanguage: "JSONata" }), /definition.QueryLanguage must be JSONPath \(or absent\); received "JSONata"\./],
            ["heartbeat not under the timeout", () => acquireState({ ...ARGS, waitTimeoutSeconds: 60, heartbeatSeconds: 60 }, "N"), /heartbeatSeconds must be a positive integer less than waitTimeoutSeconds \(60\); received 60\./],
            ["zero timeout", () => acquireState({ ...ARGS, waitTimeoutSeconds: 0 }, "N"), /waitTimeoutSeconds must be an integer of at least 2; received 0\./],
            ["no acquire ARN", () => acquireState({ ...ARGS, acquireFunctionArn: "" }, "N"), /acquireFunctionArn must be a function ARN; received ""\./],
            ["empty next", () => acquireState(ARGS, ""), /next must be a state name; received ""\./],
        ];
        for (const [title, build, message] of cases) it(title, () => assert.throws(build, message));
    });
});

interface Deferred<T> {
    promise: Promise<T>;
    resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
}

type Json = Record<string, unknown>;

describe("protected state machine on aws-local-stepfunctions, semaphore on dynalite", () => {
    const TABLE = "sfn-semaphore";
    let db: LocalDynamo;
    let sfn: AwsClientStub<SFNClient>;
    const waiting = new Map<string, Deferred<Json>>();
    let run = 0;

    before(async () => {
        db = await startDynalite();
        await db.createTable(TABLE, "pk", "sk");
        // SendTaskSuccess resumes the waiting acquire task of the local engine.
        sfn = mockClient(SFNClient);
        sfn.on(SendTaskSuccessCommand).callsFake(({ taskToken, output }) => {
            const waiter = waiting.get(taskToken);
            if (!waiter) throw new TaskDoesNotExist({ message: "no such task", $metadata: {} });
            waiting.delete(taskToken);
            waiter.resolve(JSON.parse(output));
            return {};
        });
    });
    after(async () => {
        sfn.restore();
        await db.stop();
    });

    async function assertEmpty(store: SemaphoreStore): Promise<void> {
        const final = await store.read();
        assert.deepEqual({ inUse: final.inUse, queue: final.queue, holders: final.holders.size }, { inUse: 0, queue: [], holders: 0 });
        assert.deepEqual(await store.listWaiters(), []);
    }

    /** A protected machine whose Work task runs `workTask`, and every semaphore task bridged to the real handlers. */
    function harness(workTask: (input: Json) => Promise<Json>, args = ARGS) {
        const name = `machine-${++run}`;
        const options = {
            env: { SEMAPHORE_TABLE_NAME: TABLE, SEMAPHORE_NAME: name, SEMAPHORE_LIMIT: "1" },
            dynamo: db.client,
            logger: createLogger({ write: () => undefined }),
        };
        const acquire = createAcquireHandler(options);
        const release = createReleaseHandler(options);
        const trace: string[] = [];
        const queued: Record<string, Deferred<void>> = {};
        const releaseTask = (state: string) => async (input: unknown) => {
            const payload = (input as { Payload: { executionArn: string } }).Payload;
            trace.push(`${state} ${payload.executionArn.split(":").at(-1)}`);
            return { Payload: await release(payload) as unknown as Json, StatusCode: 200 };
        };
        // The engine types results as its JSONValue; ours are plain JSON objects too.
        const overrides = {
            taskResourceLocalHandlers: {
                [NAMES.acquire]: async (input: unknown) => {
                    const payload = (input as { Payload: { token: string; executionArn: string } }).Payload;
                    const woken = deferred<Json>();
                    waiting.set(payload.token, woken);
                    const { outcome } = await acquire(payload);
                    const who = payload.executionArn.split(":").at(-1)!;
                    trace.push(`${outcome} ${who}`);
                    (queued[who] ??= deferred()).resolve();
                    return woken.promise;
                },
                Work: (input: unknown) => workTask(input as Json),
                [NAMES.release]: releaseTask(NAMES.release),
                [NAMES.releaseAfterError]: releaseTask(NAMES.releaseAfterError),
            },
        } as RunOptions["overrides"];
        const machine = new StateMachine(protect(args, work) as unknown as StateMachineDefinition);
        const tokenOf = (who: string) => `token-${name}-${who}`;
        const start = (who: string) => {
            const context = { Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:${name}:${who}` }, Task: { Token: tokenOf(who) } };
            return machine.run({ who }, { overrides, context }).result as Promise<unknown>;
        };
        const acquired = (who: string) => (queued[who] ??= deferred()).promise;
        return { trace, start, acquired, tokenOf, store: new SemaphoreStore(db.client, TABLE, name) };
    }

    it("runs three executions with limit 1 strictly in turn, in arrival order", async () => {
        let inWork = 0;
        let maxInWork = 0;
        const allQueued = deferred<void>();
        const h = harness(async (input) => {
            inWork++;
            maxInWork = Math.max(maxInWork, inWork);
            h.trace.push(`work ${input.who}`);
            if (input.who === "A") await allQueued.promise;
            inWork--;
            return { who: input.who, done: true };
        });
        const a = h.start("A");
        await h.acquired("A");
        const b = h.start("B");
        await h.acquired("B");
        const c = h.start("C");
        await h.acquired("C");
        allQueued.resolve();
        assert.deepEqual(await Promise.all([a, b, c]), ["A", "B", "C"].map((who) => ({ who, done: true })));
        assert.equal(maxInWork, 1);
        assert.deepEqual(h.trace, [
            "granted A",
            "work A",
            "queued B",
            "queued C",
            `${NAMES.release} A`,
            "work B",
            `${NAMES.release} B`,
            "work C",
            `${NAMES.release} C`,
        ]);
        assert.equal(sfn.commandCalls(SendTaskSuccessCommand).length, 3);
        await assertEmpty(h.store);
    });

    it("a failing execution frees its permit through the Catch path and re-raises its error", async () => {
        const h = harness(async (input) => {
            h.trace.push(`work ${input.who}`);
            if (input.who !== "F") return { who: input.who, done: true };
            await h.acquired("G");
            throw Object.assign(new Error("the API said no"), { name: "DownstreamFailed" });
        });
        const f = h.start("F");
        await h.acquired("F");
        const g = h.start("G");
        await assert.rejects(f, (error: Error) => String(error.cause).startsWith("DownstreamFailed: the API said no"));
        assert.deepEqual(await g, { who: "G", done: true });
        assert.deepEqual(h.trace, ["granted F", "work F", "queued G", `${NAMES.releaseAfterError} F`, "work G", `${NAMES.release} G`]);
        await assertEmpty(h.store);
    });

    it("a waiter whose wait times out leaves through the Catch path and is never granted", async function () {
        this.timeout(10_000);
        const holderDone = deferred<void>();
        const h = harness(async (input) => {
            if (input.who === "A") await holderDone.promise;
            return { who: input.who, done: true };
        }, { ...ARGS, waitTimeoutSeconds: 2, heartbeatSeconds: 1 });
        const a = h.start("A");
        await h.acquired("A");
        // The local engine enforces TimeoutSeconds but ignores HeartbeatSeconds; AWS would raise
        // States.HeartbeatTimeout first here. The Catch on States.ALL takes either path.
        await assert.rejects(h.start("B"), (error: Error) => /^States\.(Heartbeat)?Timeout/.test(String(error.cause)));
        holderDone.resolve();
        assert.deepEqual(await a, { who: "A", done: true });
        assert.deepEqual(h.trace, ["granted A", "queued B", `${NAMES.releaseAfterError} B`, `${NAMES.release} A`]);
        assert.equal(sfn.commandCalls(SendTaskSuccessCommand).filter((c) => c.args[0].input.taskToken === h.tokenOf("B")).length, 0);
        await assertEmpty(h.store);
    });
});
