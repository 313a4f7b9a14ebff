// Image fetching for Gemini: only public addresses (SSRF guard), size, type, redirect and time limits; data: URLs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImageFetcher, ImageFetchError, isPublicAddress, parseDataUrl } from '../../src/providers/image-fetch.js';
import { linkSignals } from '../../src/gateway/upstream-signal.js';
import { startCaptureServer, type CaptureServer } from './capture-server.js';
import { caught } from './contract.case.js';

describe('isPublicAddress', () => {
  it.each([
    // refused
    ['127.0.0.1', false], ['127.255.0.9', false], ['0.0.0.0', false], ['10.1.2.3', false], ['172.16.0.1', false], ['172.31.255.255', false],
    ['192.168.1.1', false], ['169.254.169.254', false], ['100.64.0.1', false], ['100.127.255.255', false], ['224.0.0.1', false],
    ['239.255.255.250', false], ['255.255.255.255', false], ['240.0.0.1', false], ['198.18.0.1', false], ['192.0.2.1', false],
    ['::1', false], ['::', false], ['fe80::1', false], ['fc00::1', false], ['fd12:3456::1', false], ['ff02::1', false],
    ['::ffff:127.0.0.1', false], ['::ffff:7f00:1', false], ['::ffff:10.0.0.1', false], ['::ffff:169.254.169.254', false],
    ['64:ff9b::127.0.0.1', false], ['64:ff9b::a9fe:a9fe', false], ['::127.0.0.1', false], ['2001:db8::1', false], ['2002:7f00:1::1', false],
    ['fe80::1%eth0', false], ['not-an-ip', false], ['1.2.3', false],
    // allowed
    ['8.8.8.8', true], ['1.1.1.1', true], ['172.32.0.1', true], ['100.128.0.1', true], ['2606:4700:4700::1111', true],
    ['::ffff:8.8.8.8', true], ['64:ff9b::808:808', true], ['2a00:1450:4007:80e::200e', true],
  ])('%s → %s', (ip, expected) => expect(isPublicAddress(ip)).toBe(expected));
});

describe('parseDataUrl', () => {
  it.each([
    ['data:image/png;base64,AAAA', { mimeType: 'image/png', data: 'AAAA' }],
    ['data:image/jpeg;name=a.jpg;base64,AA\nBB', { mimeType: 'image/jpeg', data: 'AABB' }],
    ['data:image/png,notbase64', null],
    ['https://x/y.png', null],
  ])('%s', (url, expected) => expect(parseDataUrl(url)).toEqual(expected));
});

describe('createImageFetcher', () => {
  let server: CaptureServer;
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
  beforeAll(async () => {
    server = await startCaptureServer();
    server.respond((req, res) => {
      if (req.url === '/ok.png') res.writeHead(200, { 'content-type': 'image/png; charset=binary' }).end(png);
      else if (req.url === '/big.png') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(5000));
      else if (req.url === '/page') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
      else if (req.url === '/redirect') res.writeHead(302, { location: '/ok.png' }).end();
      else if (req.url === '/redirect-private') res.writeHead(302, { location: 'http://10.0.0.1/x.png' }).end();
      else if (req.url === '/slow') return; // never answers
      else res.writeHead(404).end();
    });
  });
  afterAll(async () => server?.close());

  const relaxed = (timeoutMs = 5000) => createImageFetcher({ maxBytes: 1000, timeoutMs, isAllowedAddress: (ip) => ip === '127.0.0.1' });

  it('refuses a loopback server by default (literal and via DNS), without connecting', async () => {
    const f = createImageFetcher({ maxBytes: 1000, timeoutMs: 1000 });
    try {
      const before = server.requests.length;
      for (const url of [`${server.url}/ok.png`, `${server.url.replace('127.0.0.1', 'localhost')}/ok.png`, 'http://[::1]/x.png', 'http://[::ffff:127.0.0.1]/x.png']) {
        const e = await caught(f.fetch(url, new AbortController().signal));
        expect(e).toBeInstanceOf(ImageFetchError);
      }
      expect(server.requests.length).toBe(before);
    } finally {
      await f.close();
    }
  });

  it('fetches an allowed image as base64 with its mime type; follows a redirect', async () => {
    const f = relaxed();
    try {
      expect(await f.fetch(`${server.url}/ok.png`, new AbortController().signal)).toEqual({ mimeType: 'image/png', data: png.toString('base64') });
      expect((await f.fetch(`${server.url}/redirect`, new AbortController().signal)).data).toBe(png.toString('base64'));
    } finally {
      await f.close();
    }
  });

  it.each([
    ['/big.png', /larger than 1000 bytes/],
    ['/page', /not an image/],
    ['/missing.png', /HTTP 404/],
    ['/redirect-private', /non-public/],
    ['/slow', /within 300 ms/],
  ])('%s is refused (%s)', async (path, message) => {
    const f = relaxed(path === '/slow' ? 300 : 5000);
    try {
      const e = await caught(f.fetch(`${server.url}${path}`, new AbortController().signal));
      expect(e).toBeInstanceOf(ImageFetchError);
      expect((e as Error).message).toMatch(message);
    } finally {
      await f.close();
    }
  });

  it("stops when the gateway's own attempt signal aborts (not an AbortSignal: the fetch follows it through a controller)", async () => {
    const f = relaxed();
    try {
      const attempt = linkSignals(new AbortController().signal, 60_000);
      const before = server.requests.length;
      const pending = caught(f.fetch(`${server.url}/slow`, attempt.signal));
      await expect.poll(() => server.requests.length).toBe(before + 1); // the request is out, the server never answers
      attempt.abort(new Error('client gone'));
      const e = await pending;
      // The caller's abort, not the fetcher's own time limit (5 s here).
      expect(e).not.toBeInstanceOf(ImageFetchError);
      expect(attempt.signal.aborted).toBe(true);
    } finally {
      await f.close();
    }
  });

  it('refuses non-http schemes', async () => {
    const f = relaxed();
    try {
      expect(await caught(f.fetch('file:///etc/passwd', new AbortController().signal))).toBeInstanceOf(ImageFetchError);
    } finally {
      await f.close();
    }
  });
});
