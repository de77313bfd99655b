/**
 * The children of an `awsx.ec2.Vpc`, which mocks never see: awsx 3 is a remote (multi-language)
 * component, so its provider creates them at deploy time and the program registers only the component.
 * This module rebuilds them from the component's inputs the way awsx 3.9 does (awsx/ec2/vpc.ts: one
 * subnet per type and availability zone, each with a route table, an association and a default route;
 * one internet gateway; NAT gateways with their Elastic IPs by strategy), so the plan shows what costs
 * money — the NAT gateways and their addresses.
 */
import type { PlannedResource } from "./offlinePlan";

export const AWSX_VPC_TYPE = "awsx:ec2:Vpc";
/** awsx's defaults when the inputs leave them out. */
const DEFAULT_AVAILABILITY_ZONES = 3;
const DEFAULT_NAT_STRATEGY = "OnePerAz";
const DEFAULT_SUBNET_TYPES = ["Private", "Public"];

interface SubnetSpec {
    type: string;
    name?: string;
}

/** The resources awsx creates for the VPC component `vpc`, parented as awsx parents them. */
export function awsxVpcChildren(vpc: PlannedResource): PlannedResource[] {
    const inputs = vpc.inputs;
    const zones: number = inputs.availabilityZoneNames?.length ?? inputs.numberOfAvailabilityZones ?? DEFAULT_AVAILABILITY_ZONES;
    const strategy: string = (inputs.natGateways?.strategy ?? DEFAULT_NAT_STRATEGY).toLowerCase();
    const specs: SubnetSpec[] = inputs.subnetSpecs ?? DEFAULT_SUBNET_TYPES.map((type) => ({ type }));
    const modelled = "modelled: awsx 3.9 creates it at deploy time";
    const child = (type: string, name: string, parent: PlannedResource, resourceInputs: Record<string, unknown> = {}): PlannedResource => ({
        type,
        name,
        parent: `${parent.type}::${parent.name}`,
        custom: true,
        inputs: resourceInputs,
        outputs: { id: `${name}-id` },
        provider: vpc.provider,
        modelled,
    });
    const network = child("aws:ec2/vpc:Vpc", vpc.name, vpc, { cidrBlock: inputs.cidrBlock ?? "10.0.0.0/16" });
    const created: PlannedResource[] = [network, child("aws:ec2/internetGateway:InternetGateway", vpc.name, network)];
    let natGateways = 0;
    for (let zone = 0; zone < zones; zone++) {
        for (const spec of orderedSpecs(specs)) {
            const subnetName = `${vpc.name}-${(spec.name ?? spec.type).toLowerCase()}-${zone + 1}`;
            const isPublic = spec.type.toLowerCase() === "public";
            const subnet = child("aws:ec2/subnet:Subnet", subnetName, network, { mapPublicIpOnLaunch: isPublic });
            const routeTable = child("aws:ec2/routeTable:RouteTable", subnetName, subnet);
            created.push(subnet, routeTable, child("aws:ec2/routeTableAssociation:RouteTableAssociation", subnetName, routeTable));
            if (isPublic && natGatewayInZone(strategy, natGateways, zone)) {
                created.push(child("aws:ec2/eip:Eip", `${vpc.name}-${zone + 1}`, subnet), child("aws:ec2/natGateway:NatGateway", `${vpc.name}-${zone + 1}`, subnet));
                natGateways++;
            }
            const routesOut = isPublic || (spec.type.toLowerCase() === "private" && strategy !== "none");
            if (routesOut) created.push(child("aws:ec2/route:Route", subnetName, routeTable, { destinationCidrBlock: "0.0.0.0/0", via: isPublic ? "internet gateway" : "NAT gateway" }));
        }
    }
    return created;
}

/** awsx creates public subnets first in each zone, so the NAT gateway exists before private routes use it. */
function orderedSpecs(specs: SubnetSpec[]): SubnetSpec[] {
    const rank = (spec: SubnetSpec) => ["public", "private", "isolated"].indexOf(spec.type.toLowerCase());
    return [...specs].sort((a, b) => rank(a) - rank(b));
}

function natGatewayInZone(strategy: string, created: number, zone: number): boolean {
    if (strategy === "none") return false;
    if (strategy === "single") return created === 0;
    return zone >= created;
}
