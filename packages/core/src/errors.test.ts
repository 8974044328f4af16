import { describe, expect, it } from 'vitest';
import { CoreError, isSdkError, SdkError } from './errors.js';

class ExampleError extends SdkError<'ERR_EXAMPLE'> {
  override readonly name = 'ExampleError' as const;
}

describe('SdkError', () => {
  it('carries code, fault, retryable, details and cause, with an explicit name', () => {
    const cause = new Error('low level');
    const error = new ExampleError('it failed', {
      code: 'ERR_EXAMPLE',
      fault: 'server',
      retryable: true,
      cause,
      details: { attempt: 2 },
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ExampleError');
    expect(error.code).toBe('ERR_EXAMPLE');
    expect(error.fault).toBe('server');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ attempt: 2 });
    expect(Object.isFrozen(error.details)).toBe(true);
  });

  it('defaults retryable to false and omits cause and stack from JSON', () => {
    const error = new CoreError('bad key', {
      code: 'ERR_STORE_INVALID_KEY',
      fault: 'client',
      cause: new Error('secret'),
    });
    expect(error.retryable).toBe(false);
    expect(error.toJSON()).toEqual({
      name: 'CoreError',
      code: 'ERR_STORE_INVALID_KEY',
      fault: 'client',
      retryable: false,
      message: 'bad key',
    });
    expect(JSON.stringify(error)).not.toContain('secret');
  });

  it('isSdkError recognises SDK errors, including across package copies, and nothing else', () => {
    expect(isSdkError(new CoreError('x', { code: 'ERR_STORE_CLOSED', fault: 'client' }))).toBe(true);
    // A copy of the class from another module instance carries the same global brand.
    const foreign = Object.create(Error.prototype) as Record<symbol, unknown>;
    Object.defineProperty(foreign, Symbol.for('@provisioning/core/SdkError'), { value: true });
    expect(isSdkError(foreign)).toBe(true);
    expect(isSdkError(new Error('plain'))).toBe(false);
    expect(isSdkError({ code: 'ERR_STORE_CLOSED' })).toBe(false);
    expect(isSdkError(null)).toBe(false);
    expect(isSdkError('ERR')).toBe(false);
  });

  it('narrows codes in a switch', () => {
    const error: CoreError = new CoreError('x', { code: 'ERR_STORE_UNAVAILABLE', fault: 'server', retryable: true });
    const describe = (e: CoreError): string => {
      switch (e.code) {
        case 'ERR_STORE_UNAVAILABLE':
          return 'retry';
        default:
          return 'fail';
      }
    };
    expect(describe(error)).toBe('retry');
  });
});
