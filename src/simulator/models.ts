// The models each simulated provider knows, read from the project's catalog (config/models.yaml), never hard-coded.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { catalogSchema, type CatalogModel } from '../config/catalog.js';
import type { SimProvider } from './types.js';

export interface ModelDirectory {
  /** Catalog entries of a provider, for GET models. */
  list(provider: SimProvider): CatalogModel[];
  /** The entry for a name the provider accepts (id, upstream id or alias). */
  find(provider: SimProvider, name: string): CatalogModel | undefined;
}

export const defaultCatalogPath = fileURLToPath(new URL('../../config/models.yaml', import.meta.url));

export function loadModelDirectory(path: string = defaultCatalogPath): ModelDirectory {
  const catalog = catalogSchema.parse(parseYaml(readFileSync(path, 'utf8')));
  const byProvider = new Map<SimProvider, CatalogModel[]>();
  const byName = new Map<string, CatalogModel>();
  for (const m of catalog.models) {
    const list = byProvider.get(m.provider) ?? [];
    list.push(m);
    byProvider.set(m.provider, list);
    for (const name of [m.id, m.upstream_id, ...m.aliases]) if (name) byName.set(`${m.provider}/${name}`, m);
  }
  return {
    list: (provider) => byProvider.get(provider) ?? [],
    find: (provider, name) => byName.get(`${provider}/${name}`),
  };
}
