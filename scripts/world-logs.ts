// The local world's CloudWatch Logs, imported by scripts/world.ts before anything else: the
// Lambdas run in the world's process, so their log lines (Powertools JSON on stdout, each with
// function_name and executionId) are taken off the terminal and put into moto's CloudWatch Logs,
// under /aws/lambda/<function>, where `eks-aviatrix logs` reads them as it does in an account.
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';

process.env.POWERTOOLS_LOG_LEVEL ??= 'INFO';

const pending: { group: string; timestamp: number; message: string }[] = [];
const write = process.stdout.write.bind(process.stdout) as (chunk: string) => boolean;
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const kept = String(chunk)
    .split(/(?<=\n)/)
    .filter((text) => {
      if (!text.startsWith('{')) return true;
      try {
        const line = JSON.parse(text) as { function_name?: unknown; executionId?: unknown; timestamp?: unknown };
        if (typeof line.function_name !== 'string') return true;
        pending.push({ group: `/aws/lambda/${line.function_name}`, timestamp: Date.parse(String(line.timestamp)) || Date.now(), message: text.trim() });
        return false;
      } catch {
        return true;
      }
    })
    .join('');
  const done = rest.find((r): r is () => void => typeof r === 'function');
  if (kept) return write(kept);
  done?.();
  return true;
}) as typeof process.stdout.write;

/** Ships the captured lines to CloudWatch Logs at `endpoint` every second; returns the stop (with a last flush). */
export function shipCapturedLogs(endpoint: string, region: string): () => Promise<void> {
  const client = new CloudWatchLogsClient({ endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const groups = new Set<string>();
  const flush = async () => {
    const batch = pending.splice(0);
    for (const group of new Set(batch.map((l) => l.group))) {
      if (!groups.has(group)) {
        await client.send(new CreateLogGroupCommand({ logGroupName: group }));
        await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'world' }));
        groups.add(group);
      }
      const events = batch.filter((l) => l.group === group).map((l) => ({ timestamp: l.timestamp, message: l.message })).sort((a, b) => a.timestamp - b.timestamp);
      await client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 'world', logEvents: events }));
    }
  };
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(flush).catch((error: unknown) => {
      process.stderr.write(`world: could not store log lines: ${(error as Error).message}\n`);
    });
  }, 1000);
  return async () => {
    clearInterval(timer);
    await running;
    await flush().catch(() => undefined);
    client.destroy();
  };
}
