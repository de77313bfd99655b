/**
 * The operator CLI `serverless-concurrency`: reads a stack's outputs, finds the components' operations
 * manifests and reads or changes their live state through the runtime's stores and actuators.
 * {@link runCli} is the whole program with its I/O injected (tests run it in-process); `bin.ts` is the
 * executable around it.
 */
import { createInterface } from "node:readline/promises";
import type { OperationsManifest } from "../contracts/operations";
import { parseArguments } from "./args";
import type { AwsClients, ClientFactory } from "./aws";
import { CliError } from "./errors";
import { awsAccessError } from "./failures";
import { HELP_TEXT } from "./help";
import { EXIT, Io } from "./io";
import { loadManifests } from "./outputs";
import { assertProfileExists } from "./profiles";

export { EXIT };

/** The program's surroundings; tests replace them. */
export interface CliEnvironment {
    /**
     * Writes to standard output (the text includes its newlines).
     * @default process.stdout.write
     * @example (text) => out.push(text)
     */
    stdout?: (text: string) => void;
    /**
     * Writes to standard error.
     * @default process.stderr.write
     * @example (text) => err.push(text)
     */
    stderr?: (text: string) => void;
    /**
     * Whether standard input is a terminal (changes then ask instead of needing `--yes`).
     * @default process.stdin.isTTY
     * @example false
     */
    interactive?: boolean;
    /**
     * Asks a yes/no question on the terminal; returns the answer.
     * @default a readline prompt on standard input
     * @example async () => "y"
     */
    ask?: (question: string) => Promise<string>;
    /**
     * Reads standard input to its end (`--outputs -`).
     * @default reads process.stdin
     * @example async () => JSON.stringify(outputs)
     */
    readStdin?: () => Promise<string>;
    /**
     * The clients for a region; overrides `--profile`.
     * @default SDK clients per region through the default chain, with bounded retries and timeouts
     * @example () => ({ dynamodb, lambda, sqs, cloudwatch, sfn, sts })
     */
    clientsFor?: ClientFactory;
    /**
     * Clock, epoch ms.
     * @default Date.now
     * @example () => 1_767_225_600_000
     */
    now?: () => number;
}


/**
 * Runs one command line; never throws: failures are one line on `stderr` and a non-zero exit code.
 * @param argv the arguments after the program name
 * @returns the exit code ({@link EXIT})
 * @example process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(argv: readonly string[], environment: CliEnvironment = {}): Promise<number> {
    const io = resolveIo(environment);
    let clients: { clientsFor: ClientFactory; destroy(): void } | undefined;
    try {
        const command = parseArguments(argv);
        if (command.kind === "help") {
            io.stdout(HELP_TEXT);
            return EXIT.ok;
        }
        const manifests = await loadManifests(command.outputs, io.readStdin);
        if (!environment.clientsFor && command.profile !== undefined) await assertProfileExists(command.profile);
        // The AWS SDK loads only now: a bad command line or outputs file is reported at once.
        const { execute } = await import("./execute");
        const { regionalClients } = await import("./aws");
        clients = environment.clientsFor ? { clientsFor: environment.clientsFor, destroy: () => undefined } : regionalClients(command.profile);
        const forManifest = (manifest: OperationsManifest): AwsClients => clients!.clientsFor(command.region ?? manifest.region);
        return await execute(command, manifests, forManifest, io);
    } catch (error) {
        io.stderr(`serverless-concurrency: ${awsAccessError(error).message}\n`);
        return error instanceof CliError ? error.exitCode : EXIT.failed;
    } finally {
        clients?.destroy();
    }
}

function resolveIo(environment: CliEnvironment): Io {
    return {
        stdout: environment.stdout ?? ((text) => void process.stdout.write(text)),
        stderr: environment.stderr ?? ((text) => void process.stderr.write(text)),
        interactive: environment.interactive ?? Boolean(process.stdin.isTTY),
        ask: environment.ask ?? askOnTerminal,
        readStdin: environment.readStdin ?? readProcessStdin,
        now: environment.now ?? Date.now,
    };
}

async function askOnTerminal(question: string): Promise<string> {
    const terminal = createInterface({ input: process.stdin, output: process.stderr });
    try {
        return await terminal.question(question);
    } finally {
        terminal.close();
    }
}

async function readProcessStdin(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
}
