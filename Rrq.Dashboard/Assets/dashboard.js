// Rrq dashboard: live refresh of the page's <main> from server-sent events, and action buttons.
(() => {
  const body = document.body;
  const prefix = body.dataset.prefix;
  const main = () => document.getElementById('main');
  const flash = msg => { const f = document.getElementById('flash'); if (f) f.textContent = msg; };
  let timer = null, busy = false;

  async function refresh() {
    if (busy) { schedule(); return; }
    busy = true;
    try {
      const r = await fetch(location.href, { headers: { 'X-Rrq-Fragment': '1' }, cache: 'no-store' });
      if (r.ok) {
        main().innerHTML = await r.text();
        body.dataset.refreshes = String(Number(body.dataset.refreshes || 0) + 1);
      }
    } catch (e) { /* the next event tries again */ }
    finally { busy = false; }
  }
  function schedule() { if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 200); }

  if (window.EventSource) {
    const live = document.getElementById('live');
    const events = new EventSource(prefix + '/events');
    events.addEventListener('open', () => { if (live) live.textContent = 'live'; body.dataset.live = '1'; });
    events.addEventListener('error', () => { if (live) live.textContent = 'reconnecting…'; });
    events.addEventListener('change', schedule);
  }

  document.addEventListener('click', async e => {
    const b = e.target.closest('button[data-action]');
    if (!b) return;
    if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) return;
    b.disabled = true;
    try {
      const r = await fetch(b.dataset.action, { method: 'POST', headers: { 'X-Rrq-Action': '1' } });
      const text = await r.text();
      let out = {};
      try { out = JSON.parse(text); } catch (_) { out = { message: text }; }
      if (r.ok && out.redirect) { location.href = out.redirect; return; }
      if (r.ok) { flash(''); await refresh(); return; }
      flash(out.message || (r.status + ' ' + r.statusText));
    } catch (err) {
      flash('The action did not reach the server: ' + err);
    } finally { b.disabled = false; }
  });
})();
