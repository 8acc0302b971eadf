// How every Lambda is bundled: one table, read by the CDK stack (NodejsFunction) and by
// `npm run bench` and test/cdk/bundles.test.ts, which build and load exactly what is deployed.
import path from 'node:path';
import { PACKAGE_ROOT } from './package-root';

const STUBS = path.join(PACKAGE_ROOT, 'lib', 'bundle-stubs');

/**
 * The nodejs22.x runtime ships AWS SDK v3 (@aws-sdk/* and the @smithy/* packages it uses): leaving
 * @aws-sdk/* out keeps bundles small, and no deployed Lambda loads @smithy/* itself (the EKS token
 * is signed by the STS client's own signer), so no bundle carries any of it.
 */
export const EXTERNAL_MODULES = [
  '@aws-sdk/*',
  // Loaded only when AWS_RETRY_BASE_DELAY_MS is set (the local world's short back-off), never when deployed.
  '@smithy/core/retry',
];

/**
 * Modules axios imports that the controller client (lambdas/aviatrix/controller/session.ts) never reaches,
 * replaced by stubs that throw if reached: form-data drags in mime-db (137 KB) for multipart bodies
 * we never send; proxies are off (`proxy: false`) and redirects are not followed (`maxRedirects: 0`).
 */
export const BUNDLE_ALIASES: Record<string, string> = {
  'form-data': path.join(STUBS, 'form-data.js'),
  'proxy-from-env': path.join(STUBS, 'proxy-from-env.js'),
  'https-proxy-agent': path.join(STUBS, 'https-proxy-agent.js'),
  'follow-redirects': path.join(STUBS, 'follow-redirects.js'),
};

/**
 * Minified CommonJS for Node 22 that keeps function and class names, so a stack trace in the logs
 * names the functions it went through. A source map (without the sources) is shipped beside each
 * bundle for decoding a trace by hand, but not applied at run time: `--enable-source-maps` makes Node
 * parse the whole map at load, which `npm run bench` measured at +50 ms (+30 %) for the controller
 * functions (their map covers axios) for a file:line that the names mostly give already.
 */
export const BUNDLING = { minify: true, keepNames: true, target: 'node22', sourceMap: true, sourcesContent: false } as const;
