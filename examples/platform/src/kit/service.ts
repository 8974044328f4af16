import type { ServiceName } from '@provisioning/platform-client/api';
import type { Hono } from 'hono';
import type { Platform } from './platform.js';

/** A running service's parts: its Hono app and what to close on shutdown. */
export interface ServiceInstance {
  readonly app: Hono;
  /** Called with the Node HTTP server once it listens (WebSocket upgrades). */
  attach?(server: import('node:http').Server): void;
  /** Stops background work (engines, monitors) after the HTTP server has drained. */
  close?(): Promise<void>;
}

/** How `main.ts` builds a service. */
export interface ServiceModule {
  readonly name: ServiceName;
  /** Default port (the platform's documented one). */
  readonly port: number;
  /** The service's own config sections, validated by main.ts at start-up beside `[server]`. */
  readonly config?: import('./config.js').ConfigSpec;
  create(platform: Platform): Promise<ServiceInstance>;
}
