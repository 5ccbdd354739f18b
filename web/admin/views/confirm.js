// An accessible confirmation dialog (native <dialog>: focus is trapped and
// Escape cancels). Resolves true when the user confirms.
import { t } from '../../common/strings.js';
import { h } from '../dom.js';

export function confirmAction(message, confirmLabel) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: 'danger', id: 'confirm-yes' }, confirmLabel);
    const no = h('button', { type: 'button', class: 'secondary', id: 'confirm-no' }, t('admin.cancel'));
    const text = h('p', { id: 'confirm-text' }, message);
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-text', class: 'confirm' }, text,
      h('div', { class: 'actions' }, no, yes));
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.appendChild(dialog);
    dialog.showModal();
    no.focus();
  });
}
