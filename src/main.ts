// Entry point (`npm start` runs its build: node build/main.js). The V8 heap settings first (heap-tuning.ts), then the
// gateway itself (server.ts), imported only once they are in place: loading its ~350 modules is part of the start-up
// they are meant for.
import './heap-tuning.js';

await import('./server.js');
