import { EventEmitter } from 'node:events';
import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Clock, systemClock } from '@provisioning/core';
import { preparsePolicySet, preparseSchema, statefulIsAuthorized } from './cedar.js';
import { type CedarSteps, runIsolated } from './cedar-calls.js';
import {
  type CompiledEvaluator,
  type CompileEvaluatorResult,
  compileEvaluatorSteps,
  type RawAnswer,
} from './compiled/evaluator.js';
import { closure, collectEntities, type EntityProvider } from './entities.js';
import { AuthzError } from './errors.js';
import {
  type CompiledPolicySet,
  compilePolicySetSteps,
  type PolicyFile,
  readPolicyDirectory,
  type SchemaSource,
  type ValidationIssue,
  type ValidationReport,
  validatePoliciesIsolated,
} from './policy-set.js';
import { checkNestingOption } from './source.js';
import {
  assertCedarValue,
  type CedarEntity,
  type CedarValue,
  type EntityInput,
  type EntityRef,
  entityKey,
  forEachEntityRef,
  parseEntityRef,
} from './uid.js';

/** One authorization request. */
export interface AuthorizationRequest {
  /** Who acts: `{ type, id }` or `Provisioning::User::"alice"`. */
  readonly principal: EntityInput;
  /** The action: a uid, or a bare name (`deploy`) in the authorizer's namespace. */
  readonly action: EntityInput;
  /** What is acted on. */
  readonly resource: EntityInput;
  /** The Cedar context (see {@link createContextBuilder}). Default `{}`. */
  readonly context?: Readonly<Record<string, CedarValue>>;
  /** Entities sent as they are (no provider lookup for these uids). */
  readonly entities?: readonly CedarEntity[];
}

/** An evaluation or request error reported with a decision. */
export interface DecisionError {
  /** The policy that errored; absent for errors about the request itself. */
  readonly policyId?: string;
  readonly message: string;
}

/** The outcome of one request, ready for the audit trail. */
export interface AuthorizationDecision {
  readonly decision: 'allow' | 'deny';
  /** `decision === 'allow'`. */
  readonly allowed: boolean;
  /** The determining policies, sorted: the permits that allowed, or the forbids that denied (empty for the default deny). */
  readonly policyIds: readonly string[];
  /** Policies that errored during evaluation, and request errors. */
  readonly errors: readonly DecisionError[];
  /** Whether an allow was turned into a deny because something errored (fail closed). */
  readonly failedClosed: boolean;
  /** `sha256:…` of the policy set that decided. */
  readonly policySetVersion: string;
}

/**
 * How decisions are evaluated:
 * - `compiled` (the default): the policy set translated into JavaScript
 *   closures with Cedar's semantics, checked against cedar-wasm by
 *   differential tests. A set that uses anything the compiled path does not
 *   implement stays on cedar-wasm as a whole ({@link EvaluationInfo}), and a
 *   request in an input form it does not pin down is decided by cedar-wasm.
 * - `wasm`: every decision by cedar-wasm's preparsed engine.
 *
 * Policies are validated strictly by cedar-wasm at load either way.
 */
export type EvaluationPath = 'compiled' | 'wasm';

/** Which path the live policy set takes. */
export interface EvaluationInfo {
  readonly path: EvaluationPath;
  /** Why the set is on cedar-wasm although `evaluation: 'compiled'` was asked for. */
  readonly fallbackReason?: string;
}

/** Payload of the `reloaded` event. */
export interface ReloadedEvent {
  readonly version: string;
  readonly previousVersion: string;
  readonly policyCount: number;
  /** Whether the set actually changed (same content keeps the same version). */
  readonly changed: boolean;
  /** The evaluation path of the set now live. */
  readonly evaluation: EvaluationInfo;
}

/** Payload of the `reload-failed` event: the live set stays `version`. */
export interface ReloadFailedEvent {
  readonly error: AuthzError;
  /** The version still in force. */
  readonly version: string;
  /** Every issue, when validation failed. */
  readonly issues: readonly ValidationIssue[];
}

/** Events an {@link Authorizer} emits. */
export interface AuthorizerEvents {
  reloaded: [ReloadedEvent];
  'reload-failed': [ReloadFailedEvent];
}

/** Options of {@link Authorizer.watch}. */
export interface WatchOptions {
  /** Quiet time after the last change before reloading, in ms. Default 100. */
  readonly debounceMs?: number;
  /** Use polling instead of `fs.watch`. Default false (polling is the fallback when `fs.watch` fails). */
  readonly poll?: boolean;
  /** Polling interval in ms. Default 250. */
  readonly pollIntervalMs?: number;
}

/** Options of {@link createAuthorizer}. Give `policyDir` or `policies`. */
export interface AuthorizerOptions {
  /** A directory of `*.cedar` files and one `*.cedarschema` / `*.cedarschema.json` schema. */
  readonly policyDir?: string;
  /** Policies in memory, instead of `policyDir`. */
  readonly policies?: readonly PolicyFile[];
  /** The schema (overrides the directory's). Strongly recommended: without one, nothing is type-checked. */
  readonly schema?: SchemaSource;
  /** Loads principal and resource entities (see {@link cachedEntityProvider}). */
  readonly entities?: EntityProvider;
  /** Deny whenever any policy errors during evaluation. Default true: Cedar itself skips erroring policies, which can turn a guarding forbid into an allow. */
  readonly failClosed?: boolean;
  /** Time source (decision timestamps are not taken from it; it is passed to your context builder). Default `systemClock`. */
  readonly clock?: Clock;
  /** Reject statements nested deeper than this (brackets, `if`s, member chains). Default 32, at most 64. */
  readonly maxNesting?: number;
  /** Namespace of bare action names. Default `Provisioning`. */
  readonly namespace?: string;
  /** Require a schema (default true). */
  readonly requireSchema?: boolean;
  /** The evaluation path (see {@link EvaluationPath}). Default `compiled`. */
  readonly evaluation?: EvaluationPath;
}

/** A live Cedar authorizer with hot reload. */
export interface Authorizer {
  /** `sha256:…` of the live policy set. */
  readonly version: string;
  /** Ids of the live policies, sorted. */
  readonly policyIds: readonly string[];
  /** The live policy set: every policy with its id, text, file and line, the schema and the version. */
  readonly policySet: CompiledPolicySet;
  /** The clock given in the options. */
  readonly clock: Clock;
  /** The evaluation path of the live policy set. */
  readonly evaluation: EvaluationInfo;
  /**
   * Decides one request, loading missing entities from the provider.
   *
   * @throws AuthzError `ERR_AUTHZ_INVALID_REQUEST`, `ERR_AUTHZ_ENTITY_PROVIDER`, `ERR_AUTHZ_CLOSED`.
   */
  authorize(request: AuthorizationRequest): Promise<AuthorizationDecision>;
  /** Decides one request with only its inline entities (no provider), synchronously: the fastest path. */
  authorizeSync(request: AuthorizationRequest): AuthorizationDecision;
  /** Decides many requests with one entity load and one policy-set snapshot; results equal single decisions. */
  authorizeBatch(requests: readonly AuthorizationRequest[]): Promise<AuthorizationDecision[]>;
  /** Validates the policy directory (or the given input) as it is now, without touching the live set. */
  validate(input?: { files: readonly PolicyFile[]; schema?: SchemaSource }): Promise<ValidationReport>;
  /**
   * Re-reads the directory, validates the new set in isolation and swaps it in atomically.
   * On failure the last good set stays live, `reload-failed` is emitted and the promise rejects.
   */
  reload(): Promise<ReloadedEvent>;
  /** Watches the policy directory and reloads on change. Returns a function that stops watching. */
  watch(options?: WatchOptions): () => void;
  on<E extends keyof AuthorizerEvents>(event: E, listener: (...args: AuthorizerEvents[E]) => void): this;
  off<E extends keyof AuthorizerEvents>(event: E, listener: (...args: AuthorizerEvents[E]) => void): this;
  once<E extends keyof AuthorizerEvents>(event: E, listener: (...args: AuthorizerEvents[E]) => void): this;
  /** Stops watching and returns the engine slots for reuse. */
  close(): void;
}

// cedar-wasm keeps preparsed sets in instance-wide storage and cannot free
// them: slot ids are pooled and reused across authorizers (re-preparsing an id
// replaces its set).
let slotCounter = 0;
const freeSlots: string[] = [];
function acquireSlot(): string {
  const slot = freeSlots.pop();
  if (slot !== undefined) return slot;
  slotCounter++;
  return `provisioning-authz-${slotCounter}`;
}

interface Snapshot {
  /** Index into the authorizer's two engine slots. */
  readonly slotIndex: number;
  readonly slot: string;
  readonly set: CompiledPolicySet;
  readonly ids: readonly string[];
  /** The compiled path, when it takes this set. */
  readonly compiled: CompiledEvaluator | undefined;
  readonly evaluation: EvaluationInfo;
}

/** A validated set and, on the compiled path, its evaluator (or why it stays on cedar-wasm). */
interface PreparedSet {
  readonly set: CompiledPolicySet;
  readonly compiled: CompileEvaluatorResult | undefined;
}

const NO_ERRORS: readonly DecisionError[] = Object.freeze([]);

/**
 * Creates an authorizer over a policy directory or in-memory policies: it
 * validates the set strictly against the schema, preparses it once into the
 * Cedar engine, and decides requests deny-by-default and fail-closed.
 *
 * @throws AuthzError `ERR_AUTHZ_INVALID_OPTIONS`, `ERR_AUTHZ_LOAD`,
 *   `ERR_AUTHZ_VALIDATION` / `ERR_AUTHZ_TOO_DEEP` (with `details.issues`).
 * @example
 * ```ts
 * import { createAuthorizer, createContextBuilder, shippedPolicyDir } from '@provisioning/authz';
 * const authz = await createAuthorizer({ policyDir: shippedPolicyDir, entities: myProvider });
 * const context = createContextBuilder().build({ clientIp: '10.1.2.3', mfaVerifiedAt: Date.now() - 60_000, approvalId: 'CHG-7' });
 * const d = await authz.authorize({ principal: 'Provisioning::User::"alice"', action: 'deploy',
 *   resource: 'Provisioning::Server::"srv-1"', context });
 * if (!d.allowed) throw new Error('forbidden');
 * ```
 */
export async function createAuthorizer(options: AuthorizerOptions): Promise<Authorizer> {
  const { policyDir, policies } = options;
  if ((policyDir === undefined) === (policies === undefined)) {
    throw new AuthzError('give exactly one of policyDir and policies', {
      code: 'ERR_AUTHZ_INVALID_OPTIONS',
      fault: 'client',
    });
  }
  const maxNesting = checkNestingOption(options.maxNesting);
  const failClosed = options.failClosed ?? true;
  const namespace = options.namespace ?? 'Provisioning';
  const requireSchema = options.requireSchema ?? true;
  const clock = options.clock ?? systemClock;
  const provider = options.entities;
  const path = options.evaluation ?? 'compiled';
  if (path !== 'compiled' && path !== 'wasm') {
    throw new AuthzError('evaluation must be "compiled" or "wasm"', {
      code: 'ERR_AUTHZ_INVALID_OPTIONS',
      fault: 'client',
    });
  }

  const readInput = async (): Promise<{ files: readonly PolicyFile[]; schema?: SchemaSource }> => {
    if (policies) return options.schema ? { files: policies, schema: options.schema } : { files: policies };
    const dir = await readPolicyDirectory(policyDir as string);
    const schema = options.schema ?? dir.schema;
    return schema ? { files: dir.files, schema } : { files: dir.files };
  };
  function* prepareSteps(input: { files: readonly PolicyFile[]; schema?: SchemaSource }): CedarSteps<PreparedSet> {
    const set = yield* compilePolicySetSteps({ ...input, maxNesting });
    return { set, compiled: path === 'compiled' ? yield* compileEvaluatorSteps(set) : undefined };
  }
  // Strict validation and the compiled path's conversions run on cedar-wasm in
  // a short-lived child process (see cedar-calls.ts): they grow its memory by
  // ~80 MiB, which a WebAssembly instance never gives back.
  const prepareInput = async (input: { files: readonly PolicyFile[]; schema?: SchemaSource }): Promise<PreparedSet> => {
    if (requireSchema && !input.schema) {
      throw new AuthzError('no schema: add a *.cedarschema file or pass schema (or set requireSchema: false)', {
        code: 'ERR_AUTHZ_VALIDATION',
        fault: 'client',
        details: { issues: [] },
      });
    }
    return runIsolated(prepareSteps(input));
  };

  const slots = [acquireSlot(), acquireSlot()] as const;
  // The schema each slot holds, to skip re-preparsing an unchanged schema (~60 ms).
  const slotSchemas: (string | undefined)[] = [undefined, undefined];
  // The snapshot whose set each slot holds (undefined: none of the live ones).
  const slotHolds: (Snapshot | undefined)[] = [undefined, undefined];
  let standby = 0;
  let closed = false;

  // Preparses a snapshot's set into its slot of this process's cedar-wasm.
  const preparse = (snap: Snapshot): void => {
    const index = snap.slotIndex;
    const { set } = snap;
    const staticPolicies: Record<string, string> = {};
    for (const [id, p] of set.policies) staticPolicies[id] = p.text;
    const schemaKey =
      set.schema === undefined ? undefined : typeof set.schema === 'string' ? set.schema : JSON.stringify(set.schema);
    const sameSchema = schemaKey !== undefined && slotSchemas[index] === schemaKey;
    slotSchemas[index] = undefined;
    slotHolds[index] = undefined;
    const answers = [
      preparsePolicySet(snap.slot, { staticPolicies }),
      ...(set.schema === undefined || sameSchema ? [] : [preparseSchema(snap.slot, set.schema as never)]),
    ];
    for (const a of answers) {
      if (a.type === 'failure') {
        throw new AuthzError('the Cedar engine rejected a validated policy set', {
          code: 'ERR_AUTHZ_ENGINE',
          fault: 'server',
          details: { errors: a.errors.map((e) => e.message) },
        });
      }
    }
    slotSchemas[index] = schemaKey;
    slotHolds[index] = snap;
  };

  // Makes the snapshot of a prepared set in the standby slot. The live slot is
  // untouched until the caller swaps `current`, so a decision never sees a
  // half-loaded set.
  const install = ({ set, compiled }: PreparedSet): Snapshot => {
    const slotIndex = standby;
    const evaluator = compiled && 'evaluator' in compiled ? compiled.evaluator : undefined;
    const evaluation: EvaluationInfo = Object.freeze(
      evaluator
        ? { path: 'compiled' as const }
        : compiled && 'unsupported' in compiled
          ? { path: 'wasm' as const, fallbackReason: compiled.unsupported }
          : { path: 'wasm' as const },
    );
    const snap: Snapshot = Object.freeze({
      slotIndex,
      slot: slots[slotIndex] as string,
      set,
      ids: Object.freeze([...set.policies.keys()]),
      compiled: evaluator,
      evaluation,
    });
    // A set on the wasm path is preparsed now, so a failure fails the load or
    // reload. On the compiled path cedar-wasm only decides the requests the
    // compiled path declines: its slot is loaded on the first such request
    // (see wasmAnswer), and a process that never has one never loads cedar-wasm.
    if (evaluator) slotHolds[slotIndex] = undefined;
    else preparse(snap);
    standby = 1 - standby;
    return snap;
  };

  let current = install(await prepareInput(await readInput()));
  const emitter = new EventEmitter();

  const wasmAnswer = (
    snap: Snapshot,
    principal: EntityRef,
    action: EntityRef,
    resource: EntityRef,
    context: Record<string, CedarValue>,
    entities: readonly CedarEntity[],
  ): RawAnswer => {
    try {
      // Only the live snapshot decides (decisions run synchronously on
      // `current`), so loading its slot here never replaces a set in use.
      if (slotHolds[snap.slotIndex] !== snap) preparse(snap);
      const answer = statefulIsAuthorized({
        principal,
        action,
        resource,
        context: context as never,
        entities: entities as never,
        preparsedPolicySetId: snap.slot,
        ...(snap.set.schema === undefined
          ? { validateRequest: false }
          : { preparsedSchemaName: snap.slot, validateRequest: true }),
      });
      if (answer.type === 'failure') return answer;
      const { decision, diagnostics } = answer.response;
      return {
        type: 'success',
        decision,
        reason: diagnostics.reason,
        errors: diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message })),
      };
    } catch (cause) {
      // cedar-wasm throws on malformed call objects: that is a deny, always.
      return {
        type: 'failure',
        errors: [
          {
            message: `the Cedar engine rejected the request: ${cause instanceof Error ? cause.message : String(cause)}`,
          },
        ],
      };
    }
  };

  const evaluate = (
    snap: Snapshot,
    principal: EntityRef,
    action: EntityRef,
    resource: EntityRef,
    context: Record<string, CedarValue>,
    entities: readonly CedarEntity[],
  ): AuthorizationDecision => {
    const answer =
      snap.compiled?.decide(principal, action, resource, context, entities) ??
      wasmAnswer(snap, principal, action, resource, context, entities);
    if (answer.type === 'failure') {
      // The request does not match the schema (unknown entity type, bad context, …): deny.
      return deny(
        snap,
        answer.errors.map((e) => ({ message: e.message })),
      );
    }
    const errors: readonly DecisionError[] =
      answer.errors.length === 0
        ? NO_ERRORS
        : [...answer.errors].sort((a, b) => (a.policyId < b.policyId ? -1 : a.policyId > b.policyId ? 1 : 0));
    if (answer.decision === 'allow' && errors.length > 0 && failClosed) {
      // Security: Cedar skipped an erroring policy; it may have been the forbid that should have applied.
      return {
        decision: 'deny',
        allowed: false,
        policyIds: [],
        errors,
        failedClosed: true,
        policySetVersion: snap.set.version,
      };
    }
    return {
      decision: answer.decision,
      allowed: answer.decision === 'allow',
      // Sorted: Cedar's order depends on internal hashing; audit trails and
      // comparisons want one canonical order.
      policyIds: answer.reason.length < 2 ? answer.reason : [...answer.reason].sort(),
      errors,
      failedClosed: false,
      policySetVersion: snap.set.version,
    };
  };

  const prepare = (request: AuthorizationRequest) => {
    if (typeof request !== 'object' || request === null) {
      throw new AuthzError('a request must be an object', { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
    }
    const principal = parseEntityRef(request.principal);
    const action = parseEntityRef(request.action, namespace);
    const resource = parseEntityRef(request.resource);
    const context = (request.context ?? {}) as Record<string, CedarValue>;
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new AuthzError('context must be a record', { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
    }
    assertCedarValue(context, 'context');
    const inline = request.entities ?? [];
    if (!Array.isArray(inline))
      throw new AuthzError('entities must be an array', { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
    for (const e of inline) checkEntity(e);
    const roots: EntityRef[] = [principal, resource];
    forEachEntityRef(context, (r) => roots.push(r));
    const inlineByKey = new Map<string, CedarEntity>();
    if (provider) for (const e of inline) inlineByKey.set(entityKey(e.uid), e);
    return { principal, action, resource, context, inline, roots, inlineByKey };
  };
  type Prepared = ReturnType<typeof prepare>;

  const assertOpen = () => {
    if (closed) throw new AuthzError('the authorizer is closed', { code: 'ERR_AUTHZ_CLOSED', fault: 'client' });
  };

  const decideWithPool = (
    p: Prepared,
    snap: Snapshot,
    loaded: ReadonlyMap<string, CedarEntity>,
  ): AuthorizationDecision => {
    if (loaded.size === 0) return evaluate(snap, p.principal, p.action, p.resource, p.context, p.inline);
    // Inline entities win over provider entities with the same uid; only
    // provider entities reachable from this request are sent.
    if (p.inlineByKey.size === 0) {
      return evaluate(snap, p.principal, p.action, p.resource, p.context, closure(p.roots, loaded));
    }
    const lookup = { get: (key: string) => p.inlineByKey.get(key) ?? loaded.get(key) };
    const fromProvider = closure(p.roots, lookup).filter((e) => !p.inlineByKey.has(entityKey(e.uid)));
    return evaluate(snap, p.principal, p.action, p.resource, p.context, [...p.inline, ...fromProvider]);
  };

  const load = async (prepared: readonly Prepared[]): Promise<Map<string, CedarEntity>> => {
    const loaded = new Map<string, CedarEntity>();
    if (!provider) return loaded;
    // Synchronous (no promise) when the provider's `loadSync` answered every level.
    const pending = collectEntities(
      prepared.map((p) => ({ roots: p.roots, inline: p.inlineByKey })),
      provider,
      loaded,
    );
    if (pending) await pending;
    return loaded;
  };

  let reloading: Promise<ReloadedEvent> | undefined;
  const doReload = async (): Promise<ReloadedEvent> => {
    const previousVersion = current.set.version;
    try {
      const prepared = await prepareInput(await readInput());
      const { set } = prepared;
      assertOpen();
      if (set.version === previousVersion) {
        return {
          version: set.version,
          previousVersion,
          policyCount: set.policies.size,
          changed: false,
          evaluation: current.evaluation,
        };
      }
      current = install(prepared); // the atomic swap
      const event = {
        version: set.version,
        previousVersion,
        policyCount: set.policies.size,
        changed: true,
        evaluation: current.evaluation,
      };
      emitter.emit('reloaded', event);
      return event;
    } catch (cause) {
      const error =
        cause instanceof AuthzError
          ? cause
          : new AuthzError('reload failed', { code: 'ERR_AUTHZ_ENGINE', fault: 'server', cause });
      const issues = (error.details.issues as ValidationIssue[] | undefined) ?? [];
      emitter.emit('reload-failed', { error, version: current.set.version, issues });
      throw error;
    }
  };
  // Reloads are serialized; a request during a reload schedules one more.
  const reload = (): Promise<ReloadedEvent> => {
    if (reloading) {
      return reloading.catch(() => undefined).then(() => reload());
    }
    const run = doReload().finally(() => {
      reloading = undefined;
    });
    reloading = run;
    return run;
  };

  const stoppers = new Set<() => void>();

  const authorizer: Authorizer = {
    get version() {
      return current.set.version;
    },
    get policyIds() {
      return current.ids;
    },
    get policySet() {
      return current.set;
    },
    get evaluation() {
      return current.evaluation;
    },
    clock,
    async authorize(request) {
      assertOpen();
      const p = prepare(request);
      const loaded = new Map<string, CedarEntity>();
      // When the provider answered every level synchronously (cached
      // entities), decide in the same turn: awaiting an already-finished load
      // only cost a trip through the microtask queue.
      const pending = provider
        ? collectEntities([{ roots: p.roots, inline: p.inlineByKey }], provider, loaded)
        : undefined;
      if (pending) {
        await pending;
        assertOpen();
      }
      return decideWithPool(p, current, loaded);
    },
    authorizeSync(request) {
      assertOpen();
      const p = prepare(request);
      return evaluate(current, p.principal, p.action, p.resource, p.context, p.inline);
    },
    async authorizeBatch(requests) {
      assertOpen();
      if (!Array.isArray(requests))
        throw new AuthzError('requests must be an array', { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
      const prepared = requests.map(prepare);
      const loaded = await load(prepared);
      assertOpen();
      // One snapshot for the whole batch, evaluated synchronously.
      const snap = current;
      return prepared.map((p) => decideWithPool(p, snap, loaded));
    },
    async validate(input) {
      return validatePoliciesIsolated({ ...(input ?? (await readInput())), maxNesting });
    },
    reload() {
      assertOpen();
      if (!policyDir) {
        return Promise.reject(
          new AuthzError('reload needs policyDir', { code: 'ERR_AUTHZ_INVALID_OPTIONS', fault: 'client' }),
        );
      }
      return reload();
    },
    watch(watchOptions = {}) {
      assertOpen();
      if (!policyDir)
        throw new AuthzError('watch needs policyDir', { code: 'ERR_AUTHZ_INVALID_OPTIONS', fault: 'client' });
      const debounceMs = watchOptions.debounceMs ?? 100;
      const pollIntervalMs = watchOptions.pollIntervalMs ?? 250;
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      const trigger = () => {
        if (stopped) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          timer = undefined;
          if (!stopped && !closed) reload().catch(() => undefined); // reported as a `reload-failed` event
        }, debounceMs);
        timer.unref?.();
      };
      let watcher: FSWatcher | undefined;
      let poller: NodeJS.Timeout | undefined;
      const startPolling = () => {
        let last: string | undefined;
        const tick = async () => {
          const signature = await directorySignature(policyDir).catch(() => 'unreadable');
          if (last !== undefined && signature !== last) trigger();
          last = signature;
        };
        void tick();
        poller = setInterval(() => void tick(), pollIntervalMs);
        poller.unref?.();
      };
      if (watchOptions.poll) startPolling();
      else {
        try {
          watcher = fsWatch(policyDir, { persistent: false }, trigger);
          watcher.on('error', () => {
            watcher?.close();
            watcher = undefined;
            if (!stopped) startPolling();
          });
        } catch {
          startPolling();
        }
      }
      const stop = () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        watcher?.close();
        if (poller) clearInterval(poller);
        stoppers.delete(stop);
      };
      stoppers.add(stop);
      return stop;
    },
    on(event, listener) {
      emitter.on(event, listener as (...args: unknown[]) => void);
      return authorizer;
    },
    off(event, listener) {
      emitter.off(event, listener as (...args: unknown[]) => void);
      return authorizer;
    },
    once(event, listener) {
      emitter.once(event, listener as (...args: unknown[]) => void);
      return authorizer;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const stop of [...stoppers]) stop();
      freeSlots.push(...slots);
    },
  };
  return authorizer;
}

function deny(snap: Snapshot, errors: readonly DecisionError[]): AuthorizationDecision {
  return {
    decision: 'deny',
    allowed: false,
    policyIds: [],
    errors,
    failedClosed: true,
    policySetVersion: snap.set.version,
  };
}

function checkEntity(e: CedarEntity): void {
  if (typeof e !== 'object' || e === null)
    throw new AuthzError('an entity must be an object', { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
  parseEntityRef(e.uid);
  if (!Array.isArray(e.parents))
    throw new AuthzError('entity parents must be an array', { code: 'ERR_AUTHZ_INVALID_REQUEST', fault: 'client' });
  assertCedarValue(e.attrs ?? {}, 'entity attrs');
}

async function directorySignature(dir: string): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  const names = (await readdir(dir)).sort();
  const parts: string[] = [];
  for (const name of names) {
    const s = await stat(`${dir}/${name}`).catch(() => undefined);
    if (s) parts.push(`${name}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('|');
}
