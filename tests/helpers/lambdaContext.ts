/**
 * Runtime test helpers: a fake Lambda context and a sink that collects the JSON lines (logs, EMF)
 * the runtime writes. Usage: `const sink = lineSink(); handler(event, fakeLambdaContext("req-1"))`.
 */
import type { Context } from "aws-lambda";

/** A Lambda context with fixed values and 30 s remaining. */
export function fakeLambdaContext(awsRequestId = "req-1"): Context {
    return {
        awsRequestId,
        functionName: "fn",
        functionVersion: "$LATEST",
        invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:fn",
        memoryLimitInMB: "256",
        logGroupName: "/aws/lambda/fn",
        logStreamName: "stream",
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => 30_000,
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
    };
}

/** Collected output lines, with their JSON parse. */
export interface LineSink {
    write: (line: string) => void;
    lines: string[];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    json: () => Record<string, any>[];
}

/** A writer (for the runtime's `write` options) that keeps every line. */
export function lineSink(): LineSink {
    const lines: string[] = [];
    return { write: (line) => lines.push(line), lines, json: () => lines.map((l) => JSON.parse(l)) };
}
