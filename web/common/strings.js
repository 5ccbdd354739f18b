// Every user-visible text of the web pages, in one place so the pages can be
// translated: copy this file, translate the values, keep the keys.
// Keys are grouped by page: "common.", "admin.", "join.", "kiosk.".
// Placeholders are written {name} and filled by t(key, {name: value}).

export const strings = {
  "common.app_name": "consultd",
  "common.loading": "Loading…",
  "common.error_generic": "Something went wrong. Please try again.",
  "common.error_network": "The connection to the server was lost. Retrying…",
  "common.page_missing": "This page is not available.",
};

/// The text for `key` with {placeholders} replaced; the key itself when it
/// is missing, so a forgotten string is visible instead of blank.
export function t(key, vars = {}) {
  const text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole);
}

/// Fills every element carrying data-i18n="key" (text) or
/// data-i18n-attr="attr:key[,attr:key]" (attributes such as aria-label).
export function applyStrings(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}
