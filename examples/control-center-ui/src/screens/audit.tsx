import { Alert, Section } from '../ui.js';

/** The audit log viewer: waits for the orchestrator's audit routes (see the README). */
export function AuditLog() {
  return (
    <Section title="Audit log">
      <Alert kind="info">
        The audit viewer needs the platform's audit routes, which this server does not offer yet.
      </Alert>
    </Section>
  );
}
