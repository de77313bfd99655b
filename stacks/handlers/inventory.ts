/**
 * The semaphore example's fragile downstream call: a legacy inventory API that takes only a few calls at
 * once. The SemaphoreStateMachine around the workflow keeps the calls under that number.
 */
interface ReserveStock {
    orderId: string;
    sku: string;
    quantity: number;
}

export async function handler(request: ReserveStock): Promise<{ orderId: string; reserved: boolean }> {
    const url = process.env.INVENTORY_API_URL;
    if (!url) {
        console.log(JSON.stringify({ message: "INVENTORY_API_URL not set; reservation skipped", ...request }));
        return { orderId: request.orderId, reserved: false };
    }
    const response = await fetch(`${url}/reservations/${encodeURIComponent(request.orderId)}`, {
        method: "PUT",
        body: JSON.stringify({ sku: request.sku, quantity: request.quantity }),
    });
    if (!response.ok) throw new Error(`Inventory API answered ${response.status} for order ${request.orderId}`);
    return { orderId: request.orderId, reserved: true };
}
