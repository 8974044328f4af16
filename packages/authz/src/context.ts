import { BlockList, isIP } from 'node:net';
import { type Clock, parseIpRange, systemClock } from '@provisioning/core';
import { AuthzError } from './errors.js';
import { assertCedarValue, type CedarValue, type EntityInput, entityValue } from './uid.js';

/** A recurring time window, e.g. business hours on weekdays in Berlin. */
export interface TimeWindow {
  /** Days the window is open, 0 = Sunday … 6 = Saturday. Default: every day. */
  readonly days?: readonly number[];
  /** Opening time, `HH:MM` (24 h). */
  readonly start: string;
  /** Closing time, `HH:MM`, exclusive. Earlier than `start` means the window runs over midnight. */
  readonly end: string;
  /** IANA time zone of `start`/`end`/`days`. Default: the builder's `timeZone`. */
  readonly timeZone?: string;
}

/** Options of {@link createContextBuilder}. */
export interface ContextBuilderOptions {
  /** Time source. Default `systemClock`. */
  readonly clock?: Clock;
  /** IANA time zone of `context.time.local`. Default `UTC`. */
  readonly timeZone?: string;
  /** CIDR ranges (IPv4 or IPv6) whose clients count as `trusted_network`. Default none. */
  readonly trustedRanges?: readonly string[];
  /** Named windows, each computed into `context.windows.<name>` as a boolean. */
  readonly windows?: Readonly<Record<string, TimeWindow>>;
  /** Allowed clock skew for an MFA time in the future, in seconds. Default 60. */
  readonly mfaSkewSeconds?: number;
}

/** The facts of one request that the builder turns into a Cedar context. */
export interface ContextInput {
  /** The client's IP address (IPv4 or IPv6). Required: policies restrict by network. */
  readonly clientIp: string;
  /** When MFA was last verified in this session (`Date` or epoch ms), or absent/null when not at all. */
  readonly mfaVerifiedAt?: Date | number | null;
  /** The MFA method: `totp`, `webauthn`, `backup_code`. */
  readonly mfaMethod?: string;
  /** A change or emergency approval id (`CHG-…`, `EMERGENCY-…`). */
  readonly approvalId?: string;
  /** The caller's break-glass session entity (its entity must be loadable). */
  readonly breakGlassSession?: EntityInput;
  /** A forced delete. */
  readonly force?: boolean;
  /** Request attributes (method, path, request id). */
  readonly request?: { readonly method?: string; readonly path?: string; readonly requestId?: string };
  /** The decision time, default the clock's now. */
  readonly at?: Date | number;
  /** Further context attributes, merged last (validated as Cedar values). */
  readonly extra?: Readonly<Record<string, CedarValue>>;
}

/** Builds the platform's Cedar context (the `RequestContext` type of the shipped schema). */
export interface ContextBuilder {
  /**
   * Builds a Cedar context for one request.
   *
   * @throws AuthzError `ERR_AUTHZ_INVALID_CONTEXT` for a bad IP address or time.
   */
  build(input: ContextInput): Record<string, CedarValue>;
}

interface ZoneParts {
  hour: number;
  minute: number;
  weekday: number;
}

/** Client addresses whose `trusted_network` answer a builder keeps. */
const TRUSTED_MEMO_ENTRIES = 4096;

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function invalidOption(message: string, details?: Record<string, unknown>): AuthzError {
  return new AuthzError(message, {
    code: 'ERR_AUTHZ_INVALID_OPTIONS',
    fault: 'client',
    ...(details ? { details } : {}),
  });
}

function invalidContext(message: string): AuthzError {
  return new AuthzError(message, { code: 'ERR_AUTHZ_INVALID_CONTEXT', fault: 'client' });
}

function zoneFormatter(timeZone: string): (ms: number) => ZoneParts {
  if (timeZone === 'UTC') {
    return (ms) => {
      const d = new Date(ms);
      return { hour: d.getUTCHours(), minute: d.getUTCMinutes(), weekday: d.getUTCDay() };
    };
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
  } catch {
    throw invalidOption('unknown time zone', { timeZone });
  }
  return (ms) => {
    const parts: ZoneParts = { hour: 0, minute: 0, weekday: 0 };
    for (const p of format.formatToParts(ms)) {
      if (p.type === 'hour') parts.hour = Number(p.value) % 24;
      else if (p.type === 'minute') parts.minute = Number(p.value);
      else if (p.type === 'weekday') parts.weekday = WEEKDAYS[p.value] ?? 0;
    }
    return parts;
  };
}

function parseHhMm(value: string, name: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  if (!m) throw invalidOption(`window "${name}" needs HH:MM times`, { value });
  return Number(m[1]) * 60 + Number(m[2]);
}

function timeOfDay(p: ZoneParts): Record<string, CedarValue> {
  return { hour: p.hour, minute: p.minute, minute_of_day: p.hour * 60 + p.minute, weekday: p.weekday };
}

/**
 * Creates a builder for the platform's request context: MFA presence and age,
 * the client IP as a Cedar `ip` value plus whether it is in a trusted CIDR
 * range, the time (UTC and a local zone, with weekday), named time windows,
 * approval ids, the break-glass session and request attributes.
 *
 * @throws AuthzError `ERR_AUTHZ_INVALID_OPTIONS` for an unknown time zone, a
 *   bad CIDR range or a bad window.
 * @example
 * ```ts
 * const contexts = createContextBuilder({ timeZone: 'Europe/Berlin', trustedRanges: ['203.0.113.0/24'],
 *   windows: { business_hours: { days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' } } });
 * const context = contexts.build({ clientIp: '203.0.113.7', mfaVerifiedAt: session.mfaAt, approvalId: 'CHG-42' });
 * ```
 */
export function createContextBuilder(options: ContextBuilderOptions = {}): ContextBuilder {
  const clock = options.clock ?? systemClock;
  const zone = options.timeZone ?? 'UTC';
  const local = zoneFormatter(zone);
  const utc = zoneFormatter('UTC');
  const skewMs = (options.mfaSkewSeconds ?? 60) * 1000;
  if (!Number.isFinite(skewMs) || skewMs < 0) throw invalidOption('mfaSkewSeconds must be >= 0');
  const trusted = new BlockList();
  for (const range of options.trustedRanges ?? []) {
    const r = parseIpRange(range, { requirePrefix: true });
    if (r === undefined) throw invalidOption('invalid CIDR range', { range });
    trusted.addSubnet(r.address, r.prefix, r.family);
  }
  const anyTrusted = (options.trustedRanges?.length ?? 0) > 0;
  // `BlockList.check` builds a `SocketAddress` per call (measured: the
  // dearest step of a build). The ranges are fixed here, so the answer is a
  // function of the address text alone and can be kept. Client addresses are
  // the caller's input: the memo is bounded and starts over when full.
  const trustedMemo = new Map<string, boolean>();
  const isTrusted = (ip: string, family: number): boolean => {
    if (!anyTrusted) return false;
    let t = trustedMemo.get(ip);
    if (t === undefined) {
      t = trusted.check(ip, family === 4 ? 'ipv4' : 'ipv6');
      if (trustedMemo.size >= TRUSTED_MEMO_ENTRIES) trustedMemo.clear();
      trustedMemo.set(ip, t);
    }
    return t;
  };
  const windows = Object.entries(options.windows ?? {}).map(([name, w]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalidOption('window names must be Cedar identifiers', { name });
    const days = w.days ?? [0, 1, 2, 3, 4, 5, 6];
    if (!days.every((d) => Number.isInteger(d) && d >= 0 && d <= 6))
      throw invalidOption(`window "${name}" has a bad day`);
    return {
      name,
      days: new Set(days),
      start: parseHhMm(w.start, name),
      end: parseHhMm(w.end, name),
      parts: w.timeZone === undefined || w.timeZone === zone ? local : zoneFormatter(w.timeZone),
    };
  });

  return {
    build(input) {
      const at = input.at === undefined ? clock.now() : typeof input.at === 'number' ? input.at : input.at.getTime();
      if (!Number.isFinite(at)) throw invalidContext('invalid decision time');
      const ip = typeof input.clientIp === 'string' ? input.clientIp : '';
      const family = isIP(ip);
      if (family === 0) throw invalidContext('clientIp is not an IP address');

      // MFA: absent unless a verification time is given. A time further in the
      // future than the allowed skew is treated as absent (fail closed).
      let present = false;
      let ageSeconds = 0;
      if (input.mfaVerifiedAt !== undefined && input.mfaVerifiedAt !== null) {
        const verified = typeof input.mfaVerifiedAt === 'number' ? input.mfaVerifiedAt : input.mfaVerifiedAt.getTime();
        if (!Number.isFinite(verified)) throw invalidContext('invalid mfaVerifiedAt');
        if (verified <= at + skewMs) {
          present = true;
          ageSeconds = Math.max(0, Math.floor((at - verified) / 1000));
        }
      }
      const mfa: Record<string, CedarValue> = { present, age_seconds: ageSeconds };
      if (present && input.mfaMethod !== undefined) mfa.method = input.mfaMethod;

      const localParts = local(at);
      const context: Record<string, CedarValue> = {
        mfa,
        client_ip: { __extn: { fn: 'ip', arg: ip } },
        trusted_network: isTrusted(ip, family),
        time: {
          epoch_seconds: Math.floor(at / 1000),
          utc: timeOfDay(utc(at)),
          local: timeOfDay(localParts),
          zone,
        },
      };
      if (windows.length > 0) {
        const open: Record<string, CedarValue> = {};
        for (const w of windows) {
          const p = w.parts === local ? localParts : w.parts(at);
          const minute = p.hour * 60 + p.minute;
          if (w.start <= w.end) open[w.name] = w.days.has(p.weekday) && minute >= w.start && minute < w.end;
          else {
            // Over midnight: the part after midnight belongs to the previous day's window.
            const yesterday = (p.weekday + 6) % 7;
            open[w.name] = (w.days.has(p.weekday) && minute >= w.start) || (w.days.has(yesterday) && minute < w.end);
          }
        }
        context.windows = open;
      }
      if (input.approvalId !== undefined) context.approval_id = input.approvalId;
      if (input.breakGlassSession !== undefined) context.break_glass = entityValue(input.breakGlassSession);
      if (input.force !== undefined) context.force = input.force;
      if (input.request) {
        const r: Record<string, CedarValue> = {};
        if (input.request.method !== undefined) r.method = input.request.method;
        if (input.request.path !== undefined) r.path = input.request.path;
        if (input.request.requestId !== undefined) r.request_id = input.request.requestId;
        context.request = r;
      }
      if (input.extra) {
        for (const [k, v] of Object.entries(input.extra)) {
          assertCedarValue(v, `context.${k}`);
          context[k] = v;
        }
      }
      return context;
    },
  };
}
