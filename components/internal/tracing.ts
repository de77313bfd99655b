/**
 * X-Ray permissions for tracing that a component's arguments turn on, through its own setting or through
 * a `transform` patch. Lambda refuses to create an actively traced function whose role may not write
 * traces, and a traced state machine sends none; the patch is read at construction, as
 * `machineNamePattern` reads the machine's name, because the role's policy is registered before the
 * resource the patch changes. Pulumi's engine-side `transforms` run later and are not seen here.
 */
import { PolicyStatementArgs } from "./iam";
import { ChildArgsPatch } from "./escapeHatches";
import { isDeferred } from "./validation";

/** What an actively traced Lambda function writes (AWS scopes both actions to no resource). */
export const LAMBDA_TRACING_STATEMENT: PolicyStatementArgs = { actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources: ["*"] };

/** What a traced state machine needs: the writes and the sampling reads (AWS scopes them to no resource). */
export const STATE_MACHINE_TRACING_STATEMENT: PolicyStatementArgs = {
    actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
    resources: ["*"],
};

/**
 * Whether a function is actively traced: its `tracingMode`, or a `transform` patch whose `tracingConfig.mode`
 * is `"Active"`. A value not known at construction (an Output) counts as Active: granting trace writes is
 * cheaper than a function Lambda refuses to create.
 * @example lambdaTracingActive(undefined, { tracingConfig: { mode: "Active" } }) // true
 */
export function lambdaTracingActive(tracingMode: string | undefined, patch: ChildArgsPatch | undefined): boolean {
    if (tracingMode === "Active") return true;
    return turnedOn(patch?.tracingConfig, "mode", (mode) => mode === "Active");
}

/**
 * Whether a state machine's `transform` patch turns tracing on (`tracingConfiguration.enabled`); an Output
 * counts as on, as in {@link lambdaTracingActive}.
 * @example stateMachineTracingEnabled({ tracingConfiguration: { enabled: true } }) // true
 */
export function stateMachineTracingEnabled(patch: ChildArgsPatch | undefined): boolean {
    return turnedOn(patch?.tracingConfiguration, "enabled", (enabled) => enabled === true);
}

function turnedOn(block: unknown, field: string, isOn: (value: unknown) => boolean): boolean {
    if (block === undefined || block === null) return false;
    if (isDeferred(block)) return true;
    const value = (block as { [key: string]: unknown })[field];
    return isDeferred(value) || isOn(value);
}
