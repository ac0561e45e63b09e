/**
 * Every acknowledged commit of the S3 and DynamoDB stores survives a `kill -9` of the writing process (the
 * check: crash-harness.ts), against s3rver and dynalite running in this process.
 */
import { describe, test } from 'node:test';
import { SEED, crashTest } from './crash-harness.js';
import { cloudLocation, openCloudStore } from './cloud-locations.js';
import { freshName, serverForFile, startDynamo, startS3 } from './cloud-support.js';

const [s3, dynamo] = await Promise.all([serverForFile(startS3), serverForFile(startDynamo)]);
/** Fewer kills than files and SQLite: each child loads the AWS SDK (seconds on a loaded machine). */
const KILLS = 6;

describe(`acknowledged cloud commits survive kill -9 (seed ${SEED}; set QUEST_CRASH_SEED to repeat another)`, { concurrency: true }, () => {
  test(`s3: ${KILLS} kills`, { timeout: 120_000 }, (t) =>
    crashTest(t, 's3', cloudLocation(s3.endpoint, `${freshName('crash')}/`), (location) => openCloudStore('s3', location), SEED + 2, KILLS));
  test(`dynamodb: ${KILLS} kills`, { timeout: 120_000 }, (t) =>
    crashTest(t, 'dynamodb', cloudLocation(dynamo.endpoint, freshName('crash')), (location) => openCloudStore('dynamodb', location), SEED + 3, KILLS));
});
