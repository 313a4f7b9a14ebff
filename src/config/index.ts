// Loads env + YAML config + model catalog once, validated and frozen. The only module that reads process.env.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { buildCatalog, type Catalog } from '../routing/catalog.js';
import { catalogSchema } from './catalog.js';
import { envSchema, fileConfigSchema, type Env, type FileConfig } from './schema.js';

export interface Config {
  env: Env;
  file: FileConfig;
  catalog: Catalog;
  /** Directory of the YAML config, for resolving relative paths. */
  configDir: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function formatIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((i) => `${where}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('\n');
}

/** Replace `${VAR}` and `${VAR:-default}` in YAML text; a missing variable without default fails with its location. */
export function substituteEnv(text: string, env: Record<string, string | undefined>, where: string): string {
  return text
    .split('\n')
    .map((line, i) => {
      if (line.trimStart().startsWith('#')) return line; // comments may mention ${VAR} syntax
      return line.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        throw new ConfigError(`${where}:${i + 1}: environment variable ${name} is required but not set`);
      });
    })
    .join('\n');
}

function readYaml(path: string, env: Record<string, string | undefined>, optional: boolean): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return parseYaml(substituteEnv(text, env, path)) ?? {};
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${path}: invalid YAML: ${(e as Error).message}`);
  }
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  /** Override parts of the file config (tests). */
  overrides?: Partial<FileConfig>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const rawEnv = options.env ?? process.env;
  const envResult = envSchema.safeParse(rawEnv);
  if (!envResult.success) throw new ConfigError(formatIssues('environment', envResult.error));
  const env = envResult.data;

  const configPath = resolve(env.TOLLGATE_CONFIG);
  // The default config file may be absent (defaults apply); an explicitly named one must exist.
  const explicit = rawEnv.TOLLGATE_CONFIG !== undefined && rawEnv.TOLLGATE_CONFIG !== '';
  const fileRaw = readYaml(configPath, rawEnv, !explicit);
  const fileResult = fileConfigSchema.safeParse(fileRaw);
  if (!fileResult.success) throw new ConfigError(formatIssues(configPath, fileResult.error));
  const file: FileConfig = { ...fileResult.data, ...options.overrides };

  const configDir = dirname(configPath);
  const catalogPath = isAbsolute(file.catalog) ? file.catalog : resolve(configDir, file.catalog);
  const catalogResult = catalogSchema.safeParse(readYaml(catalogPath, rawEnv, false));
  if (!catalogResult.success) throw new ConfigError(formatIssues(catalogPath, catalogResult.error));

  return deepFreeze({ env, file, catalog: buildCatalog(catalogResult.data), configDir });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof Map) && !(o instanceof Date)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
