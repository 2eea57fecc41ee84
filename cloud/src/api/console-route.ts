// GET / and /assets/*: the operators' console (cloud/console, built by Vite into cloud/console-dist at
// `npm run build`). Hashed assets are immutable and cached for a year; index.html is revalidated on every
// load so a new build is picked up. The page itself needs no token (it carries no data and asks for one);
// every byte of data still comes through the API routes, which enforce tokens. Files are read once at
// start: the set is small and fixed for the life of the process.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@tidemark/shared';

/** cloud/console-dist, from cloud/src/api (tests) and cloud/dist/api (built) alike. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console-dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

// Same-origin only: nothing may be loaded from or sent to another host (uPlot sets inline styles).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Paths the console serves without a token. */
export function isConsolePath(path: string): boolean {
  return path === '/' || path.startsWith('/assets/');
}

export function registerConsoleRoute(app: FastifyInstance, opts: { logger: Logger; dist?: string }): void {
  const dist = opts.dist ?? CONSOLE_DIST;
  const indexPath = join(dist, 'index.html');
  if (!existsSync(indexPath)) {
    opts.logger.warn({ dist }, 'console not built (run npm run build): GET / answers 503');
    app.get('/', async (_req, reply) =>
      reply.code(503).type('text/plain; charset=utf-8').send('The Tidemark console is not built in this installation: run `npm run build`.\n'),
    );
    return;
  }
  const index = readFileSync(indexPath);
  const assets = new Map<string, Buffer>();
  const assetDir = join(dist, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const file = join(assetDir, name);
      if (statSync(file).isFile()) assets.set(name, readFileSync(file));
    }
  }
  const sendIndex = async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', 'no-cache').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').type(TYPES['.html']!).send(index);
  app.get('/', sendIndex);
  app.get('/assets/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const body = assets.get(name);
    if (!body) return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .type(TYPES[extname(name)] ?? 'application/octet-stream')
      .send(body);
  });
}
