// `tollgate` operator CLI: tenants, keys, policies, spend and migrations, straight against the configured store.
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.js';
import { isGatewayError } from '../errors.js';
import { createStore } from '../store/index.js';
import type { Store } from '../store/interface.js';
import { keysCommand, policyCommand, spendCommand, tenantsCommand, UsageError, type CommandContext } from './commands.js';

export const usage = `Usage: tollgate <command> [options]

  tenants list                       tenants create NAME [--policy FILE]
  tenants show ID                    tenants disable ID | enable ID | delete ID
  keys create TENANT_ID NAME         keys list TENANT_ID        keys revoke KEY_ID
  policy get TENANT_ID               policy set TENANT_ID FILE.yaml|FILE.json|-
  spend [--from DATE] [--to DATE] [--tenant ID] [--group-by day,tenant,key,provider,model,route,endpoint]
        [--format table|json|csv|focus]
  migrate                            apply database migrations

Options: --json (machine-readable output), --help.
Uses DATABASE_URL (or the embedded database under TOLLGATE_DATA_DIR; stop the gateway first, PGlite allows one
process) and TOLLGATE_CONFIG, like the gateway.
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface CliDeps {
  io?: CliIo;
  loadConfig?: () => Config;
  openStore?: (config: Config) => Store | Promise<Store>;
  now?: () => Date;
}

const defaultIo: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      tenant: { type: 'string' },
      'group-by': { type: 'string' },
      format: { type: 'string' },
      policy: { type: 'string' },
    },
  });
}

const commands: Record<string, (ctx: CommandContext) => Promise<void>> = {
  tenants: tenantsCommand,
  keys: keysCommand,
  policy: policyCommand,
  spend: spendCommand,
};

/** Runs one CLI invocation; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  const io = deps.io ?? defaultIo;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    io.stderr(`tollgate: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  const [command, ...args] = parsed.positionals;
  if (parsed.values.help || command === undefined || command === 'help') {
    io.stdout(usage);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  if (command !== 'migrate' && !commands[command]) {
    io.stderr(`tollgate: unknown command '${command}'\n\n${usage}`);
    return 2;
  }
  let store: Store | null = null;
  try {
    const config = (deps.loadConfig ?? loadConfig)();
    store = await (deps.openStore ?? createStore)(config);
    // Migrations are idempotent (and serialised by an advisory lock on Postgres): a fresh database just works.
    await store.migrate();
    if (command === 'migrate') {
      io.stdout(`migrations applied (${store.kind})\n`);
      return 0;
    }
    const v = parsed.values;
    await commands[command]({
      store,
      config,
      args,
      flags: { json: v.json, from: v.from, to: v.to, tenant: v.tenant, groupBy: v['group-by'], format: v.format, policy: v.policy },
      out: io.stdout,
      now: deps.now ?? (() => new Date()),
    });
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`tollgate ${command}: ${e.message}\n\n${usage}`);
      return 2;
    }
    const param = isGatewayError(e) && e.param && !e.message.includes(e.param) ? ` (${e.param})` : '';
    io.stderr(`tollgate ${command}: ${(e as Error).message}${param}\n`);
    return 1;
  } finally {
    await store?.close().catch(() => {});
  }
}
