// Opens a scimconform HTML report from file:// in headless Chromium, as a reader would, and prints
// what it shows as JSON: the case count, the titles of every failed case, one failed case's title and
// steps, the curl reproducer attached to its failing request, and any request that left the machine.
// Used by tests/test_reports_html.py.
//
// usage: node tests/report_in_browser.mjs REPORT.html SCREENSHOT.png [CHROMIUM [TITLE-PREFIX-TO-OPEN]]
import { chromium } from 'playwright-core';

const [page_path, screenshot, executablePath = '/usr/bin/chromium', open = ''] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  const outside = [];
  page.on('request', (request) => {
    if (!/^(file|data|blob):/.test(request.url())) outside.push(request.url());
  });
  await page.goto(`file://${page_path}`);
  await page.waitForSelector('[data-testid^="tree-leaf-status"]', { timeout: 30000 });
  const total = (await page.locator('[data-testid="metadata-item-total"] [data-testid="metadata-value"]').innerText()).trim();

  const failedLeaves = page.locator('[data-testid="tree-leaf"]', { has: page.locator('[data-testid="tree-leaf-status-failed"]') });
  const failedTitles = (await failedLeaves.locator('[data-testid="tree-leaf-title"]').allInnerTexts()).map((t) => t.trim());
  const failedLeaf = failedLeaves.filter({ hasText: open }).first();
  const failed = (await failedLeaf.locator('[data-testid="tree-leaf-title"]').innerText()).trim();
  await failedLeaf.click();
  await page.waitForSelector('[data-testid="test-result-step-title"]');
  // Open every step of the test body (each click may reveal nested ones), so each exchange is listed.
  const body = page.locator('[data-testid="test-result-steps-root"]');
  const closed = body.locator('[data-testid="test-result-step"]:not(:has(> [data-testid="test-result-step-content"]))');
  for (let round = 0; round < 50 && (await closed.count()) > 0; round++) {
    await closed.first().locator('[data-testid="test-result-step-header"]').first().click();
  }
  const steps = (await body.locator('[data-testid="test-result-step-title"]').allInnerTexts()).map((s) => s.trim());

  // The failing request: the test body's last exchange step.
  const failing = body.locator('[data-testid="test-result-step"]', {
    has: page.locator(':scope > [data-testid="test-result-step-header"] [data-testid="test-result-step-title"]', { hasText: /^[A-Z]+ \/.* → / }),
  }).last();
  await failing.locator('[data-testid="test-result-attachment-header"]', { hasText: 'curl' }).click();
  const curl = (await failing.locator('[data-testid="code-attachment-content"]').innerText()).trim();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ total, failedTitles, failed, steps, curl, outside }));
} finally {
  await browser.close();
}
