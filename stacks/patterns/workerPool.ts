/** Pattern 1 in the example: order events processed by a pool of `ordersConcurrency` workers. */
import * as pulumi from "@pulumi/pulumi";
import { EventBridgeWorkerPool } from "../../components";

export function workerPoolExample(config: pulumi.Config) {
    const orders = new EventBridgeWorkerPool("orders", {
        function: {
            handler: "stacks/handlers/orders.handle",
            timeoutSeconds: 30,
            environment: { ERP_URL: config.get("erpUrl") ?? "" },
        },
        eventPattern: { source: ["shop.orders"], "detail-type": ["OrderPlaced"] },
        reservedConcurrency: config.getNumber("ordersConcurrency") ?? 5,
        alarmActions: config.getObject<string[]>("alarmActions") ?? [],
    });
    return {
        ordersFunctionName: orders.function.name,
        ordersDeadLetterQueueUrl: orders.deadLetterQueue.url,
        ordersDashboard: orders.dashboardName,
    };
}
