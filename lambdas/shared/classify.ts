// The one answer to "may this failure clear by itself?", for every client: the AWS SDK (EC2, EKS,
// STS, Secrets Manager, DynamoDB, Auto Scaling), the Kubernetes client and the controller client.
// Transient: throttling and 429, 5xx, timeouts, connection resets and refusals, DNS failures.
// Everything else (validation, auth, not found, conflicts) is permanent: retrying cannot fix it.

/** Names the AWS services give throttling (and a request that collided with one in flight). */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'PriorRequestNotComplete',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'InternalServerException',
  'ServerException',
  'TransactionInProgressException',
  // A plain write that met a transaction in flight on the same item.
  'TransactionConflictException',
]);

/** Node's network error codes that say nothing about the request itself. */
const TRANSPORT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The SDK's (and our clients') names for a request that got no answer in time. */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeoutError', 'AbortError']);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  status?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  cause?: unknown;
}

/** The HTTP status a client error carries: the SDK's $metadata, or our clients' `status`. */
export function httpStatusOf(error: unknown): number | undefined {
  const e = error as ErrorShape | undefined;
  const status = e?.$metadata?.httpStatusCode ?? (typeof e?.status === 'number' ? e.status : undefined);
  return typeof status === 'number' && status > 0 ? status : undefined;
}

/** 429 (rate limited) and every 5xx may clear by themselves; every other status is an answer. */
export function isTransientStatus(status: number | undefined): boolean {
  return status !== undefined && (status === 429 || status >= 500);
}

/** True for failures that may clear by themselves; the ASL retries them as TransientError. */
export function isTransient(error: unknown): boolean {
  for (let e = error as ErrorShape | undefined, depth = 0; e && typeof e === 'object' && depth < 4; e = e.cause as ErrorShape, depth++) {
    const name = typeof e.name === 'string' ? e.name : '';
    const code = typeof e.code === 'string' ? e.code : '';
    if (name === 'TransientError' || THROTTLING.has(name) || TIMEOUT_NAMES.has(name)) return true;
    if (TRANSPORT.has(code) || TRANSPORT.has(name)) return true;
    if (e.$retryable?.throttling) return true;
    if (isTransientStatus(httpStatusOf(e))) return true;
  }
  return false;
}

/**
 * How long a 429 or 503 answer asked us to wait (`Retry-After`, seconds or an HTTP date), capped
 * at `capMs`; undefined when the answer gave none.
 */
export function retryAfterMs(header: unknown, capMs: number, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  const seconds = Number(text);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), capMs);
}
