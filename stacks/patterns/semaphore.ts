/**
 * Pattern 3 in the example: a Step Functions workflow that reserves stock in a legacy inventory API,
 * which takes only `semaphoreLimit` calls at once. The SemaphoreStateMachine lets that many executions
 * call it and queues the rest (no polling); every path gives the permit back.
 */
import * as aws from "@pulumi/aws";
import * as esbuild from "esbuild";
import * as pulumi from "@pulumi/pulumi";
import { SemaphoreStateMachine } from "../../components";

export function semaphoreExample(config: pulumi.Config): Record<string, pulumi.Output<unknown>> {
    const inventory = inventoryFunction(config.get("inventoryApiUrl") ?? "");
    const reservations = new SemaphoreStateMachine("stock-reservations", {
        limit: config.getNumber("semaphoreLimit") ?? 2,
        definition: {
            Comment: "Reserves stock for an order in the legacy inventory API.",
            StartAt: "ReserveStock",
            States: {
                ReserveStock: {
                    Type: "Task",
                    Resource: "arn:aws:states:::lambda:invoke",
                    Parameters: { FunctionName: inventory.arn, "Payload.$": "$" },
                    OutputPath: "$.Payload",
                    Retry: [{ ErrorEquals: ["States.TaskFailed"], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
                    End: true,
                },
            },
        },
        policyStatements: [{ actions: ["lambda:InvokeFunction"], resources: [inventory.arn] }],
        alarmActions: config.getObject<string[]>("alarmActions") ?? [],
    });
    return {
        stockReservationsStateMachineArn: reservations.stateMachineArn,
        stockReservationsSemaphoreTable: reservations.semaphoreTableName,
        stockReservationsLimit: reservations.limit,
        stockReservationsOperations: reservations.operations,
    };
}

/**
 * The function that calls the inventory API (stacks/handlers/inventory.ts), as a team would write it
 * next to this package: its own log group with retention, a role that may only write there.
 */
function inventoryFunction(inventoryApiUrl: string): aws.lambda.Function {
    const logGroup = new aws.cloudwatch.LogGroup("inventory-logs", { retentionInDays: 30 });
    const role = new aws.iam.Role("inventory-role", {
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
    });
    const logging = new aws.iam.RolePolicy("inventory-logging", {
        role: role.id,
        policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${logGroup.arn}:*` }],
        }),
    });
    const bundle = esbuild.buildSync({ entryPoints: ["stacks/handlers/inventory.ts"], bundle: true, platform: "node", target: "node22", format: "cjs", write: false });
    return new aws.lambda.Function(
        "inventory",
        {
            role: role.arn,
            runtime: aws.lambda.Runtime.NodeJS22dX,
            architectures: ["arm64"],
            handler: "index.handler",
            code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bundle.outputFiles[0].text) }),
            timeout: 30,
            memorySize: 128,
            loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
            environment: { variables: { INVENTORY_API_URL: inventoryApiUrl } },
        },
        { dependsOn: [logging] },
    );
}
