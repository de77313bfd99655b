/**
 * One control-plane budget per account and Region, shared by every controller and self-tuning worker
 * through a DynamoDB item: a token bucket refilled at `requestsPerSecond` and holding at most
 * `15 − requestsPerSecond` tokens (at least 1), so no one-second window sees more than 15 calls from
 * the controllers (the Lambda control plane allows 15 requests/s per account for all its write APIs
 * together; the default rate 10 leaves room for deployments). Every actuator call takes one token first.
 *
 * | `pk` (S) | attributes |
 * |---|---|
 * | `lambda-control-plane` | `tokens` (N), `refilledAt` (N, epoch ms) |
 *
 * A take is a consistent GetItem and a conditional PutItem (`refilledAt` unchanged): 1 RCU + 1 WCU per
 * control-plane call. A take whose response was lost is retried by the SDK, fails its condition and
 * takes again: the bucket only ever over-counts, so it errs on the side of fewer calls. When no token
 * comes within `maxWaitMs` the take rejects with {@link ControlPlaneBudgetExhaustedError}: the interval
 * fails and the setting holds. IAM: `dynamodb:GetItem`, `dynamodb:PutItem` on the budget table.
 */
import { AttributeValue, ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ControllerError } from "../../contracts/errors";

/** What an actuator needs from a budget. */
export interface ControlPlaneBudgetPort {
    /** Resolves when one call may be made. */
    take(): Promise<void>;
}

/** No control-plane token came within the budget's longest wait. */
export class ControlPlaneBudgetExhaustedError extends ControllerError {
    override name = "ControlPlaneBudgetExhaustedError";
}

/** The budget item's key. */
export const CONTROL_PLANE_BUDGET_KEY = "lambda-control-plane";

/** Options of {@link DynamoDbControlPlaneBudget}. */
export interface ControlPlaneBudgetOptions {
    /**
     * DynamoDB client.
     * @default new DynamoDBClient({})
     * @example new DynamoDBClient({ maxAttempts: 3 })
     */
    client?: DynamoDBClient;
    /**
     * The budget table (string key `pk`), one per account and Region.
     * @example "control-plane-budget"
     */
    tableName: string;
    /**
     * Tokens per second for all targets of the account together, in (0, 14].
     * @default 10
     * @example 12
     */
    requestsPerSecond?: number;
    /**
     * Longest wait for a token, milliseconds.
     * @default 10000
     * @example 5000
     */
    maxWaitMs?: number;
    /**
     * The current time, epoch ms.
     * @default Date.now
     * @example () => fakeClock
     */
    clock?: () => number;
    /**
     * How waiting is done.
     * @default setTimeout
     * @example async (ms) => void (fakeClock += ms)
     */
    sleep?: (ms: number) => Promise<void>;
}

/** The account's Lambda control-plane limit, requests per second. */
export const LAMBDA_CONTROL_PLANE_LIMIT = 15;

/**
 * The bucket's size for a refill rate: what a one-second window can add on top of the rate while
 * staying within {@link LAMBDA_CONTROL_PLANE_LIMIT}.
 * @param rate tokens per second
 * @example bucketSize(10) // 5
 */
export function bucketSize(rate: number): number {
    return Math.max(1, LAMBDA_CONTROL_PLANE_LIMIT - rate);
}

/**
 * The token bucket as a pure function: tokens after refilling from `refilledAt` to `now`.
 * @param stored the stored tokens and refill time (none: a full bucket)
 * @param now epoch ms
 * @param rate tokens per second
 * @example tokensAt({ tokens: 0, refilledAt: 0 }, 200, 10) // 2
 */
export function tokensAt(stored: { tokens: number; refilledAt: number } | undefined, now: number, rate: number): number {
    const size = bucketSize(rate);
    if (!stored) return size;
    return Math.min(size, stored.tokens + (Math.max(0, now - stored.refilledAt) / 1000) * rate);
}

/**
 * The shared token bucket on DynamoDB.
 * @example const actuator = new ConcurrencyActuator({ budget: new DynamoDbControlPlaneBudget({ tableName }) });
 */
export class DynamoDbControlPlaneBudget implements ControlPlaneBudgetPort {
    private readonly client: DynamoDBClient;
    private readonly rate: number;
    private readonly maxWaitMs: number;
    private readonly clock: () => number;
    private readonly sleep: (ms: number) => Promise<void>;

    /** @param options see {@link ControlPlaneBudgetOptions} */
    constructor(private readonly options: ControlPlaneBudgetOptions) {
        this.client = options.client ?? new DynamoDBClient({});
        this.rate = options.requestsPerSecond ?? 10;
        this.maxWaitMs = options.maxWaitMs ?? 10_000;
        this.clock = options.clock ?? Date.now;
        this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    }

    /**
     * Takes one token, waiting for the refill when the bucket is empty.
     * @throws ControlPlaneBudgetExhaustedError when none came within `maxWaitMs`
     */
    async take(): Promise<void> {
        const deadline = this.clock() + this.maxWaitMs;
        for (;;) {
            const stored = await this.read();
            const now = this.clock();
            const tokens = tokensAt(stored, now, this.rate);
            if (tokens >= 1) {
                if (await this.write(tokens - 1, now, stored)) return;
                if (this.clock() >= deadline) throw this.exhausted();
                continue;
            }
            const waitMs = Math.ceil(((1 - tokens) / this.rate) * 1000);
            if (now + waitMs > deadline) throw this.exhausted();
            await this.sleep(waitMs);
        }
    }

    private exhausted(): ControlPlaneBudgetExhaustedError {
        return new ControlPlaneBudgetExhaustedError(`No Lambda control-plane token within ${this.maxWaitMs} ms (${this.rate} requests/s shared by the account's controllers).`);
    }

    private async read(): Promise<{ tokens: number; refilledAt: number } | undefined> {
        const { Item } = await this.client.send(new GetItemCommand({ TableName: this.options.tableName, Key: budgetKey(), ConsistentRead: true }));
        return Item ? { tokens: Number(Item.tokens?.N ?? 0), refilledAt: Number(Item.refilledAt?.N ?? 0) } : undefined;
    }

    /**
     * Stores the bucket if it is still as `expected` was read; false when someone took a token since. Both
     * fields are compared: two takes in one millisecond leave `refilledAt` as it was, but not `tokens`.
     */
    private async write(tokens: number, now: number, expected: { tokens: number; refilledAt: number } | undefined): Promise<boolean> {
        try {
            await this.client.send(
                new PutItemCommand({
                    TableName: this.options.tableName,
                    Item: { ...budgetKey(), tokens: { N: String(tokens) }, refilledAt: { N: String(now) } },
                    // An item without `tokens` (written by hand) reads as 0 and must still compare.
                    ConditionExpression: expected === undefined ? "attribute_not_exists(pk)" : "refilledAt = :refilledAt AND (attribute_not_exists(tokens) OR tokens = :tokens)",
                    ExpressionAttributeValues:
                        expected === undefined ? undefined : { ":refilledAt": { N: String(expected.refilledAt) }, ":tokens": { N: String(expected.tokens) } },
                }),
            );
            return true;
        } catch (error) {
            if (error instanceof ConditionalCheckFailedException) return false;
            throw error;
        }
    }
}

function budgetKey(): Record<string, AttributeValue> {
    return { pk: { S: CONTROL_PLANE_BUDGET_KEY } };
}
