// Every stand-in records the calls it serves here, so tests can count writes per service, and
// takes from here the faults a test planned for it.
import { FaultPlan } from './faults';

export type ServiceName = 'ec2' | 'sts' | 'dynamodb' | 'secretsmanager' | 'eks' | 'autoscaling' | 'kubernetes' | 'aviatrix' | 'sfn' | 'other';

export interface RecordedCall {
  service: ServiceName;
  /** AWS action name (DescribeVpcs), or "METHOD /path" for REST stand-ins. */
  action: string;
  write: boolean;
  at: number;
}

const READ_ACTION = /^(Describe|List|Get|Search|Scan|Query|BatchGet|TestEventPattern)/;

/** AWS API actions that only read; everything else counts as a write. */
export function isReadAction(action: string): boolean {
  return READ_ACTION.test(action);
}

export class CallLog {
  private readonly calls: RecordedCall[] = [];
  /** Faults the stand-ins apply to the requests they serve. */
  readonly faults = new FaultPlan();

  record(service: ServiceName, action: string, write: boolean): void {
    this.calls.push({ service, action, write, at: Date.now() });
  }

  /** A mark to pass to `since` so a test can look only at what happened after it. */
  mark(): number {
    return this.calls.length;
  }

  since(mark = 0): RecordedCall[] {
    return this.calls.slice(mark);
  }

  writesSince(mark = 0, service?: ServiceName): RecordedCall[] {
    return this.since(mark).filter((c) => c.write && (service === undefined || c.service === service));
  }
}
