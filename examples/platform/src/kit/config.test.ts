import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SPEC = {
  storage: {
    postgres_url: {
      type: 'string',
      default: '',
      pattern: { test: /^postgres:\/\/\S+$/, expected: 'a postgres:// URL' },
      env: 'TEST_PG',
    },
    pool: { type: 'integer', default: 10, min: 1, max: 200 },
  },
  authorization: {
    trusted: { type: 'strings', default: ['127.0.0.0/8'], each: { test: /^[\d./]+$/, expected: 'a CIDR range' } },
  },
} as const;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const withFile = (text: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'config-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'platform.toml'), text);
  return dir;
};
const problems = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  it('has defaults without a file, and the environment overrides the file', () => {
    expect(loadConfig('platform', SPEC, { dir: '/nonexistent', env: {} })).toEqual({
      storage: { postgres_url: '', pool: 10 },
      authorization: { trusted: ['127.0.0.0/8'] },
    });
    const dir = withFile('[storage]\npostgres_url = "postgres://a@h/db"\npool = 5\n');
    const config = loadConfig('platform', SPEC, { dir, env: { TEST_PG: 'postgres://b@h/db' } });
    expect(config.storage).toEqual({ postgres_url: 'postgres://b@h/db', pool: 5 });
  });

  it('reports every problem at once, naming where, and never echoes a value that may hold a password', () => {
    const dir = withFile(
      '[storage]\npostgres_url = "mysql://root:hunter2@db/x"\npool = 0\nextra = 1\n[authorization]\ntrusted = ["10.0.0.0/8", "any"]\n[nope]\n',
    );
    const found = problems(() => loadConfig('platform', SPEC, { dir, env: {} }));
    expect(found).toEqual([
      `${dir}/platform.toml: unknown section [nope]`,
      `${dir}/platform.toml: unknown key extra in [storage]`,
      `${dir}/platform.toml [storage] postgres_url must be a postgres:// URL`,
      `${dir}/platform.toml [storage] pool must be an integer from 1 to 200`,
      `${dir}/platform.toml [authorization] trusted: any must be a CIDR range`,
    ]);
    expect(found.join('\n')).not.toContain('hunter2');
    expect(problems(() => loadConfig('platform', SPEC, { dir: withFile('[storage\n'), env: {} }))[0]).toMatch(
      /not valid TOML/,
    );
  });
});
