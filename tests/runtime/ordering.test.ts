import { strict as assert } from "node:assert";
import fc from "fast-check";
import { ConfigurationError } from "../../contracts/errors";
import {
    BatchEntry,
    EntryResult,
    LEASE_WAIT_SLACK_MS,
    leaseWait,
    planBatch,
    processOrderedBatch,
    resumeEntry,
    unfinishedEntries,
} from "../../runtime/ordering";

const RUNS = 500;

interface Record {
    id: number;
    latencyTicks: number;
    fails: boolean;
}

type Trace = { kind: "start" | "end"; entry: BatchEntry<Record> }[];

const yieldTicks = async (ticks: number): Promise<void> => {
    for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Random batch: unique positions in random order, keys from a small alphabet, latencies and failures. */
const batchArbitrary = fc
    .array(
        fc.record({
            key: fc.constantFrom("a", "b", "c", "d", "e", "f"),
            latencyTicks: fc.integer({ min: 0, max: 3 }),
            fails: fc.integer({ min: 0, max: 6 }).map((roll) => roll === 0),
        }),
        { maxLength: 40, size: "max" },
    )
    .chain((records) =>
        fc.shuffledSubarray(
            records.map((_, i) => i),
            { minLength: records.length, maxLength: records.length },
        ).map((positions) =>
            records.map(
                (r, id): BatchEntry<Record> => ({
                    key: r.key,
                    position: BigInt(positions[id] * 7 + 3),
                    value: { id, latencyTicks: r.latencyTicks, fails: r.fails },
                }),
            ),
        ),
    );

async function runTraced(entries: BatchEntry<Record>[], parallelism: number) {
    const trace: Trace = [];
    const keysInFlight = new Set<string>();
    let maxKeysInFlight = 0;
    const results = await processOrderedBatch(
        planBatch(entries),
        async (entry) => {
            trace.push({ kind: "start", entry });
            keysInFlight.add(entry.key);
            maxKeysInFlight = Math.max(maxKeysInFlight, keysInFlight.size);
            await yieldTicks(entry.value.latencyTicks);
            keysInFlight.delete(entry.key);
            trace.push({ kind: "end", entry });
            if (entry.value.fails) throw new Error(`record ${entry.value.id} failed`);
        },
        { parallelism },
    );
    return { trace, results, maxKeysInFlight };
}

function sortedOfKey(entries: BatchEntry<Record>[], key: string): BatchEntry<Record>[] {
    return entries.filter((e) => e.key === key).sort((a, b) => (a.position < b.position ? -1 : 1));
}

describe("ordering: planBatch", () => {
    it("partitions the batch into per-key groups in position order, longest group first, ties by first position", () => {
        fc.assert(
            fc.property(batchArbitrary, (entries) => {
                const plan = planBatch(entries);
                const positions = plan.entries.map((e) => e.position);
                assert.deepEqual(positions, [...positions].sort((a, b) => (a < b ? -1 : 1)));
                assert.equal(plan.groups.flatMap((g) => g.entries).length, entries.length);
                assert.equal(new Set(plan.groups.map((g) => g.key)).size, plan.groups.length);
                for (const group of plan.groups) {
                    assert.deepEqual(group.entries, sortedOfKey(entries, group.key));
                }
                for (const [i, group] of plan.groups.slice(1).entries()) {
                    const before = plan.groups[i];
                    const longer = before.entries.length > group.entries.length;
                    const tieInOrder = before.entries.length === group.entries.length && before.entries[0].position < group.entries[0].position;
                    assert.ok(longer || tieInOrder, "groups not ordered longest first, ties by first position");
                }
            }),
            { numRuns: RUNS },
        );
    });
});

describe("ordering: processOrderedBatch", () => {
    it("keeps per-key order, stops a key at its first failure, bounds parallel keys, reports outcomes", async () => {
        await fc.assert(
            fc.asyncProperty(batchArbitrary, fc.integer({ min: 1, max: 6 }), async (entries, parallelism) => {
                const { trace, results, maxKeysInFlight } = await runTraced(entries, parallelism);
                assert.ok(maxKeysInFlight <= parallelism, `${maxKeysInFlight} keys in flight > ${parallelism}`);
                for (const key of new Set(entries.map((e) => e.key))) {
                    assertKeyTrace(trace.filter((t) => t.entry.key === key), sortedOfKey(entries, key));
                }
                assertOutcomes(results, trace);
            }),
            { numRuns: RUNS },
        );
    });

    it("resumes at the lowest position that did not succeed, and reports every unfinished entry", async () => {
        await fc.assert(
            fc.asyncProperty(batchArbitrary, fc.integer({ min: 1, max: 6 }), async (entries, parallelism) => {
                const { results } = await runTraced(entries, parallelism);
                const unfinished = results.filter((r) => r.outcome.status !== "succeeded").map((r) => r.entry);
                const lowest = unfinished.reduce<BatchEntry<Record> | undefined>(
                    (min, e) => (min === undefined || e.position < min.position ? e : min),
                    undefined,
                );
                assert.equal(resumeEntry(results), lowest);
                assert.deepEqual(new Set(unfinishedEntries(results)), new Set(unfinished));
                for (const result of results.filter((r) => lowest && r.entry.position < lowest.position)) {
                    assert.equal(result.outcome.status, "succeeded");
                }
            }),
            { numRuns: RUNS },
        );
    });

    it("counts a synchronous throw as a failure of that entry", async () => {
        const entries: BatchEntry<string>[] = [
            { key: "k", position: 1n, value: "first" },
            { key: "k", position: 2n, value: "second" },
        ];
        const results = await processOrderedBatch(
            planBatch(entries),
            (() => {
                throw new Error("sync");
            }) as never,
            { parallelism: 2 },
        );
        assert.deepEqual(
            results.map((r) => r.outcome.status),
            ["failed", "skipped"],
        );
    });

    it("runs as many keys at once as the parallelism allows", async () => {
        for (const parallelism of [1, 3, 8]) {
            let inFlight = 0;
            let peak = 0;
            const release: (() => void)[] = [];
            const entries = ["a", "b", "c", "d", "e"].map((key, i) => ({ key, position: BigInt(i), value: key }));
            const done = processOrderedBatch(
                planBatch(entries),
                async () => {
                    peak = Math.max(peak, ++inFlight);
                    await new Promise<void>((resolve) => release.push(resolve));
                    inFlight--;
                },
                { parallelism },
            );
            while (release.length < Math.min(parallelism, entries.length)) await yieldTicks(1);
            await yieldTicks(3);
            assert.equal(peak, Math.min(parallelism, entries.length));
            while (release.length) {
                release.shift()!();
                await yieldTicks(2);
            }
            await done;
        }
    });

    it("rejects a parallelism that is not a positive integer", async () => {
        for (const parallelism of [0, -1, 1.5, Number.NaN]) {
            await assert.rejects(processOrderedBatch(planBatch([]), async () => undefined, { parallelism }), (e: unknown) => e instanceof ConfigurationError && /parallelism must be an integer ≥ 1/.test(e.message));
        }
    });
});

/** Started entries of one key: a prefix of the key's entries, one at a time, ending at the first failure. */
function assertKeyTrace(keyTrace: Trace, ofKey: BatchEntry<Record>[]): void {
    const starts = keyTrace.filter((t) => t.kind === "start").map((t) => t.entry);
    assert.deepEqual(starts, ofKey.slice(0, starts.length), "entries of a key started out of order");
    keyTrace.forEach((event, i) => assert.equal(event.kind, i % 2 === 0 ? "start" : "end", "overlap within a key"));
    const firstFailure = ofKey.findIndex((e) => e.value.fails);
    assert.equal(starts.length, firstFailure === -1 ? ofKey.length : firstFailure + 1, "ran past a failure");
}

function assertOutcomes(results: EntryResult<Record>[], trace: Trace): void {
    const started = new Set(trace.filter((t) => t.kind === "start").map((t) => t.entry));
    for (const { entry, outcome } of results) {
        if (!started.has(entry)) {
            assert.equal(outcome.status, "skipped");
            continue;
        }
        assert.equal(outcome.status, entry.value.fails ? "failed" : "succeeded");
    }
    for (const { entry, outcome } of results) {
        if (outcome.status !== "skipped") continue;
        const blocker = results.find((r) => r.entry.position === outcome.blockedBy);
        assert.equal(blocker?.entry.key, entry.key);
        assert.equal(blocker?.outcome.status, "failed");
        assert.ok(outcome.blockedBy < entry.position);
    }
}

describe("leaseWait: a Kinesis record meeting a claim left in progress", () => {
    it("waits the lease's rest and a second of slack when that fits the budget, then claims", () => {
        assert.deepEqual(leaseWait(20_000, 60_000), { waitMs: 20_000 + LEASE_WAIT_SLACK_MS, passes: true });
        assert.deepEqual(leaseWait(14_000, 15_000), { waitMs: 15_000, passes: true }, "exactly the budget");
    });

    it("waits the whole budget and fails when the lease outlasts it, so the retry waits on", () => {
        assert.deepEqual(leaseWait(80_000, 15_000), { waitMs: 15_000, passes: false });
    });

    it("fails at once when the store could not tell the lease or nothing is left to wait", () => {
        assert.deepEqual([leaseWait(undefined, 15_000), leaseWait(5_000, 0), leaseWait(5_000, -1), leaseWait(5_000, Number.NaN)], [undefined, undefined, undefined, undefined]);
    });

    it("never waits longer than the budget, and only a wait that covers the lease claims again", () => {
        fc.assert(
            fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 1_000_000 }), (lease, budget) => {
                const wait = leaseWait(lease, budget)!;
                assert.ok(wait.waitMs <= budget && wait.waitMs > 0);
                assert.equal(wait.passes, wait.waitMs >= lease + LEASE_WAIT_SLACK_MS);
            }),
        );
    });
});
