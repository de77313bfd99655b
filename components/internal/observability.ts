/**
 * Alarms and dashboards: each worker describes its alarms and widgets as data, and these helpers turn
 * them into CloudWatch resources under the component.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { configurationError } from "./validation";

/** The metric namespace of the runtime's Embedded Metric Format output. */
export const RUNTIME_METRIC_NAMESPACE = "ServerlessConcurrency";

export interface AlarmSpec {
    /** Suffix of the child's name, e.g. `dlq-not-empty`. */
    id: string;
    /** What firing means and what to do; shown in the alarm. */
    description: string;
    namespace: string;
    metricName: string;
    dimensions: { [key: string]: pulumi.Input<string> };
    statistic: "Sum" | "Maximum" | "Average";
    /** Fires when the statistic is above this value (`GreaterThanThreshold`). */
    threshold: number;
    /** Period in seconds. @default 60 */
    periodSeconds?: number;
    /** Periods that must breach in a row. @default 1 */
    evaluationPeriods?: number;
    /**
     * How a period without data counts: `breaching` where the metric is reported every period, so its
     * absence means its reporter is broken. @default "notBreaching"
     */
    treatMissingData?: "breaching" | "notBreaching";
}

/** Creates one `aws.cloudwatch.MetricAlarm` per spec; `actions` (SNS topic ARNs) get ALARM and OK. */
export function createAlarms(
    name: string,
    specs: AlarmSpec[],
    actions: pulumi.Input<pulumi.Input<string>[]> | undefined,
    parent: pulumi.Resource,
): aws.cloudwatch.MetricAlarm[] {
    return specs.map(
        (spec) =>
            new aws.cloudwatch.MetricAlarm(
                `${name}-${spec.id}`,
                {
                    alarmDescription: spec.description,
                    namespace: spec.namespace,
                    metricName: spec.metricName,
                    dimensions: spec.dimensions,
                    statistic: spec.statistic,
                    threshold: spec.threshold,
                    comparisonOperator: "GreaterThanThreshold",
                    period: spec.periodSeconds ?? 60,
                    evaluationPeriods: spec.evaluationPeriods ?? 1,
                    treatMissingData: spec.treatMissingData ?? "notBreaching",
                    alarmActions: actions ?? [],
                    okActions: actions ?? [],
                },
                { parent },
            ),
    );
}

/** A metric line of a dashboard widget: `[namespace, metric, dimName, dimValue, ..., { stat, label }]`, or `[{ expression }]`. */
export type MetricLine = Array<string | { stat?: string; label?: string; yAxis?: string; expression?: string; id?: string }>;

export interface WidgetSpec {
    /** May be an Output: a figure known only at deploy time (e.g. a pool size from another stack). */
    title: pulumi.Input<string>;
    metrics: pulumi.Input<MetricLine[]>;
}

/**
 * A dashboard of 12-wide metric widgets, two per row, named `<project>-<stack>-<name>`; the component
 * claims the name first ({@link claimDashboardName}).
 */
export function createDashboard(name: string, widgets: WidgetSpec[], parent: pulumi.Resource): aws.cloudwatch.Dashboard {
    const region = aws.getRegionOutput({}, { parent }).region;
    const titles = pulumi.all(widgets.map((w) => w.title));
    const body = pulumi.all([region, titles, pulumi.all(widgets.map((w) => pulumi.output(w.metrics)))]).apply(([regionName, resolvedTitles, metrics]) =>
        JSON.stringify({
            widgets: resolvedTitles.map((title, i) => ({
                type: "metric",
                x: (i % 2) * 12,
                y: Math.floor(i / 2) * 6,
                width: 12,
                height: 6,
                properties: { title, metrics: metrics[i], view: "timeSeries", stat: "Sum", period: 60, region: regionName },
            })),
        }),
    );
    return new aws.cloudwatch.Dashboard(
        `${name}-dashboard`,
        { dashboardName: dashboardName(name), dashboardBody: body },
        { parent },
    );
}

/** CloudWatch dashboard names allow letters, digits, `-` and `_`, up to 255 characters. */
export function dashboardName(name: string): string {
    return `${pulumi.getProject()}-${pulumi.getStack()}-${name}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 255);
}

/**
 * The dashboard names claimed in each program run (Pulumi's Stack resource is new in every run, also in
 * an Automation API process that runs several), per AWS provider, and the component that owns each.
 */
const dashboardOwners = new WeakMap<object, Map<pulumi.ProviderResource | undefined, Map<string, string>>>();

/**
 * Records that the component `owner` will create the dashboard `dashboardName(name)`, before any child
 * exists. A name another component claimed in this program run under the same AWS provider is a
 * construction error: CloudWatch's PutDashboard would let the second overwrite the first, and destroying
 * either would delete both. Pulumi lets two components share a name when their types or parents differ
 * (a worker and a pool named alike, a `SemaphoreStateMachine`'s semaphore and a `StepFunctionsSemaphore`).
 * Where the program has no Stack resource (unit-test mocks) nothing is checked.
 * @param name the name the dashboard is derived from: the component's, or `<name>-controller`
 * @param owner the component, as errors name it: `KinesisOrderedWorker "payments"`
 * @example claimDashboardName("payments", 'KinesisOrderedWorker "payments"', this)
 */
export function claimDashboardName(name: string, owner: string, component: pulumi.Resource): void {
    const stack = pulumi.runtime.getStackResource();
    if (stack === undefined) return;
    const dashboard = dashboardName(name);
    const byProvider = dashboardOwners.get(stack) ?? new Map<pulumi.ProviderResource | undefined, Map<string, string>>();
    dashboardOwners.set(stack, byProvider);
    const provider = component.getProvider("aws::");
    const owners = byProvider.get(provider) ?? new Map<string, string>();
    byProvider.set(provider, owners);
    const taken = owners.get(dashboard);
    if (taken !== undefined) {
        throw configurationError(
            `${owner}: its dashboard would be named "${dashboard}", which ${taken} already uses in this program ` +
                "(CloudWatch would let one overwrite the other): give one of them another name.",
        );
    }
    owners.set(dashboard, owner);
}
