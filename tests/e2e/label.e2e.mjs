// End-to-end test of the `rlhf label` page: headless system Chromium ranks two prompts by keyboard.
// Usage: node label.e2e.mjs URL [SCREENSHOT.png]   (run by tests/Rlhf.Tests/Feedback/LabelBrowserTests.cs)
// Prints one JSON line: what was shown and pressed, for the C# test to compare with the JSONL.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, screenshot] = process.argv.slice(2);
if (!url) { console.error("usage: node label.e2e.mjs URL [SCREENSHOT.png]"); process.exit(2); }

const profile = mkdtempSync(join(tmpdir(), "rlhf-e2e-profile-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.on("pageerror", e => problems.push("page error: " + e.message));
  page.on("console", m => { if (m.type() === "error") problems.push("console error: " + m.text()); });
  page.setDefaultTimeout(20000);

  await page.goto(url);
  await page.locator("#task:not([hidden])").waitFor();
  // The annotator is the session's (rlhf label --annotator), shown read-only: the page cannot change it.
  const annotator = await page.locator("#annotator").textContent();
  if (annotator !== "e2e") problems.push(`annotator shown as ${JSON.stringify(annotator)}, expected "e2e"`);
  await page.locator("#prompt").click(); // focus the page so keys go to it

  async function shown() {
    await page.locator(".card").first().waitFor();
    return {
      prompt: await page.locator("#prompt").textContent(),
      count: await page.locator(".card").count(),
    };
  }

  // Prompt 1: 2 > 1 > 4 (the last, 3, is filled in), T ties 3 with 4, H flags the focused response (4), Enter.
  const first = await shown();
  for (const key of ["2", "1", "4", "t", "h"]) await page.keyboard.press(key);
  const firstChips = await page.locator("#chips").innerText();
  await page.keyboard.press("Enter");
  await page.waitForFunction(p => document.getElementById("prompt").textContent !== p, first.prompt);

  // Prompt 2: 3 > 2 > 4 > 1 with a mistake undone by Backspace, then Enter.
  const second = await shown();
  for (const key of ["3", "1", "Backspace", "2", "4"]) await page.keyboard.press(key);
  const secondChips = await page.locator("#chips").innerText();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  await page.keyboard.press("Enter");
  await page.waitForFunction(p => document.getElementById("prompt").textContent !== p || !document.getElementById("finished").hidden, second.prompt);
  const progress = await page.locator("#progress").textContent();

  console.log(JSON.stringify({ ok: problems.length === 0, problems, first, second, firstChips, secondChips, progress }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, problems: [...problems, String(error && error.stack || error)] }));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
