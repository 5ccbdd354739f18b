// Devices (exam-room kiosks): list, create (shows the enrollment code), new
// enrollment code, revoke with confirmation. Served by the devices API.
import { t } from '../../common/strings.js';
import { api } from '../client.js';
import { clear, h, table, when } from '../dom.js';
import { confirmAction } from './confirm.js';

export async function render(main) {
  const list = h('div', { id: 'device-list', 'aria-live': 'polite' });
  const shown = h('div', { id: 'enrollment', 'aria-live': 'polite' });
  const name = h('input', { id: 'device-name', required: true, maxlength: 100 });
  const room = h('input', { id: 'device-room', required: true, maxlength: 100 });
  const error = h('p', { class: 'error', role: 'alert' });

  function showCode(device, result) {
    clear(shown).append(h('section', { class: 'card notice' },
      h('h2', {}, t('admin.devices.codeTitle', { name: device.name || result.name })),
      h('p', {}, t('admin.devices.codeHelp', { expires: when(result.enrollment_expires_at) })),
      h('p', { class: 'code', id: 'enrollment-code' }, result.enrollment_code)));
  }

  async function load() {
    let devices;
    try {
      ({ devices } = await api('GET', '/api/v1/devices'));
    } catch (e) {
      if (e.status === 404 && e.code === 'NOT_FOUND') {
        clear(list).appendChild(h('p', { id: 'devices-unavailable' }, t('admin.devices.unavailable')));
        form.hidden = true;
        return;
      }
      throw e;
    }
    clear(list).appendChild(table(t('admin.nav.devices'),
      [t('admin.col.name'), t('admin.devices.room'), t('admin.col.status'), t('admin.devices.enrolled'),
        t('admin.devices.lastSeen'), t('admin.col.actions')],
      devices.map((d) => [d.name, d.room_name, d.status, when(d.enrolled_at) || '—', when(d.last_seen_at) || '—',
        d.status === 'revoked' ? '' : h('span', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', onclick: async () => {
            try {
              showCode(d, await api('POST', `/api/v1/devices/${encodeURIComponent(d.id)}/enrollment-code`));
            } catch (e) { error.textContent = t('admin.error.generic', { message: e.message }); }
          } }, t('admin.devices.newCode')),
          h('button', { type: 'button', class: 'danger', onclick: async () => {
            if (!(await confirmAction(t('admin.devices.confirmRevoke', { name: d.name }), t('admin.devices.revoke')))) return;
            try {
              await api('POST', `/api/v1/devices/${encodeURIComponent(d.id)}/revoke`);
            } catch (e) { error.textContent = t('admin.error.generic', { message: e.message }); }
            await load();
          } }, t('admin.devices.revoke')))]),
      t('admin.devices.none')));
  }

  const form = h('form', { class: 'card', id: 'device-form' },
    h('h2', {}, t('admin.devices.create')),
    h('div', { class: 'field' }, h('label', { for: 'device-name' }, t('admin.col.name')), name),
    h('div', { class: 'field' }, h('label', { for: 'device-room' }, t('admin.devices.room')), room),
    h('button', { type: 'submit', id: 'device-create' }, t('admin.devices.createButton')), error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      const created = await api('POST', '/api/v1/devices', { name: name.value.trim(), room_name: room.value.trim() });
      showCode(created, created);
      name.value = '';
      room.value = '';
      await load();
    } catch (e) {
      error.textContent = t('admin.error.generic', { message: e.message });
    }
  });
  main.append(h('h1', {}, t('admin.nav.devices')), shown, form, list);
  await load();
}
