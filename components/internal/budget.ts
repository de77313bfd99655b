/**
 * The concurrency budget: every component that reserves Lambda concurrency registers it against the
 * AWS provider it deploys with (one provider = one account and region). When the reservations would
 * leave fewer than 100 unreserved executions, construction fails with the whole picture — instead of
 * AWS refusing `PutFunctionConcurrency` halfway through a deployment.
 */
import * as pulumi from "@pulumi/pulumi";
import { configurationError, failDeployment, plainValue, UNKNOWN_UNTIL_DEPLOY } from "./validation";

/** AWS keeps this many executions unreserved for functions without a reservation. */
export const UNRESERVED_MINIMUM = 100;
/** Lambda's default concurrent-executions quota per account and region. */
export const DEFAULT_ACCOUNT_CONCURRENCY_LIMIT = 1000;

export interface Reservation {
    /** `ClassName "name"` of the reserving component. */
    component: string;
    /**
     * Reserved concurrent executions, or "unknown until deploy" for a number that comes from another
     * stack or resource: it is counted (and the budget checked again) when it resolves.
     */
    concurrency: number | typeof UNKNOWN_UNTIL_DEPLOY;
}

/** A reservation as a component registers it: the number may be an Output. */
export interface ReservationRequest {
    /** `ClassName "name"` of the reserving component. */
    component: string;
    /** Reserved concurrent executions. @example args.reservedConcurrency */
    concurrency: pulumi.Input<number>;
}

/** The budget of one provider, as `npm start` prints it. */
export interface AccountBudget {
    /** Which provider: the default one or an explicit provider's name. */
    account: string;
    /** The account's concurrent-executions limit used for the check. */
    limit: number;
    /** Where that limit comes from. */
    limitSource: string;
    reservations: Reservation[];
    /** `limit − sum(reservations)`, of the reservations known now. */
    unreserved: number;
}

interface Ledger {
    account: string;
    limit?: { value: number; source: string };
    reservations: Reservation[];
}

const DEFAULT_PROVIDER = "default AWS provider";
const ledgers = new Map<pulumi.ProviderResource | typeof DEFAULT_PROVIDER, Ledger>();

/**
 * Records that `provider`'s account has a concurrency limit of `limit` (e.g. the quota requested by
 * `IsolatedWorkloadAccount`). Reservations already registered are checked again.
 */
export function setAccountConcurrencyLimit(provider: pulumi.ProviderResource, limit: number, source: string, account: string): void {
    const ledger = ledgerFor(provider);
    ledger.account = account;
    ledger.limit = { value: limit, source };
    const problem = overrunMessage(ledger, undefined);
    if (problem) throw configurationError(problem);
}

/**
 * Registers a reservation under the provider `resource` deploys with; throws when the account would
 * keep fewer than 100 unreserved executions. The failing reservation is not recorded. A number known
 * only at deploy time is listed as "unknown until deploy", and the budget is checked again when it
 * resolves (the deployment fails then with the same message).
 */
export function reserveConcurrency(resource: pulumi.Resource, request: ReservationRequest): void {
    const ledger = ledgerFor(resource.getProvider("aws::") ?? DEFAULT_PROVIDER);
    const known = plainValue(request.concurrency);
    const reservation: Reservation = { component: request.component, concurrency: known ?? UNKNOWN_UNTIL_DEPLOY };
    ledger.reservations.push(reservation);
    const problem = overrunMessage(ledger, reservation);
    if (problem) {
        ledger.reservations.pop();
        throw new pulumi.ResourceError(problem, resource);
    }
    if (known === undefined) {
        pulumi.output(request.concurrency).apply((resolved) => {
            reservation.concurrency = resolved;
            const late = overrunMessage(ledger, reservation);
            if (late) failDeployment(configurationError(late));
        });
    }
}

/** Every provider's budget, in registration order. */
export function concurrencyBudgets(): AccountBudget[] {
    return [...ledgers.values()].map((ledger) => {
        const { value, source } = limitOf(ledger);
        const reserved = knownTotal(ledger.reservations);
        return { account: ledger.account, limit: value, limitSource: source, reservations: [...ledger.reservations], unreserved: value - reserved };
    });
}

/** Forgets every reservation (each Pulumi program run starts empty; tests call this between cases). */
export function resetConcurrencyBudgets(): void {
    ledgers.clear();
}

function ledgerFor(key: pulumi.ProviderResource | typeof DEFAULT_PROVIDER): Ledger {
    let ledger = ledgers.get(key);
    if (!ledger) {
        ledger = { account: key === DEFAULT_PROVIDER ? DEFAULT_PROVIDER : `provider "${providerName(key)}"`, reservations: [] };
        ledgers.set(key, ledger);
    }
    return ledger;
}

function limitOf(ledger: Ledger): { value: number; source: string } {
    if (ledger.limit) return ledger.limit;
    const configured = new pulumi.Config("serverless-concurrency").getNumber("accountConcurrencyLimit");
    return configured === undefined
        ? { value: DEFAULT_ACCOUNT_CONCURRENCY_LIMIT, source: "Lambda default quota" }
        : { value: configured, source: "config serverless-concurrency:accountConcurrencyLimit" };
}

function overrunMessage(ledger: Ledger, latest: Reservation | undefined): string | undefined {
    const { value: limit, source } = limitOf(ledger);
    const reservable = limit - UNRESERVED_MINIMUM;
    const total = knownTotal(ledger.reservations);
    // An account below 100 (a new account's reduced quota) can hold no reservation, but nothing is wrong yet without one.
    if (total === 0 || total <= reservable) return undefined;
    const lines = ledger.reservations.map((r) => `  - ${r.component}: ${r.concurrency}${r === latest ? " (this component)" : ""}`);
    return [
        `Concurrency budget exceeded for the ${ledger.account}: reservations total ${total}, but an account limit of ${limit} (${source}) ` +
            `leaves only ${reservable} reservable, because AWS keeps ${UNRESERVED_MINIMUM} unreserved.`,
        ...lines,
        "Ways out: lower the reserved concurrency; raise the account's Lambda concurrent-executions quota and set " +
            "serverless-concurrency:accountConcurrencyLimit to it; or move the workload to its own account (IsolatedWorkloadAccount).",
    ].join("\n");
}

/** The sum of the reservations known now. */
function knownTotal(reservations: Reservation[]): number {
    return reservations.reduce((sum, r) => sum + (typeof r.concurrency === "number" ? r.concurrency : 0), 0);
}

function providerName(provider: pulumi.ProviderResource): string {
    return (provider as unknown as { __name?: string }).__name ?? "explicit";
}
