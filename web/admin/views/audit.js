// The audit log: filter by actor, action, target and time; page backwards;
// export the same filter as CSV.
import { t } from '../../common/strings.js';
import { api, query } from '../client.js';
import { clear, h, table, when } from '../dom.js';

function toRfc3339(localValue) {
  if (!localValue) return '';
  const d = new Date(localValue);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function render(main) {
  const fields = {
    actor: h('input', { id: 'a-actor', type: 'search', maxlength: 200 }),
    action: h('input', { id: 'a-action', type: 'search', maxlength: 200 }),
    target: h('input', { id: 'a-target', type: 'search', maxlength: 200 }),
    from: h('input', { id: 'a-from', type: 'datetime-local' }),
    to: h('input', { id: 'a-to', type: 'datetime-local' }),
  };
  const results = h('div', { id: 'audit-results', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('admin.audit.older'));
  const exportLink = h('a', { class: 'button secondary', id: 'audit-export', download: 'consultd-audit.csv',
    href: '/api/v1/audit.csv' }, t('admin.audit.export'));
  let cursor = null;
  let rows = [];

  function filter() {
    return { actor: fields.actor.value.trim(), action: fields.action.value.trim(), target: fields.target.value.trim(),
      from: toRfc3339(fields.from.value), to: toRfc3339(fields.to.value) };
  }

  async function load(reset) {
    if (reset) { cursor = null; rows = []; }
    exportLink.setAttribute('href', `/api/v1/audit.csv${query(filter())}`);
    try {
      const page = await api('GET', `/api/v1/audit${query({ ...filter(), limit: 100, cursor })}`);
      rows = rows.concat(page.entries.map((e) => [String(e.seq), when(e.at), e.actor, e.action, e.target,
        h('code', {}, JSON.stringify(e.details))]));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(results).appendChild(table(t('admin.audit.caption'), [t('admin.audit.seq'), t('admin.col.time'),
        t('admin.audit.actor'), t('admin.audit.action'), t('admin.audit.target'), t('admin.col.detail')], rows,
      t('admin.audit.none')));
    } catch (e) {
      clear(results).appendChild(h('p', { role: 'alert', class: 'error' }, t('admin.error.generic', { message: e.message })));
    }
  }

  const form = h('form', { class: 'filters', role: 'search' },
    h('div', { class: 'field' }, h('label', { for: 'a-actor' }, t('admin.audit.actor')), fields.actor),
    h('div', { class: 'field' }, h('label', { for: 'a-action' }, t('admin.audit.action')), fields.action),
    h('div', { class: 'field' }, h('label', { for: 'a-target' }, t('admin.audit.target')), fields.target),
    h('div', { class: 'field' }, h('label', { for: 'a-from' }, t('admin.filter.from')), fields.from),
    h('div', { class: 'field' }, h('label', { for: 'a-to' }, t('admin.filter.to')), fields.to),
    h('button', { type: 'submit', id: 'audit-apply' }, t('admin.filter.apply')), exportLink);
  form.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  main.append(h('h1', {}, t('admin.nav.audit')), form, results, more);
  await load(true);
}
