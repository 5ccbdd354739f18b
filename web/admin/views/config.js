// The configuration in effect, read-only; secrets are files (their paths show, never their contents).
import { t } from '../../common/strings.js';
import { api } from '../client.js';
import { clear, h, table } from '../dom.js';

export async function render(main) {
  const { files, settings } = await api('GET', '/api/v1/admin/config');
  const search = h('input', { id: 'c-search', type: 'search' });
  const results = h('div', { id: 'config-results' });
  function show() {
    const needle = search.value.trim().toLowerCase();
    const rows = settings.filter((s) => !needle || s.name.toLowerCase().includes(needle))
      .map((s) => [s.name, s.redacted ? t('admin.config.redacted') : s.value,
        s.source === 'default' ? t('admin.config.default') : s.source]);
    clear(results).appendChild(table(t('admin.config.caption'),
      [t('admin.config.setting'), t('admin.config.value'), t('admin.config.source')], rows, t('admin.config.none')));
  }
  search.addEventListener('input', show);
  main.append(h('h1', {}, t('admin.nav.config')),
    h('p', {}, t('admin.config.readOnly')),
    h('p', {}, t('admin.config.files', { files: files.join(', ') })),
    h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'c-search' }, t('admin.config.search')),
      search)),
    results);
  show();
}
