import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseIpRange } from './net.js';

describe('parseIpRange', () => {
  it('reads addresses and CIDR ranges of both families', () => {
    expect(parseIpRange('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseIpRange('192.0.2.1')).toEqual({ address: '192.0.2.1', prefix: 32, family: 'ipv4' });
    expect(parseIpRange('0.0.0.0/0')).toEqual({ address: '0.0.0.0', prefix: 0, family: 'ipv4' });
    expect(parseIpRange('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseIpRange('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(parseIpRange('::/128')?.prefix).toBe(128);
  });

  it.each([
    ['10.0.0.1/', 'an empty prefix (Number("") is 0: trust everything)'],
    ['10.0.0.0/8/9', 'a second slash'],
    ['10.0.0.0/ 8', 'whitespace in the prefix'],
    [' 10.0.0.0/8', 'whitespace around it'],
    ['10.0.0.0/0x8', 'a hexadecimal prefix'],
    ['10.0.0.0/1e1', 'an exponent'],
    ['10.0.0.0/-1', 'a negative prefix'],
    ['10.0.0.0/33', 'a prefix too long for IPv4'],
    ['2001:db8::/129', 'a prefix too long for IPv6'],
    ['10.0.0.0/1000', 'four digits'],
    ['10.0.0/8', 'a short address'],
    ['example.com/8', 'a host name'],
    ['/8', 'no address'],
    ['', 'nothing'],
  ])('refuses %j: %s', (text) => {
    expect(parseIpRange(text)).toBeUndefined();
  });

  it('requirePrefix refuses a bare address and keeps ranges', () => {
    expect(parseIpRange('192.0.2.1', { requirePrefix: true })).toBeUndefined();
    expect(parseIpRange('192.0.2.1/32', { requirePrefix: true })?.prefix).toBe(32);
  });

  it('gives what BlockList.addSubnet takes', () => {
    const list = new BlockList();
    const r = parseIpRange('198.51.100.0/24');
    if (r === undefined) throw new Error('unparsed');
    list.addSubnet(r.address, r.prefix, r.family);
    expect(list.check('198.51.100.77', 'ipv4')).toBe(true);
    expect(list.check('198.51.101.1', 'ipv4')).toBe(false);
  });
});
