import type { SecuredContext, SecuredEnv } from '../kit/http.js';

/** The Hono environment of the control center's routes. */
export type CcEnv = SecuredEnv;
/** A route handler's context. */
export type CcContext = SecuredContext;

export { actorOf, clientOf, noBody, optionalBody, param, principalOf, securityOf } from '../kit/http.js';
