import fastifyHelmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * The Content-Security-Policy of every answer. The dashboard and the Swagger UI load only their own
 * scripts, styles, images and media from this origin; Swagger UI sets inline `style` attributes, hence
 * 'unsafe-inline' for styles (never for scripts). No `upgrade-insecure-requests`: the service is often
 * reached over plain HTTP on a private address, where upgrading its own requests would break the pages.
 */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  mediaSrc: ["'self'"],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  upgradeInsecureRequests: null,
} as const;

const HELMET_OPTIONS = {
  global: true,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: CONTENT_SECURITY_POLICY as unknown as Record<string, string[] | null>,
  },
  // Helmet's default `same-origin` would also stop a CORS-enabled API client from reading answers.
  crossOriginResourcePolicy: { policy: 'same-site' },
  referrerPolicy: { policy: 'no-referrer' },
  // The same as the CSP's frame-ancestors 'none', for browsers that only read the older header.
  xFrameOptions: { action: 'deny' },
  // HSTS means something only behind TLS, which a proxy in front terminates and sets.
  strictTransportSecurity: false,
} as const;

/**
 * Security headers on every answer, API errors and static files included: the ones @fastify/helmet sets
 * with HELMET_OPTIONS. The plugin rebuilds helmet's middleware (and re-parses the CSP) on every request;
 * the headers never change, so they are read once from a probe instance and set as they are.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  const headers = await helmetHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    const raw = reply.raw;
    for (const [name, value] of headers) raw.setHeader(name, value);
    done();
  });
}

/** The headers @fastify/helmet sets on an answer, read from a throwaway instance. */
async function helmetHeaders(): Promise<Array<[string, string]>> {
  const probe = Fastify();
  try {
    await probe.register(fastifyHelmet, HELMET_OPTIONS);
    // Fastify keeps its own headers until it writes the head: the raw ones here are helmet's alone.
    probe.get('/', (_request, reply) => reply.raw.getHeaders());
    const answer = await probe.inject('/');
    return Object.entries(answer.json() as Record<string, string>);
  } finally {
    await probe.close();
  }
}
