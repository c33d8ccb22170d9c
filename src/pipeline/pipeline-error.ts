import { OpusError, type OpusErrorOptions } from '../core/errors.js';

export const PipelineErrorCode = {
  BadUrl: 'ERR_PIPELINE_BAD_URL',
  MissingKey: 'ERR_PIPELINE_MISSING_KEY',
  VideoNotFound: 'ERR_PIPELINE_VIDEO_NOT_FOUND',
  Stage: 'ERR_PIPELINE_STAGE',
  Interrupted: 'ERR_PIPELINE_INTERRUPTED',
} as const;
export type PipelineErrorCode = (typeof PipelineErrorCode)[keyof typeof PipelineErrorCode];

export class PipelineError extends OpusError {
  constructor(code: PipelineErrorCode, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}
