import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The verifier is a client a third party runs against the platform: it must not share code with what it checks.
 * Every file here may import only Node built-ins (`node:…`) and other files of this folder — no project code
 * (kernel/, gateway/, subgraphs/, app/, …) and no packages.
 */
const here = __dirname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Module specifiers a TypeScript text loads: static imports and re-exports, import(), require(). */
function importedSpecifiers(text: string): { specifiers: string[]; dynamic: string[] } {
  const specifiers = [
    ...text.matchAll(/\b(?:from|import)\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/\b(?:import|require)\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g),
  ].map((m) => m[1]);
  // import(x) or require(x) with a computed name could load anything.
  const dynamic = [...text.matchAll(/\b(?:import|require)\s*\(\s*(?!['"`][^'"`]+['"`]\s*\))([^)]*)\)/g)].map((m) =>
    m[0].trim(),
  );
  return { specifiers, dynamic };
}

/** Why a file's import is not allowed, or null. */
function problem(file: string, spec: string): string | null {
  if (spec.startsWith('node:')) return null;
  if (!spec.startsWith('.')) return `${spec} is a package or project path, not node:… or a file of tools/ledger-verify`;
  const target = resolve(dirname(file), spec);
  if (target !== here && !target.startsWith(here + sep)) return `${spec} leaves tools/ledger-verify`;
  if (![`${target}.ts`, join(target, 'index.ts')].some((p) => existsSync(p))) return `${spec} does not resolve`;
  const isTestCode = file.endsWith('.test.ts') || relative(here, file).startsWith(`testing${sep}`);
  if (!isTestCode && relative(here, target).startsWith(`testing${sep}`)) return `${spec} is test code`;
  return null;
}

describe('the ledger verifier stays independent of the platform', () => {
  // This file quotes forbidden imports as samples, so it is left out of the scan (it imports only node:…).
  const files = sources(here).filter((file) => file !== __filename);

  it('finds the verifier sources', () => {
    const names = files.map((f) => relative(here, f));
    expect(names).toEqual(
      expect.arrayContaining(['cli.ts', 'verify.ts', 'merkle.ts', 'canonical-json.ts', 'signed-note.ts']),
    );
  });

  it('imports nothing but Node built-ins and its own files', () => {
    const problems = files.flatMap((file) => {
      const { specifiers, dynamic } = importedSpecifiers(readFileSync(file, 'utf8'));
      return [
        ...specifiers.map((spec) => problem(file, spec)).filter((p): p is string => p !== null),
        ...dynamic.map((d) => `computed import ${d}`),
      ].map((p) => `${relative(here, file)}: ${p}`);
    });
    expect(problems).toEqual([]);
  });

  it('would notice project code, packages and computed imports', () => {
    const file = join(here, 'verify.ts');
    // Paths built at run time, so that no scan of this file (here or in tests/boundaries.test.ts) reads them as imports.
    const up = (path: string) => `../../${path}`;
    const sample = [
      `import { loadConfig } from '${up('kernel/config')}';`,
      `import type { LedgerLog } from '${up('subgraphs/ledger/log/log.service')}';`,
      `export { x } from '${up('gateway/x')}';`,
      `const app = require('${up('app/cli/start')}');`,
      "const g = await import('graphql');",
      "import 'reflect-metadata';",
      'const m = await import(name);',
    ].join('\n');
    const { specifiers, dynamic } = importedSpecifiers(sample);
    expect(specifiers.map((spec) => problem(file, spec) !== null)).toEqual([true, true, true, true, true, true]);
    expect(dynamic).toEqual(['import(name)']);
    expect(problem(file, './merkle')).toBeNull();
    expect(problem(file, 'node:crypto')).toBeNull();
    expect(problem(file, 'crypto')).not.toBeNull();
    expect(problem(file, './testing/reference-tree')).not.toBeNull();
  });
});
