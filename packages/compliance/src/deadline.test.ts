import { describe, expect, it } from 'vitest';
import { addCalendarMonths, dsrDeadline } from './deadline.js';
import { ComplianceError } from './errors.js';

const iso = (d: Date): string => d.toISOString();

describe('calendar-month deadlines', () => {
  it('ends on the corresponding date one month later, at the end of that day', () => {
    expect(iso(dsrDeadline(new Date('2026-09-03T14:00:00Z')))).toBe('2026-10-03T23:59:59.999Z');
  });

  it.each([
    ['2026-01-31T10:00:00Z', '2026-02-28T23:59:59.999Z'],
    ['2028-01-31T10:00:00Z', '2028-02-29T23:59:59.999Z'], // leap year
    ['2026-03-31T00:00:00Z', '2026-04-30T23:59:59.999Z'],
    ['2026-05-31T23:59:59Z', '2026-06-30T23:59:59.999Z'],
    ['2026-12-31T12:00:00Z', '2027-01-31T23:59:59.999Z'], // year boundary
    ['2026-02-28T12:00:00Z', '2026-03-28T23:59:59.999Z'], // not the end of March
    ['2026-01-30T12:00:00Z', '2026-02-28T23:59:59.999Z'],
  ])('clamps month ends: received %s, due %s', (received, due) => {
    expect(iso(dsrDeadline(new Date(received)))).toBe(due);
  });

  it('counts the extension from the receipt date, not from the clamped first deadline', () => {
    // 31 Jan + 1 month = 28 Feb; + 2 more counted from 31 Jan = 30 Apr (not 28 Apr).
    expect(iso(dsrDeadline(new Date('2026-01-31T09:00:00Z'), true))).toBe('2026-04-30T23:59:59.999Z');
    expect(iso(dsrDeadline(new Date('2026-11-30T09:00:00Z'), true))).toBe('2027-02-28T23:59:59.999Z');
    expect(iso(dsrDeadline(new Date('2026-12-31T09:00:00Z'), true))).toBe('2027-03-31T23:59:59.999Z');
  });

  it('adds zero months as the end of the same day', () => {
    expect(iso(addCalendarMonths(new Date('2026-07-15T01:00:00Z'), 0))).toBe('2026-07-15T23:59:59.999Z');
  });

  it('rejects invalid dates and month counts with ERR_COMPLIANCE_INVALID_INPUT', () => {
    expect(() => addCalendarMonths(new Date('nope'), 1)).toThrow(ComplianceError);
    expect(() => addCalendarMonths(new Date(), -1)).toThrow(/non-negative/);
    expect(() => addCalendarMonths(new Date(), 1.5)).toThrow(ComplianceError);
  });
});
