/**
 * The local S3 (s3rver) and DynamoDB (dynalite) servers of bench/cloud.ts, in a process of their own so that
 * their work does not share the benchmark's event loop. Prints `{"s3": url, "dynamodb": url}` on one line, and
 * stops both servers and exits when its stdin closes.
 */
import { startDynamo, startS3 } from '../test/storage/cloud-servers.js';

const [s3, dynamo] = await Promise.all([startS3(), startDynamo()]);
process.stdout.write(`${JSON.stringify({ s3: s3.endpoint, dynamodb: dynamo.endpoint })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void Promise.all([s3.stop(), dynamo.stop()]).finally(() => process.exit(0));
});
