// cedar-wasm calls as data, so one piece of logic (strict validation, the
// compiled path's conversions) runs either against cedar-wasm in this
// process or against a short-lived child process.
//
// Why a child process: every parse grows cedar-wasm's WebAssembly memory
// (~80 MiB for the shipped schema and policies) and WebAssembly memory is
// never returned; a worker thread gives the wasm memory back on termination,
// but its malloc arenas stay (~60 MiB measured). A process that exits gives
// everything back. The logic stays here, in the parent: the child only
// answers calls, so the nesting guard (source.ts) still runs before anything
// reaches any cedar-wasm instance, and a child that crashes or is killed
// fails the load (the last good policy set stays live).

import { type ChildProcess, spawn } from 'node:child_process';
import { cedarModulePath, localCedar } from './cedar.js';
import { AuthzError } from './errors.js';

type CedarModule = typeof import('@cedar-policy/cedar-wasm/nodejs');

/** The cedar-wasm functions validation and the compiled path's preparation call. */
export type CedarFn =
  | 'checkParsePolicySet'
  | 'checkParseSchema'
  | 'policyToJson'
  | 'schemaToJson'
  | 'schemaToJsonWithResolvedTypes'
  | 'schemaToText'
  | 'validate';

const CEDAR_FNS: readonly CedarFn[] = [
  'checkParsePolicySet',
  'checkParseSchema',
  'policyToJson',
  'schemaToJson',
  'schemaToJsonWithResolvedTypes',
  'schemaToText',
  'validate',
];

/** One cedar-wasm call, yielded by {@link CedarSteps}. */
export interface CedarCall {
  readonly fn: CedarFn;
  readonly args: readonly unknown[];
}

/** A computation that makes cedar-wasm calls by yielding them; run it with {@link runLocal} or {@link runIsolated}. */
export type CedarSteps<T> = Generator<CedarCall, T, unknown>;

/** Yields one call and returns cedar-wasm's answer (a call cedar-wasm throws on throws here). */
export function* cedarCall<F extends CedarFn>(
  fn: F,
  ...args: Parameters<CedarModule[F]>
): CedarSteps<ReturnType<CedarModule[F]>> {
  return (yield { fn, args }) as ReturnType<CedarModule[F]>;
}

/** Runs the steps against cedar-wasm in this process, synchronously. */
export function runLocal<T>(steps: CedarSteps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const { fn, args } = next.value;
    let answer: unknown;
    try {
      answer = (localCedar()[fn] as (...a: readonly unknown[]) => unknown)(...args);
    } catch (cause) {
      next = steps.throw(cause);
      continue;
    }
    next = steps.next(answer);
  }
  return next.value;
}

/**
 * Runs the steps against the shared cedar-wasm child process (started on
 * demand, stopped after {@link CHILD_IDLE_MS} without calls). When no child
 * process can be started at all (spawning is not permitted), the steps run
 * in this process instead: the same validation, only the memory stays.
 *
 * @throws AuthzError `ERR_AUTHZ_ENGINE` (retryable) when the child process
 *   dies during a call.
 */
export async function runIsolated<T>(steps: CedarSteps<T>): Promise<T> {
  const child = cedarChild();
  if (!child) return runLocal(steps);
  let next = steps.next();
  while (!next.done) {
    const reply = await child.call(next.value);
    next = reply.ok ? steps.next(reply.value) : steps.throw(new Error(reply.message));
  }
  return next.value;
}

/** How long the child process lives without calls, in ms: a burst of reloads reuses one warm instance. */
export const CHILD_IDLE_MS = 10_000;

// The child: answers calls, nothing else. A result holding an object whose
// prototype cedar-wasm changed (a name such as `__proto__` set as a key) would
// lose that name when cloned across the channel: refuse it instead, so the
// parent never sees a silently different answer.
const CHILD_SOURCE = `
const cedar = require(process.argv[1]);
const allowed = new Set(${JSON.stringify(CEDAR_FNS)});
const plain = (v, depth) => {
  if (typeof v !== 'object' || v === null) return true;
  if (depth > 200) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  for (const k in v) if (!plain(v[k], depth + 1)) return false;
  return true;
};
process.on('message', (m) => {
  let reply;
  try {
    if (!allowed.has(m.fn)) throw new Error('not a cedar-wasm function this process answers');
    const value = cedar[m.fn](...m.args);
    reply = plain(value, 0)
      ? { id: m.id, ok: true, value }
      : { id: m.id, ok: false, message: 'cedar-wasm answered with a name a JavaScript object cannot hold' };
  } catch (e) {
    reply = { id: m.id, ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;

type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly id: number;
      readonly ok: false;
      readonly message: string;
    };

interface CedarChild {
  readonly pid: number;
  call(call: CedarCall): Promise<Reply>;
}

/** The pid of the running cedar-wasm child process, if one runs (for tests). */
export function cedarChildPid(): number | undefined {
  return shared?.pid;
}

let shared: CedarChild | undefined;
let spawnUnavailable = false;

function cedarChild(): CedarChild | undefined {
  if (shared) return shared;
  if (spawnUnavailable) return undefined;
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, ['-e', CHILD_SOURCE, cedarModulePath], {
      // spawn does not pass the parent's execArgv (tsx, --inspect): the child is plain JavaScript.
      // Security: none of the parent's environment (tokens, database URLs): it only parses policies.
      env: {},
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
      windowsHide: true,
    });
  } catch {
    spawnUnavailable = true;
    return undefined;
  }
  if (proc.pid === undefined) {
    proc.on('error', () => undefined);
    spawnUnavailable = true;
    return undefined;
  }
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: AuthzError) => void }>();
  let nextId = 0;
  let idle: NodeJS.Timeout | undefined;
  const setRef = (on: boolean) => {
    // While nothing is pending, the child must not keep the parent alive.
    if (on) {
      proc.ref();
      proc.channel?.ref();
    } else {
      proc.unref();
      proc.channel?.unref();
    }
  };
  const fail = (reason: string) => {
    if (shared === child) shared = undefined;
    if (idle) clearTimeout(idle);
    const error = new AuthzError(`the cedar-wasm validation process ${reason}`, {
      code: 'ERR_AUTHZ_ENGINE',
      fault: 'server',
      retryable: true,
    });
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  proc.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    p.resolve(reply);
    if (pending.size === 0) {
      setRef(false);
      idle = setTimeout(() => {
        if (pending.size === 0) {
          if (shared === child) shared = undefined;
          proc.disconnect();
        }
      }, CHILD_IDLE_MS);
      idle.unref();
    }
  });
  proc.on('error', () => fail('failed'));
  proc.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
  const child: CedarChild = {
    pid: proc.pid,
    call(call) {
      if (idle) clearTimeout(idle);
      idle = undefined;
      const id = nextId++;
      return new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        setRef(true);
        try {
          proc.send({ id, fn: call.fn, args: call.args });
        } catch {
          fail('cannot be reached');
        }
      });
    },
  };
  shared = child;
  setRef(false);
  return child;
}
