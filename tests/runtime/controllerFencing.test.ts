import { strict as assert } from "node:assert";
import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import { AwsClientStub } from "aws-sdk-client-mock";
import {
    addSamples,
    ConcurrencyActuator,
    ConcurrencyActuatorPort,
    ControlLoopConfig,
    ControlLoopDependencies,
    ControllerStore,
    emptyStats,
    runControlInterval,
    targetKey,
} from "../../runtime/controller";
import { ControllerTestbed, startControllerTestbed } from "../helpers/controller";
import { LocalDynamo } from "../helpers/dynalite";

const TABLE = "fencing";
const MINUTE = 60_000;
const NOW = 100 * MINUTE + 20_000;

describe("controller: a change is in effect only if it is the current leader's decision", () => {
    let lambda: AwsClientStub<LambdaClient>;
    let cloudwatch: AwsClientStub<CloudWatchClient>;
    let db: LocalDynamo;
    let clock: number;
    let lines: string[];
    /** The fake function's reserved concurrency: what is in effect. */
    let reserved: number;
    let functionName: string;
    let n = 0;

    const config = (): ControlLoopConfig => ({
        target: { kind: "ReservedConcurrency", functionName },
        params: { min: 2, max: 200, latencyTargetMs: 200 },
        tableName: TABLE,
        metrics: { functionName, backlog: "AsyncEventAge" },
    });
    const deps = (owner: string, actuator: ConcurrencyActuatorPort): ControlLoopDependencies => ({
        dynamodb: db.client,
        cloudwatch: new CloudWatchClient({}),
        actuator,
        clock: () => clock,
        owner,
        write: (line) => lines.push(line),
    });
    const lambdaActuator = () => new ConcurrencyActuator({ client: new LambdaClient({}), sleep: async () => undefined });
    /** `calls` calls of 100 ms in `interval`, `failed` of them failed. */
    const seed = async (interval: number, calls: number, failed: number) => {
        const stats = emptyStats();
        addSamples(stats, Array.from({ length: calls }, (_, i) => ({ latencyMs: 100, ok: i >= failed })));
        await new ControllerStore(db.client, TABLE, targetKey(config().target)).writeStatistics(interval, "seed", stats, clock);
    };
    /** An actuator whose applies wait for `release()`: a slow apply (retries, Retry-After, a queue). */
    const slowActuator = () => {
        const inner = lambdaActuator();
        let release!: () => void;
        let reached!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const waiting = new Promise<void>((resolve) => (reached = resolve));
        const actuator: ConcurrencyActuatorPort = {
            read: (target) => inner.read(target),
            apply: async (target, limit, alreadyRead) => {
                reached();
                await gate;
                return inner.apply(target, limit, alreadyRead);
            },
        };
        return { actuator, waiting, release: () => release() };
    };

    let testbed: ControllerTestbed;
    before(async () => ({ db, lambda, cloudwatch } = testbed = await startControllerTestbed([[TABLE, "pk", "sk"]])));
    after(() => testbed.stop());
    beforeEach(() => {
        lambda.reset();
        cloudwatch.reset();
        clock = NOW;
        lines = [];
        reserved = 40;
        functionName = `fenced-${++n}`;
        lambda.on(GetFunctionConcurrencyCommand).callsFake(() => ({ ReservedConcurrentExecutions: reserved }));
        lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 800 } });
        lambda.on(PutFunctionConcurrencyCommand).callsFake((input) => {
            reserved = input.ReservedConcurrentExecutions;
            return input;
        });
        cloudwatch.on(GetMetricDataCommand).resolves({
            MetricDataResults: [
                { Id: "t0_throttles", Values: [25] },
                { Id: "t0_inUse", Values: [40] },
                { Id: "t0_backlog", Values: [1000, 4000] },
            ],
        });
    });

    it("a slow apply of interval i that lands after the leader of i+1 applied: the final setting is i+1's decision", async () => {
        await seed(99, 200, 0); // healthy with demand: interval 100 raises
        await seed(100, 200, 100); // half the calls failed: interval 101 cuts
        const slow = slowActuator();
        const stale = runControlInterval(config(), deps("leader-100", slow.actuator));
        await slow.waiting;
        clock += MINUTE;
        const next = await runControlInterval(config(), deps("leader-101", lambdaActuator()));
        assert.ok(next.status === "decided" && next.decision.limit < 40, "interval 101 cut the limit");
        assert.equal(reserved, next.decision.limit);
        slow.release();
        const late = await stale;
        assert.ok(late.status === "decided" && late.decision.limit === 60 && late.applied?.applied === 60, "the stale raise did land");
        assert.deepEqual(late.superseded, { by: 101, restored: next.decision.limit });
        assert.equal(reserved, next.decision.limit, "the current leader's decision is in effect");
        const stored = await new ControllerStore(db.client, TABLE, targetKey(config().target)).readControl(true);
        assert.deepEqual([stored.interval, stored.decidedInterval, stored.decision?.limit], [101, 101, reserved], "and agrees with the stored decision");
        const json = lines.map((l) => JSON.parse(l));
        assert.ok(json.some((l) => l.level === "WARN" && l.message === "a later leader took over while this change was applied; its decision is in effect" && l.by === 101));
        assert.ok(json.some((l) => l._aws && l.ControllerSuperseded?.[0] === 1));
    });

    it("a leader that lost the lease before storing its decision changes nothing", async () => {
        await seed(99, 200, 0);
        let raced = false;
        const store = new ControllerStore(db.client, TABLE, targetKey(config().target));
        const racing = {
            claimInterval: store.claimInterval.bind(store),
            readWindow: async (interval: number) => {
                // while this leader reads its signals, the next interval's leader claims
                if (!raced) await store.claimInterval(101, "leader-101", clock);
                raced = true;
                return store.readWindow(interval);
            },
            saveDecision: store.saveDecision.bind(store),
            readControl: store.readControl.bind(store),
            writeStatistics: store.writeStatistics.bind(store),
        };
        const outcome = await runControlInterval(config(), { ...deps("leader-100", lambdaActuator()), store: racing });
        assert.deepEqual(outcome, { status: "superseded", interval: 100, by: 101 });
        assert.equal(lambda.commandCalls(PutFunctionConcurrencyCommand).length, 0);
        assert.equal(reserved, 40);
    });
});
