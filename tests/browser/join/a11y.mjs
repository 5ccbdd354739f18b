// Small accessibility checks for the join and kiosk pages, run in the page:
// every visible control has an accessible name, and visible text meets the
// WCAG AA contrast ratio (4.5:1, 3:1 for large text) against its background.
// Not a full audit (no axe-core offline); it catches the common regressions.

export async function checkAccessibility(page, where) {
  const problems = await page.evaluate(() => {
    const out = [];
    const visible = (el) => !el.closest("[hidden]") && el.getClientRects().length > 0 &&
      getComputedStyle(el).visibility !== "hidden";
    const nameOf = (el) => {
      const label = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
      return (el.getAttribute("aria-label") || (label && label.textContent) || el.textContent ||
        el.getAttribute("placeholder") || el.getAttribute("title") || "").trim();
    };
    for (const el of document.querySelectorAll("button, select, input, textarea, video, meter, [role=toolbar]")) {
      if (visible(el) && !nameOf(el)) out.push(`no accessible name: ${el.outerHTML.slice(0, 100)}`);
    }
    const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const texts = document.querySelectorAll("h1, h2, h3, p, label, button, figcaption, summary, li, span, strong, time, option");
    for (const el of texts) {
      if (!visible(el) || el.disabled || el.closest("video, .tile")) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const style = getComputedStyle(el);
      const fg = parse(style.color).slice(0, 3);
      const bg = background(el);
      const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) {
        out.push(`contrast ${ratio.toFixed(2)}:1 for "${el.textContent.trim().slice(0, 40)}" (${style.color} on rgb(${bg}))`);
      }
    }
    return out;
  });
  if (problems.length) throw new Error(`${where}: accessibility problems:\n  ${problems.join("\n  ")}`);
}

/** Tabs through the page from the top; returns the ids (or tag names) that received focus. */
export async function tabOrder(page, presses) {
  const seen = [];
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (let i = 0; i < presses; i += 1) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName.toLowerCase()));
  }
  return seen;
}
