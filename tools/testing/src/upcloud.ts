/**
 * An in-process stand-in for UpCloud's API 1.3 subaccount endpoints, which
 * cannot run here: `POST /1.3/account/sub` ({ sub_account: … }, 201) and
 * `DELETE /1.3/account/sub/{username}` (204, 404 when unknown), behind the
 * main account's HTTP Basic credentials or an API token (401 otherwise).
 */
import { json, type Received, startFixture } from './http-fixture.js';

/** Contact details of a subaccount, as UpCloud requires them. */
export const UPCLOUD_TEST_PROFILE = {
  first_name: 'Platform',
  last_name: 'Lease',
  company: 'Example Oy',
  address: 'Street 1',
  postal_code: '00100',
  city: 'Helsinki',
  email: 'ops@example.com',
  phone: '+358.31245434',
  state: '',
  country: 'FIN',
  currency: 'EUR',
  language: 'en',
  vat_number: '',
  timezone: 'UTC',
} as const;

export interface UpCloudFixture {
  /** Base URL without the version: the API is at `${url}/1.3`. */
  readonly url: string;
  /** Live subaccounts by username, as they were sent. */
  readonly accounts: Map<string, Record<string, unknown>>;
  readonly received: Received[];
  close(): Promise<void>;
}

/** Starts the stand-in; `auth` is what it accepts: Basic credentials, or a Bearer token. */
export async function startUpCloudFixture(
  auth: { readonly username: string; readonly password: string } | { readonly token: string },
): Promise<UpCloudFixture> {
  const expected =
    'token' in auth
      ? `Bearer ${auth.token}`
      : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const accounts = new Map<string, Record<string, unknown>>();
  const fixture = await startFixture((req, res) => {
    if (req.headers.authorization !== expected)
      return json(res, 401, { error: { error_code: 'AUTHENTICATION_FAILED' } });
    if (req.method === 'POST' && req.url === '/1.3/account/sub') {
      const sub = (req.body as { sub_account: Record<string, unknown> & { username: string } }).sub_account;
      if (accounts.has(sub.username)) return json(res, 409, { error: { error_code: 'USERNAME_EXISTS' } });
      accounts.set(sub.username, sub);
      return json(res, 201, { sub_account: { username: sub.username } });
    }
    const m = /^\/1\.3\/account\/sub\/([^/]+)$/.exec(req.url);
    if (req.method === 'DELETE' && m) {
      const username = decodeURIComponent(m[1] as string);
      if (!accounts.delete(username)) return json(res, 404, { error: { error_code: 'ACCOUNT_NOT_FOUND' } });
      return json(res, 204);
    }
    return json(res, 404);
  });
  return { ...fixture, accounts };
}
