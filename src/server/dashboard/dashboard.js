// The live dashboard: plain ES module, no build step, no CDN. Polls the REST API (the key comes from
// `#key=...` in the URL, or the form, and stays in sessionStorage) and draws its charts as inline SVG.
const state = { key: '', selected: null, history: [], lastCompleted: undefined, openPlans: new Set() };
const $ = (sel) => document.querySelector(sel);

function readKey() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('key');
  if (fromHash) {
    sessionStorage.setItem('opusclip-key', fromHash);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return fromHash || sessionStorage.getItem('opusclip-key') || '';
}

async function api(path) {
  const headers = state.key ? { 'x-api-key': state.key } : {};
  const res = await fetch(path, { headers });
  if (res.status === 401) {
    $('#key-form').hidden = false;
    throw new Error('API key required');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
}

function tiles(target, entries) {
  target.replaceChildren(
    ...entries.map(([label, value]) => el('div', { class: 'tile' }, el('b', {}, value), label)),
  );
}

function fmtDuration(s) {
  if (s === null || s === undefined) return '';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.round(s % 60)).padStart(2, '0')}`;
}

function progressOf(job) {
  if (typeof job.progress === 'number') return job.progress;
  if (job.progress && typeof job.progress.percent === 'number') return job.progress.percent;
  return job.state === 'completed' ? 100 : 0;
}

async function refreshStats() {
  const stats = await api('/api/stats');
  tiles($('#stats'), [
    ['videos', stats.videos.total],
    ['completed', stats.videos.byStatus?.completed ?? 0],
    ['failed', stats.videos.byStatus?.failed ?? 0],
    ['clips', stats.clips.total],
  ]);
}

async function refreshJobs() {
  let data;
  try {
    data = await api('/api/jobs?limit=20');
  } catch {
    $('#queue-counts').textContent = 'no queue';
    return;
  }
  tiles(
    $('#queue-counts'),
    ['waiting', 'active', 'completed', 'failed', 'delayed'].map((s) => [s, data.counts[s] ?? 0]),
  );
  const rows = data.items.map((job) => {
    const pct = progressOf(job);
    return el(
      'tr',
      { class: 'job', 'data-id': job.id, 'data-state': job.state },
      el('td', {}, job.youtubeId ?? job.id),
      el('td', { class: `status-${job.state}` }, job.state),
      el('td', {}, el('progress', { max: 100, value: pct }), ` ${Math.round(pct)}%`),
      el('td', {}, job.attemptsMade ?? 0),
    );
  });
  $('#jobs tbody').replaceChildren(...rows);
}

async function refreshVideos() {
  const status = $('#status-filter').value;
  const data = await api(`/api/videos?limit=50${status ? `&status=${status}` : ''}`);
  const rows = data.items.map((v) =>
    el(
      'tr',
      {
        class: `video${v.id === state.selected ? ' selected' : ''}`,
        'data-id': v.id,
        onclick: () => selectVideo(v),
      },
      el('td', {}, v.title || v.url),
      el('td', { class: `status-${v.status}` }, v.status),
      el('td', {}, fmtDuration(v.duration)),
      el('td', {}, new Date(v.createdAt).toLocaleString()),
    ),
  );
  $('#videos tbody').replaceChildren(...rows);
  // Open the first finished video so the clips panel is never empty when there is something to show.
  if (!state.selected) {
    const first = data.items.find((v) => v.status === 'completed') ?? data.items[0];
    if (first) await selectVideo(first);
  }
}

async function selectVideo(video) {
  state.selected = video.id;
  for (const row of document.querySelectorAll('tr.video')) {
    row.classList.toggle('selected', row.dataset.id === video.id);
  }
  $('#clips-title').textContent = video.title || video.url;
  const { items } = await api(`/api/videos/${video.id}/clips`);
  const cards = items.map((c) =>
    el(
      'div',
      { class: 'clip', 'data-id': c.id },
      c.thumbnailUrl ? el('img', { class: 'thumb', src: c.thumbnailUrl, alt: c.title || 'clip' }) : el('div'),
      el('div', {}, el('b', {}, c.title || 'clip'), ` ${fmtDuration(c.startTime)}–${fmtDuration(c.endTime)}`),
      c.caption ? el('div', { class: 'muted' }, c.caption) : '',
      c.narrationUrl ? el('audio', { controls: '', preload: 'none', src: c.narrationUrl }) : '',
    ),
  );
  $('#clips').replaceChildren(...(cards.length ? cards : [el('span', { class: 'muted' }, 'no clips yet')]));
}

// Statements the database captured as slow: name and SQL, count, max ms, findings; the plan folds out.
async function refreshSlowQueries() {
  const { items } = await api('/api/slow-queries?limit=20');
  const rows = items.map((q) => {
    const key = `${q.name}\n${q.sql}`;
    const plan =
      q.plan === undefined
        ? el(
            'span',
            { class: 'muted' },
            q.planStatus === 'not-a-read' ? 'not planned (not a read)' : q.planStatus,
          )
        : el(
            'details',
            {
              class: 'plan',
              ontoggle: (event) => {
                if (event.target.open) state.openPlans.add(key);
                else state.openPlans.delete(key);
              },
            },
            el('summary', {}, 'plan'),
            el('pre', {}, JSON.stringify(q.plan, null, 2)),
          );
    if (plan.tagName === 'DETAILS' && state.openPlans.has(key)) plan.open = true;
    return el(
      'tr',
      { class: 'slow-query', 'data-name': q.name },
      el('td', {}, el('b', {}, q.name), el('code', { class: 'sql' }, q.sql), plan),
      el('td', {}, q.count),
      el('td', {}, Math.round(q.maxMs)),
      el(
        'td',
        {},
        q.findings.length
          ? el(
              'ul',
              { class: 'findings' },
              ...q.findings.map((f) => el('li', { 'data-kind': f.kind }, f.message)),
            )
          : el('span', { class: 'muted' }, 'none'),
      ),
    );
  });
  $('#slow-queries tbody').replaceChildren(
    ...(rows.length ? rows : [el('tr', {}, el('td', { class: 'muted', colspan: 4 }, 'no slow queries'))]),
  );
}

// Small shares (a few quota units of thousands) stay visible instead of rounding to 0.0.
function fmt(v) {
  return v !== 0 && Math.abs(v) < 0.1 ? v.toPrecision(2) : v.toFixed(1);
}

function drawChart(svg, values, { max, unit = '' } = {}) {
  const w = 300;
  const h = 100;
  const top = Math.max(max ?? 0, ...values, 1);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map(
    (v, i) => `${(i * step).toFixed(1)},${(h - 12 - (v / top) * (h - 20)).toFixed(1)}`,
  );
  const last = values.at(-1);
  // The newest and the largest value, for scripts and tests reading the chart.
  svg.dataset.last = String(last ?? '');
  svg.dataset.max = String(values.length ? Math.max(...values) : '');
  svg.replaceChildren();
  const ns = 'http://www.w3.org/2000/svg';
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', '4');
  label.setAttribute('y', '10');
  label.textContent = last === undefined ? 'no data' : `${fmt(last)}${unit} (max ${fmt(top)})`;
  svg.append(line, label);
}

async function refreshCharts() {
  const m = await api('/api/metrics/summary');
  const completed = m.queue?.completed ?? 0;
  const prev = state.history.at(-1);
  const perMin =
    prev && state.lastCompleted !== undefined
      ? (Math.max(0, completed - state.lastCompleted) * 60_000) / Math.max(1, m.time - prev.time)
      : 0;
  state.lastCompleted = completed;
  // External APIs this process called, else the service's own requests.
  const called = m.http.filter((s) => s.requests > 0);
  const apiP95 = called.length ? Math.max(...called.map((s) => s.p95Ms)) : m.server.p95Ms;
  // The most used service's share of its quota windows (shared by every process when Redis is set).
  const quota = Math.max(0, ...m.http.map((s) => (s.quotaLimit > 0 ? s.quotaUsed / s.quotaLimit : 0)));
  state.history.push({
    time: m.time,
    throughput: perMin,
    latency: apiP95,
    cache: (m.cache?.hitRate ?? 0) * 100,
    quota: quota * 100,
  });
  if (state.history.length > 60) state.history.shift();
  drawTuning(m);
  drawChart(
    $('#chart-throughput'),
    state.history.map((p) => p.throughput),
  );
  drawChart(
    $('#chart-latency'),
    state.history.map((p) => p.latency),
    { unit: ' ms' },
  );
  drawChart(
    $('#chart-cache'),
    state.history.map((p) => p.cache),
    { max: 100, unit: '%' },
  );
  drawChart(
    $('#chart-quota'),
    state.history.map((p) => p.quota),
    { max: 100, unit: '%' },
  );
}

// What tunes itself: the database pool (open, busy, waiting) and each API endpoint's concurrency limit.
function drawTuning(m) {
  const pool = m.db.pool;
  if (pool) {
    tiles($('#pool-tiles'), [
      ['pool limit', pool.limit],
      ['connections open', pool.open],
      ['in use', pool.inUse],
      ['waiting', pool.waiting],
      ['acquire wait p99', `${fmt(pool.acquireWaitP99Ms)} ms`],
    ]);
  }
  if (m.cache) {
    tiles($('#cache-tiles'), [
      ['cache hit rate', `${fmt(m.cache.hitRate * 100)}%`],
      ['keys warmed at start', m.cache.warmedKeys ?? 0],
      ['refreshed ahead', m.cache.refreshedAhead ?? 0],
    ]);
  }
  const rows = m.http.flatMap((s) =>
    (s.origins ?? []).map((o) =>
      el(
        'tr',
        { class: 'origin', 'data-service': s.service, 'data-limit': o.concurrencyLimit },
        el('td', {}, s.service),
        el('td', {}, el('code', {}, o.origin)),
        el('td', { class: `breaker-${o.breakerState.toLowerCase()}` }, o.breakerState),
        el(
          'td',
          { class: 'concurrency' },
          o.concurrencyLimit === undefined ? 'fixed' : `${o.inFlight} / ${o.concurrencyLimit}`,
        ),
        el('td', {}, o.waiting ?? 0),
        el('td', {}, o.attempts),
        el('td', {}, o.failedAttempts),
      ),
    ),
  );
  $('#origins tbody').replaceChildren(
    ...(rows.length
      ? rows
      : [el('tr', {}, el('td', { class: 'muted', colspan: 7 }, 'no API calls from this process'))]),
  );
}

async function tick() {
  const results = await Promise.allSettled([
    refreshStats(),
    refreshJobs(),
    refreshVideos(),
    refreshCharts(),
    refreshSlowQueries(),
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  $('#status').textContent = failed
    ? String(failed.reason.message)
    : `updated ${new Date().toLocaleTimeString()}`;
  document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? 0) + 1);
}

function start() {
  state.key = readKey();
  $('#key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.key = $('#key-input').value;
    sessionStorage.setItem('opusclip-key', state.key);
    $('#key-form').hidden = true;
    tick();
  });
  $('#status-filter').addEventListener('change', () => refreshVideos());
  const interval = Number(new URLSearchParams(location.search).get('refreshMs')) || 2000;
  tick();
  setInterval(tick, interval);
}

start();
