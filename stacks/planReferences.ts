/**
 * How the offline plan answers a `StackReference`: it plans the referenced stack first, in a process of
 * its own (mocks are global to a process), and answers with that plan's real outputs. A reference to a
 * stack this program cannot plan fails, as does a missing output (`requireOutput` then fails exactly as
 * it fails `pulumi up`).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { knownStacks, OfflinePlanError, projectName, ReferencedStack } from "./offlinePlan";

/** Stacks being planned in this chain of processes, outermost first (a cycle would never end). */
export const PLAN_CHAIN_VARIABLE = "SERVERLESS_CONCURRENCY_PLAN_CHAIN";

/**
 * The stack a StackReference name points at, if it is one of this project's stacks: `<stack>`,
 * `<project>/<stack>` or `<organization>/<project>/<stack>` (DIY backends use the literal organization
 * `organization`, Pulumi Cloud the organization's name).
 * @example referencedStackName("organization/serverless-concurrency-example/management", "serverless-concurrency-example") // "management"
 */
export function referencedStackName(reference: string, project: string): string {
    const parts = reference.split("/");
    const [stack, referencedProject] = [parts[parts.length - 1], parts.length >= 2 ? parts[parts.length - 2] : project];
    const known = knownStacks();
    if (parts.length > 3 || referencedProject !== project || !known.includes(stack)) {
        throw new OfflinePlanError(
            `StackReference "${reference}": the offline plan can answer only for stacks of project "${project}" that have a stacks/Pulumi.<stack>.yaml (${known.join(", ")}).`,
        );
    }
    return stack;
}

/** Plans the stack `reference` names (in a child process) and returns its outputs. */
export async function planReferencedStack(reference: string): Promise<ReferencedStack> {
    const stack = referencedStackName(reference, projectName());
    const chain = (process.env[PLAN_CHAIN_VARIABLE] ?? "").split(",").filter(Boolean);
    if (chain.includes(stack)) throw new OfflinePlanError(`StackReference "${reference}": the stacks reference each other (${[...chain, stack].join(" → ")}).`);
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "plan-reference-"));
    const file = path.join(directory, `${stack}.json`);
    try {
        await runPlan(stack, file, [...chain, stack]);
        return JSON.parse(fs.readFileSync(file, "utf8")) as ReferencedStack;
    } finally {
        fs.rmSync(directory, { recursive: true, force: true });
    }
}

function runPlan(stack: string, referenceFile: string, chain: string[]): Promise<void> {
    const args = ["-r", "ts-node/register/transpile-only", path.join(__dirname, "plan.ts"), "--stack", stack, "--stack-reference-json", referenceFile];
    return new Promise((resolve, reject) => {
        execFile(process.execPath, args, { env: { ...process.env, [PLAN_CHAIN_VARIABLE]: chain.join(",") }, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
            if (!error) return resolve();
            reject(new OfflinePlanError(`The offline plan of the referenced stack "${stack}" failed:\n${stderr.trim()}`));
        });
    });
}
