import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CedarEntity } from '../src/index.js';

/** The realistic entity set of the shipped-policy scenarios. */
export const fixtureEntities: CedarEntity[] = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'entities.json'), 'utf8'),
) as CedarEntity[];

/** A Tuesday, 10:00 UTC: inside production deployment hours. */
export const TUESDAY_10_UTC: number = Date.parse('2026-01-06T10:00:00Z');

export const user = (id: string): string => `Provisioning::User::${JSON.stringify(id)}`;
