import { strict as assert } from "node:assert";
import { END_MARKER, MissingMarkersError, renderPerformance, replaceBlock, START_MARKER } from "../../bench/renderReadme";
import type { BenchDocument } from "../../bench/runner";

const DOCUMENT: BenchDocument = {
    generatedAt: "2026-12-02T09:00:00.000Z",
    pricesAsOf: "2026-12-02",
    benches: { alpha: { title: "Alpha", tables: [{ headings: ["case", "figure"], rows: [{ case: "one", figure: "1.5 ms" }] }], notes: ["Measured on nothing."] } },
};

describe("bench/renderReadme", () => {
    it("renders each bench's heading, tables and caveats from the JSON alone", () => {
        assert.equal(
            renderPerformance(DOCUMENT),
            [
                "Generated from `npm run -s bench -- --json` of 2026-12-02 (list prices as of 2026-12-02, `bench/prices.ts`). Each figure was measured side by side with its peers in that one run; the lines under each table are its caveats.",
                "### Alpha",
                "| case | figure |\n|---|---|\n| one | 1.5 ms |\n\nMeasured on nothing.",
            ].join("\n\n"),
        );
    });

    it("replaces only the block between the markers", () => {
        const readme = `# T\n\n## Performance\n\n${START_MARKER}\n\nold 95.3 %\n\n${END_MARKER}\n\n## Next\n`;
        const next = replaceBlock(readme, "new");
        assert.equal(next, `# T\n\n## Performance\n\n${START_MARKER}\n\nnew\n\n${END_MARKER}\n\n## Next\n`);
        assert.equal(replaceBlock(next, "new"), next);
    });

    it("refuses a README without the markers, naming them", () => {
        assert.throws(() => replaceBlock("# T\n", "x", "README.md"), (e: Error) => e instanceof MissingMarkersError && e.message.includes(START_MARKER));
        assert.throws(() => replaceBlock(`${END_MARKER}\n${START_MARKER}`, "x"), MissingMarkersError);
    });
});
