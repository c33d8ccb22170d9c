import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { youtubeQuotaWindows } from '../../src/apis/index.js';
import { createMemoryCache } from '../../src/cache/index.js';
import { HttpClient } from '../../src/http/index.js';
import { pipelineStageChannel } from '../../src/pipeline/index.js';
import { Budget, CircuitBreaker } from '../../src/resilience/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import {
  createMetricsRegistry,
  createServer,
  type OpusServer,
  type RunningService,
  serve,
  serveMetrics,
} from '../../src/server/index.js';
import { endpointTemplate } from '../../src/server/metric-labels.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { API_KEY, openService, promtoolCheck, type ServiceFixture, youtubeUrl } from './helpers.js';

/** The metric names each Grafana panel queries, with the panel's description. */
async function grafanaPanels(): Promise<Array<{ title: string; description: string; names: string[] }>> {
  const grafana = JSON.parse(
    await readFile(new URL('../../grafana/opusclip-dashboard.json', import.meta.url), 'utf8'),
  ) as { panels: Array<{ title: string; description?: string; targets?: Array<{ expr: string }> }> };
  return grafana.panels
    .filter((p) => (p.targets ?? []).length > 0)
    .map((p) => ({
      title: p.title,
      description: p.description ?? '',
      names: [...new Set((p.targets ?? []).flatMap((t) => t.expr.match(/opusclip_[a-z0-9_]+/g) ?? []))],
    }));
}

/** A histogram's base name: `x_bucket`, `x_sum` and `x_count` are declared as `x`. */
function declared(types: Map<string, string>, name: string): string | undefined {
  return types.get(name) ?? types.get(name.replace(/_(bucket|sum|count)$/, ''));
}

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
    // Two calls whose paths carry ids (no operation name given): one endpoint template.
    for (const channel of ['UCaaaaaaaaaaaaaaaaaaaaaa', 'UCbbbbbbbbbbbbbbbbbbbbb1']) {
      await client.get(`/channels/${channel}`, { retryOnError: false }).catch(() => undefined);
    }
    // The service's own routes, with ids in their paths and unknown paths.
    for (let i = 0; i < 3; i++) {
      await server.app.inject({
        method: 'GET',
        url: `/api/videos/${crypto.randomUUID()}`,
        headers: { 'x-api-key': API_KEY },
      });
      await server.app.inject({ method: 'GET', url: `/no/such/${i}`, headers: { 'x-api-key': API_KEY } });
    }
    // Pipeline: jobs in the queue and stage timings, through the channel and the function.
    await fx.queue.enqueue([youtubeUrl(), youtubeUrl()]);
    pipelineStageChannel.publish({ stage: 'download', durationMs: 1200, outcome: 'ok' });
    server.metrics.observeStage('transcribe', 3500, 'error');
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
    assert.equal(types.get('opusclip_db_query_duration_seconds'), 'histogram');
    assert.ok(
      value(samples, 'opusclip_db_query_duration_seconds_count', { name: 'store.getVideoById' }) >= 3,
    );
    assert.ok(value(samples, 'opusclip_db_query_duration_seconds_sum', { name: 'store.getVideoById' }) > 0);
    assert.ok(
      value(samples, 'opusclip_db_query_duration_seconds_bucket', {
        name: 'store.getVideoById',
        le: '+Inf',
      }) >= 3,
    );
    assert.equal(types.get('opusclip_db_pool_acquire_wait_seconds'), 'histogram');
    assert.equal(types.get('opusclip_db_pool_connections'), 'gauge');
    assert.ok(find(samples, 'opusclip_db_pool_connections', { state: 'idle' }).length === 1);
    // Waiting callers are not connections: a gauge of their own, so sum(connections) stays the pool size.
    assert.equal(find(samples, 'opusclip_db_pool_connections', { state: 'waiting' }).length, 0);
    assert.equal(types.get('opusclip_db_pool_waiting_requests'), 'gauge');
    // A static pool's limit is its max.
    assert.equal(types.get('opusclip_db_pool_limit'), 'gauge');
    assert.equal(value(samples, 'opusclip_db_pool_limit'), fx.db.metrics().pool.limit);
    assert.equal(types.get('opusclip_db_errors_total'), 'counter');
    // Pipelined statements: the store's reads went through the pipeline (on by default on PostgreSQL).
    const pipeline = fx.db.metrics().pipeline;
    assert.ok(pipeline !== undefined, 'the service database pipelines its reads');
    assert.equal(types.get('opusclip_db_pipeline_statements_total'), 'counter');
    assert.ok(pipeline.sent >= 3, `the three reads were pipelined (${pipeline.sent})`);
    assert.equal(value(samples, 'opusclip_db_pipeline_statements_total'), pipeline.sent);
    assert.equal(types.get('opusclip_db_pipeline_connections'), 'gauge');
    assert.equal(value(samples, 'opusclip_db_pipeline_connections'), pipeline.connections);
    assert.equal(value(samples, 'opusclip_db_pipeline_in_flight_statements'), 0);
    assert.equal(value(samples, 'opusclip_db_pipeline_waiting_statements'), 0);
    assert.equal(types.get('opusclip_db_pipeline_reads_resent_total'), 'counter');
    assert.equal(value(samples, 'opusclip_db_pipeline_writes_unknown_total'), 0);

    // Cache
    assert.equal(value(samples, 'opusclip_cache_requests_total', { level: 'l1', result: 'hit' }), 2);
    assert.equal(value(samples, 'opusclip_cache_served_total', { kind: 'miss' }), 1);
    assert.equal(value(samples, 'opusclip_cache_served_total', { kind: 'stale' }), 0);
    assert.ok(Math.abs(value(samples, 'opusclip_cache_hit_ratio') - 2 / 3) < 1e-9);

    // HTTP per service
    assert.equal(value(samples, 'opusclip_http_client_requests_total', { service: 'youtube' }), 5);
    assert.equal(
      value(samples, 'opusclip_http_client_requests_total', { service: 'youtube', endpoint: 'videos.list' }),
      3,
    );
    assert.equal(types.get('opusclip_http_client_request_duration_seconds'), 'histogram');
    assert.equal(
      value(samples, 'opusclip_http_client_request_duration_seconds_count', {
        service: 'youtube',
        status_class: '2xx',
      }),
      3,
    );
    assert.equal(value(samples, 'opusclip_http_client_retries_total', { service: 'youtube' }), 0);
    // Per base URL: the client's one origin, no path, its attempts and its breaker.
    const origin = new URL(sandbox.url).origin;
    assert.equal(
      value(samples, 'opusclip_http_client_origin_attempts_total', { service: 'youtube', origin }),
      5,
    );
    assert.equal(types.get('opusclip_http_client_origin_failed_attempts_total'), 'counter');
    assert.equal(
      value(samples, 'opusclip_http_client_origin_breaker_state', {
        service: 'youtube',
        origin,
        state: 'CLOSED',
      }),
      1,
    );
    assert.equal(value(samples, 'opusclip_http_client_rate_limit_waits_total', { service: 'youtube' }), 0);
    assert.equal(
      value(samples, 'opusclip_http_client_breaker_state', { service: 'youtube', state: 'CLOSED' }),
      1,
    );
    assert.equal(
      value(samples, 'opusclip_http_client_breaker_state', { service: 'youtube', state: 'OPEN' }),
      0,
    );
    // Limit, used and remaining: three gauges, no `stat` label.
    for (const stat of ['limit', 'used', 'remaining']) {
      assert.equal(types.get(`opusclip_http_client_quota_${stat}`), 'gauge');
    }
    assert.equal(
      value(samples, 'opusclip_http_client_quota_limit', { service: 'youtube', quota: 'units' }),
      1000,
    );
    assert.ok(value(samples, 'opusclip_http_client_quota_used', { service: 'youtube', quota: 'units' }) >= 5);
    assert.ok(
      value(samples, 'opusclip_http_client_quota_remaining', { service: 'youtube', quota: 'units' }) <= 995,
    );
    assert.ok(!types.has('opusclip_http_client_quota'));
    // Endpoints are templates: the two calls to paths with ids are one series.
    assert.equal(
      value(samples, 'opusclip_http_client_requests_total', {
        service: 'youtube',
        endpoint: '/youtube/youtube/v3/channels/:id',
      }),
      2,
    );

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
    assert.equal(
      value(samples, 'opusclip_server_request_duration_seconds_count', {
        route: '/api/videos/:id',
        status_code: '404',
      }),
      3,
    );
    assert.equal(
      value(samples, 'opusclip_server_request_duration_seconds_count', {
        route: 'unmatched',
        status_code: '404',
      }),
      3,
    );
    assert.ok(find(samples, 'opusclip_process_resident_memory_bytes').length === 1);

    // Bounded labels: no label value anywhere carries an id or a raw path of a request.
    for (const sample of samples) {
      for (const [label, v] of Object.entries(sample.labels)) {
        assert.doesNotMatch(v, /[0-9a-f]{8}-[0-9a-f]{4}-/i, `${sample.name}{${label}="${v}"}`);
        assert.doesNotMatch(v, /\/no\/such|UC[ab]{10}/, `${sample.name}{${label}="${v}"}`);
      }
    }
    // Prometheus conventions: `_total` only on counters, no gauge with a `quantile` label, no `stat` label.
    for (const [name, type] of types) {
      if (name.endsWith('_total')) assert.equal(type, 'counter', name);
      if (type === 'counter') assert.ok(name.endsWith('_total'), name);
    }
    for (const sample of samples) {
      assert.ok(!('quantile' in sample.labels) && !('stat' in sample.labels), sample.name);
    }

    // promtool, on the real exposition.
    const lint = await promtoolCheck(res.body);
    assert.equal(lint.output.trim(), '', lint.output);
    assert.equal(lint.code, 0, lint.output);

    // Every series the Grafana dashboard queries exists in this output.
    const names = new Set((await grafanaPanels()).flatMap((p) => p.names));
    assert.ok(names.size >= 15, [...names].join(','));
    const exported = new Set(samples.map((x) => x.name));
    // A labelled counter with nothing counted yet (no errors) is declared by its TYPE line alone.
    for (const name of names) {
      assert.ok(exported.has(name) || declared(types, name), `grafana queries ${name}, which /metrics lacks`);
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
    assert.equal(s.http[0].requests, 5);
    assert.ok(s.http[0].quotaUsed >= 3);
    assert.equal(s.queue.waiting, 2);
  });

  it('turns endpoint paths into templates', () => {
    assert.equal(endpointTemplate('videos.list'), 'videos.list');
    assert.equal(
      endpointTemplate('/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream'),
      '/v1/text-to-speech/:id/stream',
    );
    assert.equal(endpointTemplate('/youtube/v3/videos?id=dQw4w9WgXcQ'), '/youtube/v3/videos');
    assert.equal(endpointTemplate('/v2beta/stable-image/generate/sd3'), '/v2beta/stable-image/generate/sd3');
    assert.equal(endpointTemplate('/api/videos/01a23c1a-f975-77e9-afd5-ec1d10d1c14b'), '/api/videos/:id');
    assert.equal(endpointTemplate('/items/12345'), '/items/:id');
    assert.equal(
      endpointTemplate('/youtube/v3/channels/UCaaaaaaaaaaaaaaaaaaaaaa'),
      '/youtube/v3/channels/:id',
    );
    assert.equal(endpointTemplate('/youtube/v3/playlistItems'), '/youtube/v3/playlistItems');
    assert.equal(
      endpointTemplate('/v1/text-to-speech-with-long-hyphenated-name'),
      '/v1/text-to-speech-with-long-hyphenated-name',
    );
  });

  it('reports the adaptive concurrency limit of a client that has one, per origin', async () => {
    const adaptive = new HttpClient({
      service: 'adaptive',
      baseUrl: `${sandbox.url}/youtube/youtube/v3`,
      auth: { type: 'query', value: 'yt-test-key-123456' },
      adaptiveConcurrency: { initialLimit: 7 },
    });
    const registry = createMetricsRegistry({ httpMetrics: [adaptive, client], processMetrics: false });
    try {
      await adaptive.get('videos', { params: { part: 'snippet', id: 'dQw4w9WgXcQ' } });
      const { samples, types } = parseProm(await registry.metrics());
      const origin = new URL(sandbox.url).origin;
      assert.equal(types.get('opusclip_http_client_origin_concurrency_limit'), 'gauge');
      assert.equal(
        value(samples, 'opusclip_http_client_origin_concurrency_limit', { service: 'adaptive', origin }),
        7,
      );
      assert.equal(
        value(samples, 'opusclip_http_client_origin_concurrency_waiting', { service: 'adaptive', origin }),
        0,
      );
      // A client without the option has no such series.
      assert.equal(
        find(samples, 'opusclip_http_client_origin_concurrency_limit', { service: 'youtube' }).length,
        0,
      );
    } finally {
      registry.close();
      await adaptive.close();
    }
  });

  it('lets a worker serve its own registry on a port, without the global registry', async () => {
    const worker = createMetricsRegistry({ db: fx.db, queue: fx.queue, processMetrics: false });
    const http = await serveMetrics(worker);
    try {
      worker.observeStage('render', 250);
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

describe('/metrics of `serve`', () => {
  let fx: ServiceFixture;
  let service: RunningService;
  const budgetPrefix = uniqueName('mbudget');
  const cacheNamespace = uniqueName('mcache');

  before(async () => {
    fx = await openService();
    service = await serve({
      databaseUrl: await fx.target.url(),
      ...(fx.target.schema ? { databaseSchema: fx.target.schema } : {}),
      redisUrl: TEST_REDIS_URL,
      port: 0,
      auth: { apiKeys: [API_KEY] },
      assetsDir: fx.assetsDir,
      logLevel: 'silent',
      queuePrefix: fx.prefix,
      cacheNamespace,
      budgetPrefix,
      databaseAdaptivePool: true,
    });
  });

  after(async () => {
    await service?.close();
    for (const prefix of [budgetPrefix, cacheNamespace]) {
      const keys = (await fx?.redis.keys(`${prefix}:*`)) ?? [];
      if (keys.length > 0) await fx.redis.del(...keys);
    }
    await fx?.dispose();
  });

  it('reads through the cache, reports it and the shared quotas, passes promtool, covers Grafana', async () => {
    const { id } = await fx.store.createVideo({ url: youtubeUrl(), title: 'served' });
    const get = (path: string) => fetch(`${service.url}${path}`, { headers: { 'x-api-key': API_KEY } });
    for (let i = 0; i < 3; i++) assert.equal((await get(`/api/videos/${id}`)).status, 200);
    const res = await get('/metrics');
    assert.equal(res.status, 200);
    const text = await res.text();
    const { samples, types } = parseProm(text);

    // The adaptive pool's limit: below the default max of 10, as nothing waited for a connection.
    const limit = value(samples, 'opusclip_db_pool_limit');
    assert.ok(limit >= 1 && limit < 10, `adaptive limit ${limit}`);

    // The store's reads went through the cache: one load, then hits.
    assert.ok(value(samples, 'opusclip_cache_served_total', { kind: 'hit' }) >= 2);
    assert.ok(value(samples, 'opusclip_cache_served_total', { kind: 'miss' }) >= 1);
    // The shared budgets of every vendor, read from Redis (nothing used yet under this prefix).
    for (const service of ['youtube', 'openai', 'stability', 'elevenlabs']) {
      assert.ok(find(samples, 'opusclip_http_client_quota_limit', { service }).length > 0, service);
    }
    assert.equal(
      value(samples, 'opusclip_http_client_quota_limit', { service: 'youtube', quota: 'units' }),
      10_000,
    );
    assert.ok(find(samples, 'opusclip_pipeline_jobs').length > 0);

    const lint = await promtoolCheck(text);
    assert.equal(lint.code, 0, lint.output);
    assert.equal(lint.output.trim(), '', lint.output);

    // Every series Grafana queries is declared by `serve`; a panel whose series only a process running
    // the pipeline or calling the APIs fills says so in its description.
    const onlyWhereCalled =
      /^opusclip_(pipeline_stage_duration_seconds|http_client_(requests|failures|retries|rate_limit_waits)_total|http_client_request_duration_seconds|http_client_breaker_state)/;
    for (const panel of await grafanaPanels()) {
      for (const name of panel.names) assert.ok(declared(types, name), `${panel.title}: serve lacks ${name}`);
      if (panel.names.some((n) => onlyWhereCalled.test(n))) {
        assert.match(panel.description, /worker --metrics-port/, `${panel.title} names the process`);
      } else {
        assert.match(panel.description, /\bserve\b/, `${panel.title} names the process`);
      }
    }
  });
});
