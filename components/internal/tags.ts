/**
 * AWS's rules for resource tags, as a pure check of a component's `tags`: mocks accept any tags, AWS
 * refuses the create or tag call of every child that gets them.
 */

/** Tags AWS allows on one resource. */
export const MAX_TAGS_PER_RESOURCE = 50;

/** Longest tag key, in characters. */
export const MAX_TAG_KEY_LENGTH = 128;

/** Longest tag value, in characters. */
export const MAX_TAG_VALUE_LENGTH = 256;

/**
 * Why `tags` would be refused on the children they reach: an empty list when they are fine. Only the
 * parts known now are checked (an Output map, key or value is left to AWS).
 * @param tags the component's `tags`, if a plain object
 * @param added tags the component adds to the same resources itself (`IsolatedWorkloadAccount` adds one)
 * @example tagProblems({ "aws:owner": "me" }) // ['tags key "aws:owner" starts with "aws:", which AWS reserves for its own tags.']
 */
export function tagProblems(tags: { [key: string]: unknown } | undefined, added = 0): string[] {
    if (tags === undefined) return [];
    const keys = Object.keys(tags);
    const problems: string[] = [];
    if (keys.length + added > MAX_TAGS_PER_RESOURCE) {
        const own = added > 0 ? ` (${MAX_TAGS_PER_RESOURCE - added} here: the component adds ${added} of its own)` : "";
        problems.push(`tags may hold at most ${MAX_TAGS_PER_RESOURCE} keys per resource${own}; received ${keys.length}.`);
    }
    for (const key of keys) {
        if (key.length === 0 || key.length > MAX_TAG_KEY_LENGTH) problems.push(`tags key ${JSON.stringify(key)} must be 1–${MAX_TAG_KEY_LENGTH} characters long.`);
        if (key.toLowerCase().startsWith("aws:")) problems.push(`tags key ${JSON.stringify(key)} starts with "aws:", which AWS reserves for its own tags.`);
        const value = tags[key];
        if (typeof value === "string" && value.length > MAX_TAG_VALUE_LENGTH) problems.push(`tags value of ${JSON.stringify(key)} is ${value.length} characters, over the ${MAX_TAG_VALUE_LENGTH} AWS allows.`);
    }
    return problems;
}
