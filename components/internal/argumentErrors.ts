/**
 * Construction errors of the components: a {@link ConfigurationError} (so callers can tell them apart with
 * `instanceof`) that Pulumi also reports as its own `ResourceError`, against the component.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigurationError } from "../../contracts/errors";

/**
 * Bad component arguments: every problem, one per line, each prefixed with `ClassName "name"`.
 * @example throw new ComponentArgumentError('FifoTopicWorker "ledger": batchSize must be an integer from 1 to 10; received 11.', this)
 */
export class ComponentArgumentError extends ConfigurationError {
    override name = "ComponentArgumentError";
    /** Pulumi's marker of a `ResourceError` (its spelling): reported against `resource`, as its own errors are. */
    readonly __pulumResourceError = true;

    /**
     * @param message every problem, one per line
     * @param resource the component being constructed
     */
    constructor(
        message: string,
        readonly resource?: pulumi.Resource,
    ) {
        super(message);
    }
}
