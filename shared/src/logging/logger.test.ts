import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors/index.js';
import { createLogger } from './logger.js';

function sink(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes JSON lines with the name, a level label and an ISO time', () => {
    const out = sink();
    const log = createLogger({ name: 'tidemark-edge', destination: out.stream });
    log.child({ component: 'uplink' }).info({ batch: 3 }, 'sent');
    const [line] = out.lines();
    expect(line).toMatchObject({ name: 'tidemark-edge', level: 'info', component: 'uplink', batch: 3, msg: 'sent' });
    expect(String(line!.time)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('honours the level', () => {
    const out = sink();
    const log = createLogger({ name: 't', level: 'warn', destination: out.stream });
    log.info('hidden');
    log.warn('shown');
    expect(out.lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('rejects an unknown level', () => {
    expect(() => createLogger({ name: 't', level: 'verbose' })).toThrow(ValidationError);
  });

  it('defaults to stderr', () => {
    // fd 2, written synchronously; creating the logger writes nothing by itself.
    expect(createLogger({ name: 't', level: 'silent' }).level).toBe('silent');
  });
});
