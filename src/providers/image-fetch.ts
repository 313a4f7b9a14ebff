// Image inputs for providers that need inline bytes: data: URL parsing, and fetching http(s) URLs from public addresses only.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { AbortLike } from './types.js';

export interface InlineImage {
  mimeType: string;
  /** base64 */
  data: string;
}

/** `data:<mime>;base64,<data>` → inline bytes; null when the URL is not a base64 data URL. */
export function parseDataUrl(url: string): InlineImage | null {
  const m = /^data:([^;,]+)?((?:;[^;,=]+=[^;,]*)*);base64,(.*)$/s.exec(url);
  if (!m) return null;
  return { mimeType: (m[1] ?? 'application/octet-stream').trim().toLowerCase(), data: m[3].replace(/\s+/g, '') };
}

// ---- address classification: only public unicast destinations may be fetched ----

function ipv4ToInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** Non-public IPv4 ranges: this network, private, CGNAT, loopback, link-local, IETF/test nets, benchmark, multicast, reserved. */
const blockedV4: Array<[string, number]> = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const blockedV4Ranges = blockedV4.map(([base, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: ((ipv4ToInt(base) ?? 0) & mask) >>> 0, mask };
});

function isPublicV4(n: number): boolean {
  return !blockedV4Ranges.some((r) => ((n & r.mask) >>> 0) === r.net);
}

/** Expands an IPv6 address (optionally with an embedded dotted quad) into eight 16-bit groups. */
function expandV6(ip: string): number[] | null {
  if (ip.includes('%')) return null; // zone ids only exist for link-local scopes
  let s = ip;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // Rewrite an embedded dotted quad (::ffff:127.0.0.1) as two hex groups.
    const v4 = ipv4ToInt(s.slice(lastColon + 1));
    if (v4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !rest) return null;
  const explicit = head.length + rest.length;
  if (halves.length === 1 && explicit !== 8) return null;
  if (halves.length === 2 && explicit > 7) return null;
  return [...head, ...new Array<number>(8 - explicit).fill(0), ...rest];
}

/** True only for public unicast addresses: refuses loopback, private, link-local, CGNAT, multicast, ULA and mapped forms. */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) {
    const n = ipv4ToInt(ip);
    return n !== null && isPublicV4(n);
  }
  if (family !== 6) return false;
  const g = expandV6(ip);
  if (!g) return false;
  const embeddedV4 = ((g[6] << 16) | g[7]) >>> 0;
  // IPv4-mapped ::ffff:a.b.c.d and NAT64 64:ff9b::a.b.c.d reach an IPv4 host: judge that host.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return isPublicV4(embeddedV4);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return isPublicV4(embeddedV4);
  // Otherwise only global unicast 2000::/3, minus documentation (2001:db8::/32), Teredo (2001::/32) and 6to4 (2002::/16).
  if ((g[0] & 0xe000) !== 0x2000) return false;
  if (g[0] === 0x2001 && (g[1] === 0x0db8 || g[1] === 0)) return false;
  if (g[0] === 0x2002) return false;
  return true;
}

// ---- fetching ----

/** Drops a body we will not read; the listener keeps undici's abort error from going unhandled. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

export interface ImageFetcherOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Replaceable only so tests can fetch from a local server; production uses isPublicAddress. */
  isAllowedAddress?: (ip: string) => boolean;
  maxRedirects?: number;
}

export interface ImageFetcher {
  fetch(url: string, signal: AbortLike): Promise<InlineImage>;
  close(): Promise<void>;
}

export class ImageFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFetchError';
  }
}

export function createImageFetcher(options: ImageFetcherOptions): ImageFetcher {
  const allowed = options.isAllowedAddress ?? isPublicAddress;
  // Every connection resolves through this check, so a redirect or a DNS answer that changes between check and
  // connect (rebinding) cannot reach a private address.
  const guardedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    dnsLookup(hostname, { ...lookupOptions, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      const bad = addresses.find((a) => !allowed(a.address));
      if (bad || addresses.length === 0) {
        const e = Object.assign(new ImageFetchError(`image host ${hostname} resolves to a non-public address`), { code: 'EREFUSED_PRIVATE' });
        return callback(e, '', 4);
      }
      if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };
  const agent = new Agent({ connect: { lookup: guardedLookup, timeout: options.timeoutMs }, connections: 8 });

  async function fetchOnce(url: URL, signal: AbortSignal): Promise<InlineImage | URL> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !allowed(host)) throw new ImageFetchError(`image URL points to a non-public address (${host})`);
    const res = await request(url, { dispatcher: agent, method: 'GET', signal, headers: { accept: 'image/*' } });
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
      discard(res.body);
      return new URL(String(res.headers.location), url);
    }
    if (res.statusCode !== 200) {
      discard(res.body);
      throw new ImageFetchError(`image URL answered HTTP ${res.statusCode}`);
    }
    const mimeType = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!mimeType.startsWith('image/')) {
      discard(res.body);
      throw new ImageFetchError(`image URL returned ${mimeType || 'no content type'}, not an image`);
    }
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > options.maxBytes) {
      discard(res.body);
      throw new ImageFetchError(`image is larger than ${options.maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxBytes) {
        discard(res.body);
        throw new ImageFetchError(`image is larger than ${options.maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return { mimeType, data: Buffer.concat(chunks).toString('base64') };
  }

  async function fetchImage(rawUrl: string, caller: AbortLike): Promise<InlineImage> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new ImageFetchError('image URL is not a valid URL');
    }
    const signal = toAbortSignal(caller);
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    const maxRedirects = options.maxRedirects ?? 3;
    try {
      for (let hop = 0; hop <= maxRedirects; hop++) {
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ImageFetchError('image URL must be http(s)');
        const out = await fetchOnce(url, combined);
        if (!(out instanceof URL)) return out;
        url = out;
      }
      throw new ImageFetchError('image URL redirects too many times');
    } catch (e) {
      if (e instanceof ImageFetchError) throw e;
      if (signal.aborted) throw e;
      if (timeout.aborted) throw new ImageFetchError(`image not fetched within ${options.timeoutMs} ms`);
      const inner = e instanceof Error && e.cause instanceof ImageFetchError ? e.cause : e;
      if (inner instanceof ImageFetchError) throw inner;
      throw new ImageFetchError(`image could not be fetched: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  return { fetch: fetchImage, close: () => agent.close() };
}

/** A real AbortSignal following `s` (AbortSignal.any and undici take no other); `s` itself when it is one. */
function toAbortSignal(s: AbortLike): AbortSignal {
  if (s instanceof AbortSignal) return s;
  const ac = new AbortController();
  if (s.aborted) ac.abort(s.reason);
  else s.addEventListener('abort', () => ac.abort(s.reason));
  return ac.signal;
}
