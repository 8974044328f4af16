import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sampleInput } from '../../test/helpers.js';
import { createAuditLog } from '../log.js';
import { memoryAuditStore } from './memory.js';
import { splunkHecSink } from './splunk.js';
import { stdoutSink } from './stdout.js';

// An in-process HTTP Event Collector fixture: it stands in for Splunk, which cannot run here.
interface Hit {
  method: string;
  path: string;
  auth: string | undefined;
  body: string;
}
let server: Server;
let url: string;
const hits: Hit[] = [];
let failNext = 0;
let status4xx = false;
const TOKEN = '11111111-2222-3333-4444-555555555555';

const readBody = async (req: IncomingMessage): Promise<string> => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
};

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    hits.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, body });
    if (status4xx) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"text":"Invalid token","code":4}');
      return;
    }
    if (failNext > 0) {
      failNext--;
      res.writeHead(503).end('{"text":"Server is busy","code":9}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Splits concatenated JSON objects (a HEC batch). */
function splitObjects(body: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) out.push(JSON.parse(body.slice(start, i + 1)));
  }
  return out;
}

describe('Splunk HEC forwarder', () => {
  it('posts batches of concatenated JSON objects to /services/collector/event with the Splunk token and epoch-second times', async () => {
    hits.length = 0;
    const log = await createAuditLog({
      sinks: [memoryAuditStore(), splunkHecSink({ url, token: TOKEN, maxBatchEvents: 4, splunk: { index: 'audit' } })],
    });
    for (let i = 0; i < 10; i++) void log.record(sampleInput(i));
    await log.close();
    expect(hits.length).toBe(3);
    for (const hit of hits) {
      expect(hit).toMatchObject({ method: 'POST', path: '/services/collector/event', auth: `Splunk ${TOKEN}` });
      expect(hit.body.trimStart().startsWith('[')).toBe(false);
    }
    const events = hits.flatMap((h) => splitObjects(h.body));
    expect(events).toHaveLength(10);
    const first = events[0] as {
      time: number;
      index: string;
      event: { seq: number; hash: string; action: string; time: string };
    };
    expect(first.index).toBe('audit');
    expect(first.event).toMatchObject({ seq: 1, action: 'auth.login.succeeded' });
    expect(first.time).toBe(Date.parse(first.event.time) / 1000);
    expect(first.time).toBeLessThan(1e11); // seconds, not milliseconds
  });

  it('retries 503s and then delivers', async () => {
    hits.length = 0;
    failNext = 2;
    const sink = splunkHecSink({ url, token: TOKEN, baseDelayMs: 1 });
    const log = await createAuditLog({ sinks: [memoryAuditStore(), sink] });
    await log.record(sampleInput(1));
    await log.close();
    expect(hits).toHaveLength(3);
    expect(splitObjects(hits[2]?.body ?? '')).toHaveLength(1);
  });

  it('a refused token fails at once with ERR_AUDIT_FORWARD_FAILED, signalled, and the token never appears in the error', async () => {
    hits.length = 0;
    status4xx = true;
    const onError = vi.fn();
    const log = await createAuditLog({
      sinks: [memoryAuditStore(), splunkHecSink({ url, token: TOKEN, baseDelayMs: 1 })],
      retry: { attempts: 1 },
      onError,
    });
    await log.record(sampleInput(1), { durable: true }); // the durable store holds it: forwarders are best effort
    await log.close();
    status4xx = false;
    expect(hits).toHaveLength(1);
    const error = onError.mock.calls.map((c) => c[0]).find((e) => e.code === 'ERR_AUDIT_SINK_WRITE');
    expect(error?.cause).toMatchObject({ code: 'ERR_AUDIT_FORWARD_FAILED', details: { status: 403 } });
    expect(
      JSON.stringify([error?.toJSON(), error?.cause?.toJSON(), error?.message, error?.cause?.message]),
    ).not.toContain(TOKEN);
  });

  it('rejects a bad url or a missing token at construction', () => {
    expect(() => splunkHecSink({ url: 'not a url', token: TOKEN })).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_INVALID_OPTIONS' }),
    );
    expect(() => splunkHecSink({ url, token: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_INVALID_OPTIONS' }),
    );
  });
});

describe('stdout sink', () => {
  it('writes one JSON line per event and checkpoint lines', async () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (c) => {
      out += c;
    });
    const { ed25519Signer, generateCheckpointKeyPair } = await import('../chain.js');
    const log = await createAuditLog({
      sinks: [stdoutSink({ stream })],
      signer: ed25519Signer({ privateKey: generateCheckpointKeyPair().privateKey }),
    });
    await log.record(sampleInput(1));
    await log.record(sampleInput(2));
    await log.close();
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, 2).map((l) => l.seq)).toEqual([1, 2]);
    expect(lines.at(-1)).toMatchObject({ checkpoint: { seq: 2 } });
  });
});
