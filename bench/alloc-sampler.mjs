// Preloaded into every server the bench starts (NODE_OPTIONS=--import): inert until SIGUSR2. The first SIGUSR2 starts
// V8's sampling heap profiler counting every allocation, the objects already collected included; the second stops it
// and writes the bytes allocated in between to $BENCH_ALLOC_DIR/alloc-<pid>.json. Bytes allocated per request, unlike
// CPU time, do not depend on what else the machine runs: the garbage collector's share of the CPU follows them.
import { Session } from 'node:inspector';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let session = null;
process.on('SIGUSR2', () => {
  if (!session) {
    session = new Session();
    session.connect();
    session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  const s = session;
  session = null;
  s.post('HeapProfiler.stopSampling', (err, r) => {
    const bytes = err ? -1 : r.profile.samples.reduce((sum, x) => sum + x.size, 0);
    const dir = process.env.BENCH_ALLOC_DIR ?? '.';
    // The whole profile too, for a breakdown by function (bench/alloc-profile.ts).
    if (!err) writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(r.profile));
    // Written under another name and renamed: the bench polls for this file, and must not read it half written.
    const file = join(dir, `alloc-${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify({ bytes }));
    renameSync(`${file}.tmp`, file);
    s.disconnect();
  });
});
