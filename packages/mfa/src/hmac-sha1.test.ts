import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha1, MAX_MESSAGE_BYTES } from './hmac-sha1.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const node = (key: Uint8Array, message: Uint8Array) => createHmac('sha1', key).update(message).digest('hex');

describe('hmacSha1', () => {
  it("gives RFC 2202's HMAC-SHA-1 test vectors (the cases within one block)", () => {
    const cases: [Uint8Array, Uint8Array, string][] = [
      [Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b617318655057264e28bc0b6fb378c8ef146be00'],
      [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'],
      [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '125d7342b9ac11cd91a39af48aa17b4f63f175d3'],
      [
        Buffer.from('0102030405060708090a0b0c0d0e0f10111213141516171819', 'hex'),
        Buffer.alloc(50, 0xcd),
        '4c9007f4026250c6bc8414f9bf50c86c2d7235da',
      ],
      [Buffer.alloc(20, 0x0c), Buffer.from('Test With Truncation'), '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04'],
    ];
    for (const [key, message, mac] of cases) expect(hex(hmacSha1(key, message))).toBe(mac);
  });

  it('equals node:crypto on random keys and messages of every accepted length', () => {
    for (let keyLength = 0; keyLength <= 64; keyLength++) {
      for (let messageLength = 0; messageLength <= MAX_MESSAGE_BYTES; messageLength++) {
        const key = randomBytes(keyLength);
        const message = randomBytes(messageLength);
        expect(hex(hmacSha1(key, message)), `key ${keyLength}, message ${messageLength}`).toBe(node(key, message));
      }
    }
    // High bits everywhere (sign handling of the 32-bit words).
    expect(hex(hmacSha1(Buffer.alloc(64, 0xff), Buffer.alloc(55, 0xff)))).toBe(
      node(Buffer.alloc(64, 0xff), Buffer.alloc(55, 0xff)),
    );
  });

  it('is the same on a second call (no state carried over) and refuses what it does not do', () => {
    const key = randomBytes(20);
    const message = randomBytes(8);
    expect(hex(hmacSha1(key, message))).toBe(hex(hmacSha1(key, message)));
    expect(() => hmacSha1(randomBytes(65), message)).toThrow(RangeError);
    expect(() => hmacSha1(key, randomBytes(56))).toThrow(RangeError);
  });
});
