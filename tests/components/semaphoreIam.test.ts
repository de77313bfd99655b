/**
 * The contract between the semaphore's IAM and its runtime: every AWS call each function's runtime makes,
 * over scenarios that reach every path (free and queued grants, hand-offs, a second token, dead tokens, every
 * sweeper repair), is an action its role allows. Mocks accept any call; AWS refuses one the role lacks, so
 * the calls are recorded on dynalite and the mocked Step Functions and compared with the policies the
 * component generates.
 */
import * as assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeExecutionCommand, ExecutionDoesNotExist, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { createLogger } from "../../runtime/log";
import { Metrics } from "../../runtime/metrics";
import { digest, Semaphore, SHARD_CAPACITY } from "../../runtime/semaphore";
import { SemaphoreStore } from "../../runtime/semaphore/store";
import { startDynalite } from "../helpers/dynalite";
import { installMocks, json, resetRegistrations, resource, settle } from "../helpers/pulumiMocks";

const ROLES = ["acquire", "release", "cleanup", "sweeper"] as const;
type Role = (typeof ROLES)[number];
const TABLE = "semaphore-iam";
const arn = (who: string) => `arn:aws:states:us-east-1:123456789012:execution:protected:${who}`;

/** Adds `service:Operation` of every call a client sends to `into`. */
function recordCalls(client: DynamoDBClient, service: string, into: () => Set<string>): void {
    client.middlewareStack.add(
        (next, context) => (args) => {
            into().add(`${service}:${String(context.commandName).replace(/Command$/, "")}`);
            return next(args);
        },
        { step: "initialize", name: "recordIamActions" },
    );
}

/** The actions the role policies of the function `role` allow. */
function allowedActions(role: Role): Set<string> {
    const statements = [`erp-${role}-policy`, `erp-${role}-describe`].flatMap((name) => json(resource("aws:iam/rolePolicy:RolePolicy", name).inputs.policy).Statement as Array<{ Action: string[] }>);
    return new Set(statements.flatMap((s) => s.Action));
}

describe("StepFunctionsSemaphore IAM covers every call its runtime makes", function () {
    this.timeout(120_000);

    it("acquire, release, cleanup and sweeper, over every path of the protocol", async () => {
        await installMocks();
        resetRegistrations();
        const { StepFunctionsSemaphore } = await import("../../components/stepFunctionsSemaphore");
        new StepFunctionsSemaphore("erp", { limit: 3 });
        await settle();

        const db = await startDynalite();
        const sfnMock = mockClient(SFNClient);
        const calls = new Map<Role, Set<string>>(ROLES.map((role) => [role, new Set<string>()]));
        let current: Role = "acquire";
        const dead = new Set<string>();
        const ended = new Set<string>();
        try {
            await db.createTable(TABLE, "pk", "sk");
            // aws-sdk-client-mock replaces `send`, so no middleware runs: each fake records its own action.
            const record = (action: string) => calls.get(current)!.add(`states:${action}`);
            sfnMock.on(SendTaskSuccessCommand).callsFake(({ taskToken }) => {
                record("SendTaskSuccess");
                if (dead.has(taskToken)) throw new TaskTimedOut({ message: "gone", $metadata: {} });
                dead.add(taskToken);
                return {};
            });
            sfnMock.on(SendTaskHeartbeatCommand).callsFake(({ taskToken }) => {
                record("SendTaskHeartbeat");
                if (dead.has(taskToken)) throw new TaskTimedOut({ message: "gone", $metadata: {} });
                return {};
            });
            sfnMock.on(DescribeExecutionCommand).callsFake(({ executionArn }) => {
                record("DescribeExecution");
                if (ended.has(executionArn)) throw new ExecutionDoesNotExist({ message: "gone", $metadata: {} });
                return { status: "RUNNING" };
            });
            const dynamo = new DynamoDBClient({ endpoint: db.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
            const sfn = new SFNClient({ region: "us-east-1" });
            recordCalls(dynamo, "dynamodb", () => calls.get(current)!);
            let clock = 1_000_000;
            const limit = SHARD_CAPACITY + 1;
            const semaphore = new Semaphore({ tableName: TABLE, name: "erp", limit, leaseSeconds: 60, dynamo, sfn, now: () => clock, logger: createLogger({ write: () => undefined }), metrics: new Metrics({ write: () => undefined }) });
            const as = async (role: Role, operation: () => Promise<unknown>) => {
                current = role;
                await operation().catch(() => undefined);
            };
            const who = (i: number) => arn(`e${i}`);
            for (let i = 0; i < limit + 3; i++) await as("acquire", () => semaphore.acquire({ executionArn: who(i), token: `t${i}` }));
            await as("acquire", () => semaphore.acquire({ executionArn: who(0), token: "t0" })); // a duplicate: redelivery
            dead.add(`t${limit}`);
            await as("acquire", () => semaphore.acquire({ executionArn: who(limit), token: "second" })); // a second token, the first dead
            await as("release", () => semaphore.release(who(0))); // hand-off
            dead.add(`t${limit + 1}`);
            ended.add(who(limit + 1));
            await as("release", () => semaphore.release(who(1))); // hand-off to a dead waiter of an ended execution
            await as("cleanup", () => semaphore.release(who(2)));
            await as("cleanup", () => semaphore.release(who(limit + 2)));
            // Repairs for the sweeper: an expired lease of an ended execution, an unrecorded grant, an orphan record.
            const store = new SemaphoreStore(dynamo, TABLE, "erp");
            current = "sweeper";
            ended.add(who(3));
            await store.putWaiter({ id: digest(arn("orphan")), executionArn: arn("orphan"), token: "orphan", enqueuedAt: 0 });
            clock += 61_000;
            await as("sweeper", () => semaphore.sweep());
            for (const role of ROLES) {
                const allowed = allowedActions(role);
                const missing = [...calls.get(role)!].filter((action) => !allowed.has(action));
                assert.deepEqual(missing, [], `${role} calls ${[...calls.get(role)!].sort().join(", ")}; its role allows ${[...allowed].sort().join(", ")}`);
            }
            assert.deepEqual([calls.get("acquire")!.has("states:SendTaskHeartbeat"), calls.get("sweeper")!.has("dynamodb:Query"), calls.get("release")!.has("states:DescribeExecution")], [true, true, true], JSON.stringify(Object.fromEntries([...calls].map(([r, c]) => [r, [...c].sort()]))));
        } finally {
            sfnMock.restore();
            await db.stop();
        }
    });
});
