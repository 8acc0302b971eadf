// The recording proxy in front of moto refuses the CIDR associations EC2 refuses and moto accepts
// (overlap, the VPC's quota of 5 blocks, a size outside /16../28, a range restricted for the VPC's
// primary CIDR), and can report a new association `associating` for a few reads, as EC2 does; it
// keeps its clients' connections open, as an AWS endpoint does.
import { AssociateVpcCidrBlockCommand, CreateVpcCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import http from 'node:http';
import { CallLog } from '../local-world/call-log';
import { itemSerializer, MotoServer, startMoto, VPC_CIDR_QUOTA } from '../local-world/moto';

let moto: MotoServer;
let ec2: EC2Client;

beforeAll(async () => {
  moto = await startMoto(new CallLog());
  ec2 = new EC2Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
});
afterAll(async () => {
  ec2?.destroy();
  await moto?.stop();
});

const vpc = async (cidr: string) => (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
const associate = (VpcId: string, CidrBlock: string) => ec2.send(new AssociateVpcCidrBlockCommand({ VpcId, CidrBlock }));
const refusal = (VpcId: string, CidrBlock: string) => associate(VpcId, CidrBlock).then(() => 'accepted', (e: Error) => `${e.name}: ${e.message}`);
const states = async (VpcId: string) =>
  ((await ec2.send(new DescribeVpcsCommand({ VpcIds: [VpcId] }))).Vpcs![0].CidrBlockAssociationSet ?? []).map((a) => `${a.CidrBlock} ${a.CidrBlockState?.State}`);

test(`a VPC takes ${VPC_CIDR_QUOTA} IPv4 blocks (its primary included), then CidrLimitExceeded`, async () => {
  const id = await vpc('10.1.0.0/16');
  for (const block of ['100.64.0.0/16', '100.65.0.0/16', '100.66.0.0/16', '10.2.0.0/16']) expect(await refusal(id, block)).toBe('accepted');
  expect(await refusal(id, '100.67.0.0/16')).toBe(`CidrLimitExceeded: This network '${id}' has met its maximum number of allowed CIDRs: 5`);
});

test('overlapping, oversized and undersized blocks are refused', async () => {
  const id = await vpc('10.3.0.0/16');
  expect(await associate(id, '100.64.0.0/16')).toBeDefined();
  expect(await refusal(id, '100.64.128.0/17')).toMatch(/^InvalidVpc.Range: The CIDR '100.64.128.0\/17' overlaps the CIDR '100.64.0.0\/16'/);
  expect(await refusal(id, '100.80.0.0/15')).toBe("InvalidVpc.Range: The CIDR '100.80.0.0/15' is invalid.");
  expect(await refusal(id, '100.90.0.0/29')).toBe("InvalidVpc.Range: The CIDR '100.90.0.0/29' is invalid.");
});

test.each([
  { primary: '10.4.0.0/16', refused: ['172.16.0.0/16', '192.168.0.0/16', '198.19.0.0/16'], allowed: ['10.5.0.0/16', '100.64.0.0/16', '11.0.0.0/16'] },
  { primary: '172.20.0.0/16', refused: ['10.6.0.0/16', '192.168.0.0/16'], allowed: ['172.21.0.0/16', '100.64.0.0/16'] },
  { primary: '192.168.0.0/16', refused: ['10.7.0.0/16', '172.16.0.0/16'], allowed: ['100.64.0.0/16'] },
  { primary: '100.70.0.0/16', refused: ['10.8.0.0/16', '172.16.0.0/16', '192.168.0.0/16', '198.19.0.0/16'], allowed: ['100.71.0.0/16'] },
])('primary $primary: restricted ranges are refused, the rest accepted', async ({ primary, refused, allowed }) => {
  const id = await vpc(primary);
  for (const block of refused) expect(await refusal(id, block)).toMatch(new RegExp(`^InvalidVpc.Range: The CIDR '${block.replace(/\./g, '\\.')}' is restricted`));
  for (const block of allowed) expect(await refusal(id, block)).toBe('accepted');
});

test('a new association is associating for the reads asked for, then associated; others are untouched', async () => {
  const id = await vpc('10.9.0.0/16');
  moto.settleAssociationsAfter(2);
  try {
    const answer = await associate(id, '100.64.0.0/16');
    expect(answer.CidrBlockAssociation?.CidrBlockState?.State).toBe('associating');
    expect(await states(id)).toEqual(['10.9.0.0/16 associated', '100.64.0.0/16 associating']);
    expect(await states(id)).toEqual(['10.9.0.0/16 associated', '100.64.0.0/16 associating']);
    expect(await states(id)).toEqual(['10.9.0.0/16 associated', '100.64.0.0/16 associated']);
  } finally {
    moto.settleAssociationsAfter(0);
  }
});

describe('DynamoDB writes: one at a time per item, in parallel across items', () => {
  const dynamo = () =>
    new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
  const TABLE = 'proxy-items';

  test('racing conditional puts of one item: exactly one wins; of different items: all do', async () => {
    const client = dynamo();
    try {
      await client.send(
        new CreateTableCommand({
          TableName: TABLE,
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      const put = (id: string, holder: number) =>
        client
          .send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: id }, holder: { N: String(holder) } }, ConditionExpression: 'attribute_not_exists(id)' }))
          .then(() => 'won', (e: Error) => e.name);
      const sameItem = await Promise.all(Array.from({ length: 20 }, (_, i) => put('one', i)));
      expect(sameItem.filter((r) => r === 'won')).toHaveLength(1);
      expect(sameItem.filter((r) => r !== 'won')).toEqual(Array(19).fill('ConditionalCheckFailedException'));
      expect(await Promise.all(Array.from({ length: 20 }, (_, i) => put(`item-${i}`, i)))).toEqual(Array(20).fill('won'));
    } finally {
      client.destroy();
    }
  });

  test("a write held up on one item holds up that item's next write only; an item-less write waits for all and holds up all", async () => {
    const serialize = itemSerializer();
    const order: string[] = [];
    let freeA: () => void = () => undefined;
    const firstA = serialize('t a', () => new Promise<void>((resolve) => (freeA = resolve)).then(() => order.push('a1')));
    const secondA = serialize('t a', async () => order.push('a2'));
    await serialize('t b', async () => order.push('b1'));
    expect(order).toEqual(['b1']);
    const table = serialize(undefined, async () => order.push('table'));
    const afterTable = serialize('t b', async () => order.push('b2'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(['b1']);
    freeA();
    await Promise.all([firstA, secondA, table, afterTable]);
    expect(order).toEqual(['b1', 'a1', 'a2', 'table', 'b2']);
  });
});

/** Three DescribeVpcs in a row to `endpoint` over one keep-alive connection: was it reused, and what each answer said of it. */
async function threeCallsOnOneConnection(endpoint: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const describeVpcs = () =>
    new Promise<{ reused: boolean; status?: number; connection?: string }>((resolve, reject) => {
      const body = new URLSearchParams({ Action: 'DescribeVpcs', Version: '2016-11-15' }).toString();
      const request = http.request(
        `${endpoint}/`,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(Buffer.byteLength(body)),
            authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0',
          },
        },
        (answer) => {
          answer.resume();
          answer.on('end', () => resolve({ reused: request.reusedSocket, status: answer.statusCode, connection: answer.headers.connection }));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  try {
    return [await describeVpcs(), await describeVpcs(), await describeVpcs()];
  } finally {
    agent.destroy();
  }
}

test("a client's connection to the proxy stays open from call to call, as to an AWS endpoint", async () => {
  expect(await threeCallsOnOneConnection(moto.endpoint)).toEqual([
    { reused: false, status: 200, connection: 'keep-alive' },
    { reused: true, status: 200, connection: 'keep-alive' },
    { reused: true, status: 200, connection: 'keep-alive' },
  ]);
});

test("moto keeps the proxy's connections open too (moto-server.py; werkzeug alone closes each after one answer)", async () => {
  // The answer says nothing of the connection (no Connection header) when it stays open.
  expect(await threeCallsOnOneConnection(moto.directEndpoint)).toEqual([
    { reused: false, status: 200, connection: undefined },
    { reused: true, status: 200, connection: undefined },
    { reused: true, status: 200, connection: undefined },
  ]);
});
