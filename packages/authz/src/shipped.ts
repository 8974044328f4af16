import { fileURLToPath } from 'node:url';

/**
 * The directory holding the platform's shipped schema and policies
 * (`schema.cedarschema`, `production.cedar`, `development.cedar`,
 * `admin.cedar`). In the published package it is `dist/policies/`; from
 * source it is `src/policies/`. Pass it as `policyDir`, or copy it as a
 * starting point for your own.
 *
 * @example
 * ```ts
 * const authz = await createAuthorizer({ policyDir: shippedPolicyDir });
 * ```
 */
export const shippedPolicyDir: string = fileURLToPath(new URL('./policies/', import.meta.url));
