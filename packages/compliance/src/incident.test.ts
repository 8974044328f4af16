import { createManualClock, type ManualClock } from '@provisioning/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { ComplianceError } from './errors.js';
import type { Incident, IncidentState } from './incident.js';
import {
  breachNotificationStatus,
  INCIDENT_STATES,
  INCIDENT_TRANSITIONS,
  incidentChecks,
  markPersonalDataBreach,
  openIncident,
  recordBreachNotification,
  transitionIncident,
  updateIncident,
} from './incident.js';

let clock: ManualClock;
beforeEach(() => {
  clock = createManualClock(new Date('2026-06-01T09:00:00Z'));
});
const opts = () => ({ clock });
const by = 'alice';
const open = (): Incident =>
  openIncident({ title: 'Signing key exposed', severity: 'high', owner: 'alice', by }, opts());

/** An incident brought to `state` along legal transitions. */
function inState(state: IncidentState): Incident {
  const path: Record<IncidentState, IncidentState[]> = {
    detection_analysis: [],
    containment: ['containment'],
    eradication: ['containment', 'eradication'],
    recovery: ['containment', 'eradication', 'recovery'],
    post_incident: ['containment', 'eradication', 'recovery', 'post_incident'],
    closed: ['containment', 'eradication', 'recovery', 'post_incident', 'closed'],
  };
  let inc = open();
  for (const to of path[state]) inc = transitionIncident(inc, to, { by, lessonsLearned: 'rotate keys faster' }, opts());
  return inc;
}

function thrown(fn: () => unknown): ComplianceError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ComplianceError);
    return e as ComplianceError;
  }
  throw new Error('expected a ComplianceError');
}

describe('incident state machine (NIST SP 800-61)', () => {
  it('refuses every illegal transition from every state with ERR_COMPLIANCE_ILLEGAL_TRANSITION', () => {
    let tested = 0;
    for (const from of INCIDENT_STATES) {
      for (const to of INCIDENT_STATES) {
        if (INCIDENT_TRANSITIONS[from].includes(to)) continue;
        const inc = inState(from);
        const error = thrown(() =>
          transitionIncident(inc, to, { by, resolution: 'false_positive', lessonsLearned: 'x' }, opts()),
        );
        expect(error.code, `${from} -> ${to}`).toBe('ERR_COMPLIANCE_ILLEGAL_TRANSITION');
        expect(error.details).toMatchObject({ machine: 'incident', from, to });
        tested += 1;
      }
    }
    expect(tested).toBe(36 - 10);
    expect(thrown(() => transitionIncident(open(), 'bogus' as never, { by }, opts())).code).toBe(
      'ERR_COMPLIANCE_ILLEGAL_TRANSITION',
    );
  });

  it('walks the whole life cycle and records the timeline', () => {
    const inc = inState('closed');
    expect(inc.state).toBe('closed');
    expect(inc.resolution).toBe('resolved');
    expect(inc.lessonsLearned).toBe('rotate keys faster');
    expect(inc.timeline.map((t) => t.to)).toEqual([
      'detection_analysis',
      'containment',
      'eradication',
      'recovery',
      'post_incident',
      'closed',
    ]);
  });

  it('follows the NIST loop back to analysis and containment', () => {
    let inc = inState('recovery');
    inc = transitionIncident(inc, 'containment', { by, note: 'attacker came back' }, opts());
    inc = transitionIncident(inc, 'detection_analysis', { by }, opts());
    expect(inc.state).toBe('detection_analysis');
  });

  it('closes from analysis only as a false positive', () => {
    expect(thrown(() => transitionIncident(open(), 'closed', { by }, opts())).code).toBe(
      'ERR_COMPLIANCE_INVALID_INPUT',
    );
    const fp = transitionIncident(open(), 'closed', { by, resolution: 'false_positive' }, opts());
    expect(fp).toMatchObject({ state: 'closed', resolution: 'false_positive', closedAt: '2026-06-01T09:00:00.000Z' });
  });

  it('needs lessons learned to close after the post-incident review', () => {
    expect(thrown(() => transitionIncident(inState('post_incident'), 'closed', { by }, opts())).code).toBe(
      'ERR_COMPLIANCE_INVALID_INPUT',
    );
  });

  it('links audit events, evidence, severity and owner changes, and refuses changes once closed', () => {
    const sha = 'a'.repeat(64);
    let inc = updateIncident(
      open(),
      {
        by,
        note: 'found in logs',
        auditEventIds: ['evt-1', 'evt-2', 'evt-1'],
        evidence: [{ id: 'ev1', description: 'auth log export', sha256: sha }],
        severity: 'critical',
        owner: 'bob',
      },
      opts(),
    );
    inc = updateIncident(inc, { by, auditEventIds: ['evt-2', 'evt-3'] }, opts());
    expect(inc.auditEventIds).toEqual(['evt-1', 'evt-2', 'evt-3']);
    expect(inc.evidence).toEqual([
      { id: 'ev1', description: 'auth log export', sha256: sha, addedAt: '2026-06-01T09:00:00.000Z', addedBy: by },
    ]);
    expect(inc).toMatchObject({ severity: 'critical', owner: 'bob' });
    expect(inc.timeline.map((t) => t.kind)).toEqual([
      'opened',
      'note',
      'audit_link',
      'evidence',
      'severity',
      'owner',
      'audit_link',
    ]);
    expect(
      thrown(() =>
        updateIncident(
          inc,
          {
            by,
            evidence: [
              { id: 'ev9', description: 'a' },
              { id: 'ev9', description: 'b' },
            ],
          },
          opts(),
        ),
      ).code,
    ).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    expect(inc.evidence.map((x) => x.id)).toEqual(['ev1']);
    expect(thrown(() => updateIncident(inc, { by, evidence: [{ id: 'ev1', description: 'dup' }] }, opts())).code).toBe(
      'ERR_COMPLIANCE_INVALID_INPUT',
    );
    expect(
      thrown(() => updateIncident(inc, { by, evidence: [{ id: 'ev2', description: 'x', sha256: 'zz' }] }, opts())).code,
    ).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    expect(thrown(() => updateIncident(inState('closed'), { by, note: 'late' }, opts())).code).toBe(
      'ERR_COMPLIANCE_ILLEGAL_TRANSITION',
    );
  });

  it('rejects malformed incidents with ERR_COMPLIANCE_INVALID_INPUT', () => {
    for (const input of [
      { title: '', severity: 'high', owner: 'a', by },
      { title: 't', severity: 'urgent', owner: 'a', by },
      { title: 't', severity: 'low', owner: '', by },
      { title: 't', severity: 'low', owner: 'a', by: '' },
      null,
    ]) {
      expect(thrown(() => openIncident(input as never, opts())).code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    }
    expect(thrown(() => transitionIncident({ state: 'nope' } as never, 'closed', { by }, opts())).code).toBe(
      'ERR_COMPLIANCE_INVALID_INPUT',
    );
  });
});

describe('GDPR Art. 33: 72-hour breach notification', () => {
  it('tracks the deadline from awareness and detects overdue notifications with the clock', () => {
    let inc = markPersonalDataBreach(open(), { by, awareAt: new Date('2026-06-01T08:00:00Z') }, opts());
    expect(inc.personalDataBreach?.deadlineAt).toBe('2026-06-04T08:00:00.000Z');
    expect(breachNotificationStatus(inc, opts())).toMatchObject({
      pending: true,
      overdue: false,
      remainingMs: 71 * 3_600_000,
    });
    clock.set(new Date('2026-06-04T08:00:00Z'));
    expect(breachNotificationStatus(inc, opts()).overdue).toBe(false);
    clock.advance(1);
    expect(breachNotificationStatus(inc, opts())).toMatchObject({ pending: true, overdue: true, remainingMs: -1 });
    // Late notification needs the reasons for the delay.
    expect(thrown(() => recordBreachNotification(inc, { by }, opts())).code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    inc = recordBreachNotification(inc, { by, delayReason: 'forensics needed to scope the breach' }, opts());
    expect(breachNotificationStatus(inc, opts())).toMatchObject({ pending: false, overdue: false });
    expect(inc.personalDataBreach?.notifiedAt).toBe('2026-06-04T08:00:00.001Z');
  });

  it('does not let a breach close before the notification decision', () => {
    let inc = markPersonalDataBreach(inState('post_incident'), { by }, opts());
    expect(thrown(() => transitionIncident(inc, 'closed', { by, lessonsLearned: 'x' }, opts())).code).toBe(
      'ERR_COMPLIANCE_INVALID_INPUT',
    );
    inc = recordBreachNotification(
      inc,
      { by, notRequiredReason: 'data was encrypted and the key was not exposed' },
      opts(),
    );
    expect(transitionIncident(inc, 'closed', { by, lessonsLearned: 'x' }, opts()).state).toBe('closed');
  });

  it('refuses awareness in the future, double marking and notifications outside the window', () => {
    expect(
      thrown(() => markPersonalDataBreach(open(), { by, awareAt: new Date('2026-06-02T00:00:00Z') }, opts())).code,
    ).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    const inc = markPersonalDataBreach(open(), { by }, opts());
    expect(thrown(() => markPersonalDataBreach(inc, { by }, opts())).code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    expect(thrown(() => recordBreachNotification(open(), { by }, opts())).code).toBe('ERR_COMPLIANCE_INVALID_INPUT');
    expect(
      thrown(() => recordBreachNotification(inc, { by, notifiedAt: new Date('2026-05-01T00:00:00Z') }, opts())).code,
    ).toBe('ERR_COMPLIANCE_INVALID_INPUT');
  });

  describe('checks', () => {
    const [notification, plan] = incidentChecks();
    it('incident.breach-notification: passes when notified in time, fails when overdue', async () => {
      const notified = recordBreachNotification(markPersonalDataBreach(open(), { by }, opts()), { by }, opts());
      const pending = markPersonalDataBreach(open(), { by }, opts());
      clock.advance(73 * 3_600_000);
      const pass = await notification?.run({ readers: { incidents: { list: async () => [notified] } }, clock });
      expect(pass?.status).toBe('pass');
      const fail = await notification?.run({
        readers: { incidents: { list: async () => [notified, pending] } },
        clock,
      });
      expect(fail).toMatchObject({
        status: 'fail',
        evidence: expect.arrayContaining([expect.stringContaining(pending.id)]),
      });
      expect((await notification?.run({ readers: {}, clock }))?.status).toBe('manual');
    });
    it('incident.response-plan: passes when owned, staffed and reviewed within a year', async () => {
      const read = (v: object) => ({ incidentResponsePlan: { read: async () => v } });
      expect(
        (await plan?.run({ readers: read({ owner: 'ciso', contacts: 3, reviewedAt: '2026-01-10T00:00:00Z' }), clock }))
          ?.status,
      ).toBe('pass');
      expect(
        (await plan?.run({ readers: read({ owner: 'ciso', contacts: 3, reviewedAt: '2025-01-10T00:00:00Z' }), clock }))
          ?.status,
      ).toBe('fail');
      expect(
        (await plan?.run({ readers: read({ owner: null, contacts: 3, reviewedAt: '2026-01-10T00:00:00Z' }), clock }))
          ?.status,
      ).toBe('fail');
      expect((await plan?.run({ readers: {}, clock }))?.status).toBe('manual');
    });
  });
});
