import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';

/** One setting: its type, default and limits. */
export type Setting =
  | {
      readonly type: 'string';
      readonly default: string;
      readonly oneOf?: readonly string[];
      /** The value must match (an empty string always passes: "not set"), described by `expected`. */
      readonly pattern?: { readonly test: RegExp; readonly expected: string };
      readonly env?: string;
    }
  | {
      readonly type: 'integer';
      readonly default: number;
      readonly min: number;
      readonly max: number;
      readonly env?: string;
    }
  | { readonly type: 'boolean'; readonly default: boolean; readonly env?: string }
  | {
      readonly type: 'strings';
      readonly default: readonly string[];
      /** Every entry must match. */
      readonly each?: { readonly test: RegExp; readonly expected: string };
      readonly env?: string;
    };

/** A service's configuration schema: sections of settings. */
export type ConfigSpec = Readonly<Record<string, Readonly<Record<string, Setting>>>>;

type ValueOf<S extends Setting> = S['type'] extends 'string'
  ? string
  : S['type'] extends 'integer'
    ? number
    : S['type'] extends 'boolean'
      ? boolean
      : readonly string[];

/** The validated configuration of a spec. */
export type Config<Spec extends ConfigSpec> = {
  readonly [Section in keyof Spec]: { readonly [K in keyof Spec[Section]]: ValueOf<Spec[Section][K]> };
};

/** Thrown at start-up with every problem found, each naming the file, section and key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Loads `<dir>/<service>.toml` (absent: all defaults), applies environment
 * overrides (each setting's `env` name), and validates everything: unknown
 * sections and keys, wrong types and out-of-range values are all reported at
 * once, so a bad file stops the service at start-up with a clear message.
 */
export function loadConfig<Spec extends ConfigSpec>(
  service: string,
  spec: Spec,
  options: {
    dir?: string;
    env?: Readonly<Record<string, string | undefined>>;
    /** Sections another loader validates (main.ts's `[server]`): not reported as unknown. */
    otherSections?: readonly string[];
  } = {},
): Config<Spec> {
  const dir = options.dir ?? 'config';
  const env = options.env ?? process.env;
  const file = join(dir, `${service}.toml`);
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      raw = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError([`${file}: not valid TOML (${(error as Error).message.split('\n')[0]})`]);
    }
  }
  for (const [section, value] of Object.entries(raw)) {
    if (options.otherSections?.includes(section)) continue;
    if (!(section in spec)) problems.push(`${file}: unknown section [${section}]`);
    else if (typeof value !== 'object' || value === null || Array.isArray(value))
      problems.push(`${file}: [${section}] must be a table`);
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, settings] of Object.entries(spec)) {
    const given = (typeof raw[section] === 'object' && raw[section] !== null ? raw[section] : {}) as Record<
      string,
      unknown
    >;
    for (const key of Object.keys(given)) {
      if (!(key in settings)) problems.push(`${file}: unknown key ${key} in [${section}]`);
    }
    const values: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(settings)) {
      const where =
        setting.env !== undefined && env[setting.env] !== undefined ? `$${setting.env}` : `${file} [${section}] ${key}`;
      let value: unknown = key in given ? given[key] : setting.default;
      const fromEnv = setting.env === undefined ? undefined : env[setting.env];
      if (fromEnv !== undefined) {
        value =
          setting.type === 'integer'
            ? /^-?\d+$/.test(fromEnv)
              ? Number(fromEnv)
              : fromEnv
            : setting.type === 'boolean'
              ? fromEnv === 'true'
                ? true
                : fromEnv === 'false'
                  ? false
                  : fromEnv
              : setting.type === 'strings'
                ? fromEnv
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean)
                : fromEnv;
      }
      switch (setting.type) {
        case 'string':
          if (typeof value !== 'string') problems.push(`${where} must be a string`);
          else if (setting.oneOf !== undefined && !setting.oneOf.includes(value))
            problems.push(`${where} must be one of ${setting.oneOf.join(', ')}`);
          else if (setting.pattern !== undefined && value !== '' && !setting.pattern.test.test(value))
            // The value itself is not echoed: a database URL may carry a password.
            problems.push(`${where} must be ${setting.pattern.expected}`);
          break;
        case 'integer':
          if (typeof value !== 'number' || !Number.isInteger(value) || value < setting.min || value > setting.max) {
            problems.push(`${where} must be an integer from ${setting.min} to ${setting.max}`);
          }
          break;
        case 'boolean':
          if (typeof value !== 'boolean') problems.push(`${where} must be true or false`);
          break;
        case 'strings':
          if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
            problems.push(`${where} must be a list of strings`);
          else if (setting.each !== undefined) {
            const bad = value.filter((v) => !setting.each?.test.test(v));
            if (bad.length > 0) problems.push(`${where}: ${bad.join(', ')} must be ${setting.each.expected}`);
          }
          break;
      }
      values[key] = value;
    }
    out[section] = values;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Config<Spec>;
}
