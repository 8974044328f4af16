// A stand-in for AWS service endpoints over real HTTP, for the AWS SDK v3
// clients our packages take: no AWS can be reached here. The client under test
// is a real `@aws-sdk/client-*` pointed at this server (`endpoint`), so its
// serialisation, Signature Version 4 signing, response parsing and error
// mapping all run for real. The server checks each request's signature the way
// AWS documents it (canonical request → string to sign → HMAC-SHA256 key
// chain), answers in the service's wire protocol (JSON 1.1 for KMS, the Query
// protocol with XML for STS), and hands the decoded call to a behaviour
// function a test supplies.
//
// References: "Create a signed AWS API request" (SigV4, IAM user guide), the
// AWS KMS API reference (JSON 1.1, X-Amz-Target: TrentService.<Action>,
// errors as {"__type", "message"}), the AWS STS API reference (Query protocol,
// <ActionResponse><ActionResult>, <ErrorResponse><Error>).

import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The access key pair the fixture accepts (give the same to the SDK client). */
export interface AwsFixtureCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One call the fixture answered (for assertions on what the client sent). */
export interface AwsCall {
  /** The API action, e.g. `Encrypt` or `AssumeRole`. */
  readonly action: string;
  /** The region of the request's credential scope. */
  readonly region: string;
  /** The decoded input, in the wire protocol's names (JSON body, or the Query parameters). */
  readonly input: Record<string, unknown>;
}

/** An error the behaviour throws to answer as AWS would. */
export class AwsFixtureError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'AwsFixtureError';
  }
}

/** What a behaviour function returns: the action's output in wire names. */
export type AwsBehaviour = (call: AwsCall) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface AwsFixtureOptions {
  /** `kms` (JSON 1.1, `TrentService`) or `sts` (Query protocol, XML). */
  readonly service: 'kms' | 'sts';
  readonly credentials: AwsFixtureCredentials;
  readonly behaviour: AwsBehaviour;
  /** Time for the signature's clock-skew check. Default `Date.now`. */
  readonly now?: () => number;
}

export interface AwsFixture {
  /** `http://127.0.0.1:<port>`: the SDK client's `endpoint`. */
  readonly url: string;
  /** Every call that passed the signature check, in order. */
  readonly calls: AwsCall[];
  /** Requests refused for their signature (wrong key, tampered, skewed). */
  readonly refused: string[];
  close(): Promise<void>;
}

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
// AWS refuses a request signed more than 15 minutes away from its clock.
const MAX_SKEW_MS = 15 * 60 * 1000;

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

// RFC 3986 unreserved characters stay, everything else is %XX (SigV4's URI encoding).
const uriEncode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Checks a request's SigV4 `Authorization` header. Returns the credential
 * scope's region, or why the signature does not hold.
 */
export function verifySigV4(
  request: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer },
  expected: { credentials: AwsFixtureCredentials; service: string; now: number },
): { ok: true; region: string } | { ok: false; reason: string } {
  const auth = request.headers.authorization;
  const m =
    typeof auth === 'string'
      ? /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
          auth,
        )
      : null;
  if (!m) return { ok: false, reason: 'no SigV4 Authorization header' };
  const [, keyId, day, region, service, signedHeaders, signature] = m as unknown as string[];
  if (keyId !== expected.credentials.accessKeyId) return { ok: false, reason: 'unknown access key' };
  if (service !== expected.service) return { ok: false, reason: `signed for ${service}` };
  const amzDate = request.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(day as string)) {
    return { ok: false, reason: 'missing or inconsistent X-Amz-Date' };
  }
  const signedAt = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  if (Math.abs(expected.now - signedAt) > MAX_SKEW_MS) return { ok: false, reason: 'request time too skewed' };
  const names = (signedHeaders as string).split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return { ok: false, reason: 'host and x-amz-date must be signed' };
  }
  const canonicalHeaders = names
    .map((name) => {
      const value = request.headers[name];
      const text = Array.isArray(value) ? value.join(',') : (value ?? '');
      return `${name}:${text.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const url = new URL(request.url, 'http://fixture');
  const canonicalUri =
    url.pathname
      .split('/')
      .map((seg) => uriEncode(decodeURIComponent(seg)))
      .join('/') || '/';
  const canonicalQuery = [...url.searchParams]
    .map(([k, v]): [string, string] => [uriEncode(k), uriEncode(v)])
    // Sorted by name, then value (code point order), as SigV4 specifies.
    .sort(([a, x], [b, y]) => (a !== b ? (a < b ? -1 : 1) : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const payloadHash = sha256(request.body);
  const claimed = request.headers['x-amz-content-sha256'];
  if (typeof claimed === 'string' && claimed !== payloadHash) return { ok: false, reason: 'payload hash mismatch' };
  const canonicalRequest = [
    request.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${expected.credentials.secretAccessKey}`, day as string);
  const kSigning = hmac(hmac(hmac(kDate, region as string), service as string), 'aws4_request');
  const want = hmac(kSigning, stringToSign);
  const got = Buffer.from(signature as string, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true, region: region as string };
}

const xmlEscape = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);

// The Query protocol's XML: members as elements, lists as <member> items, dates in ISO 8601.
function toXml(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => `<member>${toXml(v)}</member>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
      .join('');
  }
  return xmlEscape(String(value));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}

function answerError(res: ServerResponse, service: 'kms' | 'sts', status: number, code: string, message: string) {
  if (service === 'kms') {
    send(res, status, 'application/x-amz-json-1.1', JSON.stringify({ __type: code, message }));
    return;
  }
  const type = status >= 500 ? 'Receiver' : 'Sender';
  send(
    res,
    status,
    'text/xml',
    `<ErrorResponse xmlns="${STS_NS}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

/** Starts an AWS endpoint stand-in on 127.0.0.1 (a free port). */
export async function startAwsFixture(options: AwsFixtureOptions): Promise<AwsFixture> {
  const calls: AwsCall[] = [];
  const refused: string[] = [];
  const now = options.now ?? Date.now;
  const { service } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const checked = verifySigV4(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body },
      { credentials: options.credentials, service, now: now() },
    );
    if (!checked.ok) {
      refused.push(checked.reason);
      // KMS answers a bad signature with 400 InvalidSignatureException, STS with 403 SignatureDoesNotMatch.
      if (service === 'kms') answerError(res, service, 400, 'InvalidSignatureException', checked.reason);
      else answerError(res, service, 403, 'SignatureDoesNotMatch', checked.reason);
      return;
    }
    let action: string;
    let input: Record<string, unknown>;
    if (service === 'kms') {
      const target = req.headers['x-amz-target'];
      const m = typeof target === 'string' ? /^TrentService\.(\w+)$/.exec(target) : null;
      if (
        req.method !== 'POST' ||
        !m ||
        !String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')
      ) {
        answerError(res, service, 400, 'UnknownOperationException', 'not a KMS JSON 1.1 call');
        return;
      }
      action = m[1] as string;
      try {
        input = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      } catch {
        answerError(res, service, 400, 'SerializationException', 'malformed JSON');
        return;
      }
    } else {
      const params = new URLSearchParams(body.toString('utf8'));
      action = params.get('Action') ?? '';
      if (req.method !== 'POST' || params.get('Version') !== '2011-06-15' || action === '') {
        answerError(res, service, 400, 'InvalidAction', 'not an STS Query call');
        return;
      }
      input = Object.fromEntries([...params].filter(([k]) => k !== 'Action' && k !== 'Version'));
    }
    const call: AwsCall = { action, region: checked.region, input };
    calls.push(call);
    let output: Record<string, unknown>;
    try {
      output = await options.behaviour(call);
    } catch (error) {
      if (error instanceof AwsFixtureError) answerError(res, service, error.status, error.code, error.message);
      else answerError(res, service, 500, 'InternalFailure', String(error));
      return;
    }
    if (service === 'kms') {
      send(res, 200, 'application/x-amz-json-1.1', JSON.stringify(output));
      return;
    }
    send(
      res,
      200,
      'text/xml',
      `<${action}Response xmlns="${STS_NS}"><${action}Result>${toXml(output)}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
    );
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((error: unknown) => {
        if (!res.headersSent) answerError(res, service, 500, 'InternalFailure', String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
