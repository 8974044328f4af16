import { invalidOptions } from './errors.js';
import type { DataProvider } from './providers.js';

// Structural views of @provisioning/audit's `AuditLog` and `subjectKeyPseudonymizer()`: no import.

/** An event as `@provisioning/audit` stores it (the fields exported to the subject). */
export interface AuditEventView {
  readonly id: string;
  readonly time: string;
  readonly action: string;
  readonly outcome: string;
  readonly actor: { readonly ip?: string; readonly userAgent?: string };
  readonly resource?: { readonly type: string; readonly id?: string };
}

/** What {@link auditPseudonymsProvider} needs of the audit log: a query by actor, page by page. */
export interface AuditActorQuery {
  query(
    filter: { readonly actorId: string },
    page: { readonly limit: number; readonly cursor?: string },
  ): Promise<{
    readonly records: readonly { readonly seq: number; readonly event: AuditEventView }[];
    readonly nextCursor?: string;
  }>;
}

/**
 * What {@link auditPseudonymsProvider} needs of the pseudonymiser the log's
 * PII policy writes `actor.id` with (`subjectKeyPseudonymizer()`): the
 * subject's pseudonym while its key exists, and the key's destruction.
 */
export interface ErasableSubjects {
  lookup(subjectId: string): Promise<string | undefined>;
  erase(subjectId: string): Promise<boolean>;
}

/** Options of {@link auditPseudonymsProvider}. */
export interface AuditPseudonymsProviderOptions {
  readonly log: AuditActorQuery;
  readonly subjects: ErasableSubjects;
  /** Provider id. Default `audit`. */
  readonly id?: string;
}

/**
 * The data provider of the tamper-evident audit log (`@provisioning/audit`),
 * for a log whose PII policy pseudonymises `actor.id` with per-subject keys
 * (`subjectKeyPseudonymizer`). Append-only: it never deletes or rewrites an
 * event, so the hash chain and its signed checkpoints keep verifying.
 *
 * - `export`: the subject's events, found through their pseudonym (id, time,
 *   action, outcome, resource, and the actor's IP and user agent as the
 *   policy stored them);
 * - `erase`: destroys the subject's key (crypto-shredding,
 *   `method: 'key_destroyed'`): the events stay byte for byte, and nobody can
 *   link their pseudonym to the subject any more.
 *
 * Limits: only `actor.id` is covered; a subject id the host writes in clear
 * elsewhere (a `resource.id`, metadata) stays readable. The pseudonymiser
 * caches keys per process: in a fleet, erase on every instance (or restart).
 *
 * @throws ComplianceError `ERR_COMPLIANCE_INVALID_OPTIONS` without a log or an erasable pseudonymizer;
 * key-store errors pass through (the DSR service records the provider failed).
 * @example
 * ```ts
 * const subjects = subjectKeyPseudonymizer({ store: kv, secret });
 * const log = await createAuditLog({ sinks, transform: createPiiPolicy({ fields: { 'actor.id': 'pseudonymize' }, pseudonymizer: subjects }).apply });
 * const providers = createProviderRegistry([auditPseudonymsProvider({ log, subjects })]);
 * ```
 */
export function auditPseudonymsProvider(options: AuditPseudonymsProviderOptions): DataProvider {
  const { log, subjects } = options;
  if (
    typeof log?.query !== 'function' ||
    typeof subjects?.lookup !== 'function' ||
    typeof subjects.erase !== 'function'
  ) {
    throw invalidOptions('auditPseudonymsProvider needs an audit log and an erasable pseudonymizer');
  }
  return {
    id: options.id ?? 'audit',
    description: 'audit events (pseudonymised; erasure destroys the pseudonym key, no event changes)',
    appendOnly: true,
    async export({ subjectId }) {
      const actorId = await subjects.lookup(subjectId);
      if (actorId === undefined) return { subjectFound: false, data: [], records: 0 };
      const data: Record<string, unknown>[] = [];
      let cursor: string | undefined;
      do {
        const page = await log.query({ actorId }, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
        for (const { seq, event: e } of page.records) {
          data.push({
            seq,
            id: e.id,
            time: e.time,
            action: e.action,
            outcome: e.outcome,
            ...(e.resource === undefined ? {} : { resource: { ...e.resource } }),
            ...(e.actor.ip === undefined ? {} : { ip: e.actor.ip }),
            ...(e.actor.userAgent === undefined ? {} : { userAgent: e.actor.userAgent }),
          });
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return { subjectFound: data.length > 0, data, records: data.length };
    },
    async erase({ subjectId }) {
      // Never delete or rewrite events: destroy the key that links the pseudonym to the subject.
      const had = await subjects.erase(subjectId);
      return {
        subjectFound: had,
        affected: had ? 1 : 0,
        method: 'key_destroyed',
        note: 'audit events kept unchanged; the pseudonym key was destroyed',
      };
    },
  };
}
