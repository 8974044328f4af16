import { invalidOptions } from './errors.js';

/** Options of a paginated listing. */
export interface PageOptions {
  /** Items per request (the route's bounds apply). */
  readonly pageSize?: number;
  /** Items to skip before the first. Default 0. */
  readonly offset?: number;
  /** Stop after this many items. Default: no limit. */
  readonly maxItems?: number;
  /** Cancels the iteration between and during requests. */
  readonly signal?: AbortSignal;
}

/**
 * Walks an offset/limit listing as an async iterator, fetching one page at a
 * time as the consumer asks for items. Stops at the first short page. A
 * server that ignores `limit` (answers more items than asked) is treated as
 * unpaginated: its answer is yielded whole and iteration stops, instead of
 * asking again and yielding duplicates.
 *
 * @example
 * ```ts
 * for await (const task of paginate((limit, offset) => listTasks({ limit, offset }), { pageSize: 100 })) {
 *   console.log(task.id);
 * }
 * ```
 */
export async function* paginate<T>(
  fetchPage: (limit: number, offset: number, signal?: AbortSignal) => Promise<readonly T[]>,
  options: PageOptions & { readonly defaultPageSize?: number; readonly maxPageSize?: number } = {},
): AsyncGenerator<T, void, undefined> {
  const maxPage = options.maxPageSize ?? 1000;
  const limit = options.pageSize ?? options.defaultPageSize ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPage) {
    throw invalidOptions(`pageSize must be an integer from 1 to ${maxPage}`);
  }
  let offset = options.offset ?? 0;
  let yielded = 0;
  const max = options.maxItems ?? Number.POSITIVE_INFINITY;
  while (yielded < max) {
    const page = await fetchPage(limit, offset, options.signal);
    for (const item of page) {
      if (yielded >= max) return;
      yield item;
      yielded++;
    }
    if (page.length < limit || page.length > limit) return;
    offset += page.length;
  }
}
