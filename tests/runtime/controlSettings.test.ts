import { strict as assert } from "node:assert";
import { breakerSettingsFromEnv, DEFAULT_BREAKER_POLICY } from "../../contracts/breaker";
import { controlLoopSettingsProblems, controlSettingsFromEnv } from "../../contracts/controller";
import { ConfigurationError } from "../../contracts/errors";
import { activateCircuitBreaker } from "../../runtime/breaker";
import { activateAdaptiveConcurrency } from "../../runtime/controller";

const VALID = {
    target: { kind: "SqsMaximumConcurrency", eventSourceArn: "arn:aws:sqs:us-east-1:123456789012:q.fifo" },
    params: { min: 2, max: 50, latencyTargetMs: 200 },
    tableName: "orders-control",
    metrics: { functionName: "orders", backlog: "SqsAgeOfOldestMessage", queueName: "q.fifo" },
    intervalSeconds: 60,
};
const controlEnv = (config: unknown) => ({ CONCURRENCY_CONTROL_MODE: "SelfTuning", CONCURRENCY_CONTROL_CONFIG: JSON.stringify(config) });
const BREAKER = { BREAKER_TABLE_NAME: "breakers", BREAKER_ID: "orders", BREAKER_EVENT_SOURCE_ARN: "arn:aws:kinesis:us-east-1:123456789012:stream/orders" };

/** Asserts one ConfigurationError whose list is exactly `problems` (in order). */
function refused(run: () => unknown, subject: string, problems: string[]): void {
    assert.throws(run, (error: Error) => {
        assert.ok(error instanceof ConfigurationError, `a ConfigurationError, got ${error.name}`);
        const [head, ...items] = error.message.split("\n- ");
        assert.equal(head, `${subject} is invalid (${problems.length} problem${problems.length > 1 ? "s" : ""}):`);
        assert.deepEqual(items, problems);
        return true;
    });
}

describe("controller and breaker settings: validated at cold start, every problem in one ConfigurationError", () => {
    it("accepts a valid control configuration unchanged", () => {
        assert.deepEqual(controlSettingsFromEnv(controlEnv(VALID)), VALID);
        assert.deepEqual(controlLoopSettingsProblems(VALID), []);
    });

    it("refuses null, min > max, intervalSeconds 0 and \"abc\", a wrong type and an unknown field — all at once, at cold start", () => {
        const bad = { ...VALID, params: { min: 60, max: 50, errorRateThreshold: null }, intervalSeconds: 0, dryRun: "yes", downstream: null, maxConcurency: 5 };
        refused(() => activateAdaptiveConcurrency(controlEnv(bad)), "environment variable CONCURRENCY_CONTROL_CONFIG", [
            "maxConcurency is not a setting (known: target, params, tableName, metrics, intervalSeconds, metricsDelaySeconds, latencyPercentile, executionsPerUnit, downstream, dryRun, statisticsFlushSeconds, statisticsShards, claimSpreadSeconds, controlPlaneBudgetTable, controlPlaneRequestsPerSecond)",
            "params.min (60) must not exceed params.max (50)",
            "params.errorRateThreshold must be a number in (0, 1); received null",
            "intervalSeconds must be an integer in [1, 86400]; received 0",
            "downstream must be a non-empty string; received null",
            "dryRun must be true or false; received \"yes\"",
        ]);
        refused(() => controlSettingsFromEnv(controlEnv({ ...VALID, intervalSeconds: "abc" })), "environment variable CONCURRENCY_CONTROL_CONFIG", [
            "intervalSeconds must be an integer in [1, 86400]; received \"abc\"",
        ]);
    });

    it("refuses a null configuration, null sections and bounds outside the target's range", () => {
        assert.throws(() => controlSettingsFromEnv({ CONCURRENCY_CONTROL_CONFIG: "null" }), /CONCURRENCY_CONTROL_CONFIG must be a JSON object; received "null"/);
        refused(() => controlSettingsFromEnv(controlEnv({ ...VALID, target: null, metrics: null, tableName: " " })), "environment variable CONCURRENCY_CONTROL_CONFIG", [
            "target must be an object with a kind; received null",
            "tableName must be a non-empty string; received \" \"",
            "metrics must be an object; received null",
        ]);
        refused(() => controlSettingsFromEnv(controlEnv({ ...VALID, params: { min: 1, max: 1001 } })), "environment variable CONCURRENCY_CONTROL_CONFIG", [
            "params.min must be an integer in [2, 1000] (SqsMaximumConcurrency); received 1",
            "params.max must be an integer in [2, 1000] (SqsMaximumConcurrency); received 1001",
        ]);
    });

    it("refuses timings that leave no room to decide: flush + spread must fit in the interval", () => {
        assert.deepEqual(controlLoopSettingsProblems({ ...VALID, intervalSeconds: 15 }), [
            "statisticsFlushSeconds (10) + claimSpreadSeconds (10) must be less than intervalSeconds (15): decisions wait one flush period after the interval ends, then spread their claims",
        ]);
    });

    it("breaker: \" \" is not 0, \"0x1\" is not 1, a negative probe lease is refused, min/max checked — all listed at once, at cold start", () => {
        const env = { ...BREAKER, BREAKER_MIN_REQUESTS: " ", BREAKER_SUCCESS_THRESHOLD: "0x1", BREAKER_PROBE_LEASE_SECONDS: "-5", BREAKER_OPEN_SECONDS: "600", BREAKER_MAX_OPEN_SECONDS: "300" };
        refused(() => activateCircuitBreaker({ env }), "Circuit breaker environment", [
            "environment variable BREAKER_PROBE_LEASE_SECONDS must be a number ≥ 1; received \"-5\"",
            "environment variable BREAKER_MIN_REQUESTS must be an integer; received \" \"",
            "environment variable BREAKER_SUCCESS_THRESHOLD must be an integer; received \"0x1\"",
            "BREAKER_MAX_OPEN_SECONDS: maxOpenSeconds must be at least openSeconds (600); received 300",
        ]);
    });

    it("breaker: missing table and mapping are listed together; a valid environment reads with defaults", () => {
        refused(() => breakerSettingsFromEnv({}), "Circuit breaker environment", [
            "environment variable BREAKER_TABLE_NAME is required",
            "environment variable BREAKER_MAPPING_UUID or BREAKER_EVENT_SOURCE_ARN is required",
        ]);
        assert.deepEqual(breakerSettingsFromEnv(BREAKER), {
            tableName: "breakers",
            mappingUuid: undefined,
            eventSourceArn: BREAKER.BREAKER_EVENT_SOURCE_ARN,
            id: "orders",
            probeLeaseSeconds: 960,
            flushSeconds: 5,
            policy: DEFAULT_BREAKER_POLICY,
        });
    });
});
