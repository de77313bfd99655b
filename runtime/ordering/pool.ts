/**
 * Runs `tasks` with at most `limit` of them in flight, starting them in list order. Each task must
 * handle its own errors; a rejection aborts the whole run.
 *
 * @example
 * await runBounded(groups.map((g) => () => runGroup(g)), 10);
 */
export async function runBounded(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < tasks.length) {
            const task = tasks[next++];
            await task();
        }
    };
    const workerCount = Math.min(limit, tasks.length);
    await Promise.all(Array.from({ length: workerCount }, worker));
}
