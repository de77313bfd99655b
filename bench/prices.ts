/**
 * AWS list prices used by every cost figure of the benches: us-east-1, on-demand, read on 2026-12-02 from
 * the public pricing pages. They change; the date says when these were true. Free tiers are ignored.
 */

/** The day these prices were read. */
export const PRICES_AS_OF = "2026-12-02";

/** US dollars, us-east-1. */
export const PRICES = {
    /** Lambda: per request. */
    lambdaRequest: 0.2 / 1e6,
    /** Lambda on arm64: per GB-second. */
    lambdaArmGbSecond: 0.0000133334,
    /** DynamoDB on-demand: per write request unit (1 KB). */
    dynamoWriteUnit: 0.625 / 1e6,
    /** DynamoDB on-demand: per read request unit (4 KB strongly consistent, 2 eventually consistent reads). */
    dynamoReadUnit: 0.125 / 1e6,
    /** Step Functions Standard: per state transition. */
    sfnStandardTransition: 0.025 / 1e3,
    /** SQS FIFO: per request (64 KB chunk). */
    sqsFifoRequest: 0.5 / 1e6,
    /** SQS standard: per request (64 KB chunk). */
    sqsStandardRequest: 0.4 / 1e6,
    /** SNS FIFO: per publish request (64 KB chunk); payload charges ignored. */
    snsFifoPublish: 0.3 / 1e6,
    /** EventBridge: per custom event published (64 KB chunk). */
    eventBridgeEvent: 1.0 / 1e6,
    /** Kinesis Data Streams provisioned: per PUT payload unit (25 KB). */
    kinesisPutUnit: 0.014 / 1e6,
    /** CloudWatch: per metric requested through GetMetricData. */
    cloudWatchMetricRequested: 0.01 / 1e3,
    /** Lambda control plane (PutFunctionConcurrency, UpdateEventSourceMapping, GetAccountSettings): no charge. */
    lambdaControlPlaneCall: 0,
} as const;

/**
 * Dollars per million events from per-event counts.
 * @example perMillion({ dynamoWriteUnit: 2, lambdaRequest: 1 }) // 1.45
 */
export function perMillion(countsPerEvent: Partial<Record<keyof typeof PRICES, number>>): number {
    let dollars = 0;
    for (const [item, count] of Object.entries(countsPerEvent)) dollars += PRICES[item as keyof typeof PRICES] * (count ?? 0) * 1e6;
    return Math.round(dollars * 100) / 100;
}
