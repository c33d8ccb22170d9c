/**
 * The catalogue of every error code the library raises. Each layer declares its codes with
 * `defineErrorCodes`, which records them here: the catalogue page in the docs and the code-coverage
 * test read this one table, so a code is described exactly once.
 */

/** Whether waiting (and trying again) can make the operation succeed. */
export type ErrorClass = 'transient' | 'permanent';

export interface ErrorCodeSpec {
  readonly code: string;
  /**
   * The usual class of the code. An individual error may say otherwise (an HTTP 403 that means
   * "quota exceeded" is transient); `OpusError.transient` is always the one to read.
   */
  readonly class: ErrorClass;
  /** What happened, for a person reading the catalogue. */
  readonly meaning: string;
  /** What a caller should do about it. */
  readonly action: string;
}

export interface ErrorCodeInfo extends ErrorCodeSpec {
  /** The layer that raises it (`core`, `db`, `http`, ...). */
  readonly layer: string;
}

const catalogue = new Map<string, ErrorCodeInfo>();

/**
 * Declares a layer's codes. Returns `{ Name: 'ERR_…' }` for use at raise sites, and records each code's
 * class, meaning and action in the catalogue. A code declared twice (by two layers) is a bug.
 */
export function defineErrorCodes<const T extends Record<string, ErrorCodeSpec>>(
  layer: string,
  specs: T,
): { readonly [K in keyof T]: T[K]['code'] } {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const known = catalogue.get(spec.code);
    if (known && known.layer !== layer) {
      throw new Error(`error code ${spec.code} is declared by both ${known.layer} and ${layer}`);
    }
    catalogue.set(spec.code, Object.freeze({ ...spec, layer }));
    out[name] = spec.code;
  }
  return Object.freeze(out) as { readonly [K in keyof T]: T[K]['code'] };
}

/** The class a code has by default; an unknown code is permanent (retrying the unknown is a guess). */
export function defaultErrorClass(code: string): ErrorClass {
  return catalogue.get(code)?.class ?? 'permanent';
}

/** Every code declared by the layers loaded so far, sorted by layer then code. */
export function errorCatalogue(): ErrorCodeInfo[] {
  return [...catalogue.values()].sort((a, b) =>
    a.layer === b.layer ? a.code.localeCompare(b.code) : a.layer.localeCompare(b.layer),
  );
}
