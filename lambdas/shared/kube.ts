// A small Kubernetes API client: the few calls the reconcilers make, over HTTPS verified against
// the cluster CA from DescribeCluster, authenticated with an EKS bearer token.
import https from 'node:https';
import { eksBearerToken } from './kube-token';
import { callBudget, callDeadlineError } from './step';

export const FIELD_MANAGER = 'eks-aviatrix-onboarding';

export class KubeApiError extends Error {
  readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Kubernetes API ${method} ${path} answered ${status}: ${reason}`);
  }
}

/** No answer: a reset, refused or timed-out connection, a DNS failure, or a certificate we refuse. */
export class KubeTransportError extends Error {
  readonly name = 'KubeTransportError';
  constructor(
    readonly method: string,
    readonly path: string,
    /** Node's error code (ECONNRESET, ETIMEDOUT, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...). */
    readonly code: string,
    reason: string,
  ) {
    super(`Kubernetes API ${method} ${path} got no answer: ${reason}`);
  }
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ALTNAME/;

/** Per-request timeout; KUBE_API_TIMEOUT_MS overrides the 10 s default. */
const defaultTimeoutMs = () => Number(process.env.KUBE_API_TIMEOUT_MS) || 10_000;

interface KubeResponse {
  status: number;
  body: unknown;
}

export class KubeClient {
  private token?: { value: string; expiresAt: number };

  constructor(
    private readonly clusterName: string,
    private readonly endpoint: string,
    private readonly caBase64: string,
    private readonly timeoutMs = defaultTimeoutMs(),
  ) {}

  /** The object at `path`, or undefined when the API answers 404. */
  async get<T>(path: string): Promise<T | undefined> {
    const response = await this.request('GET', path);
    if (response.status === 404) return undefined;
    return this.expectOk<T>(response, 'GET', path);
  }

  /** Server-side apply: the object is created or its fields owned by us are set to `body`. */
  async apply<T>(path: string, body: object): Promise<T> {
    const query = `?fieldManager=${FIELD_MANAGER}&force=true`;
    const response = await this.request('PATCH', path + query, body, 'application/apply-patch+yaml');
    return this.expectOk<T>(response, 'PATCH', path);
  }

  async strategicMerge<T>(path: string, body: object): Promise<T> {
    const response = await this.request('PATCH', path, body, 'application/strategic-merge-patch+json');
    return this.expectOk<T>(response, 'PATCH', path);
  }

  private expectOk<T>(response: KubeResponse, method: string, path: string): T {
    if (response.status >= 200 && response.status < 300) return response.body as T;
    const message = (response.body as { message?: string } | undefined)?.message ?? 'no message';
    throw new KubeApiError(response.status, method, path, message);
  }

  private async bearer(): Promise<string> {
    // Tokens live 60 s on the server side (presign expiry plus EKS's own allowance); renew early.
    if (!this.token || this.token.expiresAt < Date.now()) {
      this.token = { value: await eksBearerToken(this.clusterName), expiresAt: Date.now() + 45_000 };
    }
    return this.token.value;
  }

  private async request(method: string, path: string, body?: object, contentType?: string): Promise<KubeResponse> {
    const url = new URL(this.endpoint.replace(/\/$/, '') + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.bearer()}`,
      accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    // Never past what the step has left (step.ts callBudget): it ends in its own retried error, not the Lambda timeout.
    const budget = callBudget();
    const call = `Kubernetes ${method} ${url.pathname}`;
    if (budget && budget.ms <= 0) throw callDeadlineError(call, budget);
    const timeoutMs = budget && budget.ms < this.timeoutMs ? budget.ms : this.timeoutMs;
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = https.request(
        url,
        { method, headers, ca: Buffer.from(this.caBase64, 'base64').toString('utf8'), timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // keep the raw text for the error message
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => {
        if (timeoutMs < this.timeoutMs && budget) {
          reject(callDeadlineError(call, budget));
          req.destroy();
        } else req.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', (error: Error & { code?: string }) => {
        const code = error.code ?? 'unknown';
        const reason = TLS_ERROR.test(code)
          ? `the API server's certificate is not signed by the cluster CA from DescribeCluster (${code}); check the cluster endpoint`
          : `${code}: ${error.message}`;
        reject(new KubeTransportError(method, url.pathname, code, reason));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}
