import { describe, expect, it } from 'vitest';
import { isSensitiveFieldName, REDACTED, redact, redactString } from './redact.js';

const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhZGEiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';

describe('redact', () => {
  it('replaces sensitive fields at any depth, whatever their spelling', () => {
    const input = {
      username: 'ada',
      password: 'hunter2',
      nested: { refresh_token: 'r-123', privateKey: 'k', 'X-Api-Key': 'ak', list: [{ secret: 's' }] },
      headers: { Authorization: 'Bearer abc', 'content-type': 'json' },
    };
    const out = JSON.stringify(redact(input));
    for (const secret of ['hunter2', 'r-123', '"k"', '"ak"', '"s"', 'Bearer abc']) expect(out).not.toContain(secret);
    expect(redact(input)).toMatchObject({ username: 'ada', password: REDACTED, headers: { 'content-type': 'json' } });
    expect(input.password).toBe('hunter2');
  });

  it('scrubs secrets embedded in strings', () => {
    expect(redactString(`token ${JWT} used`)).toBe(`token ${REDACTED} used`);
    expect(redactString('Authorization: Bearer abcdefghijklmnop')).toBe(`Authorization: ${REDACTED}`);
    expect(redactString(`key:\n${PEM}\nend`)).toBe(`key:\n${REDACTED}\nend`);
    expect(redactString('postgres://user:pa55word@db:5432/x')).toBe(`postgres://user:${REDACTED}@db:5432/x`);
    expect(redactString('AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ')).toBe(REDACTED);
    expect(redactString('nothing secret here: ERR_AUTH_EXPIRED')).toBe('nothing secret here: ERR_AUTH_EXPIRED');
  });

  it('handles cycles, binary data, errors, maps and depth', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    expect(redact(cyclic)).toEqual({ name: 'a', self: '[Circular]' });
    expect(redact({ data: new Uint8Array(32) })).toEqual({ data: '[32 bytes]' });
    const error = Object.assign(new Error(`bad ${JWT}`), { token: 't' });
    expect(redact(error)).toMatchObject({ message: `bad ${REDACTED}`, token: REDACTED });
    expect(redact(new Map([['password', 'p']]))).toEqual({ password: REDACTED });
    expect(redact({ a: { b: { c: 1 } } }, { maxDepth: 2 })).toEqual({ a: { b: '[Truncated]' } });
  });

  it('takes extra field names, e.g. an OTP body field called code', () => {
    expect(redact({ code: '123456' })).toEqual({ code: '123456' });
    expect(redact({ code: '123456' }, { fields: ['code'] })).toEqual({ code: REDACTED });
  });

  it('knows which names are sensitive', () => {
    expect(isSensitiveFieldName('Secret_Access_Key')).toBe(true);
    expect(isSensitiveFieldName('mfa_code')).toBe(true);
    expect(isSensitiveFieldName('username')).toBe(false);
    expect(isSensitiveFieldName('code')).toBe(false);
  });
});
