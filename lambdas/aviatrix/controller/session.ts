// The controller session and transport (docs/aviatrix-controller-api.md section 1): token-gated
// login, the CID in the form/query/JSON body (v2) or the `Authorization: cid <CID>` header (v2.5),
// one re-login on each documented expired-session answer, bounded retries with jittered backoff on
// transport errors and 5xx (honouring Retry-After), verified TLS by default, and creates that are
// never re-sent blindly. Every request, retry delay and login is bounded by what the step has left
// (lambdas/shared/step.ts callBudget), as the AWS and Kubernetes clients are: a slow controller ends
// the step in its retried TransientError, not in the Lambda timeout with leases held.
// The resource modules beside it (gateways.ts, snat.ts, ...) speak through it.
// The session (CID) and the credentials are cached at module level, so a warm Lambda reuses them.
// Passwords, API tokens and CIDs never reach logs, error messages or returned values.
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import { GetSecretValueCommand, SecretsManagerClient } from '../../shared/sdk/secrets-manager';
import { AviatrixConfig } from '../../../lib/config';
import { isTransient, isTransientStatus, retryAfterMs } from '../../shared/classify';
import { secretsManager } from '../../shared/aws';
import { OnboardingError, TransientError } from '../../shared/errors';
import { callBudget, callDeadlineError, isDeadlineOfAnotherRun, withinCallBudget } from '../../shared/step';
import { logger } from '../../shared/logger';
import { keptWhileWarm } from '../../shared/warm-state';
import { recordControllerCall } from '../../shared/metrics';
import { ControllerApiError } from '../errors';

export type ControllerConnection = Pick<AviatrixConfig, 'controllerUrl' | 'credentialsSecretName' | 'caBundlePem' | 'verifyTls'>;

export interface AviatrixClientOptions {
  /** Attempts per call for transport errors and 5xx (default 4: the first and 3 retries). */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with full jitter (default AVIATRIX_RETRY_BASE_DELAY_MS, else 500 ms). */
  baseDelayMs?: number;
  /** Per-request timeout (default AVIATRIX_REQUEST_TIMEOUT_MS, else 30 s). */
  timeoutMs?: number;
  secretsManager?: SecretsManagerClient;
}

// ---------------------------------------------------------------------------------------------
// Module-level state: reused by a warm Lambda.

interface Credentials {
  username: string;
  password: string;
}

interface Session {
  cid?: string;
  pending?: Promise<string>;
}

const sessions = new Map<string, Session>();
const credentialCache = new Map<string, Promise<Credentials>>();
const secrets = new Set<string>();

/** Replaces every known secret (password, API token, CID) in a text. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}

function rememberSecret(value: string | undefined): void {
  if (value && value.length > 0) secrets.add(value);
}

/** Forgets sessions and credentials (tests; a cold start does the same). */
export function resetAviatrixClientState(): void {
  sessions.clear();
  credentialCache.clear();
}
keptWhileWarm(resetAviatrixClientState);

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ALTNAME|HOSTNAME|SSL/i;

export type V2Encoding = 'query' | 'form' | 'json';
interface V2Envelope {
  return?: boolean;
  results?: unknown;
  reason?: unknown;
  CID?: unknown;
}

/** One controller: its session, transport and retries. Resource calls live in the modules beside it. */
export class ControllerSession {
  /** Built on the first request: loading axios (and TLS) costs a cold start that a warm run never repays. */
  private http?: Promise<AxiosInstance>;
  private readonly host: string;
  private readonly sessionKey: string;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;
  private readonly secretsManager: SecretsManagerClient;

  constructor(
    private readonly connection: ControllerConnection,
    options: AviatrixClientOptions = {},
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    // The environment may shorten them (the local world does, to meet faults without long sleeps).
    this.baseDelayMs = options.baseDelayMs ?? (Number(process.env.AVIATRIX_RETRY_BASE_DELAY_MS) || 500);
    this.timeoutMs = options.timeoutMs ?? (Number(process.env.AVIATRIX_REQUEST_TIMEOUT_MS) || 30_000);
    this.secretsManager = options.secretsManager ?? secretsManager();
    const url = new URL(connection.controllerUrl);
    this.host = url.host;
    this.sessionKey = `${url.origin}|${connection.credentialsSecretName}`;
    // The stack never deploys verifyTls=false (parseConfig refuses it at synth), and the Lambdas do not
    // validate their config again; refused here too, so no config can send the credentials to an unverified peer.
    if (connection.verifyTls === false) {
      throw new OnboardingError(
        'ConfigError',
        `onboarding.aviatrix.verifyTls is false in this function's config, which the stack never deploys: the controller's credentials go only to a verified peer; ` +
          'set onboarding.aviatrix.caBundlePem in the config the stack is deployed from and run `cdk deploy`',
      );
    }
  }

  /** One HTTP exchange with the controller, over the lazily built axios instance. */
  private request(config: AxiosRequestConfig): Promise<AxiosResponse> {
    this.http ??= this.createHttp();
    return this.http.then((http) => http.request(config));
  }

  private async createHttp(): Promise<AxiosInstance> {
    // A plain require, which the bundler keeps lazy: axios probes fetch and http2 when it loads.
    const { default: axios } = require('axios') as typeof import('axios');
    const https = require('node:https') as typeof import('node:https');
    const { caBundlePem, controllerUrl } = this.connection;
    const httpsAgent = new https.Agent({
      keepAlive: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(caBundlePem ? { ca: caBundlePem } : {}),
    });
    return axios.create({
      baseURL: new URL(controllerUrl).origin,
      httpsAgent,
      timeout: this.timeoutMs,
      maxRedirects: 0,
      // The controller is reached directly: no proxy from HTTP(S)_PROXY (lib/bundling.ts leaves
      // axios's proxy support out of the bundle).
      proxy: false,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
    });
  }

  /**
   * The longest one call can take before it answers or fails: every attempt timing out, plus the
   * longest backoff between attempts (4 × 30 s + 0.5 + 1 + 2 s = 123.5 s with the defaults).
   */
  worstCaseCallMs(): number {
    let backoff = 0;
    for (let attempt = 1; attempt < this.maxAttempts; attempt++) backoff += this.baseDelayMs * 2 ** (attempt - 1);
    return this.maxAttempts * this.timeoutMs + backoff;
  }

  /**
   * A non-idempotent create (POST), never re-sent blindly: each attempt is sent once; after a
   * timeout, transport error or 5xx the create may still have happened on the controller, so the
   * object is looked up (`find`, by name or cluster_id) and, when there, counted as created. Only
   * when it is absent is the create sent again (up to maxAttempts, with backoff). An "already
   * exists" refusal after such an ambiguous attempt is resolved by the same lookup.
   */
  async createOnce(action: string, target: string, post: () => Promise<string>, find: () => Promise<string | undefined>): Promise<string> {
    let ambiguous = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await post();
      } catch (error) {
        if (!(error instanceof ControllerApiError)) throw error;
        const lostAnswer = error.transient;
        const duplicateOfOurs = ambiguous && /already exists/i.test(error.reason);
        if (!lostAnswer && !duplicateOfOurs) throw error;
        ambiguous = true;
        const found = await find();
        if (found !== undefined) {
          logger.info('Aviatrix create got no clear answer, but the object exists: counted as created', { action, target, attempt });
          return found;
        }
        if (duplicateOfOurs || attempt >= this.maxAttempts) {
          throw attempt > 1
            ? new ControllerApiError({ action, target, reason: error.reason, status: error.status, attempts: attempt, transient: error.transient })
            : error;
        }
        logger.warn('Aviatrix create failed and the object is absent; sending it again', { action, target, attempt, reason: error.reason });
        await pauseBeforeRetry(controllerCall(action, target), Math.random() * this.baseDelayMs * 2 ** (attempt - 1), error.reason);
      }
    }
  }

  /**
   * A v2.5 create (POST `path`) whose answer carries the new object's id in `idKey`, sent through
   * createOnce; `find` looks the object up by its unique name after an ambiguous attempt.
   */
  createResource(path: string, body: unknown, target: string, idKey: string, find: () => Promise<string | undefined>): Promise<string> {
    const action = `POST ${path}`;
    return this.createOnce(
      action,
      target,
      async () => {
        const data = (await this.v25('POST', path, body, target, 1)) as Record<string, unknown> | undefined;
        const id = data?.[idKey];
        if (typeof id !== 'string') throw new ControllerApiError({ action, target, reason: `${idKey} not found in response` });
        return id;
      },
      find,
    );
  }

  /** One v2 action call; returns `results`. Re-logs in once on an expired-session reason. */
  async v2(action: string, params: Record<string, string>, target: string, encoding: V2Encoding): Promise<unknown> {
    for (let relogin = 0; ; relogin++) {
      const cid = await this.cid();
      const response = await this.withRetries(action, target, (signal) => this.v2Request(encoding, { CID: cid, action, ...params }, {}, signal));
      const body = this.parseEnvelope(response, action, target);
      if (body.return === true) return body.results;
      const rawReason = typeof body.reason === 'string' ? body.reason : JSON.stringify(body.reason ?? 'no reason given');
      if (relogin === 0 && isExpiredV2(rawReason, cid)) {
        logger.info('Aviatrix session expired; logging in again', { action, target });
        this.invalidate(cid);
        continue;
      }
      throw new ControllerApiError({ action, target, reason: redact(rawReason), status: response.status });
    }
  }

  /** One v2.5 call; returns the parsed JSON body (undefined when empty). */
  async v25(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body: unknown,
    target: string,
    attempts = this.maxAttempts,
  ): Promise<unknown> {
    const action = `${method} ${path.split('/').slice(0, path.startsWith('k8s/') ? 2 : 1).join('/')}`;
    for (let relogin = 0; ; relogin++) {
      const cid = await this.cid();
      const response = await this.withRetries(
        action,
        target,
        (signal) =>
          this.request({
            method,
            url: `/v2.5/api/${path}`,
            headers: { Authorization: `cid ${cid}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
            ...(body !== undefined ? { data: JSON.stringify(body) } : {}),
            ...(signal ? { signal } : {}),
          }),
        attempts,
      );
      const data = parseJson(response.data);
      if (response.status >= 200 && response.status < 300) return data;
      const message =
        data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string'
          ? (data as { message: string }).message
          : `${response.statusText || 'error'} (non-JSON answer)`;
      if (relogin === 0 && response.status === 403 && message.includes('Invalid CID')) {
        logger.info('Aviatrix session expired; logging in again', { action, target });
        this.invalidate(cid);
        continue;
      }
      throw new ControllerApiError({ action, target, reason: redact(message), status: response.status });
    }
  }

  private v2Request(encoding: V2Encoding, fields: Record<string, string>, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<AxiosResponse> {
    const config: AxiosRequestConfig = { url: '/v2/api', headers: { ...headers }, ...(signal ? { signal } : {}) };
    if (encoding === 'query') {
      config.method = 'GET';
      config.params = fields;
    } else if (encoding === 'form') {
      config.method = 'POST';
      config.headers = { ...config.headers, 'Content-Type': 'application/x-www-form-urlencoded' };
      config.data = new URLSearchParams(fields).toString();
    } else {
      config.method = 'POST';
      config.headers = { ...config.headers, 'Content-Type': 'application/json' };
      config.data = JSON.stringify(fields);
    }
    return this.request(config);
  }

  private parseEnvelope(response: AxiosResponse, action: string, target: string): V2Envelope {
    const body = parseJson(response.data);
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ControllerApiError({
        action,
        target,
        reason: `the controller answered without a JSON envelope (${String(response.headers['content-type'] ?? 'no content type')})`,
        status: response.status,
      });
    }
    return body as V2Envelope;
  }

  /**
   * Sends a request, retrying transport errors and 5xx answers up to `maxAttempts` with exponential
   * backoff and full jitter. TLS verification failures are not retried. Never exposes the request.
   * Each attempt is bounded by the step's time (aborted through `signal` at its deadline), and a
   * retry whose delay would pass it is not started: both end in the deadline's TransientError.
   */
  private async withRetries(
    action: string,
    target: string,
    send: (signal?: AbortSignal) => Promise<AxiosResponse>,
    maxAttempts = this.maxAttempts,
  ): Promise<AxiosResponse> {
    const call = controllerCall(action, target);
    let reason = '';
    let status: number | undefined;
    const started = Date.now();
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let askedDelayMs: number | undefined;
      try {
        const response = await withinCallBudget(call, send);
        if (!isTransientStatus(response.status)) {
          recordControllerCall(action, Date.now() - started, response.status >= 400);
          return response;
        }
        status = response.status;
        // A 429/503 may say when to come back; never wait longer than one request may take.
        askedDelayMs = retryAfterMs(response.headers?.['retry-after'], this.timeoutMs);
        const body = parseJson(response.data) as { reason?: unknown; message?: unknown } | undefined;
        const detail = body && typeof body === 'object' ? (body.reason ?? body.message) : undefined;
        reason = `${response.status === 429 ? 'rate limited' : 'server error'} ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${
          typeof detail === 'string' ? `: ${detail}` : ''
        }`;
      } catch (error) {
        if (error instanceof TransientError) {
          // The step's deadline (withinCallBudget): no retry, the workflow retries the step.
          recordControllerCall(action, Date.now() - started, true);
          throw error;
        }
        const code = (error as { code?: string }).code ?? '';
        const message = error instanceof Error ? error.message : String(error);
        if (TLS_ERROR.test(code) || TLS_ERROR.test(message)) {
          recordControllerCall(action, Date.now() - started, true);
          throw new ControllerApiError({
            action,
            target,
            reason:
              `the TLS certificate of ${this.host} is not trusted (${code || redact(message)}); set ` +
              'onboarding.aviatrix.caBundlePem to the CA that issued the controller certificate',
          });
        }
        status = undefined;
        reason = `transport error ${code || 'unknown'}: ${redact(message)}`;
      }
      if (attempt < maxAttempts) {
        const delay = askedDelayMs ?? Math.random() * this.baseDelayMs * 2 ** (attempt - 1);
        logger.warn('Aviatrix controller call failed; retrying', { action, target, attempt, reason: redact(reason) });
        await pauseBeforeRetry(call, delay, redact(reason)).catch((error: unknown) => {
          recordControllerCall(action, Date.now() - started, true);
          throw error;
        });
      }
    }
    recordControllerCall(action, Date.now() - started, true);
    throw new ControllerApiError({ action, target, reason: redact(reason), status, attempts: maxAttempts, transient: true });
  }

  // ---- session -------------------------------------------------------------------------------

  private session(): Session {
    let session = sessions.get(this.sessionKey);
    if (!session) {
      session = {};
      sessions.set(this.sessionKey, session);
    }
    return session;
  }

  /**
   * The cached CID, or one login shared by every concurrent caller. The login runs under the clock
   * of the step run that started it; each caller waits for it only as long as its own step may
   * (its own deadline error, naming its step). A login given up at another run's deadline (a run
   * beside this one, or an earlier invocation of a warm Lambda) is not this caller's failure: it
   * logs in afresh under its own clock. A failed login is dropped, so it never poisons a later call.
   */
  private async cid(): Promise<string> {
    const session = this.session();
    for (;;) {
      if (session.cid) return session.cid;
      try {
        // A caller with nothing left starts no login (withinCallBudget refuses before the thunk).
        return await withinCallBudget(`Aviatrix controller login at ${this.host}`, () => (session.pending ??= this.sharedLogin(session)));
      } catch (error) {
        if (!isDeadlineOfAnotherRun(error)) throw error;
        logger.info('Aviatrix login shared with another step run ran out of that run\'s time; logging in again', { controller: this.host });
      }
    }
  }

  private sharedLogin(session: Session): Promise<string> {
    return this.login().then(
      (cid) => {
        session.cid = cid;
        session.pending = undefined;
        return cid;
      },
      (error: unknown) => {
        session.pending = undefined;
        throw error;
      },
    );
  }

  private invalidate(cid: string): void {
    const session = this.session();
    if (session.cid === cid) session.cid = undefined;
  }

  /** get_api_token, then login with X-Access-Key. A refused login re-reads the secret once. */
  private async login(): Promise<string> {
    for (let round = 0; round < 2; round++) {
      const credentials = await this.credentials(round > 0);
      const tokenResponse = await this.withRetries('get_api_token', this.host, (signal) =>
        this.request({ method: 'GET', url: '/v2/api', params: { action: 'get_api_token' }, ...(signal ? { signal } : {}) }),
      );
      const tokenBody = this.parseEnvelope(tokenResponse, 'get_api_token', this.host);
      const token = (tokenBody.results as { api_token?: unknown } | undefined)?.api_token;
      if (tokenBody.return !== true || typeof token !== 'string') {
        throw new ControllerApiError({
          action: 'get_api_token',
          target: this.host,
          reason: redact(typeof tokenBody.reason === 'string' ? tokenBody.reason : 'no api_token in the answer'),
          status: tokenResponse.status,
        });
      }
      rememberSecret(token);
      const loginResponse = await this.withRetries('login', this.host, (signal) =>
        this.v2Request('form', { action: 'login', username: credentials.username, password: credentials.password }, { 'X-Access-Key': token }, signal),
      );
      const body = this.parseEnvelope(loginResponse, 'login', this.host);
      if (body.return === true && typeof body.CID === 'string' && body.CID) {
        rememberSecret(body.CID);
        logger.info('Logged in to the Aviatrix controller', { controller: this.host, username: credentials.username });
        return body.CID;
      }
      const reason = redact(typeof body.reason === 'string' ? body.reason : 'login refused without a reason');
      if (round === 0) {
        logger.warn('Aviatrix login refused; re-reading the credentials secret once', { controller: this.host, reason });
        continue;
      }
      throw new ControllerApiError({
        action: 'login',
        target: this.host,
        reason: `${reason} (credentials from secret ${this.connection.credentialsSecretName})`,
        status: loginResponse.status,
      });
    }
    throw new Error('unreachable');
  }

  private credentials(refresh: boolean): Promise<Credentials> {
    const name = this.connection.credentialsSecretName;
    let cached = credentialCache.get(name);
    if (!cached || refresh) {
      cached = this.readSecret(name);
      credentialCache.set(name, cached);
      cached.catch(() => credentialCache.delete(name));
    }
    return cached;
  }

  private async readSecret(name: string): Promise<Credentials> {
    let text: string | undefined;
    try {
      const answer = await this.secretsManager.send(new GetSecretValueCommand({ SecretId: name }));
      text = answer.SecretString;
    } catch (error) {
      // The step's deadline names its call already (and which run it was: isDeadlineOfAnotherRun).
      if (error instanceof TransientError) throw error;
      // Throttling or an outage is retried by the workflow; only a real refusal is a config problem.
      if (isTransient(error)) {
        throw new TransientError(
          `reading the Aviatrix credentials secret ${name} failed and may succeed later: ${(error as Error).name}: ${(error as Error).message}`,
        );
      }
      throw new OnboardingError(
        'ConfigError',
        `cannot read the Aviatrix credentials secret ${name} (onboarding.aviatrix.credentialsSecretName): ${
          (error as Error).name
        }: ${(error as Error).message}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text ?? '');
    } catch {
      parsed = undefined;
    }
    const { username, password } = (parsed ?? {}) as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
      throw new OnboardingError('ConfigError', `secret ${name} must hold JSON {"username": "...", "password": "..."}`);
    }
    rememberSecret(password);
    return { username, password };
  }
}

/** How a deadline error names a controller call (as ControllerApiError does). */
const controllerCall = (action: string, target: string) => `Aviatrix controller call ${action} for ${target}`;

/** Waits `delayMs` before a retry, unless the step's time would be gone by then: then the deadline's error, naming the last failure. */
async function pauseBeforeRetry(call: string, delayMs: number, lastFailure: string): Promise<void> {
  const budget = callBudget();
  if (budget && delayMs >= budget.ms) throw callDeadlineError(call, budget, lastFailure);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
}

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  if (data.trim() === '') return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** The three v2 expired-session forms (docs/aviatrix-controller-api.md 1.5), checked on every v2 answer. */
function isExpiredV2(reason: string, cid: string): boolean {
  return (
    reason.includes('CID is invalid') ||
    reason.includes('Invalid session. Please login again.') ||
    reason.includes(`Session ${cid} expired`) ||
    reason.includes(`Session ${cid} not found`)
  );
}


/** A v2.5 GET's answer, or undefined when the controller says the object is not found (4xx). */
export async function undefinedIfNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ControllerApiError && error.isNotFound && (error.status ?? 0) < 500) return undefined;
    throw error;
  }
}
