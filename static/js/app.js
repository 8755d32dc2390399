// Progressive enhancement only: every page works without this file.
// Loaded with defer, so the document is parsed when it runs.
(() => {
  'use strict';

  // Copy buttons: <button data-copy="#id" data-copied="…" data-failed="…">.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // Insecure context (plain HTTP on a real host): the older way.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    if (!ok) throw new Error('copy refused');
  }

  function selectNode(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-copy]');
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const status = button.parentElement.querySelector('.copy-status');
    let message = button.dataset.copied || '';
    let failed = false;
    try {
      await copyText(source.textContent.trim());
    } catch {
      failed = true;
      message = button.dataset.failed || '';
      selectNode(source);
    }
    if (status) {
      status.textContent = message;
      status.classList.toggle('is-error', failed);
      // "Copied" says what just happened: it goes after a few seconds
      // (a failure stays, with its advice).
      clearTimeout(status.clearTimer);
      if (!failed) {
        status.clearTimer = setTimeout(() => { status.textContent = ''; }, 4000);
      }
    } else if (!failed) {
      // A code block's button says "Copied" for a moment.
      if (!button.dataset.label) button.dataset.label = button.textContent;
      button.textContent = message;
      button.classList.add('is-copied');
      clearTimeout(button.copyTimer);
      button.copyTimer = setTimeout(() => {
        button.textContent = button.dataset.label;
        button.classList.remove('is-copied');
      }, 2000);
    }
  });

  // Flash messages can be dismissed.
  for (const close of document.querySelectorAll('[data-dismiss]')) {
    close.hidden = false;
    close.addEventListener('click', () => {
      const flash = close.closest('.flash');
      const main = document.getElementById('main');
      flash.remove();
      if (main) main.focus();
    });
  }

  // Confirmation panels (<details class="confirm">): a Cancel button,
  // Escape to close, and only one open at a time.
  const confirms = document.querySelectorAll('details.confirm');
  for (const details of confirms) {
    const summary = details.querySelector('summary');
    for (const cancel of details.querySelectorAll('[data-close]')) {
      cancel.hidden = false;
      cancel.addEventListener('click', () => {
        details.open = false;
        summary.focus();
      });
    }
    details.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && details.open) {
        details.open = false;
        summary.focus();
      }
    });
    details.addEventListener('toggle', () => {
      if (!details.open) return;
      for (const other of confirms) {
        if (other !== details) other.open = false;
      }
    });
  }

  // A form shown again with errors (422): focus goes to the first field
  // the server marked wrong, so keyboard and screen reader users land on it;
  // with no field to blame (too many attempts), to the form's error summary,
  // which a screen reader then reads.
  const invalid = document.querySelector('main [aria-invalid="true"]') || document.querySelector('main [data-error-summary]');
  if (invalid) {
    invalid.focus();
  }

  // Times: the server writes an absolute UTC time in <time datetime> (what
  // a page without script shows); here it becomes relative ("3 minutes
  // ago", "3분 전") with the exact local time as its title, kept current.
  const lang = document.documentElement.lang || 'en';
  const relative = 'RelativeTimeFormat' in Intl ? new Intl.RelativeTimeFormat(lang, { numeric: 'auto' }) : null;
  const exact = new Intl.DateTimeFormat(lang, {
    year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short',
  });
  const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  function relativeText(when, now) {
    const seconds = Math.round((when - now) / 1000);
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === 'second') {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
    return '';
  }
  const times = document.querySelectorAll('time[datetime][data-relative]');
  function updateTimes() {
    const now = Date.now();
    for (const time of times) {
      const when = Date.parse(time.getAttribute('datetime'));
      if (Number.isNaN(when)) continue;
      if (!time.dataset.absolute) time.dataset.absolute = time.textContent;
      time.title = exact.format(when);
      time.textContent = relativeText(when, now);
    }
  }
  if (relative && times.length) {
    updateTimes();
    setInterval(updateTimes, 30000);
  }

  // Links that lead to a form field focus it.
  document.addEventListener('click', (event) => {
    const link = event.target.closest('[data-focus]');
    if (!link) return;
    const target = document.querySelector(link.dataset.focus);
    if (!target) return;
    event.preventDefault();
    target.scrollIntoView({ block: 'center' });
    target.focus();
  });
})();
