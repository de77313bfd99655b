/**
 * The breaker's actuator: an event source mapping toggled with UpdateEventSourceMapping. Open =
 * `Enabled=false` (polling pauses; the stream position and the queue's messages stay); half-open =
 * enabled with batch size 1 (and parallelization factor 1 on streams); close = enabled with the
 * settings recorded when the breaker opened. The mapping is never deleted, and reserved concurrency 0 is
 * never used (it would make asynchronous events skip their retries).
 *
 * Every call is idempotent: it reads the mapping first and skips the update when the mapping is already
 * in, or moving to, the target. IAM: `lambda:GetEventSourceMapping` and `lambda:UpdateEventSourceMapping`
 * on that mapping only, plus `lambda:ListEventSourceMappings` (resource `*`) when the mapping is given by
 * its event source rather than its UUID.
 */
import {
    GetEventSourceMappingCommand,
    GetEventSourceMappingCommandOutput,
    LambdaClient,
    UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import { ConfigurationError } from "../../contracts/errors";
import { resolveOwnMappingUuid } from "../eventSourceMappings";
import type { MappingActuatorPort } from "./breaker";

/** The mapping settings the breaker changes and restores. */
export interface MappingSettings {
    /** `BatchSize`. */
    batchSize: number;
    /** `ParallelizationFactor`, on Kinesis and DynamoDB streams only. */
    parallelizationFactor?: number;
}

/** Options of {@link EventSourceMappingActuator}. */
export interface MappingActuatorOptions {
    /**
     * The event source mapping's UUID; required without `eventSourceArn`.
     * @default the mapping from `eventSourceArn` to `functionName`, looked up on first use ({@link resolveOwnMappingUuid})
     * @example "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
     */
    uuid?: string;
    /**
     * The mapping's event source (stream or queue ARN), used when `uuid` is not given: the way a worker
     * names its own mapping, whose UUID it cannot know at deploy time.
     * @default undefined
     * @example "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
     */
    eventSourceArn?: string;
    /**
     * With `eventSourceArn`: the function the mapping invokes.
     * @default the running function (`AWS_LAMBDA_FUNCTION_NAME`)
     * @example "orders-worker"
     */
    functionName?: string;
    /**
     * Lambda client.
     * @default new LambdaClient({})
     * @example new LambdaClient({ maxAttempts: 5 })
     */
    client?: LambdaClient;
    /**
     * Attempts of each update or read while the mapping is busy (`ResourceInUseException`) or the control plane throttles
     * (`TooManyRequestsException`, 15 requests/s per account); waits 1 s, 2 s, 4 s… in between.
     * @default 4
     * @example 6
     */
    maxAttempts?: number;
    /**
     * How waiting is done (tests pass one that returns at once).
     * @default setTimeout
     * @example async () => undefined
     */
    sleep?: (ms: number) => Promise<void>;
}

const ENABLED_STATES = ["Enabled", "Enabling"];
const DISABLED_STATES = ["Disabled", "Disabling"];
const RETRYABLE_ERRORS = ["ResourceInUseException", "TooManyRequestsException"];

/** The target a call drives the mapping to. */
interface Target {
    enabled: boolean;
    settings?: MappingSettings;
}

/** Options of {@link EventSourceMappingActuator.enableForProbe}. */
export interface ProbeEnableOptions {
    /**
     * Leave a mapping that is enabled (or being enabled) as it is.
     * @default false
     * @example { onlyWhenDisabled: true }
     */
    onlyWhenDisabled?: boolean;
}

/**
 * Opens, probes and restores one event source mapping.
 * @example
 * const esm = new EventSourceMappingActuator({ uuid }); // or { eventSourceArn } inside the worker itself
 * const original = await esm.settings();
 * await esm.disable();
 * await esm.enableForProbe();
 * await esm.restore(original);
 */
export class EventSourceMappingActuator implements MappingActuatorPort {
    private readonly client: LambdaClient;
    private readonly maxAttempts: number;
    private readonly sleep: (ms: number) => Promise<void>;
    /** The mapping's UUID, given or looked up on first use. */
    private readonly uuid: () => Promise<string>;

    /**
     * @param options see {@link MappingActuatorOptions}
     * @throws ConfigurationError when neither `uuid` nor `eventSourceArn` is given
     */
    constructor(options: MappingActuatorOptions) {
        this.client = options.client ?? new LambdaClient({});
        this.uuid = uuidSource(options, this.client);
        this.maxAttempts = options.maxAttempts ?? 4;
        this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    }

    /** The mapping's current batch size (and parallelization factor on streams). */
    async settings(): Promise<MappingSettings> {
        return settingsOf(await this.read());
    }

    /** Pauses polling (`Enabled=false`). Returns whether an update was sent. */
    disable(): Promise<boolean> {
        return this.ensure({ enabled: false });
    }

    /**
     * Enables the mapping with batch size 1 (and parallelization factor 1 on streams). With
     * `onlyWhenDisabled`, an enabled mapping is left as it is (a probe is running, or a close restored it
     * meanwhile): only a probe whose enable did not land is resumed. Returns whether an update was sent.
     */
    async enableForProbe(options: ProbeEnableOptions = {}): Promise<boolean> {
        const mapping = await this.read();
        if (options.onlyWhenDisabled && !DISABLED_STATES.includes(mapping.State ?? "")) return false;
        const settings = { batchSize: 1, parallelizationFactor: isStream(mapping) ? 1 : undefined };
        return this.ensure({ enabled: true, settings }, mapping);
    }

    /** Enables the mapping with `original` settings (just enables it when none were recorded). Returns whether an update was sent. */
    restore(original?: MappingSettings): Promise<boolean> {
        return this.ensure({ enabled: true, settings: original });
    }

    private async ensure(target: Target, known?: GetEventSourceMappingCommandOutput): Promise<boolean> {
        if (matches(known ?? (await this.read()), target)) return false;
        const input = updateInput(await this.uuid(), target);
        await this.retrying(() => this.client.send(new UpdateEventSourceMappingCommand(input)));
        return true;
    }

    /** The mapping as Lambda has it; a throttled read is retried like an update (the control plane's 15 requests/s). */
    private async read(): Promise<GetEventSourceMappingCommandOutput> {
        const uuid = await this.uuid();
        return this.retrying(() => this.client.send(new GetEventSourceMappingCommand({ UUID: uuid })));
    }

    /** `call`, again after 1 s, 2 s, 4 s… while Lambda answers busy or throttled, up to `maxAttempts` in all. */
    private async retrying<T>(call: () => Promise<T>): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            try {
                return await call();
            } catch (error) {
                const name = (error as { name?: string } | null)?.name ?? "";
                if (!RETRYABLE_ERRORS.includes(name) || attempt >= this.maxAttempts) throw error;
                await this.sleep(1000 * 2 ** (attempt - 1));
            }
        }
    }
}

function uuidSource(options: MappingActuatorOptions, client: LambdaClient): () => Promise<string> {
    const { uuid, eventSourceArn, functionName } = options;
    if (uuid) return async () => uuid;
    if (!eventSourceArn) throw new ConfigurationError("EventSourceMappingActuator needs uuid or eventSourceArn.");
    return () => resolveOwnMappingUuid({ lambda: client, functionName, eventSourceArn });
}

function isStream(mapping: GetEventSourceMappingCommandOutput): boolean {
    return /^arn:[^:]+:(kinesis|dynamodb):/.test(mapping.EventSourceArn ?? "");
}

function settingsOf(mapping: GetEventSourceMappingCommandOutput): MappingSettings {
    return { batchSize: mapping.BatchSize ?? 0, parallelizationFactor: isStream(mapping) ? (mapping.ParallelizationFactor ?? 1) : undefined };
}

function matches(mapping: GetEventSourceMappingCommandOutput, target: Target): boolean {
    const states = target.enabled ? ENABLED_STATES : DISABLED_STATES;
    if (!states.includes(mapping.State ?? "")) return false;
    if (!target.settings) return true;
    const current = settingsOf(mapping);
    const factor = target.settings.parallelizationFactor;
    return current.batchSize === target.settings.batchSize && (factor === undefined || current.parallelizationFactor === factor);
}

function updateInput(uuid: string, target: Target) {
    return {
        UUID: uuid,
        Enabled: target.enabled,
        BatchSize: target.settings?.batchSize,
        ParallelizationFactor: target.settings?.parallelizationFactor,
    };
}
