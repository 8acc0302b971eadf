// The fault layer every stand-in goes through (the moto proxy, the EKS, Kubernetes and controller
// emulators): per service and action, the next N requests get an error status, a reset connection,
// an answer later than the client waits, or the work done and the answer dropped (a crash right
// after a write). Each stand-in formats the error the way its real service does.
import type http from 'node:http';
import type { ServiceName } from './call-log';

export type Fault =
  /** An error answer: 500, 503, 429, or 400 with a throttling code (`code` overrides the stand-in's default). */
  | { kind: 'status'; status: number; code?: string; retryAfterSeconds?: number }
  /** The connection is destroyed before any answer. */
  | { kind: 'reset' }
  /** The request is served normally but only after `ms` (past the client's timeout). */
  | { kind: 'delay'; ms: number }
  /**
   * The request is served (the write happens), then the connection is destroyed instead of the
   * answer. `afterWrite` runs between the two: a test kills the calling Lambda there (killTask) to
   * crash a step right after a write.
   */
  | { kind: 'drop'; afterWrite?: () => void };

interface Rule {
  service: ServiceName;
  action: string;
  fault: Fault;
  remaining: number;
  /** Only requests whose body contains this text (one resource among several written by the same action). */
  matching?: string;
}

export interface FiredFault {
  service: ServiceName;
  action: string;
  fault: Fault['kind'];
}

export class FaultPlan {
  private readonly rules: Rule[] = [];
  private readonly fired: FiredFault[] = [];

  /** The next `times` requests for `action` (as the call log names it) on `service` get `fault`; with `matching`, only those whose body contains it. */
  inject(service: ServiceName, action: string, fault: Fault, times = 1, matching?: string): void {
    this.rules.push({ service, action, fault, remaining: times, ...(matching === undefined ? {} : { matching }) });
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** Faults that fired, in order. */
  firedSince(mark = 0): FiredFault[] {
    return this.fired.slice(mark);
  }

  mark(): number {
    return this.fired.length;
  }

  /** The fault for this request, if one is planned; each call uses one. */
  take(service: ServiceName, action: string, body = ''): Fault | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && r.service === service && r.action === action && (r.matching === undefined || body.includes(r.matching)));
    if (!rule) return undefined;
    rule.remaining -= 1;
    this.fired.push({ service, action, fault: rule.fault.kind });
    return rule.fault;
  }
}

export interface ErrorAnswer {
  headers?: Record<string, string>;
  body: string;
}

/**
 * Applies `fault` to one request. Returns 'answered' when the fault took the place of the answer,
 * 'serve' when the stand-in should serve the request now (after a delay), 'serve-and-drop' when it
 * should do the work but call `drop` instead of answering.
 */
export async function applyFault(
  fault: Fault | undefined,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  errorAnswer: (status: number, code: string | undefined) => ErrorAnswer,
): Promise<'answered' | 'serve' | 'serve-and-drop'> {
  if (!fault) return 'serve';
  switch (fault.kind) {
    case 'reset':
      req.socket.destroy();
      return 'answered';
    case 'delay':
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      return 'serve';
    case 'drop':
      if (fault.afterWrite) afterWrite.set(res, fault.afterWrite);
      return 'serve-and-drop';
    case 'status': {
      const answer = errorAnswer(fault.status, fault.code);
      const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(answer.body)), ...answer.headers };
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      res.writeHead(fault.status, headers);
      res.end(answer.body);
      return 'answered';
    }
  }
}

const afterWrite = new WeakMap<http.ServerResponse, () => void>();

/** Destroys the connection a response would go out on: the client sees a reset after the work was done. */
export function dropResponse(res: http.ServerResponse): void {
  afterWrite.get(res)?.();
  res.socket?.destroy();
}

/** The AWS error code a stand-in answers for a bare status, per protocol family. */
export function awsErrorCode(status: number, code: string | undefined, throttling: string): string {
  if (code) return code;
  if (status === 429) return throttling;
  if (status === 503) return 'ServiceUnavailable';
  if (status >= 500) return 'InternalFailure';
  return 'ValidationException';
}
