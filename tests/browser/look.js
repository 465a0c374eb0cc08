'use strict';
// What the look tests share: axe-core run inside the page, and screenshots
// for the README (only when PARLEY_SCREENSHOTS names a directory).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// Runs axe in the page (evaluated through the DevTools protocol, which the
// page's Content-Security-Policy does not govern, unlike a <script> tag) and
// fails on any serious or critical violation.
async function assertAccessible(page, what) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: axe violations\n${JSON.stringify(bad, null, 2)}`);
}

// Without hover or focus: the picture shows the page at rest.
async function shot(page, name) {
  if (!process.env.PARLEY_SCREENSHOTS) return;
  fs.mkdirSync(process.env.PARLEY_SCREENSHOTS, { recursive: true });
  await page.mouse.move(0, 0);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.screenshot({ path: path.join(process.env.PARLEY_SCREENSHOTS, name) });
}

module.exports = { assertAccessible, shot };
