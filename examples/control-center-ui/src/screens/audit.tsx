import type { AuditEvent } from '@provisioning/platform-client/api';
import { useCallback, useEffect, useState } from 'react';
import { saveFile } from '../download.js';
import { useApi } from '../session.js';
import { Alert, Field, Section, SelectField, TableWrap, Time, useAction } from '../ui.js';

const BASE = '/api/v1/audit';

interface Filters {
  readonly from: string;
  readonly to: string;
  readonly actor: string;
  readonly action: string;
  readonly outcome: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly limit: string;
}

const EMPTY: Filters = {
  from: '',
  to: '',
  actor: '',
  action: '',
  outcome: '',
  resourceType: '',
  resourceId: '',
  limit: '25',
};

const OUTCOMES: ReadonlyArray<readonly [string, string]> = [
  ['', 'Any'],
  ['success', 'Success'],
  ['failure', 'Failure'],
  ['denied', 'Denied'],
];
const PAGE_SIZES: ReadonlyArray<readonly [string, string]> = [
  ['10', '10'],
  ['25', '25'],
  ['100', '100'],
];
const FORMATS: ReadonlyArray<readonly [string, string]> = [
  ['csv', 'CSV'],
  ['json', 'JSON'],
  ['ecs', 'Elastic Common Schema (ECS)'],
  ['jsonl', 'JSON Lines'],
];
const EXTENSIONS: Record<string, string> = { csv: 'csv', json: 'json', ecs: 'ecs.ndjson', jsonl: 'jsonl' };

/** A `datetime-local` value (the browser's time zone) as RFC 3339, or nothing. */
function rfc3339(local: string): string | undefined {
  if (local === '') return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The filters as query parameters: the same for the list and the export. */
function filterParams(filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  const from = rfc3339(filters.from);
  const to = rfc3339(filters.to);
  if (from !== undefined) params.set('from', from);
  if (to !== undefined) params.set('to', to);
  const text: ReadonlyArray<readonly [string, string]> = [
    ['actor', filters.actor],
    ['action', filters.action],
    ['resource_type', filters.resourceType],
    ['resource_id', filters.resourceId],
  ];
  for (const [name, value] of text) if (value.trim() !== '') params.set(name, value.trim());
  if (filters.outcome !== '') params.set('outcome', filters.outcome);
  return params;
}

function query(filters: Filters, offset: number): string {
  const params = filterParams(filters);
  params.set('limit', filters.limit);
  params.set('offset', String(offset));
  return params.toString();
}

/** `type::id` as the events show a resource, split back into the two filters. */
function splitResource(resource: string): { resourceType: string; resourceId: string } {
  const at = resource.lastIndexOf('::');
  return at < 0
    ? { resourceType: resource, resourceId: '' }
    : { resourceType: resource.slice(0, at), resourceId: resource.slice(at + 2) };
}

const BADGE: Record<string, string> = { success: 'ok', failure: 'err', denied: 'warn' };

/** The audit log viewer: filters, pages, an event's details, exports and the chain check. */
export function AuditLog() {
  const api = useApi();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [offset, setOffset] = useState(0);
  const [events, setEvents] = useState<AuditEvent[] | undefined>();
  const [selected, setSelected] = useState<AuditEvent | undefined>();
  const { busy, error, run } = useAction();
  const load = useCallback(
    () =>
      run(async () => {
        setEvents(await api.call<AuditEvent[]>('GET', `${BASE}/events?${query(applied, offset)}`));
        setSelected(undefined);
      }),
    [api, run, applied, offset],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const set = (key: keyof Filters) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));
  const limit = Number(applied.limit);

  return (
    <div className="grid">
      <Section title="Filters" wide>
        <form
          aria-label="Filter the audit log"
          onSubmit={(e) => {
            e.preventDefault();
            setOffset(0);
            setApplied(draft);
          }}
        >
          <div className="filters">
            <Field
              label="From"
              type="datetime-local"
              name="from"
              step={1}
              value={draft.from}
              onChange={(e) => set('from')(e.target.value)}
            />
            <Field
              label="To"
              type="datetime-local"
              name="to"
              step={1}
              value={draft.to}
              onChange={(e) => set('to')(e.target.value)}
            />
            <Field
              label="Actor"
              name="actor"
              hint="A user or API-key id."
              value={draft.actor}
              onChange={(e) => set('actor')(e.target.value)}
            />
            <Field
              label="Action"
              name="action"
              hint="e.g. auth.login.failed"
              value={draft.action}
              onChange={(e) => set('action')(e.target.value)}
            />
            <SelectField label="Outcome" value={draft.outcome} onChange={set('outcome')} options={OUTCOMES} />
            <Field
              label="Resource type"
              name="resource-type"
              hint="e.g. api_key, user, Provisioning::Server"
              value={draft.resourceType}
              onChange={(e) => set('resourceType')(e.target.value)}
            />
            <Field
              label="Resource id"
              name="resource-id"
              hint="The part after “::” in the Resource column."
              value={draft.resourceId}
              onChange={(e) => set('resourceId')(e.target.value)}
            />
            <SelectField label="Per page" value={draft.limit} onChange={set('limit')} options={PAGE_SIZES} />
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Apply filters
            </button>
            <button type="button" onClick={() => setDraft((d) => ({ ...d, actor: api.user?.id ?? '' }))}>
              Only my actions
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft(EMPTY);
                setOffset(0);
                setApplied(EMPTY);
              }}
            >
              Clear
            </button>
          </div>
        </form>
      </Section>

      <Section title="Events" wide>
        {error === undefined ? null : <Alert kind="error">{error}</Alert>}
        {events === undefined ? <p className="muted">Loading…</p> : null}
        {events?.length === 0 ? <p>No event matches.</p> : null}
        {events !== undefined && events.length > 0 ? (
          <>
            <p className="muted" data-testid="audit-range">
              Showing {offset + 1}–{offset + events.length}, newest first.
            </p>
            <TableWrap label="Audit events list">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Actor</th>
                    <th scope="col">Action</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Resource</th>
                    <th scope="col">
                      <span className="sr-only">Details</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {events.map((e) => (
                    <tr key={e.id} data-event={e.id} className={selected?.id === e.id ? 'selected' : undefined}>
                      <td>
                        <Time iso={e.timestamp} />
                      </td>
                      <td>
                        <code>{e.actor}</code>
                      </td>
                      <td>{e.action}</td>
                      <td>
                        <span className={`badge badge-${BADGE[e.outcome] ?? 'warn'}`}>{e.outcome}</span>
                      </td>
                      <td>
                        <code>{e.resource}</code>
                      </td>
                      <td>
                        <button
                          type="button"
                          aria-expanded={selected?.id === e.id}
                          aria-label={`Details of ${e.action} at ${e.timestamp}`}
                          onClick={() => setSelected(selected?.id === e.id ? undefined : e)}
                        >
                          Details
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </>
        ) : null}
        <nav className="actions" aria-label="Pages">
          <button type="button" disabled={busy || offset === 0} onClick={() => setOffset(Math.max(0, offset - limit))}>
            Previous page
          </button>
          <button
            type="button"
            disabled={busy || events === undefined || events.length < limit}
            onClick={() => setOffset(offset + limit)}
          >
            Next page
          </button>
        </nav>
      </Section>

      {selected === undefined ? null : (
        <EventDetail
          event={selected}
          onResource={(resource) => {
            const next = { ...EMPTY, limit: draft.limit, ...splitResource(resource) };
            setDraft(next);
            setOffset(0);
            setApplied(next);
          }}
        />
      )}
      <Export filters={applied} />
      <ChainCheck />
    </div>
  );
}

function EventDetail({ event, onResource }: { event: AuditEvent; onResource: (resource: string) => void }) {
  return (
    <Section title="Event details" wide>
      <dl className="facts" data-testid="audit-detail">
        <dt>Id</dt>
        <dd>
          <code>{event.id}</code>
        </dd>
        <dt>Time</dt>
        <dd>{event.timestamp}</dd>
        <dt>Actor</dt>
        <dd>
          <code>{event.actor}</code>
        </dd>
        <dt>Action</dt>
        <dd>{event.action}</dd>
        <dt>Outcome</dt>
        <dd>{event.outcome}</dd>
        <dt>Resource</dt>
        <dd>
          <code>{event.resource}</code>
        </dd>
        <dt>Address</dt>
        <dd>{event.ip_address ?? '—'}</dd>
        <dt>Request</dt>
        <dd>{event.request_id ?? '—'}</dd>
        <dt>Chain hash</dt>
        <dd>
          <code className="wrap">{event.hash ?? '—'}</code>
        </dd>
      </dl>
      <pre className="detail">{JSON.stringify(event.details ?? {}, null, 2)}</pre>
      {event.resource === '' ? null : (
        <div className="actions">
          <button type="button" onClick={() => onResource(event.resource)}>
            Every event of this resource
          </button>
        </div>
      )}
    </Section>
  );
}

function Export({ filters }: { filters: Filters }) {
  const api = useApi();
  const [format, setFormat] = useState('csv');
  const { busy, error, run } = useAction();
  return (
    <Section title="Export">
      <p>Downloads every event the applied filters select (all pages, not only this one), oldest first.</p>
      <SelectField label="Format" value={format} onChange={setFormat} options={FORMATS} />
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const params = filterParams(filters);
              params.set('format', format);
              const blob = await api.download(`${BASE}/export?${params}`);
              saveFile(`audit-log.${EXTENSIONS[format] ?? format}`, blob);
            })
          }
        >
          Export
        </button>
      </div>
    </Section>
  );
}

function ChainCheck() {
  const api = useApi();
  const [result, setResult] = useState<{ valid: boolean; checked: number } | undefined>();
  const { busy, error, run } = useAction();
  return (
    <Section title="Tamper evidence">
      <p>Recomputes the hash chain and checks the signed checkpoints.</p>
      {error === undefined ? null : <Alert kind="error">{error}</Alert>}
      {result === undefined ? null : result.valid ? (
        <Alert kind="success">The chain is intact: {result.checked} events checked.</Alert>
      ) : (
        <Alert kind="error">The chain is broken: the log was changed outside the platform.</Alert>
      )}
      <div className="actions">
        <button
          type="button"
          disabled={busy}
          onClick={async () => {
            const r = await run(() => api.call<{ valid: boolean; checked: number }>('GET', `${BASE}/verify`));
            if (r !== undefined) setResult(r);
          }}
        >
          Verify the chain
        </button>
      </div>
    </Section>
  );
}
