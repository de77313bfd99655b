/**
 * Source entry point for the multi-language plugin (PulumiPlugin.yaml): Pulumi's schema analyzer looks
 * for the TypeScript source of the package's entry, and the npm entry (package.json "main") is the
 * compiled dist/ that a git checkout does not have. Consumers on npm use "main"; both export the same.
 */
export * from "./components";
