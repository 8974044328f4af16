import { ComplianceError } from './errors.js';

/**
 * @internal Every item of a keyset-paginated list: `page(after)` returns the
 * items after the id `after` (all from the start when `undefined`), in id
 * order, at most `pageSize` of them. A short page ends the list.
 */
export async function listAll<T extends { readonly id: string }>(
  pageSize: number,
  page: (after: string | undefined) => Promise<readonly T[]>,
): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (;;) {
    const items = await page(after);
    out.push(...items);
    const last = items[items.length - 1]?.id;
    if (items.length < pageSize || last === undefined) return out;
    // A store that hands back the same page again would loop for ever: stop, and fail the caller.
    if (after !== undefined && last <= after) {
      throw new ComplianceError('a paginated list did not advance', {
        code: 'ERR_COMPLIANCE_INVALID_INPUT',
        fault: 'server',
      });
    }
    after = last;
  }
}
