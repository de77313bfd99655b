/** What every part of the CLI shares: exit codes and the program's I/O. No SDK imports. */

/** Exit codes: done; failed or refused; status read only in part; a change applied only in part. */
export const EXIT = { ok: 0, failed: 1, partial: 2, incomplete: 3 } as const;

/** The program's I/O, defaults filled in. */
export interface Io {
    /** Writes to standard output. */
    stdout: (text: string) => void;
    /** Writes to standard error. */
    stderr: (text: string) => void;
    /** Whether standard input is a terminal. */
    interactive: boolean;
    /** Asks a question on the terminal. */
    ask: (question: string) => Promise<string>;
    /** Reads standard input to its end. */
    readStdin: () => Promise<string>;
    /** Clock, epoch ms. */
    now: () => number;
}


/** A line writer that drops the line: for the runtime's log and metric lines, which must not reach the CLI's standard output. */
export const discard = (_line: string): void => undefined;
