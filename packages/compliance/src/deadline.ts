import { invalidInput } from './errors.js';

/** One day in milliseconds. */
const DAY_MS = 86_400_000;

/**
 * Adds whole calendar months to the UTC calendar date of `from` and returns
 * the end of that day: the last millisecond (`23:59:59.999Z`) of the
 * corresponding date `months` later. When that month has no such date
 * (31 January + 1 month) the period ends on the last day of the month
 * (28 or 29 February), as the GDPR's deadline rules (EU Regulation 1182/71,
 * Art. 3(2)(c)) and the supervisory authorities' guidance count it.
 *
 * Always count from the original date: `addCalendarMonths(d, 3)` is not
 * `addCalendarMonths(addCalendarMonths(d, 1), 2)` (31 Jan → 30 Apr, not 28 Apr).
 *
 * @param from - the start (e.g. when a request was received)
 * @param months - a non-negative integer
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_INPUT` for an invalid date or month count.
 * @example
 * ```ts
 * addCalendarMonths(new Date('2026-01-31T10:00:00Z'), 1); // 2026-02-28T23:59:59.999Z
 * ```
 */
export function addCalendarMonths(from: Date, months: number): Date {
  const ms = from.getTime();
  if (!Number.isFinite(ms)) throw invalidInput('invalid start date');
  if (!Number.isInteger(months) || months < 0 || months > 1200) {
    throw invalidInput('months must be a non-negative integer', { months });
  }
  const y = from.getUTCFullYear();
  const m = from.getUTCMonth() + months;
  const day = from.getUTCDate();
  // Day 0 of the next month is the last day of the target month.
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const startOfDay = Date.UTC(y, m, Math.min(day, lastDay));
  return new Date(startOfDay + DAY_MS - 1);
}

/** The one-month response period of GDPR Art. 12(3), in months. */
export const GDPR_RESPONSE_MONTHS = 1;
/** The further months Art. 12(3) allows for complex or numerous requests. */
export const GDPR_EXTENSION_MONTHS = 2;

/**
 * The response deadline of a data-subject request received at `receivedAt`:
 * one calendar month, or three (one plus the two-month extension) when
 * `extended`. Inclusive: the request is on time up to and including the
 * returned millisecond.
 *
 * @example
 * ```ts
 * dsrDeadline(new Date('2026-03-31T08:00:00Z'));       // 2026-04-30T23:59:59.999Z
 * dsrDeadline(new Date('2026-03-31T08:00:00Z'), true); // 2026-06-30T23:59:59.999Z
 * ```
 */
export function dsrDeadline(receivedAt: Date, extended = false): Date {
  return addCalendarMonths(receivedAt, GDPR_RESPONSE_MONTHS + (extended ? GDPR_EXTENSION_MONTHS : 0));
}

/** The notification window of GDPR Art. 33(1) for personal-data breaches: 72 hours, in ms. */
export const BREACH_NOTIFICATION_WINDOW_MS: number = 72 * 3_600_000;
