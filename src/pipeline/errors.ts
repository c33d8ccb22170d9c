import { defineErrorCodes } from '../core/error-codes.js';
import { OpusError, type OpusErrorOptions } from '../core/errors.js';

export const PipelineErrorCode = defineErrorCodes('pipeline', {
  BadUrl: {
    code: 'ERR_PIPELINE_BAD_URL',
    class: 'permanent',
    meaning: 'An input line is not a YouTube video URL (the message names it and its line).',
    action: 'Fix or drop the input; the rest of the run goes on without it.',
  },
  MissingKey: {
    code: 'ERR_PIPELINE_MISSING_KEY',
    class: 'permanent',
    meaning: 'A stage needs an API client that is not configured (no key for it).',
    action: 'Set the vendor key, use the sandbox, or switch the stage off (--no-thumbnails, ...).',
  },
  VideoNotFound: {
    code: 'ERR_PIPELINE_VIDEO_NOT_FOUND',
    class: 'permanent',
    meaning: 'YouTube has no such video (deleted, private or a wrong id).',
    action: 'Check the URL; the video is marked failed with this reason.',
  },
  Stage: {
    code: 'ERR_PIPELINE_STAGE',
    class: 'permanent',
    meaning:
      "A stage failed with an error that is not one of the library's own (a bug or an unexpected failure).",
    action: 'Read the cause; the video is marked failed and a re-run resumes from the stage that failed.',
  },
});
export type PipelineErrorCode = (typeof PipelineErrorCode)[keyof typeof PipelineErrorCode];

export class PipelineError extends OpusError {
  constructor(code: PipelineErrorCode, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}
