import { Alert, Section } from '../ui.js';

/** Break-glass emergency access: waits for the orchestrator's break-glass routes (see the README). */
export function BreakGlass() {
  return (
    <Section title="Break-glass">
      <Alert kind="info">
        Break-glass needs the platform's emergency-access routes, which this server does not offer yet.
      </Alert>
    </Section>
  );
}
