import type { Ajv } from 'ajv';

/**
 * The `x-finite` schema keyword. Ajv coerces a query string such as `Infinity`, `1e400` or a 309-digit
 * number to `Infinity` and then skips `minimum`/`maximum` (they only apply to finite numbers), so a
 * bounded integer from a query string needs this keyword to refuse it. The `x-` prefix keeps the
 * keyword a valid OpenAPI extension in the published document.
 */
export function finiteNumbersPlugin(ajv: Ajv): Ajv {
  const validate = (enabled: boolean, data: unknown): boolean => {
    if (!enabled || typeof data !== 'number' || Number.isFinite(data)) return true;
    validate.errors = [{ keyword: 'x-finite', message: 'must be a finite number', params: {} }];
    return false;
  };
  validate.errors = [] as Array<{ keyword: string; message: string; params: Record<string, never> }>;
  ajv.addKeyword({ keyword: 'x-finite', schemaType: 'boolean', validate });
  return ajv;
}
