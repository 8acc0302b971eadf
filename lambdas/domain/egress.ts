// The IPs a cluster's traffic leaves the fabric with, for upstream firewalls and SaaS allow-lists:
// each gateway that SNATs the cluster's pods (the spoke and every HA peer), with its SNAT IP toward
// the fabric (the private IP its policies SNAT to) and toward the internet (its public IP), as the
// controller reported them to the SNAT step of the run. Recorded in the status record and on the
// cluster's tags; a run that finds them changed (a gateway replaced) says so, old and new.

/** One gateway's egress addresses. */
export interface EgressIp {
  gateway: string;
  role: 'primary' | 'ha';
  /** Traffic to the transit (the fabric) leaves with this source IP. */
  fabricIp: string;
  /** Traffic to the internet leaves with this source IP (the gateway's EIP), when reported. */
  internetIp?: string;
}

/** Before and after, per direction (tag values: space-separated IPs). */
export interface EgressChange {
  fabric: { from: string; to: string };
  internet: { from: string; to: string };
}

export const TAG_EGRESS_FABRIC = 'eks-aviatrix:egress-ips-fabric';
export const TAG_EGRESS_INTERNET = 'eks-aviatrix:egress-ips-internet';

interface SnatStepReport {
  failed?: boolean;
  gateways?: { gateway: string; role: string; snatIp?: string; publicIp?: string }[];
}

/** The egress IPs from the SNAT step's result; undefined when the step did not run or failed. */
export function egressIpsOf(snat: unknown): EgressIp[] | undefined {
  const report = snat as SnatStepReport | undefined;
  if (!report || report.failed || !Array.isArray(report.gateways)) return undefined;
  return report.gateways
    .filter((g): g is typeof g & { role: 'primary' | 'ha' } => (g.role === 'primary' || g.role === 'ha') && !!g.snatIp)
    .map((g) => ({ gateway: g.gateway, role: g.role, fabricIp: String(g.snatIp), ...(g.publicIp ? { internetIp: g.publicIp } : {}) }));
}

/** EKS tag values allow no commas: space-separated, sorted, each IP once. */
const tagValue = (ips: (string | undefined)[]) => [...new Set(ips.filter((ip): ip is string => !!ip))].sort().join(' ');

export function egressTags(ips: EgressIp[]): Record<string, string> {
  return { [TAG_EGRESS_FABRIC]: tagValue(ips.map((ip) => ip.fabricIp)), [TAG_EGRESS_INTERNET]: tagValue(ips.map((ip) => ip.internetIp)) };
}

/**
 * How the egress IPs changed against what the cluster's tags said at the start of the run;
 * undefined when they did not, or when the cluster never had them (a first onboarding).
 */
export function egressChange(previousTags: Record<string, string>, current: EgressIp[]): EgressChange | undefined {
  const now = egressTags(current);
  const before = { fabric: previousTags[TAG_EGRESS_FABRIC], internet: previousTags[TAG_EGRESS_INTERNET] };
  if (before.fabric === undefined && before.internet === undefined) return undefined;
  const change = {
    fabric: { from: before.fabric ?? '', to: now[TAG_EGRESS_FABRIC] },
    internet: { from: before.internet ?? '', to: now[TAG_EGRESS_INTERNET] },
  };
  return change.fabric.from === change.fabric.to && change.internet.from === change.internet.to ? undefined : change;
}
