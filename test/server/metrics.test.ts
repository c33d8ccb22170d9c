import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../src/cache/index.js';
import { HttpClient } from '../../src/http/index.js';
import { Budget, CircuitBreaker, youtubeQuotaWindows } from '../../src/resilience/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import {
  createMetricsRegistry,
  createServer,
  type OpusServer,
  pipelineStageChannel,
  serveMetrics,
} from '../../src/server/index.js';
import { API_KEY, openService, type ServiceFixture, youtubeUrl } from './helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (version 0.0.4) into samples and declared types. */
function parseProm(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name && type) types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = find(samples, name, labels);
  assert.ok(found.length > 0, `no sample ${name}${JSON.stringify(labels)}`);
  return found.reduce((n, s) => n + s.value, 0);
}

describe('/metrics after a small run', () => {
  let fx: ServiceFixture;
  let sandbox: Sandbox;
  let client: HttpClient;
  let server: OpusServer;
  const cache = createMemoryCache();

  before(async () => {
    fx = await openService();
    sandbox = await createSandbox({ keys: { youtube: ['yt-test-key-123456'] } });
    client = new HttpClient({
      service: 'youtube',
      baseUrl: `${sandbox.url}/youtube/youtube/v3`,
      auth: { type: 'query', value: 'yt-test-key-123456' },
      budget: new Budget({ name: 'youtube', windows: youtubeQuotaWindows(1000) }),
      breaker: new CircuitBreaker({ name: 'youtube', failureThreshold: 5 }),
      retryDelayMs: 5,
    });
    server = await createServer({
      db: fx.db,
      store: fx.store,
      redis: fx.redis,
      queue: fx.queue,
      cache,
      httpMetrics: [client],
      auth: { apiKeys: [API_KEY] },
      logger: { level: 'silent' },
    });
  });

  after(async () => {
    await server?.close();
    await client?.close();
    await sandbox?.close();
    await cache.close?.();
    await fx?.dispose();
  });

  it('exports database, cache, HTTP, pipeline and server series', async () => {
    // Database: inserts and reads through the store.
    const { id } = await fx.store.createVideo({ url: youtubeUrl(), title: 'm' });
    for (let i = 0; i < 3; i++) await fx.store.getVideoById(id);
    // Cache: one miss then two hits.
    for (let i = 0; i < 3; i++) await cache.getOrSet('metrics:k', async () => 42);
    // HTTP: three calls to the sandbox's YouTube API.
    for (const v of ['aaaaaaaaaaa', 'bbbbbbbbbbb', 'ccccccccccc']) {
      const res = await client.get('/videos', {
        params: { part: 'snippet', id: v },
        operation: 'videos.list',
      });
      assert.equal(res.status, 200);
    }
    // Pipeline: jobs in the queue and stage timings, through the channel and the function.
    await fx.queue.enqueue([youtubeUrl(), youtubeUrl()]);
    pipelineStageChannel.publish({ stage: 'download', durationMs: 1200, outcome: 'ok' });
    server.metrics.observeStage('transcribe', 3.5, 'error');
    // The service's own requests.
    await server.app.inject({ method: 'GET', url: '/api/stats', headers: { 'x-api-key': API_KEY } });

    const res = await server.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { 'x-api-key': API_KEY },
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseProm(res.body);

    // Database
    assert.equal(types.get('opusclip_db_queries_total'), 'counter');
    assert.ok(value(samples, 'opusclip_db_queries_total', { name: 'store.getVideoById' }) >= 3);
    assert.ok(
      value(samples, 'opusclip_db_query_latency_seconds', { name: 'store.getVideoById', quantile: '0.95' }) >
        0,
    );
    assert.ok(value(samples, 'opusclip_db_query_seconds_total') > 0);
    assert.ok(find(samples, 'opusclip_db_pool_connections', { state: 'idle' }).length === 1);
    assert.ok(types.has('opusclip_db_errors_total'));

    // Cache
    assert.equal(value(samples, 'opusclip_cache_requests_total', { level: 'l1', result: 'hit' }), 2);
    assert.equal(value(samples, 'opusclip_cache_served_total', { kind: 'miss' }), 1);
    assert.equal(value(samples, 'opusclip_cache_served_total', { kind: 'stale' }), 0);
    assert.ok(Math.abs(value(samples, 'opusclip_cache_hit_ratio') - 2 / 3) < 1e-9);

    // HTTP per service
    assert.equal(value(samples, 'opusclip_http_client_requests_total', { service: 'youtube' }), 3);
    assert.equal(types.get('opusclip_http_client_request_duration_seconds'), 'histogram');
    assert.equal(
      value(samples, 'opusclip_http_client_request_duration_seconds_count', {
        service: 'youtube',
        status_class: '2xx',
      }),
      3,
    );
    assert.equal(value(samples, 'opusclip_http_client_retries_total', { service: 'youtube' }), 0);
    assert.equal(value(samples, 'opusclip_http_client_rate_limit_waits_total', { service: 'youtube' }), 0);
    assert.equal(
      value(samples, 'opusclip_http_client_breaker_state', { service: 'youtube', state: 'CLOSED' }),
      1,
    );
    const used = find(samples, 'opusclip_http_client_quota', { service: 'youtube', stat: 'used' });
    assert.ok(used.length > 0 && used.every((s) => s.value >= 3), JSON.stringify(used));
    const remaining = find(samples, 'opusclip_http_client_quota', { service: 'youtube', stat: 'remaining' });
    assert.ok(remaining.every((s) => s.value <= 997));

    // Pipeline
    assert.equal(value(samples, 'opusclip_pipeline_jobs', { state: 'waiting' }), 2);
    assert.equal(
      value(samples, 'opusclip_pipeline_stage_duration_seconds_count', { stage: 'download', outcome: 'ok' }),
      1,
    );
    assert.equal(value(samples, 'opusclip_pipeline_stage_duration_seconds_sum', { stage: 'download' }), 1.2);
    assert.equal(
      value(samples, 'opusclip_pipeline_stage_duration_seconds_count', {
        stage: 'transcribe',
        outcome: 'error',
      }),
      1,
    );

    // The service itself, and process metrics from its own registry
    assert.ok(
      value(samples, 'opusclip_server_request_duration_seconds_count', {
        route: '/api/stats',
        status_code: '200',
      }) >= 1,
    );
    assert.ok(find(samples, 'opusclip_process_resident_memory_bytes').length === 1);

    // Every series the Grafana dashboard queries exists in this output.
    const grafana = JSON.parse(
      await readFile(new URL('../../grafana/opusclip-dashboard.json', import.meta.url), 'utf8'),
    );
    const exprs: string[] = grafana.panels.flatMap((p: { targets?: Array<{ expr: string }> }) =>
      (p.targets ?? []).map((t) => t.expr),
    );
    const names = new Set(exprs.flatMap((e) => e.match(/opusclip_[a-z0-9_]+/g) ?? []));
    assert.ok(names.size >= 15, [...names].join(','));
    const exported = new Set(samples.map((x) => x.name));
    // A labelled counter with nothing counted yet (no errors) is declared by its TYPE line alone.
    for (const name of names) {
      assert.ok(exported.has(name) || types.has(name), `grafana queries ${name}, which /metrics lacks`);
    }

    // The JSON digest the dashboard charts read agrees.
    const summary = await server.app.inject({
      method: 'GET',
      url: '/api/metrics/summary',
      headers: { 'x-api-key': API_KEY },
    });
    const s = summary.json();
    assert.equal(s.cache.hits, 2);
    assert.equal(s.http[0].service, 'youtube');
    assert.equal(s.http[0].requests, 3);
    assert.ok(s.http[0].quotaUsed >= 3);
    assert.equal(s.queue.waiting, 2);
  });

  it('lets a worker serve its own registry on a port, without the global registry', async () => {
    const worker = createMetricsRegistry({ db: fx.db, queue: fx.queue, processMetrics: false });
    const http = await serveMetrics(worker);
    try {
      worker.observeStage('render', 0.25);
      const res = await fetch(http.url);
      assert.equal(res.status, 200);
      const { samples } = parseProm(await res.text());
      assert.equal(value(samples, 'opusclip_pipeline_stage_duration_seconds_count', { stage: 'render' }), 1);
      assert.ok(find(samples, 'opusclip_pipeline_jobs').length > 0);
      assert.equal(find(samples, 'opusclip_process_resident_memory_bytes').length, 0);
      const other = await fetch(http.url.replace('/metrics', '/other'));
      assert.equal(other.status, 404);
    } finally {
      await http.close();
      worker.close();
    }
    // After close the registry no longer listens to the stage channel.
    pipelineStageChannel.publish({ stage: 'render', durationMs: 10, outcome: 'ok' });
    const { samples } = parseProm(await worker.metrics());
    assert.equal(value(samples, 'opusclip_pipeline_stage_duration_seconds_count', { stage: 'render' }), 1);
  });
});
