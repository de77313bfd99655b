/**
 * The example program: `pulumi up -s dev` deploys it; `npm start -- --stack dev` prints its plan offline.
 * Stack settings live in stacks/Pulumi.<stack>.yaml.
 */
import * as pulumi from "@pulumi/pulumi";
import { EventBridgeWorkerPool } from "../components";

const config = new pulumi.Config();

/** Pattern 1: order events processed by a pool of `ordersConcurrency` workers. */
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

export const ordersFunctionName = orders.function.name;
export const ordersDeadLetterQueueUrl = orders.deadLetterQueue.url;
export const ordersDashboard = orders.dashboardName;
