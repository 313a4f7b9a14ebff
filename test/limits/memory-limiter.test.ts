// The Limiter contract against the in-process limiter.
import { createMemoryLimiter } from '../../src/limits/memory-limiter.js';
import { limiterContract } from './limiter.case.js';

limiterContract('memory', async (o) => createMemoryLimiter(o));
