// Test-process defaults: quiet Lambda logs (set POWERTOOLS_LOG_LEVEL=INFO to see them), and no
// SDK warning about Node 20 (the Lambdas run on Node 22; the tests run on what the machine has).
import './polyfills';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// No EMF metric lines in test output; the metrics test switches them on for itself.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Short client back-off (the AWS SDK's and the controller client's), so tests that meet throttling
// or 5xx do not sleep through seconds of real back-off; the retry counts stay as in production.
process.env.AWS_RETRY_BASE_DELAY_MS ??= '5';
process.env.AVIATRIX_RETRY_BASE_DELAY_MS ??= '5';
