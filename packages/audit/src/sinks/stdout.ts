import type { Writable } from 'node:stream';
import type { ChainedRecord, SignedCheckpoint } from '../chain.js';
import type { EventSink } from '../store.js';

/** Options of {@link stdoutSink}. */
export interface StdoutSinkOptions {
  /** Where to write. Default `process.stdout`. */
  readonly stream?: Writable;
  /** Also write checkpoint lines. Default `true`. */
  readonly checkpoints?: boolean;
}

/**
 * Writes each event as a JSON line (`{"seq","hash","event"}`) to stdout, for
 * containers whose log collector ships stdout. Best effort (`durability:
 * 'none'`): waits for the stream's write callback, honours backpressure.
 *
 * @example
 * ```ts
 * const log = await createAuditLog({ sinks: [stdoutSink()] });
 * ```
 */
export function stdoutSink(options: StdoutSinkOptions = {}): EventSink {
  const stream = options.stream ?? process.stdout;
  const write = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      stream.write(text, (error) => (error ? reject(error) : resolve()));
    });
  return {
    id: 'stdout',
    durability: 'none',
    open: async () => ({}),
    async write(records: readonly ChainedRecord[]) {
      let text = '';
      for (const r of records) text += `{"seq":${r.seq},"hash":"${r.hash}","event":${r.json}}\n`;
      await write(text);
    },
    async writeCheckpoint(cp: SignedCheckpoint) {
      if (options.checkpoints !== false) await write(`${JSON.stringify({ checkpoint: cp })}\n`);
    },
    close: async () => {},
  };
}
