// The single-file HTML report, opened in a real headless Chromium (Debian's chromium, driven by
// playwright-core): it renders, every in-page link resolves, every counterexample has its decoded
// section, and the console shows no error. .ci/run installs chromium.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeCampaignFiles } from '../../src/campaign/campaignFiles.ts';
import { htmlReport } from '../../src/campaign/htmlReport.ts';
import { readSummary } from '../../src/campaign/merge.ts';
import { runCampaign } from '../../src/campaign/runner.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { tempDir } from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const p = (n: string): Profile => getProfile(n) as Profile;

describe('HTML report', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('report'));
  });
  afterEach(() => cleanup());

  it('renders in headless Chromium with every link resolving and no console error', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (Debian package chromium; .ci/run installs it)`).toBe(true);
    const r = await runCampaign({
      outDir: dir, seed: 'report-test', runs: 300, shrinkTimeMs: 2000,
      properties: ['vmrun-verdict-matches-apm', 'gif-semantics', 'private-never-mmio-cached'],
      profiles: [p('kvm-next'), p('mutant-no-asid-check'), p('gif-not-cleared-on-invalid'), p('private-mmio-allowed')],
    });
    expect(r.failures.length).toBeGreaterThan(1);
    writeCampaignFiles(dir, r);
    // A second "night" page with history, to draw the trend charts with two points.
    const summary = readSummary(dir)!;
    const withHistory = join(dir, 'history.html');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(withHistory, htmlReport(summary, { history: [summary] }));

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      for (const file of [join(dir, 'report.html'), withHistory]) {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(pathToFileURL(file).href);
        expect(await page.title()).toMatch(/nestfuzz campaign, seed report-test/);
        // Runs in the page: `document` is the page's (typed loosely, the project compiles without the DOM lib).
        const dangling = await page.$$eval('a[href^="#"]', (as) => {
          const doc = (globalThis as unknown as { document: { getElementById(id: string): unknown } }).document;
          return as.map((a) => a.getAttribute('href')!.slice(1)).filter((id) => !doc.getElementById(id));
        });
        expect(dangling).toEqual([]);
        expect(await page.$$eval('a[href^="#cx-"]', (as) => as.length)).toBeGreaterThanOrEqual(r.failures.length);
        expect(await page.$$eval('section[id^="cx-"]', (s) => s.length)).toBe(r.failures.length);
        expect(await page.$$eval('section[id^="cx-"] pre', (pres) => pres.every((x) => (x.textContent ?? '').length > 0))).toBe(true);
        expect(await page.$$eval('svg', (s) => s.length)).toBe(2);
        expect(await page.$$eval('td.fail', (t) => t.length)).toBe(r.failures.length);
        expect(problems).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
