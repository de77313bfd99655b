/**
 * What the offline plan answers for `StackReference`s, per stack: the outputs the referenced stacks
 * would export. No example stack references another one yet, so every stack gets none.
 */
export function stackReferenceOutputs(_stack: string): Record<string, Record<string, unknown>> {
    return {};
}
