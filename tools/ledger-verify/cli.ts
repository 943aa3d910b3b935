import { TransportError, UsageError, verifyLedgerOnce, type LedgerLog, type VerifyLedgerOptions } from './verify';

export const USAGE = `Usage: npm run ledger:verify -- --url <gateway URL> --token <token>
         [--log tenant|platform] [--entries 1,5,9] [--state <file>] [--key <verifier key>]

  --url      the gateway (GraphQL at <url>/graphql, key at <url>/.well-known/nexus-ledger-key)
  --token    bearer token with ledger:read (platform:audit for --log platform); or NEXUS_TOKEN
  --log      which log to verify (default tenant)
  --entries  entry indexes to prove included (default: the newest entry)
  --state    file with the last verified checkpoint: the new one must extend it; rewritten on success
  --key      pinned verifier key <name>+<hex key id>+<base64 key> (default: the published key)

Exit status: 0 every check passed, 1 a check failed, 2 usage or transport error.
`;

const FLAGS = new Set(['url', 'token', 'log', 'entries', 'state', 'key']);

/** Parses the command line (`--flag value` or `--flag=value`); throws UsageError. Null means --help. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = {}): VerifyLedgerOptions | null {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return null;
    const match = /^--([a-z]+)(?:=(.*))?$/s.exec(arg);
    if (!match || !FLAGS.has(match[1])) throw new UsageError(`unknown argument ${arg}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined || (match[2] === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${match[1]} needs a value`);
    }
    if (values.has(match[1])) throw new UsageError(`--${match[1]} given twice`);
    values.set(match[1], value);
  }
  const url = values.get('url');
  if (!url) throw new UsageError('--url is required');
  const token = values.get('token') ?? env.NEXUS_TOKEN;
  if (!token) throw new UsageError('--token (or NEXUS_TOKEN) is required');
  const log = (values.get('log') ?? 'tenant').toLowerCase();
  if (log !== 'tenant' && log !== 'platform') throw new UsageError('--log must be tenant or platform');
  let entries: number[] | undefined;
  const list = values.get('entries');
  if (list !== undefined) {
    entries = list.split(',').map((item) => {
      if (!/^\s*\d+\s*$/.test(item)) throw new UsageError(`--entries: ${item} is not an entry index`);
      return Number(item);
    });
  }
  return { url, token, log: log as LedgerLog, entries, stateFile: values.get('state'), key: values.get('key') };
}

/** Runs the verifier as a command; resolves to the exit status. */
export async function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  err: (line: string) => void,
  fetchImpl?: typeof fetch,
): Promise<number> {
  try {
    const options = parseArgs(argv, env);
    if (!options) {
      out(USAGE);
      return 0;
    }
    const report = await verifyLedgerOnce({ ...options, fetch: fetchImpl });
    for (const check of report.checks) out(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.detail}\n`);
    if (report.ok) {
      out(`verified${report.state && options.stateFile ? `; state saved to ${options.stateFile}` : ''}\n`);
      return 0;
    }
    const failed = report.checks.filter((c) => !c.ok).length;
    out(
      `MISMATCH: ${failed} check${failed === 1 ? '' : 's'} failed${options.stateFile ? '; state not updated' : ''}\n`,
    );
    return 1;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`ledger:verify: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof TransportError) {
      err(`ledger:verify: ${e.message}\n`);
      return 2;
    }
    err(`ledger:verify: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 2;
  }
}

if (require.main === module) {
  void run(
    process.argv.slice(2),
    process.env,
    (line) => process.stdout.write(line),
    (line) => process.stderr.write(line),
  ).then((code) => {
    process.exitCode = code;
  });
}
