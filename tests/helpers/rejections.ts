/**
 * Runs `body` with mocha's unhandled-rejection handler set aside and returns the rejections it caused:
 * a check inside `apply` fails a Pulumi program that way (the engine reports it and the update fails).
 * `body` gets the rejections collected so far, to assert on what came before a later step.
 */
export async function rejectionsDuring(body: (soFar: readonly Error[]) => Promise<void>): Promise<Error[]> {
    const mochaHandlers = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    const rejections: Error[] = [];
    const collect = (reason: unknown) => rejections.push(reason as Error);
    process.on("unhandledRejection", collect);
    try {
        await body(rejections);
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
        process.removeListener("unhandledRejection", collect);
        for (const handler of mochaHandlers) process.on("unhandledRejection", handler);
    }
    return rejections;
}
