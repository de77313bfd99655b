/**
 * The per-invocation context handed to the user's function (`ctx`), and the invocation scope every
 * runtime wrapper (EventBridge, Kinesis, FIFO) builds around one Lambda invocation: it times downstream
 * calls, collects their samples, emits the metrics and runs the registered invocation observers.
 */
import { performance } from "node:perf_hooks";
import type { Context } from "aws-lambda";
import { createLogger, LineWriter, Logger } from "./log";
import { MetricName, Metrics, workerName } from "./metrics";

/** One timed call to a downstream system, recorded by {@link WorkerContext.downstream}. */
export interface DownstreamSample {
    /** The name given to `ctx.downstream`, e.g. "payments-api". */
    name: string;
    /** Wall-clock duration of the call in milliseconds (monotonic clock). */
    latencyMs: number;
    /** `true` when the call resolved, `false` when it threw or rejected. */
    ok: boolean;
    /** Start of the call, epoch milliseconds. */
    at: number;
}

/** What the user's function receives as its second argument. */
export interface WorkerContext {
    /** The Lambda context of this invocation. */
    lambda: Context;
    /**
     * Runs `call`, records its latency and outcome (a {@link DownstreamSample} and the
     * `DownstreamLatency`/`DownstreamErrors` metrics), and returns its result; an error is rethrown unchanged.
     * These samples are the signal for adaptive concurrency and the circuit breaker.
     * @example const order = await ctx.downstream("orders-db", () => db.send(new GetItemCommand(input)));
     */
    downstream<T>(name: string, call: () => Promise<T>): Promise<T>;
    /** Structured JSON logger carrying the request id and worker name. */
    log: Logger;
}

/**
 * Called once at the end of every wrapped invocation (success or failure) with the invocation's
 * downstream samples. A rejection is logged and never fails the invocation. The invocation waits for
 * it, so keep it short (Lambda freezes the environment once the handler returns).
 */
export type InvocationObserver = (samples: readonly DownstreamSample[], lambdaContext: Context) => Promise<void>;

const observers = new Set<InvocationObserver>();

/**
 * Adds an observer for every later invocation of every wrapper in this execution environment.
 * Returns a function that removes it again.
 * @example
 * const unregister = registerInvocationObserver(async (samples) => stats.record(samples));
 */
export function registerInvocationObserver(observer: InvocationObserver): () => void {
    observers.add(observer);
    return () => {
        observers.delete(observer);
    };
}

/** Options of {@link createInvocationScope}. */
export interface InvocationScopeOptions {
    /**
     * Where log and metric lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/** One invocation's context, metrics and end-of-invocation step; see {@link createInvocationScope}. */
export interface InvocationScope {
    /** The context to pass to the user's function. */
    ctx: WorkerContext;
    /** The invocation's metrics; wrappers add their own counts here. */
    metrics: Metrics;
    /** Same logger as `ctx.log`. */
    log: Logger;
    /** The invocation's downstream samples so far, in the order the calls ended. */
    samples: readonly DownstreamSample[];
    /** Flushes the metrics and runs the observers. Call exactly once, after the work, also on failure. */
    finish(): Promise<void>;
}

/**
 * Builds the scope of one invocation.
 * @example
 * const scope = createInvocationScope(context);
 * try { return await fn(event, scope.ctx); } finally { await scope.finish(); }
 */
export function createInvocationScope(lambdaContext: Context, options: InvocationScopeOptions = {}): InvocationScope {
    const fields = { requestId: lambdaContext.awsRequestId, worker: workerName() };
    const log = createLogger({ fields, write: options.write });
    const metrics = new Metrics({ properties: { requestId: lambdaContext.awsRequestId }, write: options.write });
    const samples: DownstreamSample[] = [];
    const downstream = <T>(name: string, call: () => Promise<T>) => timed(name, call, (s) => record(s, samples, metrics));
    return {
        ctx: { lambda: lambdaContext, downstream, log },
        metrics,
        log,
        samples,
        async finish() {
            metrics.flush();
            await notifyObservers(samples, lambdaContext, log);
        },
    };
}

async function timed<T>(name: string, call: () => Promise<T>, onSample: (s: DownstreamSample) => void): Promise<T> {
    const at = Date.now();
    const start = performance.now();
    let ok = false;
    try {
        const result = await call();
        ok = true;
        return result;
    } finally {
        onSample({ name, latencyMs: performance.now() - start, ok, at });
    }
}

function record(sample: DownstreamSample, samples: DownstreamSample[], metrics: Metrics): void {
    samples.push(sample);
    const dimensions = { Downstream: sample.name };
    metrics.add(MetricName.DownstreamLatency, "Milliseconds", sample.latencyMs, dimensions);
    metrics.add(MetricName.DownstreamErrors, "Count", sample.ok ? 0 : 1, dimensions);
}

async function notifyObservers(samples: DownstreamSample[], lambdaContext: Context, log: Logger): Promise<void> {
    const run = async (observer: InvocationObserver) => {
        try {
            await observer([...samples], lambdaContext);
        } catch (error) {
            log.warn("invocation observer failed; the invocation is not affected", { error });
        }
    };
    await Promise.all([...observers].map(run));
}
