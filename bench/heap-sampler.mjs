// Preloaded into the gateway by `bench/promotion-probe.ts --heap-profile=FILE` (node --import): V8's sampling heap
// profiler from start-up, keeping the samples of objects a major GC collected and dropping those a scavenge collected,
// so that what it holds at read-out is what outlived young-generation collections (plus what is still live), with its
// allocation stacks. SIGWINCH writes it to $BENCH_HEAP_PROFILE (SIGUSR2 belongs to bench/alloc-sampler.mjs, which
// drives the same V8 sampler). Run with no major GC before the read-out (the probe sets the flags): each would count
// the young generation's dead objects of that moment as well.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_HEAP_PROFILE;
const session = new Session();
session.connect();
const post = (method, params) => new Promise((ok, fail) => session.post(method, params, (e, r) => (e ? fail(e) : ok(r))));
await post('HeapProfiler.enable');
await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true });

process.on('SIGWINCH', async () => {
  // Short-lived garbage first: scavenges (which drop their samples) clear the young generation of the run's dead
  // objects, which the major GC at read-out would otherwise count as if promoted.
  const junk = [];
  for (let i = 0; i < 400_000; i++) if (junk.push(new Array(32)) >= 1000) junk.length = 0;
  const { profile } = await post('HeapProfiler.getSamplingProfile');
  writeFileSync(out, JSON.stringify(profile));
  process.stderr.write('heap profile written\n');
});
