/**
 * The example's business function: a plain function of the event. The EventBridgeWorkerPool wrapper
 * makes it run at most once per event id and times the downstream call for the dashboard.
 */
import type { WorkerContext } from "../../runtime/context";

interface OrderPlaced {
    id: string;
    detail: { orderId: string; amount: number };
}

export async function handle(event: OrderPlaced, ctx: WorkerContext): Promise<{ orderId: string; booked: boolean }> {
    await ctx.downstream("erp", () => bookOrder(event.detail.orderId, event.detail.amount));
    return { orderId: event.detail.orderId, booked: true };
}

/** Stands in for the fragile downstream (an ERP that takes at most a few calls at once). */
async function bookOrder(orderId: string, amount: number): Promise<void> {
    const url = process.env.ERP_URL;
    if (!url) {
        console.log(JSON.stringify({ message: "ERP_URL not set; booking skipped", orderId, amount }));
        return;
    }
    const response = await fetch(`${url}/orders/${encodeURIComponent(orderId)}`, { method: "PUT", body: JSON.stringify({ amount }) });
    if (!response.ok) throw new Error(`ERP answered ${response.status} for order ${orderId}`);
}
