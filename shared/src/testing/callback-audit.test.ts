// Issue 13: no timer or event handler in cloud/ or edge/ may throw out of the process. This test audits
// every non-test source file there (test helpers under */testing/ excluded) and fails on a new unguarded
// callback, naming the file, the line and what could throw; the first block proves the audit catches the
// shapes that crashed or could crash the collector, and lets through the guarded ones.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { auditSource } from './callback-audit.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'testing' && e.name !== 'node_modules') out.push(...sources(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const audit = (code: string) => auditSource('x.ts', code);

describe('callback audit: what it catches', () => {
  it.each([
    ['setInterval(() => thing.flush(), 1000);', 'thing.flush()'],
    ['setInterval(() => void registry.flush(), 1000);', 'floats a promise'],
    ['setTimeout(async () => { await store.write(); }, 10);', 'store.write()'],
    ['emitter.on("message", (t, p) => handle(t, p));', 'handle(t, p)'],
    ['bus.once("close", onClose);', 'onClose'],
    ['process.nextTick(() => db.exec("x"));', 'db.exec'],
    ['socket.setTimeout(100, () => socket.destroy());', 'socket.destroy()'],
    ['setInterval(() => { try { void flush(); } catch {} }, 1000);', 'floating promise'],
    ['setInterval(() => { try { work(); } catch (e) { throw e; } }, 1000);', 'catch throws again'],
    ['const tick = () => db.write(); setInterval(tick, 5);', 'db.write()'],
    ['setInterval(() => { try { a(); } finally { b(); } }, 5);', 'try without catch'],
  ])('flags %s', (code, why) => {
    const found = audit(code);
    expect(found).toHaveLength(1);
    expect(`${found[0]!.call} ${found[0]!.why}`).toContain(why);
  });

  it.each([
    'setInterval(guard(logger, "flush timer", () => thing.flush()), 1000);',
    'setInterval(() => { try { thing.flush(); } catch (err) { logger.error({ err }, "x"); } }, 1000);',
    'setInterval(() => void thing.flush().catch((err) => logger.error({ err })), 1000);',
    'await new Promise((resolve) => setTimeout(resolve, 10));',
    'new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 10));',
    'pool.on("error", (err) => this.logger.warn({ err }, "idle connection failed"));',
    'child.on("error", () => {});',
    '// guard-audit: the closure only sets a gauge, which cannot throw\nsrv.on("x", () => gauge.set(1));',
    'const onData = (c) => { try { parse(c); } catch {} }; port.on("data", onData);',
    'const t = setTimeout(() => { clearInterval(i); done = true; }, 5);',
  ])('accepts %s', (code) => {
    expect(audit(code)).toEqual([]);
  });

  it('an allow comment needs a reason', () => {
    expect(audit('// guard-audit:\nsetInterval(() => thing.flush(), 1000);')).toHaveLength(1);
  });
});

describe('callback audit: cloud/src and edge/src', () => {
  it('every timer and event callback is guarded (or reviewed with a guard-audit comment)', () => {
    const files = [...sources(join(ROOT, 'cloud/src')), ...sources(join(ROOT, 'edge/src'))];
    expect(files.length).toBeGreaterThan(50);
    const findings = files.flatMap((f) => auditSource(relative(ROOT, f), readFileSync(f, 'utf8')));
    const report = findings.map((f) => `${f.file}:${f.line}: ${f.call}\n    ${f.why}`).join('\n');
    expect(findings, `unguarded callbacks (wrap them with guard()/safeInterval() from @tidemark/shared, or try/catch):\n${report}`).toEqual([]);
  }, 60_000); // parses ~200 files: a few seconds, more on a loaded machine
});
