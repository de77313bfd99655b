/**
 * A hand-written SVG chart of one scenario run: three panels over the control intervals — concurrency
 * (capacity, each strategy's limit and peak in-flight), reported p90 latency, and error rate.
 */
import type { ScenarioRun, StrategyRun } from "./index";
import type { IntervalRecord } from "./engine";

const WIDTH = 1000;
const PANEL_HEIGHT = 190;
const MARGIN = { left: 64, right: 24, top: 72, gap: 44, bottom: 36 };
/** One colour per strategy, in {@link strategiesFor} order (the controller first). */
const PALETTE = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"];
const CAPACITY_COLOUR = "#555";

/** A line to draw in a panel. */
interface Series {
    values: number[];
    colour: string;
    dashed?: boolean;
    width?: number;
    opacity?: number;
}

/** One panel: a title, its series, and the top of its y axis. */
interface Panel {
    title: string;
    series: Series[];
    yMax: number;
}

/**
 * Renders the chart as a standalone SVG document.
 * @param run the strategies' runs through one scenario
 * @example writeFileSync(".tmp/capacity-drop.svg", renderChart(runScenario(scenario("capacity-drop", 101))));
 */
export function renderChart(run: ScenarioRun): string {
    const panels = [concurrencyPanel(run), latencyPanel(run), errorPanel(run)];
    const height = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.gap) + MARGIN.bottom - MARGIN.gap;
    const intervals = run.scenario.intervals;
    const body = panels.map((panel, i) => renderPanel(panel, MARGIN.top + i * (PANEL_HEIGHT + MARGIN.gap), intervals));
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
        `<rect width="100%" height="100%" fill="white"/>`,
        `<text x="${MARGIN.left}" y="20" font-size="15" font-weight="bold">${escape(`${run.scenario.name}: ${run.scenario.description}`)}</text>`,
        legend(run.runs),
        ...body,
        `<text x="${WIDTH / 2}" y="${height - 6}" text-anchor="middle">control interval</text>`,
        `</svg>`,
        "",
    ].join("\n");
}

function concurrencyPanel(run: ScenarioRun): Panel {
    const capacity: Series = { values: run.runs[0].records.map((r) => r.capacity), colour: CAPACITY_COLOUR, width: 4, opacity: 0.6 };
    const limits = drawingOrder(run).map((r) => ({ values: r.records.map((x) => x.limit), colour: colourOf(run, r), width: 2 }));
    const inFlight = drawingOrder(run).map((r) => ({ values: r.records.map((x) => x.peakInFlight), colour: colourOf(run, r), dashed: true }));
    const series = [...inFlight, ...limits, capacity];
    return { title: "concurrency: capacity (grey), limit (solid), peak in flight (dashed)", series, yMax: niceMax(series) };
}

function latencyPanel(run: ScenarioRun): Panel {
    const series: Series[] = drawingOrder(run).map((r) => ({ values: r.records.map((x) => x.p90LatencyMs), colour: colourOf(run, r), width: 2 }));
    return { title: "reported p90 downstream latency, ms", series, yMax: niceMax(series) };
}

function errorPanel(run: ScenarioRun): Panel {
    const rate = (r: IntervalRecord) => (r.calls > 0 ? (100 * r.errors) / r.calls : 0);
    const series = drawingOrder(run).map((r) => ({ values: r.records.map(rate), colour: colourOf(run, r), width: 2 }));
    return { title: "errors (timeouts), % of calls", series, yMax: Math.max(5, niceMax(series)) };
}

function colourOf(run: ScenarioRun, strategyRun: StrategyRun): string {
    return PALETTE[run.runs.indexOf(strategyRun) % PALETTE.length];
}

/** The runs in drawing order: the adaptive controller last, so it stays visible where lines overlap. */
function drawingOrder(run: ScenarioRun): StrategyRun[] {
    return [...run.runs].reverse();
}

function renderPanel(panel: Panel, top: number, intervals: number): string {
    const x = (i: number) => MARGIN.left + (i * (WIDTH - MARGIN.left - MARGIN.right)) / Math.max(1, intervals);
    const y = (v: number) => top + PANEL_HEIGHT - (Math.min(v, panel.yMax) / panel.yMax) * PANEL_HEIGHT;
    return [
        `<text x="${MARGIN.left}" y="${top - 8}" font-weight="bold">${escape(panel.title)}</text>`,
        axes(panel.yMax, top, x, y, intervals),
        ...panel.series.map((s) => stepLine(s, x, y)),
    ].join("\n");
}

function axes(yMax: number, top: number, x: (i: number) => number, y: (v: number) => number, intervals: number): string {
    const lines: string[] = [];
    for (let k = 0; k <= 5; k++) {
        const value = (yMax * k) / 5;
        lines.push(`<line x1="${x(0)}" x2="${x(intervals)}" y1="${y(value)}" y2="${y(value)}" stroke="#e4e4e4"/>`);
        lines.push(`<text x="${x(0) - 6}" y="${y(value) + 4}" text-anchor="end">${formatTick(value)}</text>`);
    }
    for (let i = 0; i <= intervals; i += 5) {
        lines.push(`<text x="${x(i)}" y="${top + PANEL_HEIGHT + 14}" text-anchor="middle">${i}</text>`);
    }
    lines.push(`<rect x="${x(0)}" y="${top}" width="${x(intervals) - x(0)}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`);
    return lines.join("\n");
}

/** A series as a step line: each interval's value holds across the interval. */
function stepLine(series: Series, x: (i: number) => number, y: (v: number) => number): string {
    const points: string[] = [];
    series.values.forEach((value, i) => {
        if (Number.isFinite(value)) points.push(`${x(i).toFixed(1)},${y(value).toFixed(1)}`, `${x(i + 1).toFixed(1)},${y(value).toFixed(1)}`);
    });
    const dash = series.dashed ? ` stroke-dasharray="4 3"` : "";
    const style = `stroke="${series.colour}" stroke-width="${series.width ?? 1}" stroke-opacity="${series.opacity ?? 1}"${dash}`;
    return `<polyline fill="none" ${style} points="${points.join(" ")}"/>`;
}

function legend(runs: StrategyRun[]): string {
    return runs
        .map((r, i) => {
            const left = MARGIN.left + i * 150;
            return `<line x1="${left}" x2="${left + 24}" y1="36" y2="36" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="3"/><text x="${left + 30}" y="40" font-size="10">${escape(r.strategy)}</text>`;
        })
        .join("\n");
}

/** A round axis maximum above every finite value. */
function niceMax(series: Series[]): number {
    const highest = Math.max(1, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
    const magnitude = 10 ** Math.floor(Math.log10(highest));
    const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= highest) ?? 10;
    return step * magnitude;
}

function formatTick(value: number): string {
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function escape(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
