import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tidemark/shared';
import { isConsolePath, registerConsoleRoute } from './console-route.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dist(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'console-dist-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'assets'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

describe('console route', () => {
  it('serves index.html revalidated and hashed assets immutable, with a same-origin CSP', async () => {
    const app = Fastify();
    registerConsoleRoute(app, { logger, dist: dist({ 'index.html': '<!doctype html><script src="/assets/index-abc123.js"></script>', 'assets/index-abc123.js': 'console.log(1)', 'assets/index-abc123.css': 'body{}' }) });
    const index = await app.inject('/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("connect-src 'self'");
    const js = await app.inject('/assets/index-abc123.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await app.inject('/assets/index-abc123.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await app.inject('/assets/nope.js')).statusCode).toBe(404);
    expect((await app.inject('/assets/..%2Findex.html')).statusCode).toBe(404);
    await app.close();
  });

  it('answers 503 with what to do when the console was not built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-dist-'));
    dirs.push(dir);
    const app = Fastify();
    registerConsoleRoute(app, { logger, dist: dir });
    const res = await app.inject('/');
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    await app.close();
  });

  it('exempts only the page and its assets from tokens', () => {
    expect(['/', '/assets/index-x.js'].every(isConsolePath)).toBe(true);
    expect(['/api/v1/devices', '/metrics', '/index.html', '/assetsx'].some(isConsolePath)).toBe(false);
  });
});
