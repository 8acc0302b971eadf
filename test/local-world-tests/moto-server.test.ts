// moto-server.py skips work moto repeats (docs/test-speed.md) and must answer exactly as moto does:
// the same calls sent to it and to moto's own server (`python3 -m moto.server`) give the same
// answers, ids and times aside. Its one intended difference: the only AMI it knows is the one the
// local world launches instances from.
import { DynamoDBClient, CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  AssociateVpcCidrBlockCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../local-world/moto';
import { spawnMoto, untilServing } from '../local-world/moto-pool';

const LAUNCHED_AMI = 'ami-12c6146b';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

interface Server {
  child: ChildProcess;
  ec2: EC2Client;
  dynamodb: DynamoDBClient;
}

async function start(child: (port: number) => ChildProcess): Promise<Server> {
  const port = await freePort();
  const server = child(port);
  const endpoint = `http://127.0.0.1:${port}`;
  await untilServing(endpoint, () => (server.exitCode === null ? undefined : `moto on ${port} exited with ${server.exitCode}`));
  const options = { endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
  return { child: server, ec2: new EC2Client(options), dynamodb: new DynamoDBClient(options) };
}

let patched: Server;
let plain: Server;

beforeAll(async () => {
  [patched, plain] = await Promise.all([
    start((port) => spawnMoto(port, 'ignore')),
    start((port) => spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } })),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all(
    [patched, plain].map(async (server) => {
      if (!server) return;
      server.ec2.destroy();
      server.dynamodb.destroy();
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill();
      await exited;
    }),
  );
});

/** Random by nature on any server: times, tokens, MAC addresses (ids are numbered below). */
const RANDOM_FIELDS = /Time$|^ClientToken$|^MacAddress$/;

/** An answer with what differs between any two servers replaced: each generated id by its first-seen order, random fields by a word. */
function normalized(answer: unknown): unknown {
  const seen = new Map<string, string>();
  const text = JSON.stringify(answer, (key, value: unknown) => (key === '$metadata' ? undefined : RANDOM_FIELDS.test(key) ? 'random' : value));
  return JSON.parse(
    text.replace(/\b(?:vpc|subnet|sg|sgr|rtb|rtbassoc|acl|aclassoc|igw|i|r|eni|eni-attach|vol|snap|vpc-cidr-assoc)-[0-9a-f]{8,17}\b/g, (id) => {
      if (!seen.has(id)) seen.set(id, `${id.slice(0, id.lastIndexOf('-'))}-#${seen.size}`);
      return seen.get(id)!;
    }),
  );
}

/** The same calls on one server, each answer kept. */
async function exercise({ ec2, dynamodb }: Server): Promise<Record<string, unknown>> {
  const answers: Record<string, unknown> = {};
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.10.0.0/16' }))).Vpc!;
  answers.createVpc = vpc;
  answers.associate = await ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpc.VpcId, CidrBlock: '100.64.0.0/16' }));
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '100.64.0.0/19', AvailabilityZone: 'us-east-1a' }))).Subnet!;
  await ec2.send(new CreateTagsCommand({ Resources: [subnet.SubnetId!], Tags: [{ Key: 'kubernetes.io/role/cni', Value: '1' }] }));
  const routes = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpc.VpcId }))).RouteTable!;
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'pods', Description: 'pods', VpcId: vpc.VpcId }));
  answers.authorize = await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: group.GroupId, IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: group.GroupId, Description: 'itself' }] }] }),
  );
  answers.vpcs = await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc.VpcId!] }));
  answers.subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }));
  answers.routeTables = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [routes.RouteTableId!] }));
  answers.groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group.GroupId!] }));
  const launched = await ec2.send(new RunInstancesCommand({ ImageId: LAUNCHED_AMI, MinCount: 1, MaxCount: 1, InstanceType: 't3.large', SubnetId: subnet.SubnetId, SecurityGroupIds: [group.GroupId!] }));
  answers.instances = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [launched.Instances![0].InstanceId!] }));

  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'leases',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await dynamodb.send(new PutItemCommand({ TableName: 'leases', Item: { pk: { S: 'vpc' }, sk: { S: 'a' }, holder: { S: 'run-1' }, until: { N: '100' } }, ConditionExpression: 'attribute_not_exists(pk)' }));
  answers.update = await dynamodb.send(
    new UpdateItemCommand({
      TableName: 'leases',
      Key: { pk: { S: 'vpc' }, sk: { S: 'a' } },
      UpdateExpression: 'SET #h = :h, #u = :u ADD #n :one REMOVE #x',
      ConditionExpression: '#u < :now OR #h = :h',
      ExpressionAttributeNames: { '#h': 'holder', '#u': 'until', '#n': 'count', '#x': 'gone' },
      ExpressionAttributeValues: { ':h': { S: 'run-1' }, ':u': { N: '200' }, ':one': { N: '1' }, ':now': { N: '150' } },
      ReturnValues: 'ALL_NEW',
    }),
  );
  answers.refused = await dynamodb
    .send(new PutItemCommand({ TableName: 'leases', Item: { pk: { S: 'vpc' }, sk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' }))
    .then(() => 'accepted', (e: Error) => `${e.name}: ${e.message}`);
  await dynamodb.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'leases', Item: { pk: { S: 'claim' }, sk: { S: 'b' }, keys: { SS: ['x', 'y'] } } } },
        { Update: { TableName: 'leases', Key: { pk: { S: 'vpc' }, sk: { S: 'a' } }, UpdateExpression: 'SET #h = :h', ExpressionAttributeNames: { '#h': 'holder' }, ExpressionAttributeValues: { ':h': { S: 'run-2' } } } },
      ],
    }),
  );
  answers.get = await dynamodb.send(new GetItemCommand({ TableName: 'leases', Key: { pk: { S: 'vpc' }, sk: { S: 'a' } }, ConsistentRead: true }));
  answers.query = await dynamodb.send(new QueryCommand({ TableName: 'leases', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'claim' } } }));
  return answers;
}

test("moto-server.py answers EC2 and DynamoDB calls exactly as moto's own server does", async () => {
  const [mine, moto] = await Promise.all([exercise(patched), exercise(plain)]);
  expect(normalized(mine)).toEqual(normalized(moto));
  // The answers say something: the serializer's picked fields are there.
  expect(normalized(mine)).toMatchObject({
    subnets: { Subnets: [{ CidrBlock: '100.64.0.0/19', AvailabilityZone: 'us-east-1a', Tags: [{ Key: 'kubernetes.io/role/cni', Value: '1' }] }] },
    groups: { SecurityGroups: [{ GroupName: 'pods', IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ Description: 'itself' }] }] }] },
    get: { Item: { holder: { S: 'run-2' }, until: { N: '200' }, count: { N: '1' } } },
    refused: 'ConditionalCheckFailedException: The conditional request failed',
  });
});

test('the only AMI it knows is the one the local world launches', async () => {
  const images = async ({ ec2 }: Server) => ((await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).map((image) => image.ImageId);
  expect(await images(patched)).toEqual([LAUNCHED_AMI]);
  expect((await images(plain)).length).toBeGreaterThan(100);
});
