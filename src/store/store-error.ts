import { OpusError, type OpusErrorOptions } from '../core/index.js';

/** Stable codes of the store layer; database failures keep their own `ERR_DB_*` codes. */
export const StoreErrorCode = {
  InvalidInput: 'ERR_STORE_INVALID_INPUT',
  InvalidUrl: 'ERR_STORE_INVALID_URL',
  InvalidTransition: 'ERR_STORE_INVALID_TRANSITION',
  NotFound: 'ERR_STORE_NOT_FOUND',
} as const;

export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends OpusError {
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}
