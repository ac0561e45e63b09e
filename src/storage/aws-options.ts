/**
 * How the S3 and DynamoDB stores reach AWS: the options both take, turned into the AWS SDK's client
 * configuration. Without options, the SDK's own defaults apply: the usual environment variables
 * (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_ENDPOINT_URL,
 * AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB), then the shared config files and instance roles.
 */
import { InvalidArgumentError } from '../core/errors.js';

/** Static credentials (otherwise the SDK's provider chain finds them: environment, profile, role). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Where a cloud store connects, when the environment is not enough. */
export interface AwsConnectionOptions {
  /** A service endpoint (a local server, a VPC endpoint, an S3-compatible service): `http://127.0.0.1:4569`. */
  endpoint?: string;
  /** The region (default: AWS_REGION, else the SDK's default chain; `us-east-1` when an endpoint is given without one). */
  region?: string;
  /** Credentials (default: the SDK's provider chain). */
  credentials?: AwsCredentials;
}

/** The SDK client configuration for `options` (fields the SDK should pick itself are left out). */
export function clientConfig(options: AwsConnectionOptions, store: string): {
  endpoint?: string;
  region?: string;
  credentials?: AwsCredentials;
} {
  const { endpoint, credentials } = options;
  if (endpoint !== undefined) {
    try {
      new URL(endpoint);
    } catch {
      throw new InvalidArgumentError(`${store} option endpoint must be a URL such as http://127.0.0.1:4569 (got ${JSON.stringify(endpoint)}).`);
    }
  }
  // A local endpoint usually comes without a region in the environment: the SDK would refuse to sign.
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint === undefined ? undefined : 'us-east-1');
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(credentials === undefined ? {} : { credentials }),
  };
}

/** The name of an AWS SDK error (`ConditionalCheckFailedException`, `PreconditionFailed`, `NoSuchKey`, ...). */
export function awsErrorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string' ? (error as { name: string }).name : undefined;
}

/** The HTTP status of an AWS SDK error, when it has one. */
export function awsErrorStatus(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return metadata?.httpStatusCode;
}

/**
 * Run `jobs` with at most `limit` at a time; results in the order of `jobs`. When one fails, no new job starts,
 * and it rejects with that failure once the jobs already started are done (so their effects are known).
 */
export async function inParallel<T>(jobs: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await jobs[index]!();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
