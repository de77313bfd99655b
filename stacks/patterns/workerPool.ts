/** Pattern 1 in the example: order events processed by a pool of `ordersConcurrency` workers, sized by a controller. */
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
        // Pattern 3: a scheduled controller moves the pool size with the ERP's latency and errors.
        adaptiveConcurrency: { mode: "Controller", minConcurrency: 2, maxConcurrency: config.getNumber("ordersMaxConcurrency") ?? 20, latencyTargetMs: 300, downstream: "erp" },
    });
    return {
        ordersFunctionName: orders.function.name,
        ordersDeadLetterQueueUrl: orders.deadLetterQueue.url,
        ordersDashboard: orders.dashboardName,
        ordersOperations: orders.operations,
    };
}
