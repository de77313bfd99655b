/**
 * Pulumi's `transforms` resource option runs in the engine, which mocks do not have
 * (`setMocks` turns the feature off: "The Pulumi CLI does not support transforms"). This helper plays the
 * engine's part under mocks: it accepts the SDK's transform registrations, and before the mock monitor sees
 * a registration it applies the resource's own transforms and then its ancestors' (the engine's order),
 * on the resolved properties, and registers what they return. Install after `installMocks()`.
 */
import * as pulumi from "@pulumi/pulumi";

type Transform = pulumi.ResourceTransform;
interface Request {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getObject(): unknown;
    setObject(value: unknown): void;
    getTransformsList(): Array<{ getToken(): string }>;
}
type Callback = (error: unknown, response?: { getUrn(): string }) => void;

const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { supportsTransforms: boolean; callbacks?: unknown } };
const rpc = require("@pulumi/pulumi/runtime/rpc") as {
    deserializeProperties(struct: unknown): Record<string, unknown>;
    serializeProperties(label: string, props: Record<string, unknown>): Promise<Record<string, unknown>>;
};
const { Struct } = require("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript(value: unknown): unknown } };
const { Callback: CallbackProto } = require("@pulumi/pulumi/proto/callback_pb") as { Callback: new () => { setToken(t: string): void; setTarget(t: string): void } };

/** Turns the engine-side `transforms` option on under mocks; returns a function that turns it off again. */
export function emulateEngineTransforms(): () => void {
    const transforms = new Map<string, Transform>();
    const chainOf = new Map<string, Transform[]>();
    const store = state.getStore();
    store.supportsTransforms = true;
    store.callbacks = {
        async registerTransform(transform: Transform) {
            const callback = new CallbackProto();
            const token = `transform-${transforms.size}`;
            transforms.set(token, transform);
            callback.setToken(token);
            callback.setTarget("in-process");
            return callback;
        },
        async awaitStackRegistrations() {},
        shutdown() {},
    };
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Request, callback: Callback): void };
    const register = monitor.registerResource;
    monitor.registerResource = (req, callback) => {
        const chain = [...req.getTransformsList().map((cb) => transforms.get(cb.getToken())!), ...(chainOf.get(req.getParent()) ?? [])];
        applyChain(req, chain).then(
            () =>
                register.call(monitor, req, (error, response) => {
                    if (response) chainOf.set(response.getUrn(), chain);
                    callback(error, response);
                }),
            (error) => callback(error),
        );
    };
    return () => {
        monitor.registerResource = register;
        store.supportsTransforms = false;
        store.callbacks = undefined;
    };
}

async function applyChain(req: Request, chain: Transform[]): Promise<void> {
    if (chain.length === 0) return;
    let props = rpc.deserializeProperties(req.getObject());
    for (const transform of chain) {
        const result = await transform({ custom: req.getCustom(), type: req.getType(), name: req.getName(), props, opts: {} });
        if (result) props = result.props;
    }
    req.setObject(Struct.fromJavaScript(await rpc.serializeProperties(`transform of ${req.getName()}`, props)));
}
