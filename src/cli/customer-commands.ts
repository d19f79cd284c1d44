import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import type { CustomerContext } from '../engine/customers/context.js';
import type { EngineDeps } from '../engine/run-sync.js';
import { DirbridgeError, EXIT, type ExitCode } from '../errors.js';

/** What the customer commands need from the CLI's main: its store context, printing and the exit code. */
export interface CommandKit {
  withDeps<T>(args: unknown, fn: (deps: EngineDeps) => Promise<T>): Promise<T>;
  print(text: string): void;
  /** An error line on stderr, as the CLI writes them: `dirbridge: CODE: message`. */
  warn(code: string, message: string): void;
  setExit(code: ExitCode): void;
  json(args: unknown): boolean;
}

const TYPES = ['portal-only', 'account'] as const;
const SORTS = ['username', 'open-requests'] as const;

/**
 * `customers list|show|invite|signup|migrate|deactivate|reactivate`, `requests import`, `intake email`:
 * thin faces over src/engine/customers (loaded on demand, like every command's engine).
 */
export function registerCustomerCommands(parser: Argv, kit: CommandKit): Argv {
  const faces = customerFaces(kit);
  return parser
    .command('customers <command>', 'Customers of every origin: list, show, invite, signup, migrate, deactivate, reactivate', (y) => customersCommands(y, kit, faces))
    .command('requests <command>', 'Requests: requests import FILE (CSV or JSON)', (y) => requestsCommands(y, faces))
    .command('intake <command>', 'The e-mail channel: intake email FILE.eml', (y) => intakeCommands(y, faces));
}

interface Faces {
  withCustomers<T>(args: unknown, fn: (ctx: CustomerContext) => Promise<T>): Promise<T>;
  /** Prints a result: JSON with --json, else the text the formatter makes. */
  out(args: unknown, value: unknown, text: () => Promise<string> | string): Promise<void>;
}

function customerFaces(kit: CommandKit): Faces {
  return {
    withCustomers: (args, fn) =>
      kit.withDeps(args, async (deps) => {
        const { customerContextFor } = await import('../engine/customers/context.js');
        const ctx = customerContextFor(deps, 'cli');
        try {
          return await fn(ctx);
        } finally {
          ctx.close();
        }
      }),
    out: (args, value, text) => Promise.resolve(kit.json(args) ? JSON.stringify(value, null, 2) : text()).then((t) => kit.print(t)),
  };
}

const format = () => import('./customer-format.js');

function customersCommands(y: Argv, kit: CommandKit, faces: Faces): Argv {
  const commands = [listCommand, showCommand, inviteCommand, signupCommand, migrateCommand, deactivateCommand, reactivateCommand];
  return commands.reduce((parser, add) => add(parser, kit, faces), y).demandCommand(1, 'Name a customers command (dirbridge customers --help lists them)');
}

function listCommand(y: Argv, _kit: CommandKit, faces: Faces): Argv {
  return y
    .command(
      'list',
      'Customers, 20 to a page: type, origin, open and closed requests',
      (c) =>
        c
          .option('search', { alias: 's', type: 'string', describe: 'Substring of username, e-mail or display name' })
          .option('page', { type: 'number', default: 1 })
          .option('page-size', { type: 'number', default: 20 })
          .option('state', { choices: ['active', 'inactive', 'all'] as const, default: 'active' as const })
          .option('type', { choices: TYPES, describe: 'portal-only or account' })
          .option('origin', { type: 'string', describe: 'A directory id, invited or signup' })
          .option('directory', { alias: 'd', type: 'string', describe: 'Same as --origin DIRECTORY' })
          .option('group', { type: 'string', describe: 'Customers through this default group' })
          .option('needs-migration', { type: 'boolean', describe: 'Portal-only customers whose address an account has' })
          .option('sort', { choices: SORTS, default: 'username' as const, describe: 'open-requests: most open requests first' }),
      async (args) => {
        await faces.withCustomers(args, async (ctx) => {
          const { listCustomers } = await import('../engine/customers/list.js');
          const origin = args.origin ?? args.directory;
          const page = await listCustomers(ctx, {
            page: positive(args.page, '--page'),
            pageSize: positive(args.pageSize, '--page-size'),
            state: args.state,
            sort: args.sort,
            ...(args.search === undefined ? {} : { search: args.search }),
            ...(args.type === undefined ? {} : { type: args.type }),
            ...(origin === undefined ? {} : { origin }),
            ...(args.group === undefined ? {} : { group: args.group }),
            ...(args.needsMigration === true ? { needsMigration: true } : {}),
          });
          await faces.out(args, page, async () => (await format()).formatCustomerPage(page, args.sort));
        });
      },
    );
}

function showCommand(y: Argv, _kit: CommandKit, faces: Faces): Argv {
  return y
    .command('show <who>', 'One customer (by key, e-mail or username) with its history', (c) => c.positional('who', { type: 'string', demandOption: true }), async (args) => {
      await faces.withCustomers(args, async (ctx) => {
        const { showCustomers } = await import('../engine/customers/list.js');
        const details = await showCustomers(ctx, args.who);
        await faces.out(args, details, async () => (await format()).formatCustomerDetails(details));
      });
    });
}

function inviteCommand(y: Argv, kit: CommandKit, faces: Faces): Argv {
  return y
    .command(
      'invite [addresses..]',
      'Invite customers by e-mail address: portal-only, origin invited (--resend: send unsent invitations again)',
      (c) =>
        c
          .positional('addresses', { type: 'string', array: true, describe: 'E-mail addresses (with --resend: keys or addresses; none = every unsent invitation)' })
          .option('name', { type: 'string', describe: 'Display name (with a single address)' })
          .option('resend', { type: 'boolean', default: false, describe: 'Send invitations again instead of inviting' }),
      async (args) => {
        const addresses = (args.addresses ?? []).map(String);
        if (!args.resend && addresses.length === 0) throw new DirbridgeError('ERR_USAGE', 'name at least one address to invite (or --resend)');
        await faces.withCustomers(args, async (ctx) => {
          const invite = await import('../engine/customers/invite.js');
          const result = args.resend ? await invite.resendInvitations(ctx, { who: addresses }) : await invite.inviteCustomers(ctx, { addresses, ...(args.name === undefined ? {} : { name: args.name }) });
          await faces.out(args, result, async () => (await format()).formatInvites(result.results));
          reportInvites(kit, result.results);
        });
      },
    );
}

function signupCommand(y: Argv, _kit: CommandKit, faces: Faces): Argv {
  return y
    .command(
      'signup <address>',
      'Public signup of one address (signup.public): a portal-only customer of origin signup, or a Crowd user with signup.target',
      (c) => c.positional('address', { type: 'string', demandOption: true }).option('name', { type: 'string', describe: 'Display name' }),
      async (args) => {
        await faces.withCustomers(args, async (ctx) => {
          const { signupCustomer } = await import('../engine/customers/signup.js');
          const result = await signupCustomer(ctx, { address: args.address, ...(args.name === undefined ? {} : { name: args.name }) });
          await faces.out(args, result, async () => (await format()).formatSignup(result));
        });
      },
    );
}

function migrateCommand(y: Argv, _kit: CommandKit, faces: Faces): Argv {
  return y
    .command(
      'migrate <who>',
      'Migrate a portal-only customer to an account, once and for good (its requests move; the account has its own key)',
      (c) => c.positional('who', { type: 'string', demandOption: true, describe: 'The portal-only customer: its key' }).option('to', { type: 'string', describe: "The account's username (default: the account flagged as having the address, else a new account)" }),
      async (args) => {
        await faces.withCustomers(args, async (ctx) => {
          const { migrateCustomer } = await import('../engine/customers/migrate.js');
          const result = await migrateCustomer(ctx, { who: args.who, ...(args.to === undefined ? {} : { to: args.to }) });
          await faces.out(args, result, async () => (await format()).formatMigration(result));
        });
      },
    );
}

function deactivateCommand(y: Argv, _kit: CommandKit, faces: Faces): Argv {
  return y
    .command(
      'deactivate <who>',
      'Deactivate a customer no directory owns (invited or signed up)',
      (c) => c.positional('who', { type: 'string', demandOption: true }).option('note', { type: 'string', describe: 'Why, for the history' }),
      async (args) => {
        await faces.withCustomers(args, async (ctx) => {
          const { deactivateCustomer } = await import('../engine/customers/migrate.js');
          const customer = await deactivateCustomer(ctx, { who: args.who, ...(args.note === undefined ? {} : { note: args.note }) });
          await faces.out(args, customer, () => `${customer.key}: ${customer.active ? 'active' : `inactive (${customer.deactivatedReason ?? ''})`}`);
        });
      },
    );
}

function reactivateCommand(y: Argv, _kit: CommandKit, faces: Faces): Argv {
  return y
    .command('reactivate <who>', 'Reactivate a customer an admin deactivated (never a migrated one)', (c) => c.positional('who', { type: 'string', demandOption: true }), async (args) => {
      await faces.withCustomers(args, async (ctx) => {
        const { reactivateCustomer } = await import('../engine/customers/migrate.js');
        const customer = await reactivateCustomer(ctx, { who: args.who });
        await faces.out(args, customer, () => `${customer.key}: ${customer.active ? 'active' : 'inactive'}`);
      });
    });
}

function requestsCommands(y: Argv, faces: Faces): Argv {
  return y
    .command(
      'import <file>',
      'Import requests (id, reporter, status, created, resolved); idempotent by id; a bad row fails the whole file',
      (c) => c.positional('file', { type: 'string', demandOption: true }).option('format', { choices: ['csv', 'json'] as const, describe: 'Default: from the file name' }),
      async (args) => {
        await faces.withCustomers(args, async (ctx) => {
          const { importRequests, readRequestsFile } = await import('../engine/customers/requests-import.js');
          const result = await importRequests(ctx, readRequestsFile(args.file, args.format));
          await faces.out(args, result, async () => (await format()).formatImport(result));
        });
      },
    )
    .demandCommand(1, 'Name a requests command');
}

function intakeCommands(y: Argv, faces: Faces): Argv {
  return y
    .command('email <file>', 'Read a message (.eml): a known sender is accepted; an unknown one becomes a customer only with signup on, else exit 8', (c) => c.positional('file', { type: 'string', demandOption: true }), async (args) => {
      let raw: Buffer;
      try {
        raw = readFileSync(args.file);
      } catch (cause) {
        throw new DirbridgeError('ERR_MESSAGE_FILE', `cannot read ${args.file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
      }
      await faces.withCustomers(args, async (ctx) => {
        const { intakeEmail } = await import('../engine/customers/intake.js');
        const result = await intakeEmail(ctx, raw);
        await faces.out(args, result, async () => (await format()).formatIntake(result));
      });
    })
    .demandCommand(1, 'Name an intake command');
}

/** Invitations are per address: refusals are exit 7, unsent e-mails exit 1; each is named on stderr. */
function reportInvites(kit: CommandKit, results: readonly { outcome: string; address: string; code?: string; message?: string; delivery?: string; error?: string | null }[]): void {
  let exit: ExitCode = EXIT.ok;
  for (const r of results) {
    if (r.outcome === 'refused') {
      kit.warn(r.code ?? 'ERR_USAGE', `${r.address}: ${r.message ?? ''}`);
      exit = EXIT.refused;
    }
  }
  const unsent = results.filter((r) => r.delivery === 'unsent');
  if (unsent.length > 0) {
    kit.warn('ERR_MAIL_SEND', `${unsent.length} invitation(s) not sent (the customers are invited); retry with: dirbridge customers invite --resend`);
    if (exit === EXIT.ok) exit = EXIT.failure;
  }
  kit.setExit(exit);
}

function positive(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new DirbridgeError('ERR_USAGE', `${flag} takes a whole number ≥ 1`);
  return value;
}
