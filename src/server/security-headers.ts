import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

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

/** Security headers on every answer (@fastify/helmet), API errors and static files included. */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, {
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
  });
}
