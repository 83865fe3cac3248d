// The import graph of a source tree, and the architecture rules checked on
// it (test/unit/architecture.test.ts). Parsed with the TypeScript compiler's
// parser only (no type checker), so a scan of the whole repository stays
// well under a second.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** One module of the scanned tree, by its path relative to the root (`src/core/tree.ts`). */
export interface Module {
  file: string;
  /** names this file declares and exports itself */
  exports: Set<string>;
  /** how often each identifier appears in the file, less its mentions in `export { … }` lists */
  mentions: Map<string, number>;
  /** `export { a as b } from './x.js'`: exported name → [target, name there] */
  reexports: Map<string, [string, string]>;
  /** `export * from './x.js'` targets */
  stars: string[];
  imports: Import[];
}

export interface Import {
  /** a module path relative to the root for relative specifiers, else the specifier (`node:fs`, `undici`) */
  to: string;
  /** the names it uses; for a namespace or dynamic import, every identifier of the importing file */
  names: Set<string>;
  /** `import type`, or only type specifiers: gone at run time */
  typeOnly: boolean;
}

const SOURCE = /\.(ts|mts)$/;
const SCRIPT = /\.(mjs|js)$|^[^.]+$/;

function walk(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

function resolveSpec(root: string, from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const abs = resolve(root, dirname(from), spec);
  return relative(root, abs).replace(/\.js$/, '.ts');
}

function countIdentifiers(sf: ts.SourceFile): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n)) out.set(n.text, (out.get(n.text) ?? 0) + 1);
    n.forEachChild(visit);
  };
  visit(sf);
  return out;
}

const modifiers = (n: ts.Node): ts.SyntaxKind[] => (ts.canHaveModifiers(n) ? (ts.getModifiers(n) ?? []).map((m) => m.kind) : []);

function parse(root: string, file: string): Module {
  const text = readFileSync(join(root, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const mentions = countIdentifiers(sf);
  const m: Module = { file, exports: new Set(), mentions, reexports: new Map(), stars: [], imports: [] };
  const allIds = (): Set<string> => new Set(mentions.keys());
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const to = resolveSpec(root, file, st.moduleSpecifier.text);
      const clause = st.importClause;
      const names = new Set<string>();
      let typeOnly = clause?.isTypeOnly ?? false;
      if (clause?.name) names.add('default');
      const nb = clause?.namedBindings;
      if (nb && ts.isNamespaceImport(nb)) for (const id of allIds()) names.add(id);
      if (nb && ts.isNamedImports(nb)) {
        for (const el of nb.elements) names.add((el.propertyName ?? el.name).text);
        if (!clause?.name && nb.elements.length > 0 && nb.elements.every((el) => el.isTypeOnly)) typeOnly = true;
      }
      m.imports.push({ to, names, typeOnly });
    } else if (ts.isExportDeclaration(st)) {
      const target = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? resolveSpec(root, file, st.moduleSpecifier.text) : null;
      if (target === null) {
        if (st.exportClause && ts.isNamedExports(st.exportClause)) {
          for (const el of st.exportClause.elements) {
            m.exports.add(el.name.text);
            const local = (el.propertyName ?? el.name).text;
            mentions.set(local, (mentions.get(local) ?? 1) - 1);
          }
        }
      } else if (!st.exportClause) {
        m.stars.push(target);
        m.imports.push({ to: target, names: new Set(), typeOnly: st.isTypeOnly });
      } else if (ts.isNamedExports(st.exportClause)) {
        const names = new Set<string>();
        for (const el of st.exportClause.elements) {
          const there = (el.propertyName ?? el.name).text;
          m.reexports.set(el.name.text, [target, there]);
          names.add(there);
        }
        m.imports.push({ to: target, names, typeOnly: st.isTypeOnly });
      }
    } else if (ts.isExportAssignment(st)) {
      m.exports.add('default');
    } else if (modifiers(st).includes(ts.SyntaxKind.ExportKeyword)) {
      if (modifiers(st).includes(ts.SyntaxKind.DefaultKeyword)) m.exports.add('default');
      else if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) m.exports.add(d.name.text);
      } else if ('name' in st && st.name && ts.isIdentifier(st.name as ts.Node)) m.exports.add((st.name as ts.Identifier).text);
    }
  }
  // `import('./x.js')` anywhere, as an expression or a type
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
      m.imports.push({ to: resolveSpec(root, file, n.arguments[0].text), names: allIds(), typeOnly: false });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      const names = new Set<string>(n.qualifier ? [ts.isIdentifier(n.qualifier) ? n.qualifier.text : n.qualifier.left.getText(sf)] : allIds());
      m.imports.push({ to: resolveSpec(root, file, n.argument.literal.text), names, typeOnly: true });
    }
    n.forEachChild(visit);
  };
  visit(sf);
  return m;
}

/** The modules under `root/src`, and the import graph of everything that uses them (src, test, bench, bin). */
export function scan(root: string): { modules: Map<string, Module>; users: Module[] } {
  const modules = new Map<string, Module>();
  for (const abs of walk(join(root, 'src'))) {
    const file = relative(root, abs);
    if (SOURCE.test(file) && !file.endsWith('.d.ts')) modules.set(file, parse(root, file));
  }
  const users: Module[] = [...modules.values()];
  for (const abs of walk(join(root, 'test'))) {
    const file = relative(root, abs);
    if (SOURCE.test(file)) users.push(parse(root, file));
  }
  // scripts reach src through dist/: a name counts as used by a script that
  // mentions the module's built path and the name
  for (const abs of [...walk(join(root, 'bench')), ...walk(join(root, 'bin'))]) {
    const file = relative(root, abs);
    if (!SCRIPT.test(abs.split('/').pop() ?? '')) continue;
    const text = readFileSync(abs, 'utf8');
    const words = new Set(text.match(/[A-Za-z_$][\w$]*/g) ?? []);
    const imports: Import[] = [];
    for (const mod of modules.keys()) {
      const built = mod.replace(/^src\//, '').replace(/\.ts$/, '.js');
      if (text.includes(built)) imports.push({ to: mod, names: words, typeOnly: false });
    }
    users.push({ file, exports: new Set(), mentions: new Map(), reexports: new Map(), stars: [], imports });
  }
  return { modules, users };
}

/**
 * Exported names that are dead: no other file imports them and their own
 * file does not use them either (an export used only at home is still part
 * of the module's signatures, e.g. an options type), as `file: name`.
 */
export function unusedExports(modules: Map<string, Module>, users: Module[]): string[] {
  const used = new Set<string>();
  const use = (file: string, name: string, seen = new Set<string>()): void => {
    const m = modules.get(file);
    if (!m || seen.has(file)) return;
    seen.add(file);
    const key = `${file}: ${name}`;
    if (m.exports.has(name)) used.add(key);
    else if (m.reexports.has(name)) {
      used.add(key);
      const [to, there] = m.reexports.get(name)!;
      use(to, there, seen);
    } else for (const s of m.stars) use(s, name, seen);
  };
  for (const u of users) for (const imp of u.imports) if (imp.to !== u.file) for (const n of imp.names) use(imp.to, n);
  const out: string[] = [];
  for (const m of modules.values()) {
    // generated from proto/ (buf generate): the whole contract is exported, whether or not this repository uses every schema
    if (m.file.startsWith('src/gen/')) continue;
    for (const n of m.exports) if (!used.has(`${m.file}: ${n}`) && (m.mentions.get(n) ?? 0) <= 1) out.push(`${m.file}: ${n}`);
    for (const n of m.reexports.keys()) if (!used.has(`${m.file}: ${n}`)) out.push(`${m.file}: ${n}`);
  }
  return out.sort();
}

/** A layer rule: modules under `from` must not import anything `forbidden` matches. */
export interface LayerRule {
  from: string;
  forbidden: RegExp;
  why: string;
}

export function layerViolations(modules: Map<string, Module>, rules: readonly LayerRule[]): string[] {
  const out: string[] = [];
  for (const m of modules.values()) {
    for (const r of rules) {
      if (!m.file.startsWith(r.from)) continue;
      for (const imp of m.imports) if (r.forbidden.test(imp.to)) out.push(`${m.file} imports ${imp.to} (${r.why})`);
    }
  }
  return [...new Set(out)].sort();
}

/**
 * Import cycles between modules of the tree (type-only imports count too: a
 * cycle of types still ties the modules' designs together), one line per
 * strongly connected component.
 */
export function cycles(modules: Map<string, Module>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[] = [];
  let next = 0;
  const edges = (f: string): string[] => [...new Set(modules.get(f)!.imports.map((i) => i.to).filter((t) => modules.has(t)))];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || edges(v).includes(v)) out.push(scc.sort().join(' <-> '));
    }
  };
  for (const f of [...modules.keys()].sort()) if (!index.has(f)) connect(f);
  return out.sort();
}
