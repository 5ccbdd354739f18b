// Recordings: list, play in the browser, download, delete with confirmation.
// Every media access and deletion is audited by the daemon.
import { t } from '../../common/strings.js';
import { api, query } from '../client.js';
import { bytes, clear, h, table, when } from '../dom.js';
import { confirmAction } from './confirm.js';

const STATUSES = ['recording', 'available', 'failed', 'deleted'];

export async function render(main) {
  const status = h('select', { id: 'r-status' }, h('option', { value: '' }, t('admin.filter.any')),
    STATUSES.map((s) => h('option', { value: s }, t(`admin.recStatus.${s}`))));
  const sessionId = h('input', { id: 'r-session', type: 'search', maxlength: 64 });
  const results = h('div', { id: 'recording-results', 'aria-live': 'polite' });
  const player = h('section', { class: 'card wide', id: 'player', hidden: true });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('admin.more'));
  let cursor = null;
  let items = [];

  function play(r) {
    clear(player).append(h('h2', {}, t('admin.recordings.playing', { id: r.id })),
      h('video', { controls: true, preload: 'metadata', src: `/api/v1/recordings/${encodeURIComponent(r.id)}/media`,
        'aria-label': t('admin.recordings.playing', { id: r.id }) }));
    player.hidden = false;
    player.querySelector('video').focus();
  }

  async function remove(r) {
    if (!(await confirmAction(t('admin.recordings.confirmDelete', { id: r.id }), t('admin.recordings.delete')))) return;
    try {
      await api('DELETE', `/api/v1/recordings/${encodeURIComponent(r.id)}`);
      await load(true);
    } catch (e) {
      results.prepend(h('p', { role: 'alert', class: 'error' }, t('admin.error.generic', { message: e.message })));
    }
  }

  function rows() {
    return items.map((r) => [r.id,
      h('a', { href: `/admin/sessions/${encodeURIComponent(r.session_id)}`, 'data-link': true }, r.session_id),
      r.participant_id || '', t(`admin.recStatus.${r.status}`), bytes(r.bytes),
      r.duration_seconds !== undefined && r.duration_seconds !== null ? t('admin.session.seconds', { n: Math.round(r.duration_seconds) }) : '',
      when(r.created_at),
      r.status === 'available' ? h('span', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => play(r) }, t('admin.recordings.play')),
        h('a', { class: 'button secondary', href: `/api/v1/recordings/${encodeURIComponent(r.id)}/media`, download: r.id },
          t('admin.recordings.download')),
        h('button', { type: 'button', class: 'danger', onclick: () => remove(r) }, t('admin.recordings.delete')))
        : (r.status !== 'deleted' && r.status !== 'recording'
          ? h('button', { type: 'button', class: 'danger', onclick: () => remove(r) }, t('admin.recordings.delete')) : '')]);
  }

  async function load(reset) {
    if (reset) { cursor = null; items = []; }
    try {
      const page = await api('GET', `/api/v1/recordings${query({ status: status.value,
        session_id: sessionId.value.trim(), limit: 50, cursor })}`);
      items = items.concat(page.recordings || []);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(results).appendChild(table(t('admin.nav.recordings'), [t('admin.col.recording'), t('admin.col.session'),
        t('admin.col.participant'), t('admin.col.status'), t('admin.col.size'), t('admin.col.duration'),
        t('admin.col.created'), t('admin.col.actions')], rows(), t('admin.recordings.none')));
    } catch (e) {
      const text = e.status === 404 && e.code === 'NOT_FOUND' ? t('admin.recordings.unavailable')
        : t('admin.error.generic', { message: e.message });
      clear(results).appendChild(h('p', { class: e.status === 404 ? '' : 'error', role: 'status',
        id: e.status === 404 && e.code === 'NOT_FOUND' ? 'recordings-unavailable' : null }, text));
    }
  }

  const form = h('form', { class: 'filters', role: 'search' },
    h('div', { class: 'field' }, h('label', { for: 'r-session' }, t('admin.col.session')), sessionId),
    h('div', { class: 'field' }, h('label', { for: 'r-status' }, t('admin.col.status')), status),
    h('button', { type: 'submit' }, t('admin.filter.apply')));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  main.append(h('h1', {}, t('admin.nav.recordings')), form, player, results, more);
  await load(true);
}
