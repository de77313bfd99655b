// Mocha's spec reporter plus one plain closing line ("tests: N passed, N failed, N skipped")
// that CI reads to know how many tests ran.
"use strict";
const Mocha = require("mocha");
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SpecWithTotals extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(EVENT_RUN_END, () => {
            const { passes, failures, pending } = runner.stats;
            process.stdout.write(`tests: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
        });
    }
}
module.exports = SpecWithTotals;
