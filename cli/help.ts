/** The text of `--help`. */
export const HELP_TEXT = `serverless-concurrency — see and steer the live concurrency state of a deployed stack

Usage: serverless-concurrency COMMAND --outputs FILE [options]

  FILE is the JSON of \`pulumi stack output --json\` (or - to read it from standard input); every
  component's \`operations\` output in it is found, at any depth.

Commands
  status [NAME…] [--json]                  each component's live state; a part that cannot be read shows its error
  audit NAME [--limit N] [--scan] [--json]
                                           the audit entries of NAME's changes, newest first, per table (--scan: also
                                           the idempotency table, which only a scan of the whole table can list)
  controller pause NAME [--at N]           stop the controller and self-tuning from changing the setting (--at: set and hold N)
  controller resume NAME                   let them decide again
  breaker open NAME [--for SECONDS]        open the circuit breaker (mapping disabled) for SECONDS (default 900, at most 1209600)
  breaker close NAME                       close it (mapping enabled with the settings it had)
  semaphore release NAME EXECUTION_ARN     free the execution's permit; it goes to the oldest live waiter
  idempotency show NAME KEY                the idempotency record of KEY
  idempotency forget NAME KEY              delete it, so the next delivery of that event runs again
  dlq redrive NAME                         move the dead-letter queue's messages back (where SQS supports it)

Options
  --outputs FILE    stack outputs (required)
  --region REGION   region for every call (default: each component's own)
  --profile NAME    shared-config profile, in ~/.aws/config or ~/.aws/credentials (default: the SDK's credential chain)
  --json            status or audit as JSON
  --limit N         audit: entries per table (default 20, at most 1000)
  --scan            audit: also scan the idempotency table (its reads grow with the table)
  --reason TEXT     why (required for changes; stored in the audit entry)
  --yes             apply a change without asking (required when standard input is not a terminal)
  --audit-retention-days DAYS
                    how long the change's audit entry is kept before the table's TTL deletes it (default 90)
  -h, --help        this text
  An option that takes a value may be given once.

Changes print what they will change, ask (or need --yes), write an audit entry (time, command, caller,
reason, expiresAt) in the component's own table under the key prefix audit#, then apply step by step,
printing each step as it lands, and record the outcome in the entry.
AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> point the SDK at local stand-ins.

Exit codes: 0 done; 1 failed or refused (one line on standard error), or status or audit read nothing;
2 status or audit read only in part (a part, a manifest or a table could not be read);
3 a change stopped part-way (standard error says which steps landed and which did not).
`;
