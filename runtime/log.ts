/**
 * Structured JSON logs: one JSON object per line, written straight to stdout.
 *
 * Lines go to `process.stdout` rather than the global `console`, which the Lambda runtime patches
 * (it prefixes a timestamp and request id, or wraps the line again with the JSON log format); the
 * lines are already structured, so wrapping would only escape them.
 *
 * Not Powertools Logger/Metrics, by measurement (`npx ts-node bench/bundleSize.ts`): they add about
 * 110 KiB to a worker bundle of 23–32 KiB and about 8 ms to a cold start (load and first invocation).
 */

/** Receives one complete output line (without the trailing newline). */
export type LineWriter = (line: string) => void;

/**
 * The default {@link LineWriter}: appends the line and a newline to `process.stdout`.
 * @example createLogger({ write: writeStdout })
 */
export const writeStdout: LineWriter = (line) => {
    process.stdout.write(`${line}\n`);
};

/** Log levels, lowest first; they match the values of Lambda's `AWS_LAMBDA_LOG_LEVEL`. */
export const LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Extra fields merged into a log line; `Error` values are written as `{ name, message, stack }`. */
export type LogFields = Record<string, unknown>;

/**
 * A structured logger. Each call writes one JSON line:
 * `{"timestamp":"…","level":"INFO","message":"…",…fields}`.
 */
export interface Logger {
    /** Writes at DEBUG. @example log.debug("cache miss", { key }) */
    debug(message: string, fields?: LogFields): void;
    /** Writes at INFO. @example log.info("duplicate skipped", { eventId }) */
    info(message: string, fields?: LogFields): void;
    /** Writes at WARN. @example log.warn("claim was taken over", { key }) */
    warn(message: string, fields?: LogFields): void;
    /** Writes at ERROR. @example log.error("worker function failed", { error }) */
    error(message: string, fields?: LogFields): void;
    /** A logger that adds `fields` to every line. @example log.child({ eventId: event.id }) */
    child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
    /**
     * Fields written on every line.
     * @default {}
     * @example { requestId: context.awsRequestId }
     */
    fields?: LogFields;
    /**
     * Lowest level written.
     * @default `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls), else `LOG_LEVEL`, else "INFO"
     * @example "DEBUG"
     */
    level?: LogLevel;
    /**
     * Where lines go.
     * @default writeStdout
     * @example (line) => lines.push(line)
     */
    write?: LineWriter;
}

/**
 * Creates a structured JSON logger.
 * @example
 * const log = createLogger({ fields: { worker: "orders" } });
 * log.info("started", { batchSize: 10 });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
    const threshold = rank(options.level ?? envLevel());
    const write = options.write ?? writeStdout;
    const base = options.fields ?? {};
    const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
        if (rank(level) >= threshold) write(logLine(level, message, { ...base, ...fields }));
    };
    return {
        debug: emit("DEBUG"),
        info: emit("INFO"),
        warn: emit("WARN"),
        error: emit("ERROR"),
        child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
    };
}

function rank(level: LogLevel): number {
    return LOG_LEVELS.indexOf(level);
}

function envLevel(): LogLevel {
    const value = (process.env.AWS_LAMBDA_LOG_LEVEL ?? process.env.LOG_LEVEL ?? "").toUpperCase();
    return (LOG_LEVELS as readonly string[]).includes(value) ? (value as LogLevel) : "INFO";
}

function logLine(level: LogLevel, message: string, fields: LogFields): string {
    const record = { timestamp: new Date().toISOString(), level, message, ...fields };
    try {
        return JSON.stringify(record, errorReplacer);
    } catch {
        return JSON.stringify({ timestamp: record.timestamp, level, message, logError: "fields not serializable" });
    }
}

function errorReplacer(_key: string, value: unknown): unknown {
    return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}
