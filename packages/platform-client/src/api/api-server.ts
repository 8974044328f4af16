import { type NamedSchema, s } from '../schema.js';
import { HealthStatusSchema, PAGINATION_QUERY, type Route, routeBuilder, timestamp } from './common.js';

/** Body of `POST /v1/auth/login` (known). */
export interface ApiLoginRequest {
  readonly username: string;
  readonly password: string;
}
/** Answer of `/v1/auth/login` and `/v1/auth/refresh` (known). */
export interface ApiTokenResponse {
  readonly token: string;
  readonly refresh_token: string;
  /** Seconds. */
  readonly expires_in: number;
}
/** Schema of {@link ApiLoginRequest}. */
export const ApiLoginRequestSchema: NamedSchema<ApiLoginRequest> = s.named(
  'ApiLoginRequest',
  s.object({ username: s.string(), password: s.string() }),
);
/** Schema of {@link ApiTokenResponse}. */
export const ApiTokenResponseSchema: NamedSchema<ApiTokenResponse> = s.named(
  'ApiTokenResponse',
  s.object({ token: s.string(), refresh_token: s.string(), expires_in: s.number({ integer: true, minimum: 1 }) }),
);

/** A server (known). `id` looks like `srv-…`. */
export interface Server {
  readonly id: string;
  readonly hostname: string;
  readonly provider: string;
  readonly plan: string;
  readonly zone: string;
  readonly ip_address: string | null;
  readonly status: string;
  readonly created_at: string;
}
/** Schema of {@link Server}. */
export const ServerSchema: NamedSchema<Server> = s.named(
  'Server',
  s.object({
    id: s.string({ pattern: /^srv-/ }),
    hostname: s.string(),
    provider: s.string(),
    plan: s.string(),
    zone: s.string(),
    ip_address: s.nullable(s.string()),
    status: s.string(),
    created_at: timestamp,
  }),
);

/** Body of `POST /v1/servers/create` (known). */
export interface CreateServerRequest {
  readonly workspace: string;
  readonly provider: string;
  readonly plan: string;
  readonly hostname: string;
  readonly zone: string;
  /** Dry run: plan only. */
  readonly check_mode: boolean;
  readonly tags: readonly string[];
}
/** Schema of {@link CreateServerRequest}. */
export const CreateServerRequestSchema: NamedSchema<CreateServerRequest> = s.named(
  'CreateServerRequest',
  s.object({
    workspace: s.string(),
    provider: s.string(),
    plan: s.string(),
    hostname: s.string(),
    zone: s.string(),
    check_mode: s.boolean(),
    tags: s.array(s.string()),
  }),
);

/** Body of `POST /v1/taskservs/create` (designed, same style). */
export interface CreateTaskservRequest {
  readonly workspace: string;
  readonly taskserv: string;
  readonly servers: readonly string[];
  readonly check_mode: boolean;
}
/** Schema of {@link CreateTaskservRequest}. */
export const CreateTaskservRequestSchema: NamedSchema<CreateTaskservRequest> = s.named(
  'CreateTaskservRequest',
  s.object({ workspace: s.string(), taskserv: s.string(), servers: s.array(s.string()), check_mode: s.boolean() }),
);

/** Body of `POST /v1/clusters/create` (designed, same style). */
export interface CreateClusterRequest {
  readonly workspace: string;
  readonly cluster: string;
  readonly node_count: number;
  readonly check_mode: boolean;
}
/** Schema of {@link CreateClusterRequest}. */
export const CreateClusterRequestSchema: NamedSchema<CreateClusterRequest> = s.named(
  'CreateClusterRequest',
  s.object({
    workspace: s.string(),
    cluster: s.string(),
    node_count: s.number({ integer: true, minimum: 1 }),
    check_mode: s.boolean(),
  }),
);

/** States of an {@link Operation} (known). `completed`, `failed` and `cancelled` are final. */
export type OperationStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
/** The final {@link OperationStatus}es. */
export const FINAL_OPERATION_STATUSES: readonly OperationStatus[] = Object.freeze(['completed', 'failed', 'cancelled']);

/** An asynchronous operation of the API server (known shape, plus optional `progress` and `type`). */
export interface Operation {
  readonly id: string;
  readonly status: OperationStatus;
  readonly created_at: string;
  readonly updated_at: string;
  /** The outcome, once `completed`. */
  readonly result: unknown;
  /** Why it failed, once `failed`. */
  readonly error: string | null;
  /** Percent complete, 0–100 (designed, optional). */
  readonly progress?: number;
  /** `server.create`, `taskserv.create` … (designed, optional). */
  readonly type?: string;
}
/** Schema of {@link Operation}. */
export const OperationSchema: NamedSchema<Operation> = s.named(
  'Operation',
  s.object({
    id: s.string(),
    status: s.literal('pending', 'running', 'completed', 'failed', 'cancelled'),
    created_at: timestamp,
    updated_at: timestamp,
    result: s.unknown(),
    error: s.nullable(s.string()),
    progress: s.optional(s.number({ minimum: 0, maximum: 100 })),
    type: s.optional(s.string()),
  }),
);

/** `GET /v1/metrics` (designed JSON). */
export interface ApiMetrics {
  readonly operations_running: number;
  readonly operations_total: number;
  readonly max_concurrent_operations: number;
  readonly uptime_seconds: number;
}
/** Schema of {@link ApiMetrics}. */
export const ApiMetricsSchema: NamedSchema<ApiMetrics> = s.named(
  'ApiMetrics',
  s.object({
    operations_running: s.number({ integer: true, minimum: 0 }),
    operations_total: s.number({ integer: true, minimum: 0 }),
    max_concurrent_operations: s.number({ integer: true, minimum: 1 }),
    uptime_seconds: s.number({ minimum: 0 }),
  }),
);

/** Permissions the API server's routes name (known style: `server_read`, `server_create` …). */
export type ApiPermission =
  | 'server_read'
  | 'server_create'
  | 'server_delete'
  | 'taskserv_create'
  | 'cluster_create'
  | 'operation_read'
  | 'operation_cancel'
  | 'metrics_read';

/** Names of the API server's routes. */
export type ApiServerRouteId =
  | 'login'
  | 'refresh'
  | 'listServers'
  | 'getServer'
  | 'createServer'
  | 'deleteServer'
  | 'createTaskserv'
  | 'createCluster'
  | 'listOperations'
  | 'getOperation'
  | 'cancelOperation'
  | 'health'
  | 'metrics';

/** An API server route with the permission it needs. */
export interface ApiServerRoute extends Route {
  readonly permission?: ApiPermission;
}

const r = routeBuilder<ApiServerRouteId, ApiServerRoute>('apiServer', {
  origin: 'designed',
  auth: true,
  // The API server answers bare JSON, and errors as { error, message, code: "400" }.
  envelope: false,
});

/** Every API server route (bare JSON bodies; errors `{ error, message, code }`). */
export const API_SERVER_ROUTES: Readonly<Record<ApiServerRouteId, ApiServerRoute>> = Object.freeze({
  login: r('login', 'POST', '/v1/auth/login', 'Password login', ApiTokenResponseSchema, {
    origin: 'known',
    auth: false,
    request: ApiLoginRequestSchema,
  }),
  refresh: r('refresh', 'POST', '/v1/auth/refresh', 'Refresh', ApiTokenResponseSchema, {
    origin: 'known',
    auth: false,
    request: s.object({ refresh_token: s.string() }),
  }),
  listServers: r('listServers', 'GET', '/v1/servers', 'Servers', s.array(ServerSchema), {
    origin: 'known',
    permission: 'server_read',
    query: PAGINATION_QUERY,
  }),
  getServer: r('getServer', 'GET', '/v1/servers/{id}', 'One server', ServerSchema, { permission: 'server_read' }),
  createServer: r('createServer', 'POST', '/v1/servers/create', 'Create a server (async)', OperationSchema, {
    origin: 'known',
    permission: 'server_create',
    request: CreateServerRequestSchema,
    status: 202,
  }),
  deleteServer: r('deleteServer', 'DELETE', '/v1/servers/{id}', 'Delete a server (async)', OperationSchema, {
    permission: 'server_delete',
    status: 202,
  }),
  createTaskserv: r('createTaskserv', 'POST', '/v1/taskservs/create', 'Install a taskserv (async)', OperationSchema, {
    permission: 'taskserv_create',
    request: CreateTaskservRequestSchema,
    status: 202,
  }),
  createCluster: r('createCluster', 'POST', '/v1/clusters/create', 'Create a cluster (async)', OperationSchema, {
    permission: 'cluster_create',
    request: CreateClusterRequestSchema,
    status: 202,
  }),
  listOperations: r('listOperations', 'GET', '/v1/operations', 'Operations', s.array(OperationSchema), {
    permission: 'operation_read',
    query: [
      { name: 'status', schema: s.literal('pending', 'running', 'completed', 'failed', 'cancelled') },
      ...PAGINATION_QUERY,
    ],
  }),
  getOperation: r('getOperation', 'GET', '/v1/operations/{id}', 'One operation', OperationSchema, {
    permission: 'operation_read',
  }),
  cancelOperation: r('cancelOperation', 'POST', '/v1/operations/{id}/cancel', 'Cancel an operation', OperationSchema, {
    permission: 'operation_cancel',
    // Cancelling twice is harmless.
    idempotent: true,
  }),
  health: r('health', 'GET', '/v1/health', 'Liveness', HealthStatusSchema, { auth: false }),
  metrics: r('metrics', 'GET', '/v1/metrics', 'Operation metrics', ApiMetricsSchema, { permission: 'metrics_read' }),
});

/** Defaults of the API server's configuration (known: `[provisioning] timeout_seconds=300, max_concurrent_operations=10`). */
export const API_SERVER_DEFAULTS: Readonly<{ timeoutSeconds: number; maxConcurrentOperations: number }> = Object.freeze(
  {
    timeoutSeconds: 300,
    maxConcurrentOperations: 10,
  },
);
