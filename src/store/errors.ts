import { defineErrorCodes, isOpusError, OpusError, type OpusErrorOptions } from '../core/index.js';
import { DbErrorCode } from '../db/errors.js';

/** Stable codes of the store layer; database failures keep their own `ERR_DB_*` codes. */
export const StoreErrorCode = defineErrorCodes('store', {
  InvalidInput: {
    code: 'ERR_STORE_INVALID_INPUT',
    class: 'permanent',
    meaning:
      'A value given to the store breaks its input rules (type, range, length, NUL or unpaired surrogate ' +
      'characters, JSON too deep or too large, a timestamp outside 1000-01-01..9999-12-31); ' +
      '`details.field` names the field. Nothing was written.',
    action: 'Fix the field named in the message; the same call fails the same way on every dialect.',
  },
  InvalidUrl: {
    code: 'ERR_STORE_INVALID_URL',
    class: 'permanent',
    meaning:
      'A video URL cannot be normalised (empty, not absolute http(s), credentials in it, a YouTube URL ' +
      'without a video id, longer than 2,048 characters once normalised). Nothing was written.',
    action: 'Pass an absolute http(s) URL of the video.',
  },
  InvalidTransition: {
    code: 'ERR_STORE_INVALID_TRANSITION',
    class: 'permanent',
    meaning:
      'A status change that VIDEO_TRANSITIONS / JOB_TRANSITIONS forbid from the current status, or a job ' +
      'update by a worker that no longer holds the job. Nothing was written.',
    action: 'Read the current status and decide again; a worker that lost its job should drop it.',
  },
  NotFound: {
    code: 'ERR_STORE_NOT_FOUND',
    class: 'permanent',
    meaning: 'The video, clip or job the call names does not exist (or was deleted).',
    action: 'Check the id; create the video first when adding clips, jobs or stages to it.',
  },
});

export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends OpusError {
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}

/** ERR_STORE_NOT_FOUND for the `what` (video, clip, job) with this id. */
export function notFound(what: string, id: string): StoreError {
  return new StoreError(StoreErrorCode.NotFound, `${what} ${id} not found`, { details: { id } });
}

/** The store's error about item `index` of a batch: "video #i: " before its message, the index in details. */
export function atIndex(error: unknown, index: number): unknown {
  if (error instanceof StoreError) {
    return new StoreError(error.code, `video #${index}: ${error.message}`, {
      cause: error,
      details: { ...error.details, index },
    });
  }
  return error;
}

/** MariaDB's duplicate-key error on the normalised URL (MySQL names the key `videos.<name>`). */
export function isUrlConflict(error: unknown): boolean {
  if (!isOpusError(error, DbErrorCode.UniqueViolation)) return false;
  const constraint = (error as { constraint?: unknown }).constraint;
  return typeof constraint === 'string' && constraint.endsWith('videos_url_normalized_key');
}
