import { readdirSync, readFileSync, statSync } from 'node:fs';
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

describe('module boundaries', () => {
  it.each([...SUBGRAPHS])(
    'the %s subgraph imports only kernel/, its own folder, its migrations and packages',
    (name) => {
      const allowed = [join(root, 'kernel'), join(root, 'subgraphs', name), join(root, 'migrations', name)];
      const files = [...sources(join(root, 'subgraphs', name)), ...sources(join(root, 'migrations', name))];
      const violations = files.flatMap((file) =>
        imports(file)
          .filter((spec) => spec.startsWith('.'))
          .map((spec) => resolve(dirname(file), spec))
          .filter((target) => !allowed.some((dir) => target === dir || target.startsWith(`${dir}/`)))
          .map((target) => `${relative(root, file)} → ${relative(root, target)}`),
      );
      expect(violations).toEqual([]);
    },
  );

  it('kernel/ does not depend on any subgraph or the gateway (except the composition root)', () => {
    const compositionRoot = new Set(['kernel/platform.ts', 'kernel/cli/compose.ts', 'kernel/cli/migrate.ts']);
    const violations = sources(join(root, 'kernel'))
      .filter((file) => !compositionRoot.has(relative(root, file)))
      .flatMap((file) =>
        imports(file)
          .filter((spec) => spec.startsWith('.'))
          .map((spec) => relative(root, resolve(dirname(file), spec)))
          .filter((target) => target.startsWith('subgraphs') || target.startsWith('gateway'))
          .map((target) => `${relative(root, file)} → ${target}`),
      );
    expect(violations).toEqual([]);
  });
});
