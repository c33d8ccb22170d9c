import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordingLogger } from '../../src/testing/index.js';

describe('recordingLogger', () => {
  it('keeps every call with its level, message and fields, in order', () => {
    const logger = recordingLogger();
    logger.info({ a: 1 }, 'started');
    logger.warn({}, 'slow');
    logger.error({ err: 'x' });
    logger.warn({ b: 2 }, 'slower');
    assert.deepEqual(logger.records, [
      { level: 'info', msg: 'started', obj: { a: 1 } },
      { level: 'warn', msg: 'slow', obj: {} },
      { level: 'error', msg: undefined, obj: { err: 'x' } },
      { level: 'warn', msg: 'slower', obj: { b: 2 } },
    ]);
    assert.deepEqual(logger.messages('warn'), ['slow', 'slower']);
    assert.deepEqual(logger.messages('error'), ['']);
    assert.deepEqual(logger.messages('debug'), []);
  });
});
