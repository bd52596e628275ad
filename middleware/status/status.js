// The status page of aside's admin endpoints. Plain JavaScript, no build
// step, nothing loaded from elsewhere. Data is written with textContent
// only, never as HTML. The admin token lives in a variable of this closure:
// never in a cookie, in storage or in a URL; reloading the page forgets it.
'use strict';
(() => {
  let token = '';
  let invalidation = false;
  const $ = (id) => document.getElementById(id);
  const svgNS = 'http://www.w3.org/2000/svg';

  const pct = (x) => (100 * x).toFixed(1) + '%';
  const num = (n) => Number(n).toLocaleString('en-US');
  const bytes = (n) => {
    if (n < 0) return '—';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  };
  const text = (id, v) => { $(id).textContent = v; };

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  async function call(path, init) {
    const res = await fetch(path, Object.assign({ cache: 'no-store', credentials: 'omit', headers: headers() }, init));
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    return { status: res.status, body };
  }

  function needToken(msg) {
    $('auth').hidden = false;
    text('auth-msg', msg);
  }

  function showHealth(h) {
    const badge = $('status');
    badge.textContent = h.status;
    badge.className = 'badge ' + h.status;
    text('checked', 'checked ' + new Date(h.checked_at).toLocaleTimeString());
    const ul = $('reasons');
    ul.replaceChildren(...(h.reasons || []).map((r) => {
      const li = document.createElement('li');
      li.textContent = r;
      return li;
    }));
    const r = h.recent;
    text('window', 'last ' + Math.round(r.span_seconds) + ' s');
    text('hit-rate', r.reads ? pct(r.hit_rate) : '—');
    text('reads', num(r.reads));
    text('error-rate', r.reads ? pct(r.error_rate) : '—');
    text('timeout-rate', r.reads ? pct(r.timeout_rate) : '—');
    text('circuit', h.circuit || 'none');
    text('ping', h.ping_ms.toFixed(2) + ' ms');
  }

  function showStats(s) {
    text('lifetime-hit-rate', s.hits + s.misses ? pct(s.hit_rate) : '—');
    text('circuit-opens', num(s.circuit_opens));
    text('circuit-rejected', num(s.rejected));
    // The share compression saved, from the bytes it removed (which only
    // grow): small values stored raw with a frame header count as nothing
    // saved, never as a negative saving.
    text('savings', s.raw_bytes ? pct(s.compression_saved_bytes / s.raw_bytes) : '—');
    text('saved-bytes', bytes(s.compression_saved_bytes));
    text('keys', s.keys >= 0 ? num(s.keys) : '—');
    text('memory', s.bytes >= 0 ? bytes(s.bytes) + ' of ' + bytes(s.max_bytes) : 'size unknown');
    text('pending', num(s.invalidations_pending));
    text('invalidations', num(s.invalidations));
    showChart(s.history || []);
    showBudget(s.usage);
    showRoutes(s.routes || []);
    showProviders(s.providers || []);
    invalidation = s.invalidation;
    $('inv-off').hidden = invalidation;
    for (const id of ['inv-tag', 'inv-pattern', 'inv-url']) $(id).hidden = !invalidation;
  }

  function showChart(history) {
    const svg = $('chart');
    for (const p of svg.querySelectorAll('polyline')) p.remove();
    const n = history.length;
    let segment = [];
    const flush = () => {
      if (segment.length) {
        const line = document.createElementNS(svgNS, 'polyline');
        line.setAttribute('points', (segment.length === 1 ? [segment[0], segment[0].replace(/^[^,]+/, (x) => String(Number(x) + 4))] : segment).join(' '));
        svg.appendChild(line);
      }
      segment = [];
    };
    history.forEach((iv, i) => {
      const reads = iv.hits + iv.misses;
      if (!reads) { flush(); return; }
      const x = n > 1 ? (600 * i) / (n - 1) : 300;
      const y = 118 - 116 * (iv.hits / reads);
      segment.push(x.toFixed(1) + ',' + y.toFixed(1));
    });
    flush();
    const reads = history.reduce((a, iv) => a + iv.hits + iv.misses, 0);
    text('chart-caption', n ? n + ' steps, ' + num(reads) + ' reads; dashed lines at 50% and 70%' : 'no samples yet');
  }

  function showBudget(u) {
    $('budget-none').hidden = !!u;
    $('budget-rows').hidden = !u;
    if (!u) return;
    $('commands-meter').value = Math.min(u.command_share, 1);
    $('bandwidth-meter').value = Math.min(u.bandwidth_share, 1);
    text('commands-text', num(u.commands) + (u.command_budget ? ' of ' + num(u.command_budget) + ' (' + pct(u.command_share) + ')' : ' (no budget)') + '; projected ' + num(u.projected_commands));
    text('bandwidth-text', bytes(u.bytes) + (u.bandwidth_budget ? ' of ' + bytes(u.bandwidth_budget) + ' (' + pct(u.bandwidth_share) + ')' : ' (no budget)') + '; projected ' + bytes(u.projected_bytes));
    text('usage-since', new Date(u.since).toLocaleString());
  }

  function row(cells) {
    const tr = document.createElement('tr');
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      if (i > 0 && /^[\d.,%—\s]+(ms|B|KB|MB|GB)?$/.test(String(c))) td.className = 'num';
      tr.appendChild(td);
    });
    return tr;
  }

  function showRoutes(routes) {
    if (!routes.length) return;
    $('routes').replaceChildren(...routes.map((r) => row([r.route, num(r.hits), num(r.stale), num(r.misses), num(r.bypass),
      r.hits + r.stale + r.misses ? pct(r.hit_rate) : '—'])));
  }

  function showProviders(ps) {
    $('providers').replaceChildren(...ps.map((p) => {
      const m = p.member;
      const b = p.billed;
      return row([p.name, p.role || '—',
        m ? num(m.hits) : '—', m ? num(m.misses) : '—', m ? num(m.errors) : '—',
        m && m.calls ? (m.call_time_ns / m.calls / 1e6).toFixed(2) + ' ms' : '—',
        b ? num(b.commands) : '—', b ? bytes(b.bytes_sent + b.bytes_received) : '—']);
    }));
  }

  async function refresh() {
    try {
      const [h, s] = await Promise.all([call('health'), call('stats')]);
      if (h.status === 401 || s.status === 401) {
        needToken(token ? 'That token was refused.' : 'This page needs the admin token to show the cache.');
        return;
      }
      text('auth-msg', '');
      if (h.body) showHealth(h.body);
      if (s.body) showStats(s.body);
    } catch (e) {
      text('checked', 'unreachable: ' + e.message);
    }
  }

  async function invalidate(body, what) {
    const res = await call('invalidate', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(body),
    });
    const out = $('inv-result');
    out.className = res.status === 200 ? '' : 'warn';
    if (res.status === 401) {
      needToken('Invalidation needs the admin token.');
      out.textContent = 'Refused: a valid token is required.';
    } else if (res.status === 200) {
      const parts = [];
      if (res.body.invalidated_tags !== undefined) parts.push('invalidated ' + res.body.invalidated_tags + ' tag(s)');
      if (res.body.deleted !== undefined) parts.push('deleted ' + res.body.deleted + ' key(s)');
      out.textContent = what + ': ' + parts.join(', ');
    } else {
      out.textContent = what + ' failed: ' + ((res.body && res.body.error) || 'HTTP ' + res.status);
    }
    refresh();
  }

  function onSubmit(id, build, what) {
    $(id).addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = $(id + '-value');
      const v = input.value.trim();
      if (v) invalidate(build(v), what);
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = $('token').value.trim();
      $('token').value = '';
      text('auth-state', token ? 'Token set (in memory).' : 'No token.');
      refresh();
    });
    $('refresh').addEventListener('click', refresh);
    onSubmit('inv-tag', (v) => ({ tags: [v] }), 'Tag');
    onSubmit('inv-pattern', (v) => ({ pattern: v }), 'Pattern');
    onSubmit('inv-url', (v) => ({ urls: [v] }), 'URL');
    refresh();
    setInterval(refresh, 5000);
  });
})();
