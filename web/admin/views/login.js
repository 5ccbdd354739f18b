// The login view (/admin/login?next=...). Errors are announced (role=alert).
import { t } from '../../common/strings.js';
import { api } from '../client.js';
import { h } from '../dom.js';

function safeNext() {
  const next = new URLSearchParams(location.search).get('next') || '/admin';
  // Only our own console paths: never an absolute or protocol-relative URL.
  return /^\/admin(\/|$|\?)/.test(next) && !next.startsWith('//') && !next.startsWith('/admin/login') ? next : '/admin';
}

export async function render(main, ctx) {
  const message = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true,
    maxlength: 64, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password',
    required: true, maxlength: 1024 });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, t('admin.login.submit'));
  const form = h('form', { class: 'card login', 'aria-describedby': 'login-error', novalidate: false },
    h('div', { class: 'field' }, h('label', { for: 'username' }, t('admin.login.username')), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, t('admin.login.password')), password),
    submit, message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    submit.disabled = true;
    try {
      const result = await api('POST', '/api/v1/admin/login', { username: username.value, password: password.value });
      ctx.onLogin(result.username);
      ctx.navigate(safeNext(), { replace: true });
    } catch (e) {
      password.value = '';
      if (e.code === 'LOGIN_LOCKED') message.textContent = t('admin.login.locked');
      else if (e.code === 'RATE_LIMITED') message.textContent = t('admin.login.rateLimited');
      else if (e.code === 'LOGIN_FAILED') message.textContent = t('admin.login.failed');
      else message.textContent = t('admin.error.generic', { message: e.message });
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.append(h('h1', {}, t('admin.login.title')), h('p', { class: 'hint' }, t('admin.login.hint')), form);
  username.focus();
}
