import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/core/index.js';
import { resolveHttpOptions } from '../../src/http/http-defaults.js';
import {
  type APIConfig,
  clientOptionsFromApiConfig,
  HTTP_DEFAULTS,
  HttpClient,
  type HttpClientOptions,
} from '../../src/http/index.js';

describe('HTTP defaults', () => {
  it('resolves every default from the one table', () => {
    const r = resolveHttpOptions({ service: 's', baseUrl: 'http://127.0.0.1:1' });
    assert.equal(r.attemptTimeoutMs, HTTP_DEFAULTS.attemptTimeoutMs);
    assert.equal(r.deadlineMs, HTTP_DEFAULTS.deadlineMs);
    assert.equal(r.maxRetries, HTTP_DEFAULTS.maxRetries);
    assert.equal(r.cacheTtlMs, HTTP_DEFAULTS.cacheTtlMs);
    assert.equal(r.connections, 100);
    assert.equal(r.otherOriginConnections, 10);
    assert.equal(r.pendingLimit, 100 + HTTP_DEFAULTS.maxQueue);
  });

  it('sizes the base pool by the smaller connection limit, and other origins by maxConnectionsPerHost', () => {
    const r = resolveHttpOptions({
      service: 's',
      baseUrl: 'http://127.0.0.1:1',
      maxConnections: 8,
      maxConnectionsPerHost: 20,
      maxQueue: 2,
    });
    assert.equal(r.connections, 8);
    assert.equal(r.otherOriginConnections, 20);
    assert.equal(r.pendingLimit, 10);
    assert.equal(resolveHttpOptions({ service: 's', baseUrl: 'x', maxConnections: 0 }).connections, 1);
  });

  it('refuses timeoutMs: the per-attempt and whole-call bounds have their own names', () => {
    const options = { service: 's', baseUrl: 'http://127.0.0.1:1', timeoutMs: 1_000 } as HttpClientOptions;
    assert.throws(
      () => new HttpClient(options),
      (e) => e instanceof ConfigError && /attemptTimeoutMs/.test(e.message),
    );
  });

  it('refuses second-valued durations in an APIConfig', async () => {
    for (const name of ['timeout', 'retryDelay', 'cacheTtl']) {
      const config = { baseUrl: 'http://127.0.0.1:1', [name]: 30 } as APIConfig;
      assert.throws(
        () => clientOptionsFromApiConfig('s', config),
        (e) => e instanceof ConfigError && e.message.includes(name),
      );
    }
    const options = clientOptionsFromApiConfig('s', { baseUrl: 'http://127.0.0.1:1', cacheTtlMs: 1_500 });
    assert.equal(options.cacheTtlMs, 1_500);
  });
});
