import { SENSITIVE_FIELD_NAMES } from '@provisioning/core';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). Sensitive fields are censored wherever they
 * appear one or two levels deep, as a second line of defence: the servers
 * never log bodies or headers in the first place.
 */
export function createLogger(
  options: { level?: string; service?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const paths = SENSITIVE_FIELD_NAMES.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]);
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: options.service === undefined ? {} : { service: options.service },
      redact: { paths: [...paths, 'authorization', '*.authorization', 'password', '*.password'], censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
