/**
 * `TS_NODE_TRANSPILE_ONLY=true npx ts-node bench/simulator/tune.ts [--dev | --trace SCENARIO SEED]`
 *
 * The development view of the simulator, never on the held-out seeds: per scenario, the controller's mean
 * and worst goodput, errors and changes next to every baseline's and the oracle's mean goodput, on the
 * TUNING seeds (1–10); with `--dev`, the controller and the oracle on the DEVELOPMENT seeds (11–100 and 113–400) with the
 * seeds where the controller falls furthest behind the oracle; with `--trace`, the controller's
 * per-interval record of one seed (any seed but a held-out one). The algorithm's constants are chosen
 * looking at this output only.
 */
import { decideConcurrency, ControllerState, ConcurrencyDecision } from "../../runtime/controller";
import { DEVELOPMENT_SEEDS, HELD_OUT_SEEDS, TUNING_SEEDS } from "./evaluation";
import { seedRanges } from "./report";
import { adaptiveStrategy, runScenario, scenario, SCENARIO_NAMES, simulate, LimitStrategy, idealThroughputPerMs, conditionAt, oracleFor } from "./index";

function mean(values: number[]): number {
    return values.reduce((a, b) => a + b, 0) / values.length;
}

const pct = (ratio: number) => (100 * ratio).toFixed(1);

function table(): void {
    for (const name of SCENARIO_NAMES) {
        const perSeed = TUNING_SEEDS.map((seed) => {
            const s = scenario(name, seed);
            return [...runScenario(s).runs, ...runScenario(s, [oracleFor(s)]).runs];
        });
        const head = perSeed.map((r) => r[0]);
        const baselines = perSeed[0].slice(1).map((_, i) => `${perSeed[0][i + 1].strategy.slice(0, 14)} ${pct(mean(perSeed.map((r) => r[i + 1].goodputRatio)))}`);
        console.log(
            `${name.padEnd(18)} good ${pct(mean(head.map((r) => r.goodputRatio)))} min ${pct(Math.min(...head.map((r) => r.goodputRatio)))} ` +
                `err ${(100 * Math.max(...head.map((r) => r.errorRate))).toFixed(2)} chg ${mean(head.map((r) => r.changesPer100)).toFixed(1)}/${Math.max(...head.map((r) => r.changesPer100)).toFixed(1)} | ${baselines.join(" | ")}`,
        );
        console.log(`${"".padEnd(18)} per seed ${head.map((r) => (100 * r.goodputRatio).toFixed(0)).join(" ")} · changes ${head.map((r) => r.changesPer100.toFixed(0)).join(" ")}`);
    }
}

function developmentTable(): void {
    for (const name of SCENARIO_NAMES) {
        const rows = DEVELOPMENT_SEEDS.map((seed) => {
            const s = scenario(name, seed);
            return { seed, adaptive: runScenario(s, [adaptiveStrategy(s.bounds, s.initialLimit)]).runs[0], oracle: runScenario(s, [oracleFor(s)]).runs[0] };
        });
        const behind = rows.slice().sort((a, b) => a.adaptive.goodputRatio - a.oracle.goodputRatio - (b.adaptive.goodputRatio - b.oracle.goodputRatio));
        console.log(
            `${name.padEnd(18)} good ${pct(mean(rows.map((r) => r.adaptive.goodputRatio)))} oracle ${pct(mean(rows.map((r) => r.oracle.goodputRatio)))} ` +
                `err ${(100 * Math.max(...rows.map((r) => r.adaptive.errorRate))).toFixed(2)} chg ${mean(rows.map((r) => r.adaptive.changesPer100)).toFixed(1)}/${Math.max(...rows.map((r) => r.adaptive.changesPer100))} ` +
                `| furthest behind the oracle: ${behind.slice(0, 4).map((r) => `seed ${r.seed} ${pct(r.adaptive.goodputRatio)}/${pct(r.oracle.goodputRatio)}`).join(", ")}`,
        );
    }
}

/** Why `--trace SCENARIO SEED` cannot run, or undefined. */
function traceProblem(name: string | undefined, seedText: string | undefined): string | undefined {
    const seed = Number(seedText);
    if (!SCENARIO_NAMES.includes(name as never)) return `--trace needs a scenario, one of ${SCENARIO_NAMES.join(", ")}; received ${JSON.stringify(name)}.`;
    if (!Number.isInteger(seed) || seed < 1) return `--trace needs a seed, a positive integer; received ${JSON.stringify(seedText)}.`;
    if (HELD_OUT_SEEDS.includes(seed)) return `seed ${seed} is held out (${seedRanges(HELD_OUT_SEEDS)}): trace a tuning or development seed.`;
    return undefined;
}

function trace(name: string, seed: number): void {
    const s = scenario(name, seed);
    const decisions: ConcurrencyDecision[] = [];
    let state: ControllerState = { limit: s.initialLimit };
    const strategy: LimitStrategy = {
        name: "adaptive",
        initialLimit: s.initialLimit,
        next(signals) {
            const d = decideConcurrency(s.bounds, state, signals);
            decisions.push(d);
            state = d;
            return d.limit;
        },
    };
    console.log(`${name} seed ${seed}: normal cap ${s.normal.capacity} @ ${s.normal.latencyAtCapacityMs} ms, start ${s.initialLimit}`);
    const records = simulate(s, strategy);
    for (const r of records) {
        const d = decisions[r.interval];
        const ideal = idealThroughputPerMs(conditionAt(s, r.interval)) * s.intervalMs;
        console.log(
            [
                String(r.interval).padStart(2),
                `cap ${r.capacity.toFixed(0).padStart(4)}`,
                `lim ${String(r.limit).padStart(4)}→${String(r.decided).padStart(4)}`,
                `good ${(r.successes / Math.max(1, r.idealCalls)).toFixed(2)}`,
                `x ${(r.calls / ideal).toFixed(2)}`,
                `p90 ${r.p90LatencyMs.toFixed(0).padStart(5)}`,
                `base ${d.baselineLatencyMs?.toFixed(0) ?? "-"}`,
                `tgt ${d.latencyTargetMs?.toFixed(0) ?? "-"}`,
                `err ${(r.signals.errorRate * 100).toFixed(1)}`,
                `thr ${r.signals.throttles} use ${r.signals.inUse} bg ${r.signals.backlogGrowing ? 1 : 0}`,
                d.reason,
                d.knee ? `knee ${d.knee.limit}/${d.knee.windows}/${d.knee.hold}/${d.knee.high} lat ${d.knee.latencyMs?.toFixed(0) ?? "-"}/${d.knee.latencyWindows ?? "-"} low ${d.knee.low ?? 0}` : "",
                d.pendingChange ? `pend ${d.pendingChange.fromLimit}→${d.pendingChange.toLimit}` : "",
            ].join(" "),
        );
    }
}

const args = process.argv.slice(2);
const problem = args[0] === "--trace" ? traceProblem(args[1], args[2]) : undefined;
if (problem !== undefined) {
    console.error(`${problem}\nUsage: tune.ts [--dev | --trace SCENARIO SEED]`);
    process.exit(2);
}
if (args[0] === "--trace") trace(args[1], Number(args[2]));
else if (args[0] === "--dev") developmentTable();
else table();
