import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { SUBGRAPHS } from '../kernel/services';

const root = resolve(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

/** What a file imports by relative path, as paths from the repository root (without extension). */
function relativeImports(file: string): string[] {
  return imports(file)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(root, resolve(dirname(file), spec)));
}

/** The file a relative import loads (`x.ts` or `x/index.ts`), or undefined for anything else (JSON, packages). */
function importedFile(file: string, spec: string): string | undefined {
  const base = resolve(dirname(file), spec);
  return [`${base}.ts`, join(base, 'index.ts'), base].find((path) => existsSync(path) && statSync(path).isFile());
}

/** Each import cycle among the files, as the files along it (the first one repeated at the end). */
function importCycles(files: string[]): string[][] {
  const inside = new Set(files);
  const edges = new Map(
    files.map((file) => [
      file,
      imports(file)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => importedFile(file, spec))
        .filter((target): target is string => target !== undefined && inside.has(target)),
    ]),
  );
  // Depth-first search; an edge back to a file still on the path closes a cycle. Each cycle is reported once,
  // starting from its first file in sorted order.
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = path.slice(path.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(rotated.join(' → '), [...rotated, rotated[0]]);
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of [...files].sort()) if (!state.has(file)) visit(file);
  return [...cycles.values()];
}

const isUnder = (target: string, dirs: string[]) => dirs.some((dir) => target === dir || target.startsWith(`${dir}/`));

describe('module boundaries', () => {
  it.each([...SUBGRAPHS])(
    'the %s subgraph imports only kernel/, its own folder, its migrations and packages',
    (name) => {
      const allowed = ['kernel', `subgraphs/${name}`, `migrations/${name}`];
      const files = [...sources(join(root, 'subgraphs', name)), ...sources(join(root, 'migrations', name))];
      const violations = files.flatMap((file) =>
        relativeImports(file)
          .filter((target) => !isUnder(target, allowed))
          .map((target) => `${relative(root, file)} → ${target}`),
      );
      expect(violations).toEqual([]);
    },
  );

  it('kernel/ imports nothing outside kernel/ (no subgraph, no gateway, no composition root)', () => {
    const violations = sources(join(root, 'kernel')).flatMap((file) =>
      relativeImports(file)
        .filter((target) => !isUnder(target, ['kernel']))
        .map((target) => `${relative(root, file)} → ${target}`),
    );
    expect(violations).toEqual([]);
  });

  it('kernel/ has no import cycle', () => {
    const cycles = importCycles(sources(join(root, 'kernel'))).map((cycle) =>
      cycle.map((file) => relative(root, file)).join(' → '),
    );
    expect(cycles).toEqual([]);
  });

  it('the gateway imports only kernel/ and its own folder (no subgraph, no composition root)', () => {
    const violations = sources(join(root, 'gateway')).flatMap((file) =>
      relativeImports(file)
        .filter((target) => !isUnder(target, ['kernel', 'gateway']))
        .map((target) => `${relative(root, file)} → ${target}`),
    );
    expect(violations).toEqual([]);
  });

  it('only the composition root (app/), tests and benchmarks import the gateway and the subgraphs together', () => {
    const files = readdirSync(root)
      .filter((entry) => !['node_modules', 'dist', 'scratch', '.git', '.nexus'].includes(entry))
      .flatMap((entry) => {
        const path = join(root, entry);
        return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
      });
    const both = files
      .filter((file) => {
        const targets = relativeImports(file);
        return (
          targets.some((target) => isUnder(target, ['gateway'])) &&
          targets.some((target) => isUnder(target, ['subgraphs']))
        );
      })
      .map((file) => relative(root, file))
      .filter((file) => !isUnder(file, ['app', 'tests', 'bench']));
    expect(both).toEqual([]);
    // The composition root is the one place that does (it starts both).
    expect(relativeImports(join(root, 'app', 'platform.ts'))).toEqual(
      expect.arrayContaining(['subgraphs', 'gateway/gateway']),
    );
  });

  it('the cycle finder reports each cycle once, whatever file it starts from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycles-'));
    try {
      const write = (name: string, body: string) => writeFileSync(join(dir, name), body);
      write('a.ts', "import { b } from './b';\n");
      write('b.ts', "import type { C } from './c';\nimport { log } from './log';\n");
      write('c.ts', "export { a } from './a';\n");
      write('d.ts', "import { a } from './a';\nimport { d } from './sub';\n");
      write('log.ts', "import pino from 'pino';\n");
      mkdirSync(join(dir, 'sub'));
      write('sub/index.ts', "import { d } from '../d';\n");
      const cycles = importCycles(sources(dir)).map((cycle) => cycle.map((file) => relative(dir, file)).join(' → '));
      expect(cycles.sort()).toEqual(['a.ts → b.ts → c.ts → a.ts', 'd.ts → sub/index.ts → d.ts']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
