import { readFileSync } from 'node:fs';
import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Vendor } from './config.js';
import { ContractViolationError, SandboxError, SandboxErrorCode } from './errors.js';

type Json = { [key: string]: unknown };
type AjvInstance = Ajv | Ajv2020;

// ajv-formats is CommonJS; under NodeNext its default export arrives either bare or as `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: AjvInstance) => void;

export interface ContractRequest {
  method: string;
  /** With or without the sandbox's vendor prefix (`/openai/v1/chat/completions` or `/v1/chat/completions`). */
  path: string;
  query?: Record<string, string | string[] | undefined>;
  /** Header names in any case. */
  headers?: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or multipart fields as an object (files as any non-string value). */
  body?: unknown;
}

export interface ContractResponse {
  status: number;
  contentType?: string;
  /** Parsed JSON, JSON text, text, or bytes (Buffer / Uint8Array) for binary media. */
  body: unknown;
}

export interface ContractIssue {
  /** e.g. `openai POST /chat/completions`. */
  endpoint: string;
  /** JSON pointer into the checked value: `/body/messages`, `/query/part`, `/response/items/0/...`. */
  pointer: string;
  message: string;
}

export interface ContractResult {
  valid: boolean;
  endpoint: string;
  issues: ContractIssue[];
}

type SpecKey = 'openai' | 'elevenlabs' | 'stability-v1' | 'stability-v2' | 'youtube';

interface SpecInfo {
  file: string;
  dialect: '2020' | 'draft7';
  /** Prefix the spec's own paths lack (OpenAI's server URL ends in /v1). */
  basePath: string;
}

const SPECS: Record<SpecKey, SpecInfo> = {
  openai: { file: 'openai.chat.subset.json', dialect: '2020', basePath: '/v1' },
  elevenlabs: { file: 'elevenlabs.subset.json', dialect: '2020', basePath: '' },
  'stability-v2': { file: 'stability.v2beta.generate.reconstructed.json', dialect: '2020', basePath: '' },
  'stability-v1': { file: 'stability.v1.subset.patched.json', dialect: 'draft7', basePath: '' },
  youtube: { file: 'youtube.v3.subset.jsonschema.json', dialect: '2020', basePath: '' },
};

const VENDOR_SPECS: Record<Vendor, SpecKey[]> = {
  openai: ['openai'],
  elevenlabs: ['elevenlabs'],
  stability: ['stability-v2', 'stability-v1'],
  youtube: ['youtube'],
};

/** Google's global discovery parameters, accepted on every YouTube method. */
const YOUTUBE_GLOBAL_PARAMS = new Set([
  'key',
  'access_token',
  'oauth_token',
  'alt',
  'fields',
  'prettyPrint',
  'quotaUser',
  'callback',
  'uploadType',
  'upload_protocol',
  '$.xgafv',
]);

/**
 * Error bodies the specs do not describe, from the vendors' docs (see the API contracts reference):
 * checked so that emulated errors keep the shape clients parse.
 */
const EXTENSION_ERROR_SCHEMAS: Partial<Record<SpecKey, Json>> = {
  youtube: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'errors'],
        properties: {
          code: { type: 'integer' },
          message: { type: 'string' },
          status: { type: 'string' },
          errors: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              required: ['message', 'domain', 'reason'],
              properties: {
                message: { type: 'string' },
                domain: { type: 'string' },
                reason: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
  elevenlabs: {
    type: 'object',
    required: ['detail'],
    properties: {
      detail: {
        type: 'object',
        required: ['status', 'message'],
        properties: { status: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

interface Operation {
  specKey: SpecKey;
  vendor: Vendor;
  method: string;
  template: string;
  regex: RegExp;
  params: string[];
  endpoint: string;
  /** OpenAPI operation object, or a YouTube x-methods entry. */
  op: Json;
  pathItem: Json;
}

interface LoadedSpec {
  raw: Json;
  id: string;
  strict: AjvInstance;
  coercing: AjvInstance;
  operations: Operation[];
}

/** `{x}` templates to an anchored regex with one group per parameter. */
function templateRegex(template: string): { regex: RegExp; params: string[] } {
  const params: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (m) {
        params.push(m[1]!.replace(/^\+/, ''));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { regex: new RegExp(`^${source}/?$`), params };
}

/**
 * OpenAPI's `nullable: true` is not JSON Schema: turn it into a type union (or an anyOf with null
 * when there is no type), and point component refs at the `$defs`/`definitions` of a root schema.
 */
function preprocess(value: unknown, rewriteRef: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => preprocess(v, rewriteRef));
  if (!value || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    if (k === '$ref' && typeof v === 'string') out[k] = rewriteRef(v);
    else if (k === 'example' || k === 'examples' || k === 'x-oaiMeta') continue;
    else out[k] = preprocess(v, rewriteRef);
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
    if (Array.isArray(out.type))
      return out.type.includes('null') ? out : { ...out, type: [...out.type, 'null'] };
    return { anyOf: [out, { type: 'null' }] };
  }
  if ('nullable' in out) delete out.nullable;
  return out;
}

function makeAjv(dialect: '2020' | 'draft7', coerce: boolean): AjvInstance {
  const options = {
    strict: false,
    allErrors: true,
    coerceTypes: coerce,
    validateFormats: true,
    logger: false,
  } as const;
  const ajv: AjvInstance = dialect === '2020' ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  // Binary bodies are checked as media elsewhere; here the format only needs to be known to ajv.
  ajv.addFormat('binary', true);
  for (const name of ['int32', 'int64', 'float', 'double'])
    ajv.addFormat(name, { type: 'number', validate: () => true });
  ajv.addFormat('uint32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('uint64', /^\d+$/);
  ajv.addFormat('google-datetime', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('google-duration', /^-?\d+(\.\d+)?s$/);
  ajv.addFormat('byte', /^[A-Za-z0-9+/_-]*={0,2}$/);
  return ajv;
}

function mediaBase(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function normalizeMedia(contentType: string): string {
  return contentType.toLowerCase().replace(/\s+/g, '');
}

function isJsonMedia(contentType: string): boolean {
  const base = mediaBase(contentType);
  return base === 'application/json' || base.endsWith('+json');
}

function lowerKeys(
  record: Record<string, string | string[] | undefined> = {},
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(record)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function escapePointer(part: string): string {
  return part.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Validates requests and responses against the vendors' published specs (see specs/README.md).
 * Specs are read on first use of a vendor and each schema is compiled once, on first use.
 */
export class ContractValidator {
  readonly #specDir: URL;
  readonly #specs = new Map<SpecKey, LoadedSpec>();
  readonly #compiled = new Map<string, ValidateFunction>();

  /** `specDir` defaults to the repository's `specs/` (two levels above this file in src/ and dist/). */
  constructor(options: { specDir?: URL } = {}) {
    this.#specDir = options.specDir ?? new URL('../../specs/', import.meta.url);
  }

  /** The operation for (vendor, method, path), or undefined when the spec subset has none. */
  findOperation(
    vendor: Vendor,
    method: string,
    path: string,
  ): { endpoint: string; template: string } | undefined {
    const found = this.#find(vendor, method, path);
    return found && { endpoint: found.op.endpoint, template: found.op.template };
  }

  validateRequest(vendor: Vendor, request: ContractRequest): ContractResult {
    const found = this.#requireOperation(vendor, request.method, request.path);
    const { op, pathValues } = found;
    const issues: ContractIssue[] = [];
    const issue = (pointer: string, message: string): void => {
      issues.push({ endpoint: op.endpoint, pointer, message });
    };
    if (op.specKey === 'youtube') this.#checkYouTubeParams(op, request, pathValues, issue);
    else this.#checkOpenApiRequest(op, request, pathValues, issue);
    return { valid: issues.length === 0, endpoint: op.endpoint, issues };
  }

  validateResponse(vendor: Vendor, method: string, path: string, response: ContractResponse): ContractResult {
    const { op } = this.#requireOperation(vendor, method, path);
    const issues: ContractIssue[] = [];
    const issue = (pointer: string, message: string): void => {
      issues.push({ endpoint: op.endpoint, pointer, message });
    };
    if (op.specKey === 'youtube') this.#checkYouTubeResponse(op, response, issue);
    else this.#checkOpenApiResponse(op, response, issue);
    return { valid: issues.length === 0, endpoint: op.endpoint, issues };
  }

  /** Throws ContractViolationError (ERR_SANDBOX_CONTRACT) listing every issue. */
  assertRequest(vendor: Vendor, request: ContractRequest): void {
    ContractValidator.#throwIfInvalid(this.validateRequest(vendor, request), 'request');
  }

  assertResponse(vendor: Vendor, method: string, path: string, response: ContractResponse): void {
    ContractValidator.#throwIfInvalid(this.validateResponse(vendor, method, path, response), 'response');
  }

  static #throwIfInvalid(result: ContractResult, what: string): void {
    if (result.valid) return;
    const list = result.issues.map((i) => `${i.pointer || '/'}: ${i.message}`).join('; ');
    throw new ContractViolationError(`${result.endpoint} ${what} violates the spec: ${list}`, {
      details: { endpoint: result.endpoint, issues: result.issues },
    });
  }

  #requireOperation(
    vendor: Vendor,
    method: string,
    path: string,
  ): { op: Operation; pathValues: Record<string, string> } {
    const found = this.#find(vendor, method, path);
    if (!found) {
      throw new SandboxError(
        SandboxErrorCode.UnknownOperation,
        `No ${vendor} operation for ${method.toUpperCase()} ${path}`,
        {
          details: { vendor, method, path },
        },
      );
    }
    return found;
  }

  #find(
    vendor: Vendor,
    method: string,
    rawPath: string,
  ): { op: Operation; pathValues: Record<string, string> } | undefined {
    const path = rawPath.startsWith('http') ? new URL(rawPath).pathname : (rawPath.split('?')[0] ?? rawPath);
    // The sandbox prefix is optional, and YouTube's real path itself starts with /youtube: try both.
    const candidates = path.startsWith(`/${vendor}/`) ? [path.slice(vendor.length + 1), path] : [path];
    for (const candidate of candidates) {
      for (const key of VENDOR_SPECS[vendor]) {
        const spec = this.#load(key);
        let local = candidate;
        const base = SPECS[key].basePath;
        if (base && local.startsWith(`${base}/`)) local = local.slice(base.length);
        if (key === 'youtube') local = local.replace(/^\//, '');
        for (const op of spec.operations) {
          if (op.method !== method.toUpperCase()) continue;
          const m = op.regex.exec(local);
          if (!m) continue;
          const pathValues: Record<string, string> = {};
          op.params.forEach((name, i) => {
            pathValues[name] = decodeURIComponent(m[i + 1] ?? '');
          });
          return { op, pathValues };
        }
      }
    }
    return undefined;
  }

  #load(key: SpecKey): LoadedSpec {
    const cached = this.#specs.get(key);
    if (cached) return cached;
    const info = SPECS[key];
    let raw: Json;
    try {
      raw = JSON.parse(readFileSync(new URL(info.file, this.#specDir), 'utf8')) as Json;
    } catch (error) {
      throw new SandboxError(SandboxErrorCode.Spec, `Cannot read spec ${info.file}`, {
        cause: error,
        details: { file: info.file },
      });
    }
    const id = `sandbox:${key}`;
    const defsKey = info.dialect === '2020' ? '$defs' : 'definitions';
    let root: Json;
    if (key === 'youtube') {
      const { 'x-methods': _methods, $id: _id, ...rest } = raw;
      root = { ...(preprocess(rest, (ref) => ref.replace(/^#/, `${id}#`)) as Json), $id: id };
    } else {
      const schemas = ((raw.components as Json | undefined)?.schemas ?? {}) as Json;
      const rewrite = (ref: string): string => ref.replace(/^#\/components\/schemas\//, `${id}#/${defsKey}/`);
      root = { $id: id, [defsKey]: preprocess(schemas, rewrite) };
    }
    const strict = makeAjv(info.dialect, false);
    const coercing = makeAjv(info.dialect, true);
    strict.addSchema(root as AnySchema);
    coercing.addSchema(root as AnySchema);
    const spec: LoadedSpec = { raw, id, strict, coercing, operations: [] };
    const vendor = (Object.entries(VENDOR_SPECS).find(([, keys]) => keys.includes(key))?.[0] ??
      'openai') as Vendor;
    if (key === 'youtube') {
      for (const [name, method] of Object.entries((raw['x-methods'] ?? {}) as Record<string, Json>)) {
        const template = String(method.path);
        const { regex, params } = templateRegex(template);
        spec.operations.push({
          specKey: key,
          vendor,
          method: String(method.httpMethod).toUpperCase(),
          template,
          regex,
          params,
          endpoint: `youtube ${name} (${String(method.httpMethod)} /${template})`,
          op: method,
          pathItem: {},
        });
      }
    } else {
      for (const [template, pathItem] of Object.entries((raw.paths ?? {}) as Record<string, Json>)) {
        const { regex, params } = templateRegex(template);
        for (const [method, op] of Object.entries(pathItem)) {
          if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
          spec.operations.push({
            specKey: key,
            vendor,
            method: method.toUpperCase(),
            template,
            regex,
            params,
            endpoint: `${vendor} ${method.toUpperCase()} ${info.basePath}${template}`,
            op: op as Json,
            pathItem,
          });
        }
      }
    }
    this.#specs.set(key, spec);
    return spec;
  }

  /** Follows `#/components/...` refs of the raw document (responses, parameters, request bodies). */
  #deref(spec: LoadedSpec, value: unknown): Json {
    let current = value as Json;
    for (let i = 0; i < 16 && current && typeof current.$ref === 'string'; i++) {
      const parts = current.$ref.replace(/^#\//, '').split('/');
      let target: unknown = spec.raw;
      for (const part of parts)
        target = (target as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      current = target as Json;
    }
    return current ?? {};
  }

  #validator(spec: LoadedSpec, cacheKey: string, schema: unknown, coerce: boolean): ValidateFunction {
    const key = `${spec.id}:${coerce}:${cacheKey}`;
    let fn = this.#compiled.get(key);
    if (!fn) {
      const info = SPECS[spec.id.replace('sandbox:', '') as SpecKey];
      const defsKey = info.dialect === '2020' ? '$defs' : 'definitions';
      const prepared = preprocess(schema, (ref) =>
        ref
          .replace(/^#\/components\/schemas\//, `${spec.id}#/${defsKey}/`)
          .replace(/^#\/\$defs\//, `${spec.id}#/$defs/`),
      );
      try {
        fn = (coerce ? spec.coercing : spec.strict).compile(prepared as AnySchema);
      } catch (error) {
        throw new SandboxError(SandboxErrorCode.Spec, `Cannot compile schema ${cacheKey}`, { cause: error });
      }
      this.#compiled.set(key, fn);
    }
    return fn;
  }

  #report(
    errors: ErrorObject[] | null | undefined,
    base: string,
    issue: (pointer: string, message: string) => void,
  ): void {
    // allOf/anyOf failures repeat themselves; one line per (pointer, message) is enough.
    const seen = new Set<string>();
    for (const e of errors ?? []) {
      const extra =
        e.keyword === 'required'
          ? `/${escapePointer(String((e.params as { missingProperty?: string }).missingProperty))}`
          : e.keyword === 'additionalProperties'
            ? `/${escapePointer(String((e.params as { additionalProperty?: string }).additionalProperty))}`
            : '';
      const pointer = `${base}${e.instancePath}${extra}`;
      const message = `${e.message ?? e.keyword}${e.keyword === 'enum' ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})` : ''}`;
      const line = `${pointer} ${message}`;
      if (seen.has(line)) continue;
      seen.add(line);
      issue(pointer, message);
    }
  }

  #checkOpenApiRequest(
    op: Operation,
    request: ContractRequest,
    pathValues: Record<string, string>,
    issue: (pointer: string, message: string) => void,
  ): void {
    const spec = this.#load(op.specKey);
    const headers = lowerKeys(request.headers);
    const query = request.query ?? {};
    const params = [
      ...((op.pathItem.parameters as unknown[]) ?? []),
      ...((op.op.parameters as unknown[]) ?? []),
    ].map((p) => this.#deref(spec, p));
    for (const p of params) {
      const name = String(p.name);
      const where = String(p.in);
      let value: string | string[] | undefined;
      if (where === 'path') value = pathValues[name];
      else if (where === 'query') value = query[name];
      else if (where === 'header') value = headers[name.toLowerCase()];
      else continue;
      const pointer = `/${where}/${escapePointer(name)}`;
      if (value === undefined || value === '') {
        if (p.required === true) issue(pointer, `required ${where} parameter "${name}" is missing`);
        continue;
      }
      if (!p.schema) continue;
      const fn = this.#validator(
        spec,
        `${op.endpoint}:param:${where}:${name}`,
        {
          type: 'object',
          properties: { v: p.schema },
        },
        true,
      );
      if (!fn({ v: value }))
        this.#report(fn.errors, pointer, (ptr, msg) => issue(ptr.replace(`${pointer}/v`, pointer), msg));
    }
    const requestBody = op.op.requestBody ? this.#deref(spec, op.op.requestBody) : undefined;
    if (!requestBody) return;
    if (request.body === undefined) {
      if (requestBody.required === true) issue('/body', 'request body is required');
      return;
    }
    const content = (requestBody.content ?? {}) as Record<string, Json>;
    const declared = Object.keys(content);
    const contentType = headers['content-type'] ?? declared[0] ?? 'application/json';
    const media = declared.find((d) => mediaBase(d) === mediaBase(contentType));
    if (!media) {
      issue(
        '/headers/content-type',
        `content type ${mediaBase(contentType)} not accepted (expected ${declared.join(', ')})`,
      );
      return;
    }
    const schema = content[media]?.schema;
    if (!schema) return;
    if (mediaBase(media) === 'multipart/form-data') {
      // Form fields arrive as strings (coerced like the server would); files stand in as a placeholder.
      const fields: Json = {};
      for (const [k, v] of Object.entries((request.body ?? {}) as Json))
        fields[k] = typeof v === 'string' ? v : '<binary>';
      const fn = this.#validator(spec, `${op.endpoint}:body:${media}`, schema, true);
      if (!fn(fields)) this.#report(fn.errors, '/body', issue);
      return;
    }
    const fn = this.#validator(spec, `${op.endpoint}:body:${media}`, schema, false);
    if (!fn(request.body)) this.#report(fn.errors, '/body', issue);
  }

  #checkOpenApiResponse(
    op: Operation,
    response: ContractResponse,
    issue: (pointer: string, message: string) => void,
  ): void {
    const spec = this.#load(op.specKey);
    const responses = (op.op.responses ?? {}) as Json;
    const status = String(response.status);
    const declared = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
    if (!declared) {
      if (response.status < 400) {
        issue(
          '/status',
          `status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`,
        );
        return;
      }
      this.#checkUndocumentedError(spec, op, response, issue);
      return;
    }
    const r = this.#deref(spec, declared);
    const content = r.content as Record<string, Json> | undefined;
    if (!content || Object.keys(content).length === 0) return;
    const contentType = response.contentType ?? 'application/json';
    const keys = Object.keys(content);
    const media =
      keys.find((k) => normalizeMedia(k) === normalizeMedia(contentType)) ??
      keys.find((k) => !k.includes(';') && mediaBase(k) === mediaBase(contentType)) ??
      keys.find((k) => k.endsWith('/*') && mediaBase(contentType).startsWith(k.slice(0, -1))) ??
      // Known spec gap: ElevenLabs declares only audio/mpeg although pcm/ulaw/alaw/opus bodies are other audio.
      (op.specKey === 'elevenlabs' && mediaBase(contentType).startsWith('audio/')
        ? keys.find((k) => mediaBase(k) === 'audio/mpeg')
        : undefined);
    if (!media) {
      issue(
        '/headers/content-type',
        `content type ${contentType} is not documented (expected ${keys.join(', ')})`,
      );
      return;
    }
    if (isJsonMedia(media)) {
      const schema = content[media]?.schema;
      if (!schema) return;
      this.#checkJsonBody(spec, `${op.endpoint}:response:${status}:${media}`, schema, response.body, issue);
      return;
    }
    if (mediaBase(media) === 'text/event-stream') return;
    const body = response.body;
    const size =
      body instanceof Uint8Array
        ? body.length
        : typeof body === 'string'
          ? body.length
          : body instanceof ArrayBuffer
            ? body.byteLength
            : 0;
    if (size === 0) issue('/body', `expected a non-empty ${mediaBase(media)} body`);
  }

  #checkUndocumentedError(
    spec: LoadedSpec,
    op: Operation,
    response: ContractResponse,
    issue: (p: string, m: string) => void,
  ): void {
    const schemas = (spec.raw.components as Json | undefined)?.schemas as Json | undefined;
    let schema: unknown = EXTENSION_ERROR_SCHEMAS[op.specKey];
    if (!schema && schemas?.ErrorResponse) schema = { $ref: '#/components/schemas/ErrorResponse' };
    if (!schema && schemas?.StabilityError) schema = { $ref: '#/components/schemas/StabilityError' };
    if (!schema && schemas?.Error) schema = { $ref: '#/components/schemas/Error' };
    if (!schema) return;
    this.#checkJsonBody(spec, `${op.specKey}:undocumented-error`, schema, response.body, issue);
  }

  #checkJsonBody(
    spec: LoadedSpec,
    cacheKey: string,
    schema: unknown,
    body: unknown,
    issue: (p: string, m: string) => void,
  ): void {
    let value = body;
    if (typeof value === 'string' || value instanceof Uint8Array) {
      try {
        value = JSON.parse(typeof value === 'string' ? value : Buffer.from(value).toString('utf8'));
      } catch {
        issue('/body', 'body is not valid JSON');
        return;
      }
    }
    const fn = this.#validator(spec, cacheKey, schema, false);
    if (!fn(value)) this.#report(fn.errors, '/body', issue);
  }

  #checkYouTubeParams(
    op: Operation,
    request: ContractRequest,
    pathValues: Record<string, string>,
    issue: (pointer: string, message: string) => void,
  ): void {
    const params = (op.op.parameters ?? {}) as Record<string, Json>;
    const query = request.query ?? {};
    for (const [name, p] of Object.entries(params)) {
      const location = String(p.location);
      const raw = location === 'path' ? pathValues[name] : query[name];
      const pointer = `/${location === 'path' ? 'path' : 'query'}/${escapePointer(name)}`;
      const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((v) => v !== '');
      if (values.length === 0) {
        if (p.required === true) issue(pointer, `required parameter "${name}" is missing`);
        continue;
      }
      if (values.length > 1 && p.repeated !== true) issue(pointer, `parameter "${name}" is not repeated`);
      const items = p.repeated === true ? values.flatMap((v) => v.split(',')) : values;
      for (const v of items) {
        if (p.type === 'integer') {
          const n = Number(v);
          if (!/^-?\d+$/.test(v)) issue(pointer, `"${v}" is not an integer`);
          else if (p.minimum !== undefined && n < Number(p.minimum))
            issue(pointer, `must be >= ${String(p.minimum)}`);
          else if (p.maximum !== undefined && n > Number(p.maximum))
            issue(pointer, `must be <= ${String(p.maximum)}`);
        } else if (p.type === 'boolean' && v !== 'true' && v !== 'false') {
          issue(pointer, `"${v}" is not a boolean`);
        } else if (Array.isArray(p.enum) && !p.enum.includes(v)) {
          issue(pointer, `"${v}" is not one of ${p.enum.join(', ')}`);
        }
      }
    }
    for (const name of Object.keys(query)) {
      if (!(name in params) && !YOUTUBE_GLOBAL_PARAMS.has(name))
        issue(`/query/${escapePointer(name)}`, `unexpected parameter "${name}"`);
    }
  }

  #checkYouTubeResponse(
    op: Operation,
    response: ContractResponse,
    issue: (pointer: string, message: string) => void,
  ): void {
    const spec = this.#load('youtube');
    if (response.status >= 400) {
      this.#checkUndocumentedError(spec, op, response, issue);
      return;
    }
    if (response.status !== 200 && response.status !== 204) {
      issue('/status', `unexpected status ${response.status}`);
      return;
    }
    if (op.op.supportsMediaDownload === true && op.op.response === null) {
      const body = response.body;
      const size = body instanceof Uint8Array ? body.length : typeof body === 'string' ? body.length : 0;
      if (size === 0) issue('/body', 'expected non-empty media content');
      return;
    }
    if (response.contentType && !isJsonMedia(response.contentType)) {
      issue('/headers/content-type', `expected application/json, got ${response.contentType}`);
      return;
    }
    const ref = String(op.op.response);
    this.#checkJsonBody(spec, `youtube:${ref}`, { $ref: `${spec.id}${ref}` }, response.body, issue);
  }
}
