import { strict as assert } from "node:assert";
import { CostFigures, figures, render, usdPerMillion } from "../../bench/cost.bench";
import { parseMarkdown } from "../../bench/runner";

describe("bench/cost.bench (dynalite, mocked Lambda, CloudWatch and Step Functions)", function () {
    this.timeout(60_000);
    let measured: CostFigures;
    before(async () => {
        measured = await figures();
    });

    it("prices each row from its own counts", () => {
        for (const row of measured.rows) assert.ok(Math.abs(row.runtimeUsdPerMillion - usdPerMillion(row.perEvent)) < 1e-3, row.pattern);
        assert.equal(usdPerMillion({ dynamoRequests: 2, wcu: 2, rcu: 0, lambdaRequests: 1, sfnTransitions: 0, cloudWatchMetrics: 0 }).toFixed(2), "1.45");
    });

    it("counts what each pattern calls: workers write their idempotency records, the semaphore runs two functions and its own states", () => {
        const by = (pattern: string) => measured.rows.find((r) => r.pattern === pattern)!;
        for (const worker of ["EventBridge worker", "Kinesis ordered worker", "FIFO worker"]) assert.ok(by(worker).perEvent.wcu >= 1, worker);
        assert.deepEqual([by("EventBridge worker").perEvent.lambdaRequests, by("Kinesis ordered worker").perEvent.lambdaRequests, by("FIFO worker").perEvent.lambdaRequests], [1, 0.01, 0.1]);
        const controller = by("Adaptive concurrency (controller mode)").perEvent;
        assert.ok(controller.cloudWatchMetrics > 0 && controller.wcu > 0 && controller.wcu < 0.1, JSON.stringify(controller));
        const semaphore = by("Semaphore (Step Functions)").perEvent;
        assert.equal(semaphore.lambdaRequests, 2);
        assert.ok(semaphore.sfnTransitions >= 2 && semaphore.wcu > 0, JSON.stringify(semaphore));
    });

    it("renders one table the runner can read back, one row per pattern", () => {
        const { tables, notes } = parseMarkdown(render(measured));
        assert.equal(tables.length, 1);
        assert.equal(tables[0].rows.length, measured.rows.length);
        assert.ok(notes.some((n) => n.startsWith("Not included:")));
    });
});
