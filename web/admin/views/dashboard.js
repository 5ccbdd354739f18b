// The live dashboard: one EventSource on /api/v1/admin/events; every
// "snapshot" event re-renders the panels in place (no page reload).
import { t } from '../../common/strings.js';
import { bytes, clear, h, table, when } from '../dom.js';

function participants(session) {
  return h('ul', { class: 'plain' }, (session.participants || []).map((p) => {
    const present = p.joined_at && (!p.left_at || p.left_at < p.joined_at);
    return h('li', {}, `${p.name || p.id} (${t(`admin.role.${p.role}`)})`,
      present ? h('span', { class: 'badge ok' }, t('admin.dashboard.present')) : null);
  }));
}

function sessionRows(list, timeField) {
  return list.map((s) => [
    h('a', { href: `/admin/sessions/${encodeURIComponent(s.id)}`, 'data-link': true }, s.consultation_id),
    s.provider,
    t(`admin.status.${s.status}`),
    participants(s),
    when(s[timeField] || s.created_at),
  ]);
}

function renderSnapshot(panels, snap) {
  const sessions = snap.sessions || {};
  const open = [...(sessions.active || []), ...(sessions.waiting || [])];
  const headers = [t('admin.col.consultation'), t('admin.col.provider'), t('admin.col.status'),
    t('admin.col.participants'), t('admin.col.time')];
  clear(panels.open).append(
    h('h2', {}, t('admin.dashboard.open', { n: open.length })),
    table(t('admin.dashboard.open', { n: open.length }), headers, sessionRows(open, 'started_at'),
      t('admin.dashboard.noOpen')));
  const upcoming = sessions.upcoming || [];
  clear(panels.upcoming).append(
    h('h2', {}, t('admin.dashboard.upcoming', { n: upcoming.length })),
    table(t('admin.dashboard.upcoming', { n: upcoming.length }), headers, sessionRows(upcoming, 'scheduled_at'),
      t('admin.dashboard.noUpcoming')));
  clear(panels.providers).append(
    h('h2', {}, t('admin.dashboard.providers')),
    table(t('admin.dashboard.providers'), [t('admin.col.name'), t('admin.col.health'), t('admin.col.detail')],
      (snap.providers || []).map((p) => [p.name,
        h('span', { class: `badge ${p.health === 'healthy' ? 'ok' : p.health === 'degraded' ? 'warn' : 'bad'}` },
          t(`admin.health.${p.health}`)), p.detail || '']),
      t('admin.dashboard.noProviders')));
  const turn = snap.turn || {};
  const sig = snap.signaling || {};
  const counts = snap.session_counts || {};
  clear(panels.media).append(
    h('h2', {}, t('admin.dashboard.media')),
    h('dl', { class: 'stats' },
      h('dt', {}, t('admin.dashboard.turn')),
      h('dd', {}, turn.running ? t('admin.dashboard.turnRunning') : t('admin.dashboard.turnOff')),
      h('dt', {}, t('admin.dashboard.allocations')), h('dd', { id: 'turn-allocations' }, String(turn.allocations_active ?? 0)),
      h('dt', {}, t('admin.dashboard.bandwidth')),
      h('dd', {}, `${bytes(turn.bandwidth_bytes_per_second ?? 0)}/s`),
      h('dt', {}, t('admin.dashboard.signaling')),
      h('dd', {}, t('admin.dashboard.signalingValue', { rooms: sig.rooms ?? 0, participants: sig.participants ?? 0 })),
      h('dt', {}, t('admin.dashboard.counts')),
      h('dd', {}, Object.entries(counts).map(([k, v]) => `${t(`admin.status.${k}`)}: ${v}`).join(', ') || '0')));
  const recs = snap.recordings || [];
  clear(panels.recordings).append(
    h('h2', {}, t('admin.dashboard.recording', { n: recs.length })),
    table(t('admin.dashboard.recording', { n: recs.length }),
      [t('admin.col.recording'), t('admin.col.session'), t('admin.col.participant'), t('admin.col.started')],
      recs.map((r) => [r.id, h('a', { href: `/admin/sessions/${encodeURIComponent(r.session_id)}`, 'data-link': true },
        r.session_id), r.participant_id || '', when(r.created_at)]),
      t('admin.dashboard.noRecordings')));
}

export async function render(main) {
  const status = h('p', { class: 'live', id: 'live-status', role: 'status', 'aria-live': 'polite' },
    t('admin.dashboard.connecting'));
  const panels = {
    open: h('section', { class: 'card wide', id: 'panel-open' }),
    upcoming: h('section', { class: 'card wide', id: 'panel-upcoming' }),
    providers: h('section', { class: 'card', id: 'panel-providers' }),
    media: h('section', { class: 'card', id: 'panel-media' }),
    recordings: h('section', { class: 'card wide', id: 'panel-recordings' }),
  };
  main.append(h('h1', {}, t('admin.dashboard.title')), status,
    h('div', { class: 'grid' }, panels.open, panels.upcoming, panels.providers, panels.media, panels.recordings));

  const source = new EventSource('/api/v1/admin/events');
  source.addEventListener('snapshot', (event) => {
    renderSnapshot(panels, JSON.parse(event.data));
    status.textContent = t('admin.dashboard.updated', { time: new Date().toLocaleTimeString() });
    main.dataset.snapshots = String(Number(main.dataset.snapshots || 0) + 1);
  });
  source.addEventListener('logout', () => {
    source.close();
    window.dispatchEvent(new CustomEvent('admin:logged-out'));
  });
  source.addEventListener('error', () => {
    status.textContent = t('admin.dashboard.reconnecting');
  });
  return () => source.close();
}
