/**
 * Setup shared by the controller's runtime tests (dynalite, aws-sdk-client-mock, `faults.ts`): seeding a
 * target's statistics, GetMetricData's "demand" answer, a mocked Lambda that keeps the settings it is
 * given, the lease's claim command, and fault injections restored after each test.
 */
import { strict as assert } from "node:assert";
import { CloudWatchClient, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import { GetAccountSettingsCommand, GetEventSourceMappingCommand, GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand, UpdateEventSourceMappingCommand } from "@aws-sdk/client-lambda";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { addSamples, CallSample, ControllerStore, emptyStats } from "../../runtime/controller";
import { LocalDynamo, startDynalite } from "./dynalite";
import { FaultInjection, FaultRule, injectFaults } from "./faults";

/** A controller test's backends: dynalite with its tables, and mocked Lambda and CloudWatch. */
export interface ControllerTestbed {
    db: LocalDynamo;
    lambda: AwsClientStub<LambdaClient>;
    cloudwatch: AwsClientStub<CloudWatchClient>;
    /** Restores the mocks and stops dynalite. */
    stop(): Promise<void>;
}

/**
 * Starts dynalite with `tables` (name, partition key, optional sort key) and mocks Lambda and CloudWatch.
 * @example before(async () => ({ db, lambda, cloudwatch } = testbed = await startControllerTestbed([[TABLE, "pk", "sk"]])));
 */
export async function startControllerTestbed(tables: [name: string, partitionKey: string, sortKey?: string][]): Promise<ControllerTestbed> {
    const db = await startDynalite();
    for (const [name, partitionKey, sortKey] of tables) await db.createTable(name, partitionKey, sortKey);
    const lambda = mockClient(LambdaClient);
    const cloudwatch = mockClient(CloudWatchClient);
    return {
        db,
        lambda,
        cloudwatch,
        async stop() {
            lambda.restore();
            cloudwatch.restore();
            await db.stop();
        },
    };
}

/**
 * Writes `samples` as one environment's totals of `interval`.
 * @example await writeCalls(store, 99, healthyCalls(), clock);
 */
export async function writeCalls(store: ControllerStore, interval: number, samples: CallSample[], now: number, environmentId = "seed"): Promise<void> {
    const stats = emptyStats();
    addSamples(stats, samples);
    await store.writeStatistics(interval, environmentId, stats, now);
}

/**
 * `count` successful calls of 100 ms: enough samples, well under a 200 ms latency target.
 * @example healthyCalls().length // 200
 */
export function healthyCalls(count = 200): CallSample[] {
    return Array.from({ length: count }, () => ({ latencyMs: 100, ok: true }));
}

/**
 * GetMetricData's answer for `targets` batched targets (ids `t<i>_…`): 25 throttles, all 40 in use and the
 * backlog growing — demand, so a limit of 40 with {@link healthyCalls} is raised to 60.
 * @example cloudwatch.on(GetMetricDataCommand).resolves(demandMetrics(3));
 */
export function demandMetrics(targets = 1): { MetricDataResults: MetricDataResult[] } {
    return {
        MetricDataResults: Array.from({ length: targets }, (_, i) => [
            { Id: `t${i}_throttles`, Values: [25] },
            { Id: `t${i}_inUse`, Values: [40] },
            { Id: `t${i}_backlog`, Values: [1000, 4000] },
        ]).flat(),
    };
}

/**
 * Whether a DynamoDB command is a lease claim (the conditional UpdateItem `interval < :interval`).
 * @example injectFaults(db.client, [{ command: isClaim, fault: "after", times: 1 }])
 */
export function isClaim(command: { input: unknown }): boolean {
    return /interval < :interval/.test(String((command.input as { ConditionExpression?: string }).ConditionExpression));
}

/**
 * Makes the mocked Lambda keep what it is set to: reserved concurrency by function name, an SQS mapping's
 * maximum concurrency by UUID, each `initial` until set; the account has 800 unreserved executions.
 * @returns the settings, by function name or mapping UUID (only those set)
 * @example const settings = mockLambdaSettings(lambda, 40); … settings.get("orders") // 60
 */
export function mockLambdaSettings(lambda: AwsClientStub<LambdaClient>, initial: number): Map<string, number> {
    const settings = new Map<string, number>();
    lambda.on(GetFunctionConcurrencyCommand).callsFake((input) => ({ ReservedConcurrentExecutions: settings.get(input.FunctionName) ?? initial }));
    lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { UnreservedConcurrentExecutions: 800 } });
    lambda.on(PutFunctionConcurrencyCommand).callsFake((input) => {
        settings.set(input.FunctionName, input.ReservedConcurrentExecutions);
        return input;
    });
    lambda.on(GetEventSourceMappingCommand).callsFake((input) => ({ ScalingConfig: { MaximumConcurrency: settings.get(input.UUID) ?? initial } }));
    lambda.on(UpdateEventSourceMappingCommand).callsFake((input) => {
        settings.set(input.UUID, input.ScalingConfig.MaximumConcurrency);
        return {};
    });
    return settings;
}

/** Fault injections of one test, restored together. */
export interface FaultInjections {
    /** Injects `rules` into `client` (see {@link injectFaults}). */
    inject(client: Parameters<typeof injectFaults>[0], rules: FaultRule[]): FaultInjection;
    /** Restores every injection, the latest first, and forgets them. */
    restore(): void;
}

/**
 * Collects injections so that an `afterEach` restores them all.
 * @example const faults = faultInjections(); afterEach(() => faults.restore());
 */
export function faultInjections(): FaultInjections {
    const injected: FaultInjection[] = [];
    return {
        inject(client, rules) {
            const injection = injectFaults(client, rules);
            injected.push(injection);
            return injection;
        },
        restore() {
            injected.splice(0).reverse().forEach((f) => f.restore());
        },
    };
}

/**
 * What a control loop reported about failures in its output lines: its ERROR lines (without the
 * timestamp, and the error without its stack) and its `ControllerFailures` EMF documents (the timestamp
 * checked to be a number, then dropped).
 */
export function failureReports(lines: readonly string[]): { errors: Record<string, unknown>[]; metrics: Record<string, unknown>[] } {
    const records = lines.map((line) => JSON.parse(line) as Record<string, any>);
    const errors = records
        .filter((r) => r.level === "ERROR")
        .map(({ timestamp: _timestamp, error: { stack: _stack, ...error }, ...rest }) => ({ ...rest, error }));
    const metrics = records
        .filter((r) => r._aws?.CloudWatchMetrics.some((m: { Metrics: { Name: string }[] }) => m.Metrics.some((metric) => metric.Name === "ControllerFailures")))
        .map(({ _aws: { Timestamp, ...aws }, ...rest }) => {
            assert.equal(typeof Timestamp, "number");
            return { _aws: aws, ...rest };
        });
    return { errors, metrics };
}

/** The `ControllerFailures` EMF document of one failed interval of the target whose `Worker` is `worker`. */
export function failureMetric(worker: string): Record<string, unknown> {
    return {
        _aws: { CloudWatchMetrics: [{ Namespace: "ServerlessConcurrency", Dimensions: [["Worker"]], Metrics: [{ Name: "ControllerFailures", Unit: "Count" }] }] },
        Worker: worker,
        ControllerFailures: [1],
    };
}
