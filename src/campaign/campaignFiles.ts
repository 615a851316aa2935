// The files a `fuzz` campaign leaves next to its corpus/ and shrink-logs/, for CI and later tools:
//
//   <outDir>/summary.json   the CampaignResult as data: {schema: 1, failed, interrupted, ...result}
//                           (bigints as "0x…n" strings, serialize.ts)
//   <outDir>/junit.xml      the same campaign as JUnit XML (junit.ts)
//   <outDir>/report.html    the same campaign as one static page (htmlReport.ts)
//
// Both are written through a temporary file and a rename, so a reader (or a campaign killed while
// writing) never leaves half a file. The CLI writes them whether the campaign held, failed or was
// interrupted.

import { join } from 'node:path';
import { writeFileAtomic } from './corpus.ts';
import { htmlReport } from './htmlReport.ts';
import { junitXml, type JunitOptions } from './junit.ts';
import type { SummaryLike } from './merge.ts';
import type { CampaignResult } from './runner.ts';
import { toJson } from './serialize.ts';

export const SUMMARY_SCHEMA_VERSION = 1;
export const SUMMARY_FILE = 'summary.json';
export const JUNIT_FILE = 'junit.xml';
export const REPORT_FILE = 'report.html';

export interface CampaignFiles {
  summaryFile: string;
  junitFile: string;
  reportFile: string;
}

/** summary.json's text: the result with `schema`, `failed` and `interrupted` first. */
export function summaryJson(result: CampaignResult): string {
  const { failed, interrupted, ...rest } = result;
  return `${toJson({ schema: SUMMARY_SCHEMA_VERSION, failed, interrupted, ...rest }, 2)}\n`;
}

/** Write `<outDir>/summary.json` and `<outDir>/junit.xml` atomically; returns their paths. */
export function writeCampaignFiles(outDir: string, result: CampaignResult, opts: JunitOptions = {}): CampaignFiles {
  const summaryFile = join(outDir, SUMMARY_FILE);
  const junitFile = join(outDir, JUNIT_FILE);
  writeFileAtomic(summaryFile, summaryJson(result));
  writeFileAtomic(junitFile, junitXml(result, opts));
  const reportFile = join(outDir, REPORT_FILE);
  writeFileAtomic(reportFile, htmlReport(result as unknown as SummaryLike));
  return { summaryFile, junitFile, reportFile };
}
