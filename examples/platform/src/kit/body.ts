import { namedDefinition, type Schema } from '@provisioning/platform-client/api';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';

/** A 4xx with a machine-readable code; the service frame turns it into the service's error body. */
export class RequestError extends HTTPException {
  constructor(
    status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429,
    readonly code: string,
    message: string,
  ) {
    super(status, { message });
  }
}

/**
 * Reads a JSON body and validates it against the shared contract schema,
 * strictly: malformed JSON, a wrong content type, wrong types and unknown
 * fields are all 4xx with a code, before any state is touched.
 */
export async function readBody<T>(c: Context, schema: Schema<T>): Promise<T> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new RequestError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json.');
  let value: unknown;
  try {
    value = await c.req.json();
  } catch {
    throw new RequestError(400, 'MALFORMED_JSON', 'The body is not valid JSON.');
  }
  rejectUnknownFields(value, (schema as { definition?: Record<string, unknown> }).definition ?? schema.json, '$');
  try {
    return schema.parse(value);
  } catch (error) {
    const issue = (error as { issue?: { path: string; expected: string } }).issue;
    throw new RequestError(
      400,
      'INVALID_REQUEST',
      issue === undefined ? 'The body is invalid.' : `${issue.path}: expected ${issue.expected}`,
    );
  }
}

// The contract's schemas keep unknown fields (a client must tolerate new
// ones); a server must not: an unexpected field is a client bug or a probe.
function rejectUnknownFields(value: unknown, schemaJson: Record<string, unknown>, path: string): void {
  if (typeof value !== 'object' || value === null) return;
  const ref = typeof schemaJson.$ref === 'string' ? schemaJson.$ref.split('/').pop() : undefined;
  const json = (ref === undefined ? schemaJson : namedDefinition(ref)) as Record<string, unknown> | undefined;
  if (json === undefined) return;
  if (Array.isArray(value)) {
    const items = json.type === 'array' ? (json.items as Record<string, unknown> | undefined) : undefined;
    if (items !== undefined) for (const [i, item] of value.entries()) rejectUnknownFields(item, items, `${path}[${i}]`);
    return;
  }
  const properties = json.properties as Record<string, Record<string, unknown>> | undefined;
  if (json.type !== 'object' || properties === undefined) return;
  for (const key of Object.keys(value)) {
    const property = properties[key];
    if (property === undefined) throw new RequestError(400, 'UNKNOWN_FIELD', `${path}.${key} is not a known field`);
    rejectUnknownFields((value as Record<string, unknown>)[key], property, `${path}.${key}`);
  }
}

/**
 * The JSON body of a request, read from a clone and leniently: for resource
 * resolvers, which run in the security chain before the handler validates the
 * body strictly. Anything unreadable is `{}` (the handler then refuses it with
 * a typed error), so a resolver can only learn facts, never fail the request.
 */
export async function peekJson(request: unknown): Promise<Record<string, unknown>> {
  if (!(request instanceof Request) || request.body === null) return {};
  try {
    const value: unknown = await request.clone().json();
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** A string field of a peeked body, or `undefined`. */
export const stringField = (body: Record<string, unknown>, name: string): string | undefined =>
  typeof body[name] === 'string' ? (body[name] as string) : undefined;
