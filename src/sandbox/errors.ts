import { defineErrorCodes, OpusError, type OpusErrorOptions } from '../core/index.js';

export const SandboxErrorCode = defineErrorCodes('sandbox', {
  Contract: {
    code: 'ERR_SANDBOX_CONTRACT',
    class: 'permanent',
    meaning: "A request or response does not match the vendor's published specification.",
    action: 'Fix the client or the emulator route the message names.',
  },
  UnknownOperation: {
    code: 'ERR_SANDBOX_UNKNOWN_OPERATION',
    class: 'permanent',
    meaning: 'The contract validator has no operation for this vendor, method and path.',
    action: 'Check the path, or add the operation to the spec subset.',
  },
  Spec: {
    code: 'ERR_SANDBOX_SPEC',
    class: 'permanent',
    meaning: 'A specification file could not be read or compiled.',
    action: 'Check the specs/ folder of the package.',
  },
  Server: {
    code: 'ERR_SANDBOX_SERVER',
    class: 'transient',
    meaning: 'The emulator could not start listening (port in use, ...).',
    action: 'Pick another port or free this one.',
  },
});

export class SandboxError extends OpusError {}

export class ContractViolationError extends SandboxError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(SandboxErrorCode.Contract, message, options);
  }
}
