import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import {
  createRedisClient,
  isClusterClient,
  parseRedisUrl,
  redisEndpoints,
  redisUrlPassword,
} from '../../src/cache/index.js';
import { urlPasswords } from '../../src/cli/url-passwords.js';
import { redactConnectionUrl, redactUrl } from '../../src/core/redact.js';

describe('Redis URLs: single and cluster forms', () => {
  it('reads redis+cluster:// seeds, credentials and TLS', () => {
    assert.deepEqual(parseRedisUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001'), {
      kind: 'cluster',
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    const t = parseRedisUrl('rediss+cluster://app:p%40ss:w@r@[::1]:7000,redis-b');
    assert.equal(t?.kind, 'cluster');
    if (t?.kind !== 'cluster') return;
    assert.deepEqual(t.nodes, [
      { host: '::1', port: 7000 },
      { host: 'redis-b', port: 6379 },
    ]);
    assert.equal(t.username, 'app');
    assert.equal(t.password, 'p@ss:w@r', 'everything up to the last @ is user info');
    assert.equal(t.tls, true);
    assert.equal(parseRedisUrl('redis://h:6380/2')?.kind, 'single');
  });

  it('refuses what is neither form', () => {
    for (const bad of [
      'redis+cluster://',
      'redis+cluster://h:7000,',
      'redis+cluster://h:99999',
      'redis+cluster://h:7000,:7001',
      'http://h:6379',
      'redis//h:6379',
    ])
      assert.equal(parseRedisUrl(bad), undefined, bad);
    assert.throws(
      () => createRedisClient('redis+cluster://u:secret-pw@h:7000,:x'),
      (e: Error) => /Invalid Redis URL/.test(e.message) && !e.message.includes('secret-pw'),
    );
  });

  it('names endpoints and hides the password of a cluster URL everywhere', () => {
    const url = 'redis+cluster://app:s3cr%2Ft@10.0.0.1:7000,10.0.0.2:7001';
    assert.equal(redisEndpoints(url), '10.0.0.1:7000,10.0.0.2:7001');
    assert.equal(redactConnectionUrl(url), 'redis+cluster://app:***@10.0.0.1:7000,10.0.0.2:7001');
    assert.equal(
      redactUrl(`cannot reach ${url} now`),
      'cannot reach redis+cluster://app:***@10.0.0.1:7000,10.0.0.2:7001 now',
    );
    assert.equal(redisUrlPassword(url), 's3cr/t');
    assert.ok(urlPasswords(url).includes('s3cr/t'));
    assert.ok(urlPasswords(url).includes('s3cr%2Ft'));
  });

  it('makes a Cluster for redis+cluster://, a Redis otherwise, without connecting', () => {
    const cluster = createRedisClient('redis+cluster://u:pw@127.0.0.1:7000,127.0.0.1:7001', {
      lazyConnect: true,
    });
    const single = createRedisClient('redis://127.0.0.1:6379', { lazyConnect: true });
    try {
      assert.ok(cluster instanceof Cluster && isClusterClient(cluster));
      assert.equal(cluster.options.redisOptions?.password, 'pw');
      assert.equal(cluster.options.redisOptions?.username, 'u');
      assert.ok(single instanceof Redis && !isClusterClient(single));
    } finally {
      cluster.disconnect();
      single.disconnect();
    }
  });
});
