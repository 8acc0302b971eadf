// Shared set-up for the Aviatrix tests: moto (Secrets Manager + DynamoDB) behind its recording proxy,
// the controller emulator over HTTPS, the credentials secret, the lease and status tables, and output capture.
import { CreateSecretCommand, SecretsManagerClient, UpdateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AviatrixConfig } from '../../lib/config';
import { CallLog } from '../local-world/call-log';
import { MotoServer, startMoto } from '../local-world/moto';
import { AviatrixEmulator, EmulatorOptions } from '../local-world/aviatrix-emulator';
import { createStackTables } from '../local-world/tables';
import { forgetWarmStateForTests } from '../../lambdas/shared/warm-state';

export const PASSWORD = 'Pw-7f3c9e1a-very-secret';
export const SECRET_NAME = 'aviatrix/controller';
export const LEASE_TABLE = 'gateway-leases';
export const CLAIM_TABLE = 'controller-claims';
export const STATUS_TABLE = 'cluster-status';

export interface World {
  log: CallLog;
  moto: MotoServer;
  emulator: AviatrixEmulator;
  url: string;
  caPem: string;
  connection: Pick<AviatrixConfig, 'controllerUrl' | 'credentialsSecretName' | 'caBundlePem' | 'verifyTls'>;
  direct: { secrets: SecretsManagerClient; dynamo: DynamoDBClient };
  setSecret(password: string): Promise<void>;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export async function startWorld(options: EmulatorOptions = {}): Promise<World> {
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  const log = new CallLog();
  const moto = await startMoto(log);
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = moto.endpoint;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = moto.endpoint;
  process.env.LEASE_TABLE_NAME = LEASE_TABLE;
  process.env.STATUS_TABLE_NAME = STATUS_TABLE;
  process.env.CLAIM_TABLE_NAME = CLAIM_TABLE;
  process.env.CLAIM_INDEX_SETTLE_SECONDS = '0';
  // Clients a previous world's suite left warm in this module registry point at its moto.
  forgetWarmStateForTests();
  const secrets = new SecretsManagerClient({ endpoint: moto.directEndpoint, region: 'us-east-1', credentials });
  const dynamo = new DynamoDBClient({ endpoint: moto.directEndpoint, region: 'us-east-1', credentials });
  await secrets.send(new CreateSecretCommand({ Name: SECRET_NAME, SecretString: JSON.stringify({ username: 'admin', password: PASSWORD }) }));
  await createStackTables(dynamo, { statusTable: STATUS_TABLE, leaseTable: LEASE_TABLE, claimTable: CLAIM_TABLE });
  const emulator = new AviatrixEmulator({ username: 'admin', password: PASSWORD, log, ...options });
  const { url, caPem } = await emulator.start();
  return {
    log,
    moto,
    emulator,
    url,
    caPem,
    connection: { controllerUrl: url, credentialsSecretName: SECRET_NAME, caBundlePem: caPem, verifyTls: true },
    direct: { secrets, dynamo },
    setSecret: async (password: string) => {
      await secrets.send(new UpdateSecretCommand({ SecretId: SECRET_NAME, SecretString: JSON.stringify({ username: 'admin', password }) }));
    },
    stop: async () => {
      await emulator.stop();
      await moto.stop();
      secrets.destroy();
      dynamo.destroy();
    },
  };
}

/** Captures everything written to stdout/stderr (the powertools logger writes there). */
export function captureOutput(): { text(): string; restore(): void } {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const spy = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = spy as typeof process.stdout.write;
  process.stderr.write = spy as typeof process.stderr.write;
  return {
    text: () => chunks.join(''),
    restore: () => {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

/** Every CID and API token the emulator handed out, from its request record. */
export function issuedSessionSecrets(emulator: AviatrixEmulator): string[] {
  const values = new Set<string>();
  for (const r of emulator.requests()) {
    if (r.params.CID) values.add(r.params.CID);
    const key = r.headers['x-access-key'];
    if (typeof key === 'string') values.add(key);
    const auth = /^cid (.+)$/.exec(String(r.headers.authorization ?? ''));
    if (auth) values.add(auth[1]);
  }
  return [...values];
}
