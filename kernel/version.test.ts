import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLATFORM_VERSION, compareVersions } from './version';

describe('platform version', () => {
  it('is the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(PLATFORM_VERSION).toBe(pkg.version);
  });

  it('compares major, minor and patch as numbers', () => {
    expect(compareVersions('0.10.0', '0.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
    expect(compareVersions('1.2.3', '1.3.0')).toBeLessThan(0);
  });
});
