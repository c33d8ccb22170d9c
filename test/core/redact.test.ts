import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactConnectionUrl, redactSecrets, redactUrl } from '../../src/core/redact.js';

const SECRET = 'pw-S3cret';

describe('redactConnectionUrl: the password is hidden whatever the shape of the URL', () => {
  const cases: Array<[string, string]> = [
    [`postgres://app:${SECRET}@db:5432/x`, 'postgres://app:***@db:5432/x'],
    [`redis://:${SECRET}@127.0.0.1:6379/0`, 'redis://:***@127.0.0.1:6379/0'],
    [`rediss://default:${SECRET}@cache.example:6380`, 'rediss://default:***@cache.example:6380'],
    [`postgres//u:${SECRET}@h/db`, 'postgres//u:***@h/db'],
    [`mysql:u:${SECRET}@h`, 'mysql:u:***@h'],
    [`mysql:${SECRET}@h`, 'mysql:***@h'],
    [`postgres:/u:${SECRET}@h/db`, 'postgres:/u:***@h/db'],
    [`u:${SECRET}@h:5432/db`, 'u:***@h:5432/db'],
    [`postgres://u:a@b/${SECRET}@h/db`, 'postgres://u:***@h/db'],
    [`postgres://u:${SECRET}:x@h/db`, 'postgres://u:***@h/db'],
    [`postgres://h/db?password=${SECRET}&ssl=1`, 'postgres://h/db?password=***&ssl=1'],
  ];
  for (const [input, expected] of cases) {
    it(input.replace(SECRET, '<pw>'), () => {
      const out = redactConnectionUrl(input);
      assert.equal(out, expected);
      assert.ok(!out.includes(SECRET));
    });
  }

  it('leaves URLs without a password as they are', () => {
    assert.equal(redactConnectionUrl('redis://127.0.0.1:6379/2'), 'redis://127.0.0.1:6379/2');
    assert.equal(redactConnectionUrl('postgres://postgres@h/db'), 'postgres://postgres@h/db');
    assert.equal(redactConnectionUrl('sqlite:./opusclip.db'), 'sqlite:./opusclip.db');
  });
});

describe('redactUrl in free text', () => {
  it('hides well-formed and malformed user:password@ runs inside a message', () => {
    for (const text of [
      `Invalid database URL "postgres//u:${SECRET}@h/db": it is not a URL`,
      `cannot parse mysql:u:${SECRET}@h`,
      `connect to redis://:${SECRET}@10.0.0.1:6379 failed`,
    ]) {
      const out = redactUrl(text);
      assert.ok(!out.includes(SECRET), out);
      assert.match(out, /\*\*\*@/);
    }
    assert.equal(redactUrl('no credentials here: redis://h:6379'), 'no credentials here: redis://h:6379');
  });

  it('redactSecrets also hides listed literals', () => {
    const out = redactSecrets(`AUTH ${SECRET} failed for redis://:${SECRET}@h`, [SECRET]);
    assert.ok(!out.includes(SECRET));
  });

  it('redactSecrets hides the URL-encoded form of a listed literal (a request path or query)', () => {
    const key = 'k3y+with/slash=';
    const out = redactSecrets(`GET /api/videos/${encodeURIComponent(key)}/clips`, [key]);
    assert.equal(out, 'GET /api/videos/***/clips');
  });
});
