// API keys: create (the key is shown once, here), list, revoke with confirmation.
import { t } from '../../common/strings.js';
import { api } from '../client.js';
import { clear, h, table, when } from '../dom.js';
import { confirmAction } from './confirm.js';

const SCOPES = ['sessions:read', 'sessions:write', 'metrics:read', 'devices:write', 'recordings:read', 'recordings:write', 'admin'];

export async function render(main) {
  const list = h('div', { id: 'key-list' });
  const shown = h('div', { id: 'new-key', 'aria-live': 'polite' });
  const name = h('input', { id: 'key-name', required: true, maxlength: 100 });
  const boxes = SCOPES.map((scope) => h('input', { type: 'checkbox', id: `scope-${scope.replace(':', '-')}`,
    value: scope, checked: scope.startsWith('sessions') }));
  const error = h('p', { class: 'error', role: 'alert' });

  async function load() {
    const { api_keys: keys } = await api('GET', '/api/v1/api-keys');
    clear(list).appendChild(table(t('admin.keys.caption'),
      [t('admin.col.name'), t('admin.col.id'), t('admin.keys.scopes'), t('admin.col.created'), t('admin.col.status'),
        t('admin.col.actions')],
      keys.map((k) => [k.name, k.id, k.scopes.join(', '), when(k.created_at),
        k.revoked_at ? t('admin.keys.revokedAt', { time: when(k.revoked_at) }) : t('admin.keys.active'),
        k.revoked_at ? '' : h('button', { type: 'button', class: 'danger', 'data-key': k.id,
          'aria-label': t('admin.keys.revokeNamed', { name: k.name }),
          onclick: async () => {
            if (!(await confirmAction(t('admin.keys.confirmRevoke', { name: k.name }), t('admin.keys.revoke')))) return;
            try {
              await api('POST', `/api/v1/api-keys/${encodeURIComponent(k.id)}/revoke`);
            } catch (e) {
              error.textContent = t('admin.error.generic', { message: e.message });
            }
            await load();
          } }, t('admin.keys.revoke'))]),
      t('admin.keys.none')));
  }

  const form = h('form', { class: 'card', id: 'key-form' },
    h('h2', {}, t('admin.keys.create')),
    h('div', { class: 'field' }, h('label', { for: 'key-name' }, t('admin.col.name')), name),
    h('fieldset', {}, h('legend', {}, t('admin.keys.scopes')),
      boxes.map((box) => h('div', { class: 'check' }, box, h('label', { for: box.id }, box.value)))),
    h('button', { type: 'submit', id: 'key-create' }, t('admin.keys.createButton')), error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    clear(shown);
    try {
      const created = await api('POST', '/api/v1/api-keys',
        { name: name.value.trim(), scopes: boxes.filter((b) => b.checked).map((b) => b.value) });
      const value = h('input', { id: 'new-key-value', readonly: true, value: created.key, class: 'secret',
        'aria-describedby': 'new-key-warning' });
      const copy = h('button', { type: 'button', class: 'secondary', onclick: async () => {
        value.select();
        try { await navigator.clipboard.writeText(created.key); copy.textContent = t('admin.keys.copied'); } catch (e) {
          copy.textContent = t('admin.keys.copyManually');
        }
      } }, t('admin.keys.copy'));
      shown.append(h('section', { class: 'card notice' },
        h('h2', {}, t('admin.keys.createdTitle', { name: created.name })),
        h('p', { id: 'new-key-warning' }, t('admin.keys.shownOnce')),
        h('label', { for: 'new-key-value' }, t('admin.keys.key')), value, copy));
      value.focus();
      value.select();
      name.value = '';
      await load();
    } catch (e) {
      error.textContent = e.code === 'VALIDATION_FAILED'
        ? t('admin.keys.invalid', { problems: Object.values(e.details.fields || {}).join('; ') })
        : t('admin.error.generic', { message: e.message });
    }
  });
  main.append(h('h1', {}, t('admin.nav.api-keys')), shown, form, list);
  await load();
}
