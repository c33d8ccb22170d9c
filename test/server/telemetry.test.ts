import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  type Attributes,
  context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { Cache } from '../../src/cache/index.js';
import { OpusError } from '../../src/core/index.js';
import { withSpan } from '../../src/core/tracing.js';
import { createPipelinePorts, readVideoUrls, VideoPipeline } from '../../src/pipeline/index.js';
import { createSandbox } from '../../src/sandbox/index.js';
import {
  createMetricsRegistry,
  createServer,
  createServerLogger,
  type OpusServer,
} from '../../src/server/index.js';
import { VideoStore } from '../../src/store/index.js';
import { API_KEY, openService, type ServiceFixture } from './helpers.js';

interface Recorded {
  name: string;
  kind: number | undefined;
  attributes: Attributes;
  status: SpanStatus | undefined;
  exceptions: number;
  ended: boolean;
}

/** A minimal in-memory TracerProvider: what an SDK would register, reduced to what the test reads. */
function recordingProvider(spans: Recorded[]): TracerProvider {
  const makeSpan = (name: string, options: SpanOptions = {}): Span => {
    const rec: Recorded = {
      name,
      kind: options.kind,
      attributes: { ...(options.attributes ?? {}) },
      status: undefined,
      exceptions: 0,
      ended: false,
    };
    spans.push(rec);
    const ctx: SpanContext = {
      traceId: '1'.repeat(32),
      spanId: String(spans.length).padStart(16, '0'),
      traceFlags: 1,
    };
    const span: Span = {
      spanContext: () => ctx,
      setAttribute(key, value) {
        if (value !== undefined) rec.attributes[key] = value;
        return span;
      },
      setAttributes(attrs) {
        Object.assign(rec.attributes, attrs);
        return span;
      },
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus(status) {
        rec.status = status;
        return span;
      },
      updateName(n) {
        rec.name = n;
        return span;
      },
      end() {
        rec.ended = true;
      },
      isRecording: () => !rec.ended,
      recordException() {
        rec.exceptions++;
      },
    };
    return span;
  };
  const tracer = {
    startSpan: (name: string, options?: SpanOptions) => makeSpan(name, options),
    startActiveSpan(name: string, ...args: unknown[]) {
      const fn = args.at(-1) as (span: Span) => unknown;
      const options = (args.length > 1 ? args[0] : {}) as SpanOptions;
      const span = makeSpan(name, options);
      return context.with(trace.setSpan(context.active(), span), fn, undefined, span);
    },
  } as Tracer;
  return { getTracer: () => tracer };
}

describe('traces and logs', () => {
  const spans: Recorded[] = [];
  let fx: ServiceFixture;
  let server: OpusServer;

  before(async () => {
    assert.equal(trace.setGlobalTracerProvider(recordingProvider(spans)), true);
    fx = await openService();
    server = await createServer({
      db: fx.db,
      store: fx.store,
      auth: { apiKeys: [API_KEY] },
      logger: fx.logger,
    });
  });

  after(async () => {
    trace.disable();
    await server?.close();
    await fx?.dispose();
  });

  it('withSpan ends the span, returns the value and records a failure with its code', async () => {
    assert.equal(await withSpan('unit.ok', { 'opusclip.stage': 'download' }, async () => 7), 7);
    const ok = spans.find((s) => s.name === 'unit.ok');
    assert.equal(ok?.ended, true);
    assert.equal(ok?.attributes['opusclip.stage'], 'download');
    await assert.rejects(
      withSpan('unit.fail', {}, async () => {
        throw new OpusError('ERR_TEST_BOOM', 'boom');
      }),
      /boom/,
    );
    const failed = spans.find((s) => s.name === 'unit.fail');
    assert.equal(failed?.ended, true);
    assert.equal(failed?.status?.code, SpanStatusCode.ERROR);
    assert.equal(failed?.attributes['error.type'], 'ERR_TEST_BOOM');
    assert.equal(failed?.exceptions, 1);
  });

  it('spans the pipeline stages, the queries, the cache loads and the API calls, with no secret in them', async () => {
    const sandbox = await createSandbox();
    const cache = new Cache({ namespace: 'telemetry' });
    const clients = createApiClients({
      youtube: { apiKey: 'yt-secret-key-123' },
      openai: { apiKey: 'sk-secret-openai' },
      stability: { apiKey: 'sk-secret-stability' },
      cache,
      baseUrls: sandboxBaseUrls(sandbox.url),
    });
    const assets = await mkdtemp(join(tmpdir(), 'opusclip-trace-'));
    try {
      const store = new VideoStore(fx.db, { cache });
      const registry = createMetricsRegistry({
        db: fx.db,
        cache,
        httpMetrics: [clients.youtube!, clients.openai!],
      });
      const pipeline = new VideoPipeline({
        store,
        ports: createPipelinePorts(clients),
        assetsDir: assets,
        narration: false,
      });
      const summary = await pipeline.run(readVideoUrls(['https://youtu.be/dQw4w9WgXcQ']));
      assert.equal(summary.completed, 1);
      // The same run, seen by /metrics: stage durations from the pipeline, queries, cache and API calls.
      const text = await registry.metrics();
      registry.close();
      for (const stage of ['transcript', 'highlights', 'thumbnails']) {
        assert.match(
          text,
          new RegExp(`opusclip_pipeline_stage_duration_seconds_count\\{[^}]*stage="${stage}"[^}]*\\} 1`),
        );
      }
      assert.match(text, /opusclip_db_queries_total\{name="store\.getVideoById"\} \d+/);
      assert.match(text, /opusclip_http_client_requests_total\{[^}]*service="openai"/);
      const names = new Set(spans.map((s) => s.name));
      for (const stage of [
        'pipeline.transcript',
        'pipeline.highlights',
        'pipeline.thumbnails',
        'pipeline.completed',
      ]) {
        assert.ok(names.has(stage), `${stage} in ${[...names].join(', ')}`);
      }
      assert.ok(
        spans.some(
          (s) => s.name === 'db.query' && s.attributes['db.operation.name'] === 'store.getVideoById',
        ),
      );
      assert.ok(spans.some((s) => s.name === 'cache.load'));
      assert.ok(
        spans.some(
          (s) => s.name.startsWith('http youtube') && s.attributes['http.response.status_code'] === 200,
        ),
      );
      assert.ok(spans.some((s) => s.name.startsWith('http openai')));
      assert.ok(
        spans.every((s) => s.ended || s.name === 'pipeline.stage'),
        `every named span ended: ${spans
          .filter((s) => !s.ended)
          .map((s) => s.name)
          .join(', ')}`,
      );
      const dump = JSON.stringify(spans);
      for (const secret of ['yt-secret-key-123', 'sk-secret-openai', 'sk-secret-stability'])
        assert.ok(!dump.includes(secret));
    } finally {
      await clients.close();
      await sandbox.close();
      await cache.close();
      await rm(assets, { recursive: true, force: true });
    }
  });

  it('wraps every service request in a SERVER span named by its route', async () => {
    const res = await server.app.inject({
      method: 'GET',
      url: '/api/videos/00000000-0000-7000-8000-000000000001',
      headers: { 'x-api-key': API_KEY, 'x-request-id': 'trace-me-1' },
    });
    assert.equal(res.statusCode, 404);
    const span = spans.find((s) => s.attributes['opusclip.request_id'] === 'trace-me-1');
    assert.ok(span, JSON.stringify(spans.map((s) => s.name)));
    assert.equal(span.name, 'GET /api/videos/:id');
    assert.equal(span.kind, 1); // SpanKind.SERVER
    assert.equal(span.attributes['http.response.status_code'], 404);
    assert.equal(span.attributes['http.route'], '/api/videos/:id');
    assert.equal(span.ended, true);
    const unauth = await server.app.inject({ method: 'GET', url: '/api/stats' });
    assert.equal(unauth.statusCode, 401);
    assert.ok(
      spans.some((s) => s.name === 'GET /api/stats' && s.attributes['http.response.status_code'] === 401),
    );
  });

  it('logs JSON by default with the request id, and readable lines with pretty', async () => {
    await server.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'json-log-1' } });
    const line = fx.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.reqId === 'json-log-1');
    assert.ok(line, 'a JSON line carrying the request id');
    assert.equal(typeof line.time, 'number');

    const out: string[] = [];
    const destination = new Writable({
      write(chunk, _e, done) {
        out.push(String(chunk));
        done();
      },
    });
    const pretty = createServerLogger({ pretty: true, destination, secrets: [API_KEY] });
    pretty.info({ apiKey: API_KEY }, `hello with Bearer ${API_KEY}`);
    const text = out.join('');
    assert.match(text, /INFO/);
    assert.match(text, /hello with Bearer \*\*\*/);
    assert.ok(!text.includes(API_KEY));
    assert.throws(() => JSON.parse(text.trim()));
  });
});
