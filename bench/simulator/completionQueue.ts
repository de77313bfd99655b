/**
 * The simulator's pending calls, ordered by the time they end (a binary min-heap).
 */

/** A call in flight. */
export interface PendingCall {
    /** Simulated time the call ends, in milliseconds. */
    endsAt: number;
    /** How long the call took, in milliseconds. */
    latencyMs: number;
    /** `false` when it timed out. */
    ok: boolean;
}

/** Calls in flight, earliest end first. */
export class CompletionQueue {
    private readonly heap: PendingCall[] = [];

    /** Number of calls in flight. */
    get size(): number {
        return this.heap.length;
    }

    /** End time of the earliest call, or `Infinity` when none is in flight. */
    nextEnd(): number {
        return this.heap[0]?.endsAt ?? Infinity;
    }

    /** Adds a call. */
    push(call: PendingCall): void {
        this.heap.push(call);
        let child = this.heap.length - 1;
        while (child > 0) {
            const parent = (child - 1) >> 1;
            if (this.heap[parent].endsAt <= call.endsAt) break;
            this.heap[child] = this.heap[parent];
            child = parent;
        }
        this.heap[child] = call;
    }

    /** Removes and returns the earliest call; the queue must not be empty. */
    pop(): PendingCall {
        const first = this.heap[0];
        const last = this.heap.pop() as PendingCall;
        if (this.heap.length > 0) this.sinkFromTop(last);
        return first;
    }

    private sinkFromTop(call: PendingCall): void {
        const n = this.heap.length;
        let parent = 0;
        for (;;) {
            let child = 2 * parent + 1;
            if (child >= n) break;
            if (child + 1 < n && this.heap[child + 1].endsAt < this.heap[child].endsAt) child += 1;
            if (this.heap[child].endsAt >= call.endsAt) break;
            this.heap[parent] = this.heap[child];
            parent = child;
        }
        this.heap[parent] = call;
    }
}
