import { InvalidArgumentError } from 'commander';

/**
 * Value parsers for commander options: each returns the parsed value or throws commander's
 * InvalidArgumentError, which the CLI reports as a usage error (exit status 2) naming the option.
 */

/** A whole number in [min, max], written in plain decimal digits (no 1e3, no 0x10, no 2.0). */
export function integerIn(min: number, max: number, what = 'a whole number'): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected ${what} from ${min} to ${max}`);
    }
    return n;
  };
}

export const portNumber = integerIn(0, 65535, 'a port number');

/** A rate: a decimal number from 0 to 1 (0.2 = 20 % of requests). */
export function rate(value: string): number {
  const n = /^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a rate from 0 to 1');
  return n;
}

/** A host name or IP address to listen on. */
export function hostName(value: string): string {
  const v = value.trim();
  if (!/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[?[0-9A-Fa-f:.]+\]?)$/.test(v)) {
    throw new InvalidArgumentError('expected a host name or an IP address');
  }
  return v.replace(/^\[(.*)\]$/, '$1');
}

/** A non-empty string (a file name, an id). */
export function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a non-empty value');
  return value;
}
