import * as assert from "node:assert/strict";
import { createInvocationScope, DownstreamSample, registerInvocationObserver } from "../../runtime/context";
import { createLogger } from "../../runtime/log";
import { METRICS_NAMESPACE, Metrics } from "../../runtime/metrics";
import { fakeLambdaContext, lineSink } from "../helpers/lambdaContext";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const emfOf = (docs: Record<string, any>[]) => docs.filter((d) => d._aws);

describe("invocation scope and ctx.downstream", () => {
    beforeEach(() => {
        process.env.WORKER_NAME = "orders";
    });
    afterEach(() => {
        delete process.env.WORKER_NAME;
    });

    it("returns the call's result and records a successful sample", async () => {
        const sink = lineSink();
        const samples: DownstreamSample[][] = [];
        const unregister = registerInvocationObserver(async (s) => void samples.push([...s]));
        try {
            const scope = createInvocationScope(fakeLambdaContext(), { write: sink.write });
            assert.equal(await scope.ctx.downstream("payments", async () => 42), 42);
            await scope.finish();
        } finally {
            unregister();
        }
        assert.equal(samples.length, 1);
        const [sample] = samples[0];
        assert.equal(sample.name, "payments");
        assert.equal(sample.ok, true);
        assert.ok(sample.latencyMs >= 0);
        assert.ok(Math.abs(sample.at - Date.now()) < 60_000);
    });

    it("rethrows the very same error and records ok=false", async () => {
        const sink = lineSink();
        const scope = createInvocationScope(fakeLambdaContext(), { write: sink.write });
        const boom = new TypeError("downstream broke");
        await assert.rejects(scope.ctx.downstream("db", () => Promise.reject(boom)), (e) => e === boom);
        const sync = new Error("sync throw");
        await assert.rejects(
            scope.ctx.downstream("db", () => {
                throw sync;
            }),
            (e) => e === sync,
        );
        await scope.finish();
        const [doc] = emfOf(sink.json());
        assert.deepEqual(doc.DownstreamErrors, [1, 1]);
    });

    it("writes EMF: namespace, Worker and Downstream dimensions, one line per downstream", async () => {
        const sink = lineSink();
        const scope = createInvocationScope(fakeLambdaContext("req-9"), { write: sink.write });
        await scope.ctx.downstream("payments", async () => "ok");
        await scope.ctx.downstream("payments", async () => "ok");
        await scope.ctx.downstream("ledger", async () => "ok");
        scope.metrics.add("DuplicatesSkipped", "Count", 1);
        await scope.finish();
        const docs = emfOf(sink.json());
        assert.equal(docs.length, 3);
        const payments = docs.find((d) => d.Downstream === "payments")!;
        assert.deepEqual(payments._aws.CloudWatchMetrics, [
            {
                Namespace: METRICS_NAMESPACE,
                Dimensions: [["Worker", "Downstream"]],
                Metrics: [
                    { Name: "DownstreamLatency", Unit: "Milliseconds" },
                    { Name: "DownstreamErrors", Unit: "Count" },
                ],
            },
        ]);
        assert.equal(payments.Worker, "orders");
        assert.equal(payments.requestId, "req-9");
        assert.equal(payments.DownstreamLatency.length, 2);
        assert.deepEqual(payments.DownstreamErrors, [0, 0]);
        assert.equal(typeof payments._aws.Timestamp, "number");
        const workerLevel = docs.find((d) => d.Downstream === undefined)!;
        assert.deepEqual(workerLevel._aws.CloudWatchMetrics[0].Dimensions, [["Worker"]]);
        assert.deepEqual(workerLevel.DuplicatesSkipped, [1]);
    });

    it("falls back to AWS_LAMBDA_FUNCTION_NAME for the Worker dimension and writes nothing when empty", () => {
        delete process.env.WORKER_NAME;
        process.env.AWS_LAMBDA_FUNCTION_NAME = "fn-name";
        try {
            const sink = lineSink();
            const metrics = new Metrics({ write: sink.write });
            metrics.flush();
            assert.equal(sink.lines.length, 0);
            metrics.add("InFlightDuplicates", "Count", 1);
            metrics.flush();
            metrics.flush();
            assert.equal(sink.lines.length, 1);
            assert.equal(sink.json()[0].Worker, "fn-name");
        } finally {
            delete process.env.AWS_LAMBDA_FUNCTION_NAME;
        }
    });

    it("splits more than 100 values of a metric over several EMF lines", () => {
        const sink = lineSink();
        const metrics = new Metrics({ worker: "w", write: sink.write });
        for (let i = 0; i < 250; i++) metrics.add("DownstreamLatency", "Milliseconds", i, { Downstream: "d" });
        metrics.flush();
        assert.deepEqual(
            sink.json().map((d) => d.DownstreamLatency.length),
            [100, 100, 50],
        );
    });

    it("calls each observer once per invocation, and an observer failure only logs a warning", async () => {
        const sink = lineSink();
        const calls: string[] = [];
        const unregisterBad = registerInvocationObserver(async () => {
            throw new Error("observer broke");
        });
        const unregisterGood = registerInvocationObserver(async (samples, lambda) => {
            calls.push(`${lambda.awsRequestId}:${samples.length}`);
        });
        try {
            const scope = createInvocationScope(fakeLambdaContext("r1"), { write: sink.write });
            await scope.ctx.downstream("a", async () => 1).catch(() => undefined);
            await scope.finish();
        } finally {
            unregisterBad();
            unregisterGood();
        }
        assert.deepEqual(calls, ["r1:1"]);
        const warning = sink.json().find((l) => l.level === "WARN")!;
        assert.match(warning.message, /observer failed/);
        assert.equal(warning.error.message, "observer broke");
        assert.equal(warning.requestId, "r1");
    });
});

describe("structured logger", () => {
    it("writes one JSON line with level, message, base and call fields, and serialises errors", () => {
        const sink = lineSink();
        const log = createLogger({ fields: { worker: "w" }, write: sink.write }).child({ eventId: "e1" });
        log.error("failed", { error: new RangeError("bad") });
        const [line] = sink.json();
        assert.equal(line.level, "ERROR");
        assert.equal(line.message, "failed");
        assert.equal(line.worker, "w");
        assert.equal(line.eventId, "e1");
        assert.deepEqual([line.error.name, line.error.message], ["RangeError", "bad"]);
        assert.ok(!Number.isNaN(Date.parse(line.timestamp)));
    });

    it("honours AWS_LAMBDA_LOG_LEVEL and survives unserialisable fields", () => {
        process.env.AWS_LAMBDA_LOG_LEVEL = "WARN";
        try {
            const sink = lineSink();
            const log = createLogger({ write: sink.write });
            log.info("hidden");
            const circular: Record<string, unknown> = {};
            circular.self = circular;
            log.warn("shown", { circular });
            assert.deepEqual(
                sink.json().map((l) => [l.message, l.logError]),
                [["shown", "fields not serializable"]],
            );
        } finally {
            delete process.env.AWS_LAMBDA_LOG_LEVEL;
        }
    });
});
