// An EKS bearer token: a presigned STS GetCallerIdentity URL bound to the cluster name through the
// signed x-k8s-aws-id header, as `aws eks get-token` makes it. The API server calls STS with it.
// Signed by the STS client's own SigV4 signer (part of the runtime's SDK), so no signer, hash or
// @smithy/* package is bundled into the functions.
import type { SignatureV4 } from '@smithy/signature-v4';
import { sts } from './aws';

const TOKEN_PREFIX = 'k8s-aws-v1.';
const TOKEN_LIFETIME_SECONDS = 60;

/** The STS endpoint the SDK would use: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the regional one. */
function stsEndpoint(region: string): URL {
  const configured = process.env.AWS_ENDPOINT_URL_STS ?? process.env.AWS_ENDPOINT_URL;
  return new URL(configured ?? `https://sts.${region}.amazonaws.com`);
}

export async function eksBearerToken(clusterName: string): Promise<string> {
  // The cluster's account and Region (lambdas/shared/aws.ts): in a member account, the member role signs.
  const client = sts();
  const region = await client.config.region();
  const endpoint = stsEndpoint(region);
  // The client's signer for service "sts" in its region, with its credentials and hash.
  const signer = (await client.config.signer()) as SignatureV4;
  const request: Parameters<SignatureV4['presign']>[0] = {
    method: 'GET',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : undefined,
    path: endpoint.pathname.replace(/\/?$/, '/'),
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: endpoint.host, 'x-k8s-aws-id': clusterName },
  };
  const signed = await signer.presign(request, { expiresIn: TOKEN_LIFETIME_SECONDS });
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  const url = `${endpoint.protocol}//${endpoint.host}${signed.path}?${query}`;
  return TOKEN_PREFIX + Buffer.from(url).toString('base64url');
}
