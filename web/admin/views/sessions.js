// Session list: search by consultation id, filter by status and time, page with the cursor.
import { t } from '../../common/strings.js';
import { api, query } from '../client.js';
import { clear, h, table, when } from '../dom.js';

const STATUSES = ['scheduled', 'waiting', 'active', 'ended', 'cancelled', 'failed'];

function toRfc3339(localValue) {
  if (!localValue) return '';
  const d = new Date(localValue);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function render(main) {
  const status = h('select', { id: 'f-status', name: 'status' },
    h('option', { value: '' }, t('admin.filter.any')),
    STATUSES.map((s) => h('option', { value: s }, t(`admin.status.${s}`))));
  const consultation = h('input', { id: 'f-consultation', name: 'consultation_id', type: 'search', maxlength: 128 });
  const from = h('input', { id: 'f-from', name: 'from', type: 'datetime-local' });
  const to = h('input', { id: 'f-to', name: 'to', type: 'datetime-local' });
  const results = h('div', { id: 'session-results', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('admin.more'));
  let cursor = null;
  let rows = [];

  async function load(reset) {
    if (reset) { cursor = null; rows = []; }
    try {
      const page = await api('GET', `/api/v1/sessions${query({ status: status.value,
        consultation_id: consultation.value.trim(), from: toRfc3339(from.value), to: toRfc3339(to.value),
        limit: 50, cursor })}`);
      rows = rows.concat(page.sessions.map((s) => [
        h('a', { href: `/admin/sessions/${encodeURIComponent(s.id)}`, 'data-link': true }, s.consultation_id),
        s.id, t(`admin.status.${s.status}`), s.provider, String((s.participants || []).length), when(s.created_at),
      ]));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(results).appendChild(table(t('admin.sessions.caption'),
        [t('admin.col.consultation'), t('admin.col.id'), t('admin.col.status'), t('admin.col.provider'),
          t('admin.col.participants'), t('admin.col.created')], rows, t('admin.sessions.none')));
    } catch (e) {
      clear(results).appendChild(h('p', { role: 'alert', class: 'error' }, t('admin.error.generic', { message: e.message })));
    }
  }

  const form = h('form', { class: 'filters', role: 'search' },
    h('div', { class: 'field' }, h('label', { for: 'f-consultation' }, t('admin.sessions.search')), consultation),
    h('div', { class: 'field' }, h('label', { for: 'f-status' }, t('admin.col.status')), status),
    h('div', { class: 'field' }, h('label', { for: 'f-from' }, t('admin.filter.from')), from),
    h('div', { class: 'field' }, h('label', { for: 'f-to' }, t('admin.filter.to')), to),
    h('button', { type: 'submit', id: 'session-search' }, t('admin.filter.apply')));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  main.append(h('h1', {}, t('admin.sessions.title')), form, results, more);
  await load(true);
}
