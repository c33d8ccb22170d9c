import { OpusError, type OpusErrorOptions } from '../core/index.js';

export const ServerErrorCode = {
  Unauthorized: 'ERR_SERVER_UNAUTHORIZED',
  BadRequest: 'ERR_SERVER_BAD_REQUEST',
  NotFound: 'ERR_SERVER_NOT_FOUND',
  Unavailable: 'ERR_SERVER_UNAVAILABLE',
  Config: 'ERR_SERVER_CONFIG',
} as const;

export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

/** Errors of the service layer; `statusCode` is the HTTP status the error handler answers with. */
export class ServerError extends OpusError {
  declare readonly code: ServerErrorCode;
  readonly statusCode: number;

  constructor(code: ServerErrorCode, statusCode: number, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
    this.statusCode = statusCode;
  }
}
