// Append-only spool files for ledger events the database could not take: one line per event, in the form the ledger
// sink gives it (LedgerSink.encode), fsync per append. The files know nothing of that form.
import { createReadStream } from 'node:fs';
import { appendFileSync, mkdirSync, openSync, closeSync, fsyncSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const SPOOL_FILE = 'ledger-spool.ndjson';
/** Events the database refused for good (data errors), kept for a human instead of retried forever. */
export const REJECTED_FILE = 'ledger-rejected.ndjson';
const REPLAY_PATTERN = /^ledger-spool\.(\d+)-(\d+)\.replay\.ndjson$/;

export interface SpoolFiles {
  readonly dir: string;
  /** Appends lines (events as the sink encodes them) to the active spool file and fsyncs it. */
  append(lines: readonly string[]): Promise<void>;
  /** Same, synchronously: for events arriving after the writer closed (shutdown only). */
  appendSync(lines: readonly string[]): void;
  /** Renames the active file aside (atomic) so that replay never races with new appends; returns files to replay, oldest first. */
  rotate(): Promise<string[]>;
  /** The lines of a replay file, each through `decode`, in batches; lines it throws on go to onBadLine. */
  read(file: string, batchSize: number, decode: (line: string) => string, onBadLine: (line: string, err: unknown) => void): AsyncIterable<string[]>;
  remove(file: string): Promise<void>;
  /** Events (lines) currently in all spool files; read once at start. */
  countAll(): Promise<number>;
  reject(lines: readonly string[]): Promise<void>;
}

async function appendDurably(path: string, text: string): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.appendFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim() !== '') n += 1;
  return n;
}

export function createSpoolFiles(dir: string): SpoolFiles {
  const active = join(dir, SPOOL_FILE);
  let rotations = 0;
  let dirReady = false;
  const ensureDir = async () => {
    if (!dirReady) await mkdir(dir, { recursive: true });
    dirReady = true;
  };
  const replayFiles = async () =>
    (await readdir(dir))
      .map((f) => ({ f, m: REPLAY_PATTERN.exec(f) }))
      .filter((x) => x.m !== null)
      .sort((a, b) => Number(a.m![1]) - Number(b.m![1]) || Number(a.m![2]) - Number(b.m![2]))
      .map((x) => join(dir, x.f));

  return {
    dir,
    async append(lines) {
      if (lines.length === 0) return;
      await ensureDir();
      // Every line ends with \n, and a torn line from a crash is never appended to (files rotate before replay).
      await appendDurably(active, `${lines.join('\n')}\n`);
    },
    appendSync(lines) {
      if (lines.length === 0) return;
      mkdirSync(dir, { recursive: true });
      appendFileSync(active, `${lines.join('\n')}\n`, 'utf8');
      const fd = openSync(active, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
    async rotate() {
      await ensureDir();
      const size = await stat(active).then((s) => s.size, () => 0);
      if (size > 0) {
        rotations += 1;
        await rename(active, join(dir, `ledger-spool.${Date.now()}-${rotations}.replay.ndjson`));
      }
      return replayFiles();
    },
    async *read(file, batchSize, decode, onBadLine) {
      const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
      let batch: string[] = [];
      for await (const line of rl) {
        if (line.trim() === '') continue;
        try {
          batch.push(decode(line));
        } catch (e) {
          onBadLine(line, e);
          continue;
        }
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },
    async remove(file) {
      await unlink(file).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    },
    async countAll() {
      await ensureDir();
      const files = [...(await replayFiles()), active];
      let n = 0;
      for (const f of files) n += await countLines(f).catch(() => 0);
      return n;
    },
    async reject(lines) {
      if (lines.length === 0) return;
      await ensureDir();
      await appendDurably(join(dir, REJECTED_FILE), lines.map((l) => `${l}\n`).join(''));
    },
  };
}
