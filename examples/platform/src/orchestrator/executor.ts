import { spawn } from 'node:child_process';

/** What a task runs: a program and its arguments (never a shell line). */
export interface TaskCommand {
  readonly id: string;
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Environment handed to the step (workflow params as JSON, ids). */
  readonly env: Readonly<Record<string, string>>;
}

/** Runs one task. Rejects on failure; honours `signal` (cancel, shutdown). */
export interface TaskExecutor {
  run(
    task: TaskCommand,
    options: { signal: AbortSignal; onProgress(percent: number): void },
  ): Promise<{ output: string }>;
}

/**
 * The built-in executor: each task is a child process (no shell, so
 * parameters cannot inject commands), killed after `timeoutMs` or when
 * cancelled. A line `PROGRESS <0-100>` on stdout reports progress; output is
 * kept up to `maxOutputBytes`.
 */
export function processExecutor(options: { timeoutMs?: number; maxOutputBytes?: number } = {}): TaskExecutor {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const maxOutput = options.maxOutputBytes ?? 64 * 1024;
  return {
    run(task, { signal, onProgress }) {
      return new Promise((resolve, reject) => {
        const child = spawn(task.command, [...task.args], {
          shell: false,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...task.env },
          signal,
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
        });
        let output = '';
        let errors = '';
        const keep = (text: string, chunk: string): string =>
          text.length >= maxOutput ? text : (text + chunk).slice(0, maxOutput);
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          for (const line of chunk.split('\n')) {
            const m = /^PROGRESS (\d{1,3})$/.exec(line.trim());
            if (m) onProgress(Math.min(100, Number(m[1])));
          }
          output = keep(output, chunk);
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          errors = keep(errors, chunk);
        });
        child.once('error', (error) => reject(signal.aborted ? new Error('cancelled') : error));
        child.once('close', (code, killedBy) => {
          if (signal.aborted) reject(new Error('cancelled'));
          else if (code === 0) resolve({ output });
          else if (killedBy !== null) reject(new Error(`timed out after ${timeoutMs} ms`));
          else reject(new Error(`exited with ${code}${errors ? `: ${errors.trim().slice(0, 500)}` : ''}`));
        });
      });
    },
  };
}
