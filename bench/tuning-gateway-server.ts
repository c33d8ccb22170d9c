// The service with its vendor gateway in a process of its own, in front of the sandbox at argv[2], taking
// the service key argv[3]: the gateway benchmark's subject. Prints its URL on the first stdout line;
// answers `cpu` on stdin with its CPU time so far (µs, user + system) on one stdout line; stops when
// stdin closes.
import { createInterface } from 'node:readline';
import { createDatabase } from '../src/db/index.js';
import { Budget } from '../src/resilience/index.js';
import { createGateway, createServer, createServerLogger, gatewaySandboxRoots } from '../src/server/index.js';
import { type StoreSchema, setupStore } from '../src/store/index.js';

const [sandboxUrl, serviceKey] = process.argv.slice(2);
if (!sandboxUrl || !serviceKey) throw new Error('usage: tuning-gateway-server <sandbox url> <service key>');
const db = await createDatabase<StoreSchema>({ url: 'sqlite::memory:' });
await setupStore(db);
const gateway = createGateway({
  vendors: {
    openai: {
      apiKey: 'bench-vendor-key',
      baseUrl: gatewaySandboxRoots(sandboxUrl).openai,
      // An account whose limits the benchmark does not reach: the budget is charged, never waits.
      budget: new Budget({
        name: 'openai',
        windows: [
          { name: 'requests', limit: 1e12, windowMs: 60_000 },
          { name: 'tokens', limit: 1e15, windowMs: 60_000 },
        ],
      }),
    },
  },
  callerRequestsPerMinute: 0,
  maxConnections: 64,
});
const server = await createServer({
  db,
  auth: { apiKeys: [serviceKey] },
  // stdout carries only the URL line and the answers to `cpu`.
  logger: createServerLogger({ level: 'error', destination: process.stderr }),
  gateway,
});
process.stdout.write(`${await server.listen()}\n`);
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line.trim() !== 'cpu') return;
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${user + system}\n`);
});
commands.on('close', () => {
  void (async () => {
    await server.close();
    await gateway.close();
    await db.close();
    process.exit(0);
  })();
});
