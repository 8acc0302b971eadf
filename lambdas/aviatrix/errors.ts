// One error type for every way a controller call can fail: a v1/v2 envelope with `return:false`,
// a v2.5 non-2xx `{message}`, a non-JSON answer, a transport failure or exhausted 5xx retries.
// Messages name the action, the target and the controller's reason, and never carry secrets.
// The `name` is what Step Functions matches: failures that may clear by themselves (transport
// errors and 5xx left after the client's retries) are named "TransientError", so the ASL's Retry
// on TransientError retries a controller outage; refusals (4xx, `return:false`) are "ControllerError".
import { OnboardingError, OnboardingErrorName } from '../shared/errors';

export interface ControllerApiErrorDetails {
  /** The v2 action (`edit_gw_customized_snat_config`) or the v2.5 call (`GET app-domains`). */
  action: string;
  /** The gateway or object the call was about (gateway name, SmartGroup name, cluster ARN, controller host). */
  target: string;
  /** The controller's reason / message, or a description of the transport failure. Redacted. */
  reason: string;
  /** HTTP status when there was a response. */
  status?: number;
  /** How many attempts were made before giving up (transport errors and 5xx are retried). */
  attempts?: number;
  /** True for failures that may clear by themselves (transport errors, 5xx). */
  transient?: boolean;
}

export class ControllerApiError extends OnboardingError {
  readonly action: string;
  readonly target: string;
  readonly reason: string;
  readonly status?: number;
  readonly attempts: number;
  readonly transient: boolean;

  constructor(details: ControllerApiErrorDetails) {
    const attempts = details.attempts ?? 1;
    const after = attempts > 1 ? ` after ${attempts} attempts` : '';
    const status = details.status !== undefined && details.status >= 300 ? ` (HTTP ${details.status})` : '';
    // OnboardingErrorName has no 'TransientError'; the ASL only sees the name, and the class is kept
    // so callers can still read action/target/status.
    super(
      (details.transient ? 'TransientError' : 'ControllerError') as OnboardingErrorName,
      `Aviatrix controller call ${details.action} for ${details.target} failed${after}${status}: ${details.reason}`,
    );
    this.action = details.action;
    this.target = details.target;
    this.reason = details.reason;
    this.status = details.status;
    this.attempts = attempts;
    this.transient = details.transient ?? false;
  }

  /** v2.5 GETs answer a missing object with 404 and/or a message containing "not found". */
  get isNotFound(): boolean {
    return this.status === 404 || /not found|does not exist/i.test(this.reason);
  }

  /** Only the fields a person or a Step Functions Cause needs; nothing from the HTTP request. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, action: this.action, target: this.target, reason: this.reason, status: this.status };
  }
}
