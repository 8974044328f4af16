import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '@provisioning/core';
import { writeFileAtomic } from '@provisioning/kms';
import { ageBackend, generateAgeIdentity } from '@provisioning/kms/age';

/** One age key of the KMS service (public facts only; the identity stays in the keyring). */
export interface AgeKeyInfo {
  /** The `age1…` recipient: the key id clients see. */
  readonly keyId: string;
  /** When it was generated (from the `# created:` line), if known. */
  readonly createdAt: string | undefined;
  /** Whether new encryptions use it (the newest key). */
  readonly current: boolean;
}

/**
 * The service's age identities, kept in one identity file (age-keygen's
 * format, several keys concatenated, newest last, mode 0600). The newest key
 * encrypts; every key decrypts, so rotation never strands a ciphertext.
 */
export interface AgeKeyring {
  /** `AGE-SECRET-KEY-1…` identities, oldest first. Secret: never log them. */
  identities(): readonly string[];
  keys(): readonly AgeKeyInfo[];
  current(): AgeKeyInfo;
  /** Generates a new key, makes it current and persists the file atomically. */
  rotate(): Promise<AgeKeyInfo>;
}

interface Entry {
  identity: string;
  recipient: string;
  createdAt: string | undefined;
}

const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]+$/;

/**
 * Opens the keyring at `path`, generating a first identity when the file does
 * not exist yet (written atomically with mode 0600 through kms's `writeFileAtomic`).
 */
export async function openAgeKeyring(path: string, clock: Clock): Promise<AgeKeyring> {
  const entries: Entry[] = [];
  if (existsSync(path)) {
    let createdAt: string | undefined;
    for (const raw of readFileSync(path, 'utf8').split('\n')) {
      const line = raw.trim();
      if (line.startsWith('# created:')) createdAt = line.slice('# created:'.length).trim();
      if (line === '' || line.startsWith('#')) continue;
      if (!IDENTITY.test(line)) throw new Error(`the KMS keyring ${path} holds a line that is not an age identity`);
      entries.push({ identity: line, recipient: await recipientOf(line), createdAt });
      createdAt = undefined;
    }
    if (entries.length === 0) throw new Error(`the KMS keyring ${path} holds no age identity`);
  } else {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { identity, recipient } = await generateAgeIdentity();
    entries.push({ identity, recipient, createdAt: new Date(clock.now()).toISOString() });
    await save(path, entries);
  }
  const info = (e: Entry, i: number): AgeKeyInfo => ({
    keyId: e.recipient,
    createdAt: e.createdAt,
    current: i === entries.length - 1,
  });
  return {
    identities: () => entries.map((e) => e.identity),
    keys: () => entries.map(info),
    current: () => info(entries[entries.length - 1] as Entry, entries.length - 1),
    async rotate() {
      const { identity, recipient } = await generateAgeIdentity();
      const next = [...entries, { identity, recipient, createdAt: new Date(clock.now()).toISOString() }];
      await save(path, next); // persisted before use: a crash never leaves data under an unsaved key
      entries.push(next[next.length - 1] as Entry);
      return info(next[next.length - 1] as Entry, next.length - 1);
    },
  };
}

function save(path: string, entries: readonly Entry[]): Promise<void> {
  const text = entries
    .map((e) => `${e.createdAt ? `# created: ${e.createdAt}\n` : ''}# public key: ${e.recipient}\n${e.identity}\n`)
    .join('');
  return writeFileAtomic(path, text, { mode: 0o600 });
}

// The age backend derives the recipient from an identity; its key id is that recipient.
async function recipientOf(identity: string): Promise<string> {
  return (await ageBackend({ identities: [identity] })).keyId;
}
