#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createAuthorizer } from './authorizer.js';
import { AuthzError } from './errors.js';
import { readPolicyDirectory, validatePolicies } from './policy-set.js';
import { loadPolicyTestFile, runPolicyTests } from './policy-tests.js';

/** Where {@link runCli} writes. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const USAGE = `usage:
  provisioning-authz validate <policy-dir>
  provisioning-authz test <policy-dir> <tests.yaml|tests.json>...`;

/**
 * The `provisioning-authz` command: `validate <dir>` prints every issue as
 * `file:line:column`, `test <dir> <files…>` runs policy test files. Returns
 * the exit code: 0 on success, 1 on failures, 2 on usage errors.
 *
 * @example
 * ```sh
 * npx provisioning-authz validate ./config/cedar-policies
 * npx provisioning-authz test ./config/cedar-policies ./config/cedar-policies/tests.yaml
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, dir, ...files] = argv;
  if ((command !== 'validate' && command !== 'test') || !dir || (command === 'test' && files.length === 0)) {
    io.err(USAGE);
    return 2;
  }
  try {
    if (command === 'validate') {
      const report = validatePolicies(await readPolicyDirectory(dir));
      for (const i of report.issues) {
        io.out(
          `${i.file}:${i.line}:${i.column}: ${i.severity} [${i.kind}]${i.policyId ? ` ${i.policyId}:` : ''} ${i.message}`,
        );
      }
      io.out(report.ok ? 'policies are valid' : 'policies are NOT valid');
      return report.ok ? 0 : 1;
    }
    const authz = await createAuthorizer({ policyDir: dir });
    let failed = 0;
    try {
      for (const file of files) {
        const report = runPolicyTests(authz, await loadPolicyTestFile(file));
        for (const r of report.results) {
          io.out(`${r.passed ? 'ok  ' : 'FAIL'} ${r.name}${r.failure ? ` — ${r.failure}` : ''}`);
        }
        io.out(`${file}: ${report.passed}/${report.total} passed`);
        failed += report.failed;
      }
    } finally {
      authz.close();
    }
    return failed === 0 ? 0 : 1;
  } catch (error) {
    if (error instanceof AuthzError) {
      io.err(`${error.code}: ${error.message}`);
      const issues =
        (error.details.issues as { file: string; line: number; column: number; message: string }[] | undefined) ?? [];
      for (const i of issues) io.err(`${i.file}:${i.line}:${i.column}: ${i.message}`);
      return 1;
    }
    throw error;
  }
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2), {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
