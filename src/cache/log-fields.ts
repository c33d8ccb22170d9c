import { redactSecrets } from '../core/index.js';

/** Keys may embed user data; logs get a bounded, secret-scrubbed form. */
export function safeKey(key: string): string {
  return redactSecrets(key.length > 120 ? `${key.slice(0, 120)}…` : key);
}

/** An error as one secret-scrubbed line for a log field. */
export function errorSummary(error: unknown): string {
  return redactSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}
