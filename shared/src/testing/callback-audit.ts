// The callback audit: finds every callback handed to the event loop (setTimeout, setInterval, setImmediate,
// process.nextTick, `x.setTimeout(ms, cb)`, and `.on/.once/.addListener/.prepend*Listener` handlers) and
// reports those that could throw or reject out of the process. Such an exception is uncaught and kills it
// (a SQLite "disk full" thrown from a flush timer did, issue 13), so each callback must be one of:
//   - wrapped: `guard(...)` / `safeInterval` / `safeTimeout` from @tidemark/shared (they are not even timers here);
//   - a function whose whole body is try/catch (a catch that does not throw again);
//   - trivially safe: empty, or only calls that cannot throw — a Promise executor's resolve/reject (with
//     arguments that make no calls), clearTimeout/clearInterval, a logger method;
//   - reviewed: a `// guard-audit: <why it cannot throw>` comment on the line of the call or the line above.
// A `void promise` inside a callback is a floating rejection and never counts as safe, even inside try.
// A named callback (`x.on('data', onData)`, `this.onError`) is judged by its declaration in the same file.
import ts from 'typescript';

export interface AuditFinding {
  file: string;
  line: number;
  /** The call, shortened: `setInterval(() => thing.flush(), 1000)`. */
  call: string;
  why: string;
}

const TIMERS = new Set(['setTimeout', 'setInterval', 'setImmediate']);
const EVENTS = new Set(['on', 'once', 'addListener', 'prependListener', 'prependOnceListener']);
const LOG_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const CLEARERS = new Set(['clearTimeout', 'clearInterval', 'clearImmediate']);
const WRAPPERS = new Set(['guard', 'safeInterval', 'safeTimeout']);
const ALLOW = /guard-audit:\s*\S.{4,}/;

type Fn = ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration | ts.MethodDeclaration;

/** Audits one file's source text; `file` only names it in findings. */
export function auditSource(file: string, text: string): AuditFinding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const lines = text.split('\n');
  const findings: AuditFinding[] = [];

  const allowed = (node: ts.Node): boolean => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
    return ALLOW.test(lines[line] ?? '') || ALLOW.test(lines[line - 1] ?? '');
  };

  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const cb = callbackOf(node);
      if (cb) {
        const why = unsafe(cb, sf, new Set());
        if (why && !allowed(node)) {
          const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
          const call = node.getText(sf).replace(/\s+/g, ' ');
          findings.push({ file, line, call: call.length > 120 ? `${call.slice(0, 117)}...` : call, why });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

/** The callback argument of a timer or event-handler registration, if `call` is one. */
function callbackOf(call: ts.CallExpression): ts.Expression | undefined {
  const callee = call.expression;
  if (ts.isIdentifier(callee) && TIMERS.has(callee.text)) return call.arguments[0];
  if (!ts.isPropertyAccessExpression(callee)) return undefined;
  const name = callee.name.text;
  const target = callee.expression.getText();
  if (name === 'nextTick' && target === 'process') return call.arguments[0];
  if (TIMERS.has(name)) return target === 'globalThis' || target === 'global' || target === 'timers' ? call.arguments[0] : call.arguments[1];
  if (EVENTS.has(name) && call.arguments.length >= 2) return call.arguments[1];
  return undefined;
}

/** Why `cb` may throw out of the event loop, or undefined when it cannot. */
function unsafe(cb: ts.Expression, sf: ts.SourceFile, seen: Set<ts.Node>): string | undefined {
  cb = skipParens(cb);
  if (ts.isCallExpression(cb) && ts.isIdentifier(cb.expression) && WRAPPERS.has(cb.expression.text)) return undefined;
  if (ts.isArrowFunction(cb) || ts.isFunctionExpression(cb)) return unsafeFunction(cb, sf, seen);
  if (ts.isIdentifier(cb)) {
    if (isResolver(cb)) return undefined;
    if (CLEARERS.has(cb.text)) return undefined;
    const decl = findLocalFunction(cb);
    if (decl && !seen.has(decl)) {
      seen.add(decl);
      return unsafeFunction(decl, sf, seen);
    }
    return `passes "${cb.text}", which is not a guarded function declared in this file`;
  }
  if (ts.isPropertyAccessExpression(cb) && cb.expression.kind === ts.SyntaxKind.ThisKeyword) {
    const decl = findMember(cb, cb.name.text);
    if (decl && !seen.has(decl)) {
      seen.add(decl);
      return unsafeFunction(decl, sf, seen);
    }
  }
  return `passes ${cb.getText(sf).slice(0, 60)}, which the audit cannot see into`;
}

function unsafeFunction(fn: Fn, sf: ts.SourceFile, seen: Set<ts.Node>): string | undefined {
  const body = fn.body;
  if (!body) return 'has no body';
  if (!ts.isBlock(body)) return unsafeExpression(body, sf, seen);
  for (const st of body.statements) {
    const why = unsafeStatement(st, sf, seen);
    if (why) return why;
  }
  return undefined;
}

function unsafeStatement(st: ts.Statement, sf: ts.SourceFile, seen: Set<ts.Node>): string | undefined {
  if (ts.isTryStatement(st)) {
    if (!st.catchClause) return 'try without catch';
    if (containsThrow(st.catchClause.block)) return 'its catch throws again';
    const floating = findFloatingVoid(st.tryBlock);
    if (floating) return `floating promise \`${floating.getText(sf).slice(0, 60)}\` (a rejection escapes the try)`;
    if (st.finallyBlock) for (const s of st.finallyBlock.statements) {
      const why = unsafeStatement(s, sf, seen);
      if (why) return why;
    }
    return undefined;
  }
  if (ts.isEmptyStatement(st)) return undefined;
  if (ts.isVariableStatement(st)) {
    for (const d of st.declarationList.declarations) {
      const why = d.initializer ? unsafeExpression(d.initializer, sf, seen) : undefined;
      if (why) return why;
    }
    return undefined;
  }
  if (ts.isReturnStatement(st)) return st.expression ? unsafeExpression(st.expression, sf, seen) : undefined;
  if (ts.isExpressionStatement(st)) return unsafeExpression(st.expression, sf, seen);
  if (ts.isIfStatement(st)) {
    return (
      unsafeExpression(st.expression, sf, seen) ??
      unsafeStatement(st.thenStatement, sf, seen) ??
      (st.elseStatement ? unsafeStatement(st.elseStatement, sf, seen) : undefined)
    );
  }
  if (ts.isBlock(st)) {
    for (const s of st.statements) {
      const why = unsafeStatement(s, sf, seen);
      if (why) return why;
    }
    return undefined;
  }
  return `\`${st.getText(sf).replace(/\s+/g, ' ').slice(0, 60)}\` outside try/catch`;
}

/** Safe expressions: no calls except to resolvers, clearers and loggers; no `void` of a promise. */
function unsafeExpression(e: ts.Expression, sf: ts.SourceFile, seen: Set<ts.Node>): string | undefined {
  e = skipParens(e);
  if (ts.isVoidExpression(e)) {
    const inner = skipParens(e.expression);
    if (ts.isCallExpression(inner) && isCatchCall(inner)) return unsafeArgs(inner, sf);
    return `\`${e.getText(sf).slice(0, 60)}\` floats a promise: a rejection is unhandled`;
  }
  if (ts.isCallExpression(e)) {
    // `p.catch(handler)`: the chain ends handled (the call making `p` is judged like any other promise source).
    if (isCatchCall(e)) return unsafeArgs(e, sf);
    const callee = skipParens(e.expression);
    if (ts.isIdentifier(callee) && (isResolver(callee) || CLEARERS.has(callee.text))) return unsafeArgs(e, sf);
    if (ts.isPropertyAccessExpression(callee) && LOG_METHODS.has(callee.name.text) && /log|limited/i.test(callee.expression.getText(sf))) return undefined;
    // A call to a function of this file (a local, or a method of this class) is as safe as its body.
    const decl = ts.isIdentifier(callee)
      ? findLocalFunction(callee)
      : ts.isPropertyAccessExpression(callee) && callee.expression.kind === ts.SyntaxKind.ThisKeyword
        ? findMember(callee, callee.name.text)
        : undefined;
    if (decl && !seen.has(decl)) {
      seen.add(decl);
      const why = unsafeArgs(e, sf) ?? unsafeFunction(decl, sf, seen);
      return why ? `${callee.getText(sf)}(): ${why}` : undefined;
    }
    if (decl) return undefined; // recursion: judged where it was first met
    return `calls \`${e.getText(sf).replace(/\s+/g, ' ').slice(0, 60)}\` outside try/catch`;
  }
  if (ts.isBinaryExpression(e)) {
    if (e.operatorToken.kind === ts.SyntaxKind.EqualsToken || e.operatorToken.kind === ts.SyntaxKind.CommaToken ||
      e.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken || e.operatorToken.kind === ts.SyntaxKind.BarBarToken) {
      return unsafeExpression(e.left, sf, seen) ?? unsafeExpression(e.right, sf, seen);
    }
    return noCalls(e, sf);
  }
  if (ts.isArrowFunction(e) || ts.isFunctionExpression(e)) return undefined; // creating a function runs nothing
  return noCalls(e, sf);
}

function unsafeArgs(call: ts.CallExpression, sf: ts.SourceFile): string | undefined {
  for (const a of call.arguments) {
    const why = noCalls(a, sf);
    if (why) return why;
  }
  return undefined;
}

function noCalls(e: ts.Node, sf: ts.SourceFile): string | undefined {
  let found: ts.Node | undefined;
  const walk = (n: ts.Node): void => {
    if (found || ts.isArrowFunction(n) || ts.isFunctionExpression(n)) return;
    if (ts.isCallExpression(n) || ts.isTaggedTemplateExpression(n) || ts.isAwaitExpression(n)) {
      found = n;
      return;
    }
    ts.forEachChild(n, walk);
  };
  walk(e);
  return found ? `calls \`${found.getText(sf).replace(/\s+/g, ' ').slice(0, 60)}\` outside try/catch` : undefined;
}

function isCatchCall(call: ts.CallExpression): boolean {
  const callee = call.expression;
  return ts.isPropertyAccessExpression(callee) && (callee.name.text === 'catch' || (callee.name.text === 'then' && call.arguments.length >= 2));
}

function containsThrow(n: ts.Node): boolean {
  let found = false;
  const walk = (x: ts.Node): void => {
    if (found || ts.isArrowFunction(x) || ts.isFunctionExpression(x) || ts.isFunctionDeclaration(x)) return;
    if (ts.isThrowStatement(x)) found = true;
    else ts.forEachChild(x, walk);
  };
  walk(n);
  return found;
}

function findFloatingVoid(n: ts.Node): ts.Node | undefined {
  let found: ts.Node | undefined;
  const walk = (x: ts.Node): void => {
    if (found || ts.isArrowFunction(x) || ts.isFunctionExpression(x)) return;
    if (ts.isVoidExpression(x)) {
      const inner = skipParens(x.expression);
      if (ts.isCallExpression(inner) && !isCatchCall(inner)) found = x;
    }
    ts.forEachChild(x, walk);
  };
  walk(n);
  return found;
}

function skipParens(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
  return e;
}

/** True when `id` names a parameter of an enclosing `new Promise((resolve, reject) => …)` executor. */
function isResolver(id: ts.Identifier): boolean {
  for (let n: ts.Node | undefined = id.parent; n; n = n.parent) {
    if ((ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && ts.isNewExpression(n.parent) && n.parent.expression.getText() === 'Promise') {
      if (n.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === id.text)) return true;
    }
  }
  return false;
}

/** A function declared under `name` in a scope enclosing `id` (const x = () => …, function x() …). */
function findLocalFunction(id: ts.Identifier): Fn | undefined {
  let found = undefined as Fn | undefined;
  const scopes: ts.Node[] = [];
  for (let n: ts.Node | undefined = id.parent; n; n = n.parent) if (ts.isBlock(n) || ts.isSourceFile(n)) scopes.push(n);
  for (const scope of scopes) {
    ts.forEachChild(scope, (st) => {
      if (found) return;
      if (ts.isFunctionDeclaration(st) && st.name?.text === id.text) found = st;
      if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) {
          const init = d.initializer && skipParens(d.initializer);
          if (ts.isIdentifier(d.name) && d.name.text === id.text && init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) found = init;
        }
      }
    });
    if (found) return found;
  }
  return undefined;
}

/** `this.name` in a class: an arrow-function property or a method. */
function findMember(node: ts.Node, name: string): Fn | undefined {
  let cls: ts.Node | undefined = node.parent;
  while (cls && !ts.isClassDeclaration(cls) && !ts.isClassExpression(cls)) cls = cls.parent;
  if (!cls) return undefined;
  for (const m of (cls as ts.ClassLikeDeclaration).members) {
    if (!m.name || !ts.isIdentifier(m.name) || m.name.text !== name) continue;
    if (ts.isMethodDeclaration(m)) return m;
    if (ts.isPropertyDeclaration(m) && m.initializer) {
      const init = skipParens(m.initializer);
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) return init;
    }
  }
  return undefined;
}
