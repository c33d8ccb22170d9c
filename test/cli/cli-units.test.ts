import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { boundedShutdown, EXIT_INTERRUPTED } from '../../src/cli/bounded-shutdown.js';
import { hostName, integerIn, portNumber, rate } from '../../src/cli/option-parsers.js';
import { colorsAllowed } from '../../src/cli/output.js';
import { countingSources, progressReporter } from '../../src/cli/progress-reporter.js';
import type { VideoOutcome } from '../../src/pipeline/video-pipeline.js';

describe('option parsers', () => {
  it('integers: plain digits within the range only', () => {
    const limit = integerIn(1, 1000);
    assert.equal(limit('50'), 50);
    assert.equal(limit(' 7 '), 7);
    for (const bad of ['0', '1001', '-1', '1e3', '0x10', '2.0', '', 'ten', '99999999999999999999']) {
      assert.throws(() => limit(bad), InvalidArgumentError, bad);
    }
    assert.equal(portNumber('0'), 0);
    assert.equal(portNumber('65535'), 65535);
    assert.throws(() => portNumber('65536'), /0 to 65535/);
  });

  it('rates: decimals from 0 to 1', () => {
    assert.equal(rate('0'), 0);
    assert.equal(rate('0.25'), 0.25);
    assert.equal(rate('.5'), 0.5);
    assert.equal(rate('1'), 1);
    for (const bad of ['1.01', '-0.1', 'NaN', 'Infinity', '1e-1', '', 'half']) {
      assert.throws(() => rate(bad), InvalidArgumentError, bad);
    }
  });

  it('hosts: names and addresses, nothing with spaces or slashes', () => {
    assert.equal(hostName('127.0.0.1'), '127.0.0.1');
    assert.equal(hostName('0.0.0.0'), '0.0.0.0');
    assert.equal(hostName('[::1]'), '::1');
    assert.equal(hostName('api.internal'), 'api.internal');
    for (const bad of ['a b', 'http://h', '', 'h/x'])
      assert.throws(() => hostName(bad), InvalidArgumentError, bad);
  });
});

describe('colorsAllowed', () => {
  it('NO_COLOR wins, FORCE_COLOR forces, otherwise only a terminal that is not dumb', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    assert.equal(colorsAllowed(tty, {}), true);
    assert.equal(colorsAllowed(pipe, {}), false);
    assert.equal(colorsAllowed(tty, { NO_COLOR: '1' }), false);
    assert.equal(colorsAllowed(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset');
    assert.equal(colorsAllowed(pipe, { FORCE_COLOR: '1' }), true);
    assert.equal(colorsAllowed(pipe, { FORCE_COLOR: '0' }), false);
    assert.equal(colorsAllowed(tty, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
    assert.equal(colorsAllowed(tty, { TERM: 'dumb' }), false);
  });
});

describe('boundedShutdown', () => {
  it('first signal stops, second aborts, and the bound forces exit status 130', async () => {
    const notices: string[] = [];
    const shutdown = boundedShutdown({
      boundMs: 150,
      notice: (l) => void notices.push(l),
      stopping: 'draining',
    });
    try {
      assert.equal(shutdown.signalled, false);
      process.emit('SIGTERM', 'SIGTERM');
      assert.equal(shutdown.stopSignal.aborted, true);
      assert.equal(shutdown.signal.aborted, false);
      assert.match(notices[0]!, /SIGTERM: draining/);
      process.emit('SIGINT', 'SIGINT');
      assert.equal(shutdown.signal.aborted, true);
      const started = Date.now();
      assert.equal(await shutdown.forced, EXIT_INTERRUPTED);
      assert.ok(Date.now() - started < 1_000);
      assert.match(notices.at(-1)!, /exiting/);
    } finally {
      shutdown.dispose();
    }
    assert.equal(process.listenerCount('SIGTERM'), 0, 'dispose removes the handlers');
  });
});

describe('progress reporter', () => {
  const outcome = (i: number, status: VideoOutcome['status']): VideoOutcome =>
    ({ url: `u${i}`, youtubeId: `id${i}`, status, clips: 1 }) as VideoOutcome;

  it('a bar on a terminal: right for any number of videos (no wrap at 30)', async () => {
    const stream = Object.assign(new PassThrough(), {
      isTTY: true,
      columns: 200,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    let text = '';
    stream.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const lines: string[] = [];
    const progress = progressReporter({
      io: { out: () => {}, err: (l) => void lines.push(l) },
      bar: true,
      stream: stream as unknown as NodeJS.WritableStream,
    });
    const urls = Array.from({ length: 45 }, (_, i) => `https://youtu.be/v${i}`);
    for await (const _ of countingSources(['# comment', '', ...urls], progress.read)) {
      // read ahead, as the pipeline does
    }
    for (let i = 0; i < 45; i++) {
      progress.onEvent({
        type: 'video',
        outcome: outcome(i, i % 9 === 0 ? 'failed' : 'completed'),
        done: i + 1,
      });
    }
    progress.done();
    assert.deepEqual(lines, [], 'nothing on the plain-line path');
    assert.match(text, /\[#{30}\] 45\/45 \| 40 done, 5 failed, 0 skipped, 0 bad input/);
  });

  it('plain lines when not on a terminal', () => {
    const lines: string[] = [];
    const progress = progressReporter({ io: { out: () => {}, err: (l) => void lines.push(l) }, bar: false });
    progress.onEvent({ type: 'video', outcome: outcome(1, 'completed'), done: 1 });
    progress.onEvent({
      type: 'bad-input',
      input: { url: 'x', line: 2, code: 'ERR', reason: 'not a YouTube URL' },
    });
    progress.done();
    assert.deepEqual(lines, ['completed   id1 1 clips', 'bad input (line 2): not a YouTube URL']);
  });
});
