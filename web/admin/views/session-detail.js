// One session: summary, participants, analytics, timeline of events, recordings.
import { t } from '../../common/strings.js';
import { api, query } from '../client.js';
import { bytes, h, table, when } from '../dom.js';

export async function render(main, ctx) {
  const id = ctx.params[0];
  const [session, analytics, events] = await Promise.all([
    api('GET', `/api/v1/sessions/${encodeURIComponent(id)}`),
    api('GET', `/api/v1/sessions/${encodeURIComponent(id)}/analytics`).catch(() => null),
    api('GET', `/api/v1/sessions/${encodeURIComponent(id)}/events${query({ limit: 500 })}`).catch(() => ({ events: [] })),
  ]);
  let recordings = null;
  try {
    recordings = (await api('GET', `/api/v1/recordings${query({ session_id: id, limit: 100 })}`)).recordings;
  } catch (e) {
    recordings = null;  // recordings are not served by this daemon version
  }

  main.append(h('p', {}, h('a', { href: '/admin/sessions', 'data-link': true }, t('admin.session.back'))));
  main.append(h('h1', {}, t('admin.session.title', { consultation: session.consultation_id })));
  main.append(h('section', { class: 'card' },
    h('h2', {}, t('admin.session.summary')),
    h('dl', { class: 'stats' },
      h('dt', {}, t('admin.col.id')), h('dd', {}, session.id),
      h('dt', {}, t('admin.col.status')), h('dd', {}, t(`admin.status.${session.status}`)),
      h('dt', {}, t('admin.col.provider')), h('dd', {}, `${session.provider} (${session.provider_status})`),
      h('dt', {}, t('admin.session.mode')), h('dd', {}, session.mode),
      h('dt', {}, t('admin.session.scheduled')), h('dd', {}, when(session.scheduled_at) || '—'),
      h('dt', {}, t('admin.session.started')), h('dd', {}, when(session.started_at) || '—'),
      h('dt', {}, t('admin.session.ended')), h('dd', {}, when(session.ended_at) || '—'),
      h('dt', {}, t('admin.session.duration')),
      h('dd', {}, session.duration_seconds !== null && session.duration_seconds >= 0
        ? t('admin.session.seconds', { n: session.duration_seconds }) : '—'),
      h('dt', {}, t('admin.session.quality')), h('dd', {}, session.quality || '—'))));

  main.append(h('section', { class: 'card', id: 'session-participants' }, h('h2', {}, t('admin.col.participants')),
    table(t('admin.col.participants'),
      [t('admin.col.name'), t('admin.col.role'), t('admin.session.joined'), t('admin.session.left')],
      (session.participants || []).map((p) => [p.name || p.id, t(`admin.role.${p.role}`), when(p.joined_at) || '—',
        when(p.left_at) || '—']), t('admin.session.noParticipants'))));

  if (analytics) {
    const counts = analytics.event_counts || {};
    main.append(h('section', { class: 'card' }, h('h2', {}, t('admin.session.analytics')),
      h('dl', { class: 'stats' }, Object.entries(counts).map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
      Object.keys(counts).length ? null : h('p', {}, t('admin.session.noEvents'))));
  }

  main.append(h('section', { class: 'card wide', id: 'session-timeline' }, h('h2', {}, t('admin.session.timeline')),
    table(t('admin.session.timeline'), [t('admin.col.time'), t('admin.col.event'), t('admin.col.participant'),
      t('admin.col.severity')],
    (events.events || []).map((e) => [when(e.created_at), e.type, e.participant_id || '', e.severity]),
    t('admin.session.noEvents'))));

  const recSection = h('section', { class: 'card wide' }, h('h2', {}, t('admin.nav.recordings')));
  if (recordings === null) {
    recSection.append(h('p', {}, t('admin.recordings.unavailable')));
  } else {
    recSection.append(table(t('admin.nav.recordings'), [t('admin.col.recording'), t('admin.col.status'),
      t('admin.col.size'), t('admin.col.links')],
    recordings.map((r) => [r.id, t(`admin.recStatus.${r.status}`), bytes(r.bytes),
      r.status === 'available'
        ? h('a', { href: `/api/v1/recordings/${encodeURIComponent(r.id)}/media`, download: `${r.id}` },
          t('admin.recordings.download'))
        : '']),
    t('admin.recordings.none')));
  }
  main.append(recSection);
}
