/**
 * The command line, parsed into one {@link CliCommand}. Pure: no I/O, every mistake a {@link UsageError}
 * naming what is wrong.
 */
import { UsageError } from "./errors";

/** Options every command takes. */
export interface GlobalOptions {
    /**
     * The stack outputs: a file with the JSON of `pulumi stack output --json`, or `-` for standard input.
     * @example "outputs.json"
     */
    outputs?: string;
    /**
     * Region for every AWS call.
     * @default each component's own region (from its manifest), else the SDK's default chain
     * @example "eu-west-1"
     */
    region?: string;
    /**
     * Shared-config profile for credentials.
     * @default the SDK's default chain (`AWS_PROFILE`, environment, SSO, instance role)
     * @example "prod-oncall"
     */
    profile?: string;
}

/** Options of the commands that change something. */
export interface ChangeOptions {
    /**
     * Apply without asking; required when standard input is not a terminal.
     * @default false
     * @example true
     */
    yes: boolean;
    /**
     * Why: stored in the audit entry.
     * @example "INC-4711: ERP is down"
     */
    reason: string;
    /**
     * Days the audit entry is kept: then the component table's TTL deletes it.
     * @default 90
     * @example 400
     */
    auditRetentionDays?: number;
}

/** One parsed command. */
export type CliCommand =
    | { kind: "help" }
    | ({ kind: "status"; names: string[]; json: boolean } & GlobalOptions)
    | ({ kind: "audit"; name: string; limit: number; scan: boolean; json: boolean } & GlobalOptions)
    | ({ kind: "controller-pause"; name: string; pinnedLimit?: number } & GlobalOptions & ChangeOptions)
    | ({ kind: "controller-resume"; name: string } & GlobalOptions & ChangeOptions)
    | ({ kind: "breaker-open"; name: string; openSeconds?: number } & GlobalOptions & ChangeOptions)
    | ({ kind: "breaker-close"; name: string } & GlobalOptions & ChangeOptions)
    | ({ kind: "semaphore-release"; name: string; executionArn: string } & GlobalOptions & ChangeOptions)
    | ({ kind: "idempotency-show"; name: string; key: string } & GlobalOptions)
    | ({ kind: "idempotency-forget"; name: string; key: string } & GlobalOptions & ChangeOptions)
    | ({ kind: "dlq-redrive"; name: string } & GlobalOptions & ChangeOptions);

/** The kinds of {@link CliCommand} that change state (and so need `--reason`, `--yes` or a terminal, and an audit entry). */
export const CHANGE_KINDS = ["controller-pause", "controller-resume", "breaker-open", "breaker-close", "semaphore-release", "idempotency-forget", "dlq-redrive"] as const;

/**
 * The longest `--for`, in seconds: 14 days, the longest SQS keeps a message (a breaker open longer would
 * let every message waiting behind it expire; Kinesis's default retention is far shorter).
 */
export const MAX_FORCED_OPEN_SECONDS = 1_209_600;

const FOR_BOUND = { limit: MAX_FORCED_OPEN_SECONDS, why: "14 days, the longest SQS keeps a message: the records waiting behind a breaker open longer expire" };

/** Entries `audit` lists per table without `--limit`. */
export const DEFAULT_AUDIT_LIMIT = 20;

/** The most entries `audit --limit` may ask for per table. */
export const MAX_AUDIT_LIMIT = 1000;

const LIMIT_BOUND = { limit: MAX_AUDIT_LIMIT, why: "the entries listed per table" };

const VALUE_OPTIONS = ["outputs", "region", "profile", "reason", "at", "for", "audit-retention-days", "limit"] as const;
const FLAG_OPTIONS = ["json", "yes", "help", "scan"] as const;

type ValueOption = (typeof VALUE_OPTIONS)[number];
type FlagOption = (typeof FLAG_OPTIONS)[number];

interface RawArguments {
    positionals: string[];
    values: Partial<Record<ValueOption, string>>;
    flags: Set<FlagOption>;
}

/** Which command words take which positional arguments and options. */
const COMMANDS: Record<string, { kind: CliCommand["kind"]; positionals: string[]; options: (ValueOption | FlagOption)[] }> = {
    status: { kind: "status", positionals: [], options: ["json"] },
    audit: { kind: "audit", positionals: ["NAME"], options: ["limit", "scan", "json"] },
    "controller pause": { kind: "controller-pause", positionals: ["NAME"], options: ["at"] },
    "controller resume": { kind: "controller-resume", positionals: ["NAME"], options: [] },
    "breaker open": { kind: "breaker-open", positionals: ["NAME"], options: ["for"] },
    "breaker close": { kind: "breaker-close", positionals: ["NAME"], options: [] },
    "semaphore release": { kind: "semaphore-release", positionals: ["NAME", "EXECUTION_ARN"], options: [] },
    "idempotency show": { kind: "idempotency-show", positionals: ["NAME", "KEY"], options: [] },
    "idempotency forget": { kind: "idempotency-forget", positionals: ["NAME", "KEY"], options: [] },
    "dlq redrive": { kind: "dlq-redrive", positionals: ["NAME"], options: [] },
};

/** The commands of one word (the others are a noun and a verb). */
const SINGLE_WORD_COMMANDS = ["status", "audit"];

/**
 * Parses the arguments after the program name.
 * @param argv e.g. `process.argv.slice(2)`
 * @throws UsageError for an unknown command or option, a missing argument, or a bad number
 * @example parseArguments(["breaker", "open", "payments", "--for", "600", "--reason", "INC-1", "--outputs", "o.json"])
 */
export function parseArguments(argv: readonly string[]): CliCommand {
    const raw = splitArguments(argv);
    if (raw.flags.has("help") || raw.positionals.length === 0) return { kind: "help" };
    const [word, sub] = raw.positionals;
    const key = SINGLE_WORD_COMMANDS.includes(word) ? word : `${word} ${sub ?? ""}`.trim();
    const spec = COMMANDS[key];
    if (!spec) throw new UsageError(`unknown command "${key}"; commands: ${Object.keys(COMMANDS).join(", ")} (see --help)`);
    const args = raw.positionals.slice(key.split(" ").length);
    const allowed = new Set<string>(["outputs", "region", "profile", ...spec.options, ...(isChange(spec.kind) ? ["yes", "reason", "audit-retention-days"] : [])]);
    const misplaced = [...Object.keys(raw.values), ...raw.flags].find((option) => !allowed.has(option));
    if (misplaced) throw new UsageError(`option --${misplaced} does not apply to "${key}"`);
    if (spec.kind !== "status" && args.length !== spec.positionals.length) {
        throw new UsageError(`"${key}" takes ${spec.positionals.join(" ")}; received ${args.length === 0 ? "nothing" : args.map((a) => JSON.stringify(a)).join(" ")}`);
    }
    return buildCommand(spec.kind, args, raw);
}

function buildCommand(kind: CliCommand["kind"], args: string[], raw: RawArguments): CliCommand {
    const global: GlobalOptions = { outputs: raw.values.outputs, region: raw.values.region, profile: raw.values.profile };
    if (kind === "status") return { kind, names: args, json: raw.flags.has("json"), ...global };
    if (kind === "idempotency-show") return { kind, name: args[0], key: args[1], ...global };
    if (kind === "audit") {
        return { kind, name: args[0], limit: positiveInteger("--limit", raw.values.limit, LIMIT_BOUND) ?? DEFAULT_AUDIT_LIMIT, scan: raw.flags.has("scan"), json: raw.flags.has("json"), ...global };
    }
    const change: ChangeOptions = {
        yes: raw.flags.has("yes"),
        reason: requiredReason(raw),
        auditRetentionDays: positiveInteger("--audit-retention-days", raw.values["audit-retention-days"]),
    };
    switch (kind) {
        case "controller-pause":
            return { kind, name: args[0], pinnedLimit: positiveInteger("--at", raw.values.at), ...global, ...change };
        case "breaker-open":
            return { kind, name: args[0], openSeconds: positiveInteger("--for", raw.values.for, FOR_BOUND), ...global, ...change };
        case "semaphore-release":
            return { kind, name: args[0], executionArn: args[1], ...global, ...change };
        case "idempotency-forget":
            return { kind, name: args[0], key: args[1], ...global, ...change };
        case "controller-resume":
        case "breaker-close":
        case "dlq-redrive":
            return { kind, name: args[0], ...global, ...change };
        default:
            throw new UsageError(`unknown command kind ${kind}`);
    }
}

/** A command that changes state. */
export type ChangeCommand = Extract<CliCommand, ChangeOptions>;

/** Whether a command kind changes state. */
export function isChange(kind: CliCommand["kind"]): kind is (typeof CHANGE_KINDS)[number] {
    return (CHANGE_KINDS as readonly string[]).includes(kind);
}

/** Whether `command` changes state. */
export function isChangeCommand(command: CliCommand): command is ChangeCommand {
    return isChange(command.kind);
}

function splitArguments(argv: readonly string[]): RawArguments {
    const raw: RawArguments = { positionals: [], values: {}, flags: new Set() };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "-h") {
            raw.flags.add("help");
            continue;
        }
        if (!arg.startsWith("--") || arg === "-") {
            raw.positionals.push(arg);
            continue;
        }
        const [name, inline] = splitOption(arg.slice(2));
        if ((FLAG_OPTIONS as readonly string[]).includes(name)) {
            if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
            raw.flags.add(name as FlagOption);
        } else if ((VALUE_OPTIONS as readonly string[]).includes(name)) {
            const value = inline ?? argv[++i];
            if (value === undefined || (inline === undefined && value.startsWith("--"))) throw new UsageError(`option --${name} needs a value`);
            const earlier = raw.values[name as ValueOption];
            if (earlier !== undefined) throw new UsageError(`option --${name} is given twice (${JSON.stringify(earlier)} and ${JSON.stringify(value)}): give it once`);
            raw.values[name as ValueOption] = value;
        } else {
            throw new UsageError(`unknown option --${name} (see --help)`);
        }
    }
    return raw;
}

function splitOption(text: string): [string, string | undefined] {
    const equals = text.indexOf("=");
    return equals < 0 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
}

function requiredReason(raw: RawArguments): string {
    const reason = raw.values.reason?.trim();
    if (!reason) throw new UsageError("--reason is required for a change: it goes into the audit entry");
    return reason;
}

function positiveInteger(option: string, value: string | undefined, most?: { limit: number; why: string }): number | undefined {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!/^\d+$/.test(value) || number < 1 || !Number.isSafeInteger(number)) throw new UsageError(`${option} must be a positive integer; received ${JSON.stringify(value)}`);
    if (most && number > most.limit) throw new UsageError(`${option} must be at most ${most.limit} (${most.why}); received ${value}`);
    return number;
}
