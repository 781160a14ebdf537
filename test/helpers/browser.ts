import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator } from 'playwright-core';
import { eventually } from './poll';

/**
 * Debian's Chromium, headless, through playwright-core (which cannot download a browser here), on a fresh
 * profile (`--user-data-dir`, which Playwright takes as the persistent context's directory). As root it needs
 * --no-sandbox; with no network, nothing may phone home.
 */
export async function launchChromium(viewport = { width: 1400, height: 1000 }): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Polls until the element's text (trimmed) is `text`; at the deadline, fails with the text it last had. */
export async function waitForText(locator: Locator, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = (await locator.textContent({ timeout: 500 }).catch(() => undefined))?.trim();
    if (last === text) return;
    if (Date.now() > deadline) throw new Error(`text '${text}' not shown after ${timeoutMs} ms (last seen: '${last ?? '(no element)'}')`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function waitForCount(locator: Locator, count: number, timeoutMs: number): Promise<void> {
  await eventually(async () => (await locator.count()) === count, timeoutMs, `${count} elements matching ${String(locator)}`, 100);
}
