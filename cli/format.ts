// How the CLI shows things: change lists, the status table, elapsed time, error causes.

export interface Change {
  resource: string;
  action: string;
  detail: string;
}

/** The workflow's output: the outcome of the run. */
export interface Outcome {
  clusterName: string;
  status: string;
  stepsDone?: string[];
  changes: Change[];
  error?: string;
  finishedAt?: string;
  /** Offboarding: why there is nothing to do. */
  reason?: string;
  warnings?: string[];
}

/** Columns separated by two spaces, each as wide as its widest cell; the last is not padded. */
export function formatTable(headers: string[], rows: string[][], indent = ''): string[] {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function formatChanges(changes: Change[], indent = '  '): string[] {
  return formatTable(
    ['ACTION', 'RESOURCE', 'DETAIL'],
    changes.map((c) => [c.action, c.resource, c.detail]),
    indent,
  );
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Seconds with one decimal, right-aligned: "  3.2s". */
export function elapsed(fromMs: number, toMs: number): string {
  return `${Math.max(0, (toMs - fromMs) / 1000).toFixed(1)}s`.padStart(7);
}

/** The message in a cause: a Lambda error's cause is JSON {"errorType", "errorMessage"}. */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // a plain-text cause
  }
  return cause;
}

/** "Error: message", or whichever of the two there is. */
export function describeFailure(error: string | undefined, cause: string | undefined): string {
  const message = causeMessage(cause);
  if (error && message) return `${error}: ${message}`;
  return error || message || 'no error given';
}

/** 2025-01-31T12:34:56.789Z -> "2025-01-31 12:34:56Z"; anything else as given. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function shorten(text: string | undefined, max = 60): string {
  if (!text) return '-';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export interface StatusRow {
  clusterName: string;
  status: string;
  finishedAt?: string;
  changeCount?: number;
  trigger?: string;
  error?: string;
  /** The IPs the cluster's traffic leaves with, per gateway (lambdas/domain/egress.ts). */
  egressIps?: unknown[];
}

/** The status table; errors cut at 60 characters unless `wide`, and on one line either way. */
export function formatStatus(rows: StatusRow[], wide = false): string[] {
  return formatTable(
    ['CLUSTER', 'STATUS', 'LAST RUN', 'CHANGES', 'TRIGGER', 'ERROR'],
    rows.map((r) => [r.clusterName, r.status, formatTime(r.finishedAt), r.changeCount === undefined ? '-' : String(r.changeCount), r.trigger ?? '-', shorten(r.error, wide ? Infinity : 60)]),
  );
}
