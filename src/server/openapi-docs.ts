import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export interface OpenApiDocsOptions {
  /** Whether the API needs a key (then every route but the public ones says so). */
  authenticated: boolean;
  /** Where clients reach the API (`servers[0].url`); default: relative to the document. */
  publicUrl?: string;
  /** Whether the vendor gateway's routes are on (then its tag is listed). */
  gateway?: boolean;
}

/**
 * The OpenAPI 3 document (built by @fastify/swagger from the route schemas) at /docs/json and
 * /docs/yaml, and Swagger UI at /docs. Must be registered before the routes it documents.
 */
export async function registerOpenApiDocs(app: FastifyInstance, options: OpenApiDocsOptions): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'video-opusclip',
        description:
          'Videos, clips, pipeline jobs and stats of the video-clipping service. Every error is ' +
          'answered with the `Error` schema: `statusCode`, a stable `code`, `error`, `message`, ' +
          '`field` (the request field at fault, on 400s) and `requestId`.',
        version: '0.1.0',
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      servers: [{ url: options.publicUrl ?? '/', description: 'This service' }],
      tags: [
        { name: 'videos', description: 'Videos and their clips' },
        { name: 'jobs', description: 'Pipeline jobs on the BullMQ queue (need Redis)' },
        { name: 'stats', description: 'Counts and metrics' },
        { name: 'health', description: 'Liveness and readiness probes (public)' },
        ...(options.gateway
          ? [
              {
                name: 'gateway',
                description: "The vendor APIs, in their own shapes, with the service's keys",
              },
            ]
          : []),
      ],
      ...(options.authenticated
        ? {
            components: {
              securitySchemes: {
                apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
                bearer: { type: 'http', scheme: 'bearer' },
              },
            },
            security: [{ apiKey: [] }, { bearer: [] }],
          }
        : { security: [] }),
    },
    // A wildcard route (`/gateway/:vendor/*`) is documented with a named parameter: OpenAPI has no `*`.
    transform: ({ schema, url }) => ({ schema: namedWildcard(schema), url: url.replace(/\/\*$/, '/{path}') }),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    logLevel: 'warn',
    // No call to the public validator: the page loads nothing from another origin.
    uiConfig: { validatorUrl: null },
  });
}

/** A route schema whose `*` path parameter is renamed `path` (the rest of the URL, slashes included). */
function namedWildcard<T>(schema: T): T {
  const params = (
    schema as { params?: { properties?: Record<string, unknown>; required?: string[] } } | undefined
  )?.params;
  if (!params?.properties || !('*' in params.properties)) return schema;
  const { '*': wildcard, ...rest } = params.properties;
  return {
    ...schema,
    params: {
      ...params,
      properties: { ...rest, path: wildcard },
      ...(params.required ? { required: params.required.map((r) => (r === '*' ? 'path' : r)) } : {}),
    },
  };
}
