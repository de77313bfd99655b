/**
 * Loaded by mocha before every suite (see .mocharc.json).
 *
 * - No test may reach AWS: credentials and region are fixed fakes, and the SDK's Node 20 notice is silenced.
 * - aws-local-stepfunctions uses `Promise.withResolvers`, which Node 20 lacks (reference/emulators.md §4).
 */
process.env.AWS_REGION ??= "us-east-1";
process.env.AWS_ACCESS_KEY_ID = "test";
process.env.AWS_SECRET_ACCESS_KEY = "test";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

type Resolvers<T> = { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void };
const promiseStatics = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
promiseStatics.withResolvers ??= <T>(): Resolvers<T> => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
    });
    return { promise, resolve, reject };
};
