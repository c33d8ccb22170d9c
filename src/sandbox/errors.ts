import { OpusError, type OpusErrorOptions } from '../core/index.js';

export const SandboxErrorCode = {
  /** A request or response does not match the vendor's published specification. */
  Contract: 'ERR_SANDBOX_CONTRACT',
  /** The validator has no operation for this (vendor, method, path). */
  UnknownOperation: 'ERR_SANDBOX_UNKNOWN_OPERATION',
  /** A spec file could not be read or compiled. */
  Spec: 'ERR_SANDBOX_SPEC',
  /** The emulator could not start or was used after close(). */
  Server: 'ERR_SANDBOX_SERVER',
} as const;

export class SandboxError extends OpusError {}

export class ContractViolationError extends SandboxError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(SandboxErrorCode.Contract, message, options);
  }
}
