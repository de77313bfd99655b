/**
 * The README's config-key table ("Deploy for real") against the stack files and the program: every key a
 * stack file sets is documented for that stack, every key the program reads is documented, and the table
 * names no key nobody reads.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

const ROOT = path.join(__dirname, "..", "..");
const STACKS = path.join(ROOT, "stacks");
const PROJECT = "serverless-concurrency-example";

interface DocumentedKey {
    stacks: string[];
    text: string;
}

/** The rows of the table that follows "Config keys" in the README: key → stacks column and the whole row. */
function documentedKeys(): Map<string, DocumentedKey> {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const table = readme.slice(readme.indexOf("Config keys (project namespace")).split("\n\n")[1];
    const rows = table.split("\n").filter((line) => /^\| `/.test(line));
    return new Map(
        rows.map((row) => {
            const [key, stacks] = row.split("|").slice(1, 3).map((cell) => cell.trim());
            return [key.replace(/`/g, ""), { stacks: stacks === "—" ? [] : stacks.split(",").map((s) => s.trim()).sort(), text: row }];
        }),
    );
}

/** Key → stacks whose Pulumi.<stack>.yaml sets it (project keys without their namespace), and the object fields set. */
function stackFileKeys(): Map<string, { stacks: string[]; fields: Set<string> }> {
    const keys = new Map<string, { stacks: string[]; fields: Set<string> }>();
    for (const file of fs.readdirSync(STACKS).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
        const stack = file.split(".")[1];
        const config = (parseYaml(fs.readFileSync(path.join(STACKS, file), "utf8")) as { config: Record<string, unknown> }).config;
        for (const [fullKey, value] of Object.entries(config)) {
            const key = fullKey.startsWith(`${PROJECT}:`) ? fullKey.slice(PROJECT.length + 1) : fullKey;
            const entry = keys.get(key) ?? { stacks: [], fields: new Set<string>() };
            entry.stacks.push(stack);
            if (value && typeof value === "object" && !Array.isArray(value)) Object.keys(value).forEach((field) => entry.fields.add(field));
            keys.set(key, entry);
        }
    }
    return keys;
}

/** Keys the example program reads (`config.get…("key")` / `config.require…("key")`), plus those the components and the AWS provider read. */
function programKeys(): Set<string> {
    const sources = ["index.ts", ...fs.readdirSync(path.join(STACKS, "patterns")).map((f) => path.join("patterns", f))].map((f) => fs.readFileSync(path.join(STACKS, f), "utf8"));
    const keys = new Set(sources.flatMap((source) => [...source.matchAll(/config\.(?:get|require)\w*(?:<[^>]*>)?\("(\w+)"\)/g)].map((m) => m[1])));
    const budget = fs.readFileSync(path.join(ROOT, "components", "internal", "budget.ts"), "utf8");
    if (/new pulumi\.Config\("serverless-concurrency"\)\.getNumber\("accountConcurrencyLimit"\)/.test(budget)) keys.add("serverless-concurrency:accountConcurrencyLimit");
    if (sources.some((source) => source.includes("aws.config.region"))) keys.add("aws:region");
    return keys;
}

describe("README config keys", () => {
    const documented = documentedKeys();

    it("documents every key a stack file sets, for exactly the stacks that set it", () => {
        assert.ok(documented.size > 10, "the table was found");
        for (const [key, { stacks }] of stackFileKeys()) {
            assert.ok(documented.has(key), `${key} (set by ${stacks.join(", ")}) is not in the README's config table`);
            assert.deepEqual(documented.get(key)!.stacks, [...stacks].sort(), `README stacks of ${key}`);
        }
        for (const [key, { stacks }] of documented) {
            if (stacks.length > 0) assert.ok(stackFileKeys().has(key), `README says ${stacks.join(", ")} set ${key}; no stack file does`);
        }
    });

    it("documents the fields of object keys the stack files set", () => {
        for (const [key, { fields }] of stackFileKeys()) {
            for (const field of fields) assert.ok(documented.get(key)!.text.includes(`\`${field}\``), `README row of ${key} does not name the field ${field}`);
        }
    });

    it("documents every key the program reads, and nothing it does not read", () => {
        const read = programKeys();
        assert.deepEqual([...documented.keys()].sort(), [...read].sort());
    });
});
