import { Writable } from 'node:stream';
import { createDatabase, type Database } from '../../src/db/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import {
  createGateway,
  createServer,
  createServerLogger,
  type Gateway,
  type GatewayOptions,
  gatewaySandboxRoots,
  type OpusServer,
} from '../../src/server/index.js';
import { type StoreSchema, setupStore } from '../../src/store/index.js';

/** The accounts' real keys: the sandbox accepts only these, so a forwarded call proves the swap. */
export const VENDOR_KEYS = {
  youtube: 'yt-vendor-KEY-aaaaaaaaaaaaaaaa',
  openai: 'sk-vendor-KEY-bbbbbbbbbbbbbbbb',
  stability: 'sk-stab-vendor-KEY-cccccccccccc',
  elevenlabs: 'el-vendor-KEY-dddddddddddddddd',
} as const;

export const SERVICE_KEYS = [
  'svc-gw-key-one-0123456789',
  'svc-gw-key-two-0123456789',
  'svc-gw-key-three-012345',
];

export interface GatewayFixture {
  sandbox: Sandbox;
  db: Database<StoreSchema>;
  gateway: Gateway;
  server: OpusServer;
  url: string;
  logLines: string[];
  close(): Promise<void>;
}

/** A sandbox that takes only the vendor keys, and a service (SQLite in memory) whose gateway forwards to it. */
export async function openGateway(
  options: {
    sandbox?: Sandbox;
    gateway?: Partial<GatewayOptions>;
    sandboxConfig?: Parameters<typeof createSandbox>[0];
  } = {},
): Promise<GatewayFixture> {
  const ownSandbox = options.sandbox === undefined;
  const sandbox =
    options.sandbox ??
    (await createSandbox({
      keys: {
        youtube: [VENDOR_KEYS.youtube],
        openai: [VENDOR_KEYS.openai],
        stability: [VENDOR_KEYS.stability],
        elevenlabs: [VENDOR_KEYS.elevenlabs],
      },
      ...(options.sandboxConfig ?? {}),
    }));
  const roots = gatewaySandboxRoots(sandbox.url);
  const db = await createDatabase<StoreSchema>({ url: 'sqlite::memory:' });
  await setupStore(db);
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const gateway = createGateway({
    ...options.gateway,
    vendors: options.gateway?.vendors ?? {
      youtube: { apiKey: VENDOR_KEYS.youtube, baseUrl: roots.youtube },
      openai: { apiKey: VENDOR_KEYS.openai, baseUrl: roots.openai },
      stability: { apiKey: VENDOR_KEYS.stability, baseUrl: roots.stability },
      elevenlabs: { apiKey: VENDOR_KEYS.elevenlabs, baseUrl: roots.elevenlabs },
    },
  });
  const server = await createServer({
    db,
    auth: { apiKeys: SERVICE_KEYS },
    // The test's own logger is given no secrets: the gateway must keep the vendor keys out by itself.
    logger: createServerLogger({ level: 'debug', destination }),
    gateway,
  });
  const url = await server.listen();
  return {
    sandbox,
    db,
    gateway,
    server,
    url,
    logLines,
    async close() {
      await server.close();
      await gateway.close();
      await db.close();
      if (ownSandbox) await sandbox.close();
    },
  };
}

/** A Stability v2beta generation through the gateway at `url`, as a caller with the first service key. */
export async function generateThroughGateway(
  url: string,
  model: 'core' | 'ultra' | 'sd3',
  fields: Record<string, string>,
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  const res = await fetch(`${url}/gateway/stability/v2beta/stable-image/generate/${model}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVICE_KEYS[0]}`, accept: 'image/*' },
    body: form,
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}
