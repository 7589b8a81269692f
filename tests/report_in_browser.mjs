// Opens a scimconform HTML report from file:// in headless Chromium, as a reader would, and prints
// what it shows as JSON: the text the page opens with and whether the verdict stands above Allure's own
// header, the case count, the titles of every failed case, one failed case's title and steps, the curl
// reproducer attached to its failing request, how one warning case is shown, the whole text of each view
// visited (so the test can look for words a reader must not meet), and any request that left the machine.
// It saves a screenshot of the opening view, and one of each case opened beside it (-failed, -warning).
// Used by tests/test_reports_html.py.
//
// usage: node tests/report_in_browser.mjs REPORT.html SCREENSHOT.png CHROMIUM FAILED-TITLE WARNING-TITLE
import { chromium } from 'playwright-core';

const [page_path, screenshot, executablePath, open, warned] = process.argv.slice(2);
const beside = (suffix) => screenshot.replace(/\.png$/, `-${suffix}.png`);
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  const outside = [];
  page.on('request', (request) => {
    if (!/^(file|data|blob):/.test(request.url())) outside.push(request.url());
  });
  const texts = [];
  const pageText = async () => (await page.locator('body').innerText()).trim();
  // Open every step, fixture and attachment header of a case (each click may reveal nested ones).
  const expandAll = async () => {
    const closed = page.locator('[data-testid="test-result-step"]:not(:has(> [data-testid="test-result-step-content"]))');
    for (let round = 0; round < 80 && (await closed.count()) > 0; round++) {
      await closed.first().locator('[data-testid="test-result-step-header"]').first().click();
    }
  };
  const home = async () => {
    await page.goto(`file://${page_path}`);
    await page.waitForSelector('[data-testid^="tree-leaf-status"]', { timeout: 30000 });
  };

  await home();
  const opening = (await pageText()).slice(0, 300);
  const verdictBox = await page.locator('#scimconform-verdict').boundingBox();
  const headerBox = await page.locator('[data-testid="report-header"]').boundingBox();
  const verdictFirst = verdictBox !== null && headerBox !== null && verdictBox.y + verdictBox.height <= headerBox.y;
  const total = (await page.locator('[data-testid="metadata-item-total"] [data-testid="metadata-value"]').innerText()).trim();
  const failedCount = await page.locator('[data-testid="metadata-item-failed"]').count();
  texts.push(await pageText());
  await page.screenshot({ path: screenshot, fullPage: true });

  const failedLeaves = page.locator('[data-testid="tree-leaf"]', { has: page.locator('[data-testid="tree-leaf-status-failed"]') });
  const failedTitles = (await failedLeaves.locator('[data-testid="tree-leaf-title"]').allInnerTexts()).map((t) => t.trim());
  const failedLeaf = failedLeaves.filter({ hasText: open }).first();
  const failed = (await failedLeaf.locator('[data-testid="tree-leaf-title"]').innerText()).trim();
  await failedLeaf.click();
  await page.waitForSelector('[data-testid="test-result-step-title"]');
  await expandAll();
  const body = page.locator('[data-testid="test-result-steps-root"]');
  const steps = (await body.locator('[data-testid="test-result-step-title"]').allInnerTexts()).map((s) => s.trim());
  // The failing request: the test body's last exchange step.
  const failing = body.locator('[data-testid="test-result-step"]', {
    has: page.locator(':scope > [data-testid="test-result-step-header"] [data-testid="test-result-step-title"]', { hasText: /^[A-Z]+ \/.* → / }),
  }).last();
  await failing.locator('[data-testid="test-result-attachment-header"]', { hasText: 'request and response' }).click();
  // The attachment opens with the curl line that replays the request.
  const curl = (await failing.locator('[data-testid="code-attachment-content"]').innerText()).trim().split('\n')[0];
  texts.push(await pageText());
  await page.screenshot({ path: beside('failed'), fullPage: true });

  // The warning case: found by the search box, as a reader would, since a passed group starts folded.
  await home();
  await page.locator('[data-testid="search-input"]').locator('xpath=descendant-or-self::input').first().fill(warned);
  const warningLeaf = page.locator('[data-testid="tree-leaf"]', { hasText: warned }).first();
  // The one path found starts folded: unfold its innermost group until the case shows.
  for (let round = 0; round < 10 && !(await warningLeaf.isVisible()); round++) {
    await page.locator('[data-testid="tree-section-title"]').last().click();
  }
  const warningLeafStatus = await warningLeaf.locator('[data-testid^="tree-leaf-status"]').getAttribute('data-testid');
  await warningLeaf.click();
  await page.waitForSelector('[data-testid="test-result-step-title"]');
  await expandAll();
  const warningView = await pageText();
  // Anything marked failed in the warning case's view (a status badge, a step's icon).
  const warningFailedMarks = await page.locator('[data-testid*="failed"]').count();
  texts.push(warningView);
  await page.screenshot({ path: beside('warning'), fullPage: true });

  console.log(JSON.stringify({
    opening, verdictFirst, total, failedCount, failedTitles, failed, steps, curl,
    warningLeafStatus, warningFailedMarks, warningView, texts, outside,
  }));
} finally {
  await browser.close();
}
