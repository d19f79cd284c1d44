import { writeFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { z } from 'zod';
import { explainUser } from '../core/explain.js';
import { loadConfig, policyFromConfig, type LoadedConfig } from '../config/load-config.js';
import { configSchema } from '../config/schema.js';
import { customerConfigWarnings } from '../config/customer-config.js';
import { consoleConfigWarnings } from '../config/console-config.js';
import { auditSeats } from '../engine/audit-seats.js';
import { checkConfigLive } from '../engine/check-config-live.js';
import { resolveLicensing, withLicensing } from '../engine/licensing.js';
import { migrateStore } from '../engine/migrate-store.js';
import { openConnector } from '../engine/open-connector.js';
import { exitCodeFor, withheldError } from '../engine/run-outcome.js';
import { readSnapshots, runSync, type EngineDeps, type SyncResult } from '../engine/run-sync.js';
import { applySavedPlan, writePlanFile } from '../engine/saved-plan.js';
import { DirbridgeError, EXIT, isDirbridgeError, type ErrorCode, type ExitCode } from '../errors.js';
import { pino } from 'pino';
import { escapeControlCharacters } from '../control-characters.js';
import { urlPasswordForms } from '../config/references.js';
import { createLogger, type LogLevel } from '../logger.js';
import type { Scrubbing } from '../secret-values.js';
import type { SyncStore } from '../ports/store.js';
import { openStore } from '../store/open-store.js';
import { registerConsoleCommands } from './console-commands.js';
import { registerCustomerCommands } from './customer-commands.js';
import { auditCsv, formatAudit, formatExplanation, formatLiveCheck, formatRuns, formatSyncResult, formatUnresolved } from './format.js';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

interface GlobalArgs {
  config: string;
  logLevel: LogLevel | undefined;
  json: boolean;
}

interface Context {
  readonly loaded: LoadedConfig;
  readonly store: SyncStore;
  readonly deps: EngineDeps;
  readonly storeLabel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Runs the CLI and resolves with the exit code; never throws. */
export async function main(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  // Data a command was asked for is printed as it is; error and warning lines are scrubbed of the
  // secrets known by then. Either way, control characters from directory data are escaped.
  let secrets: Scrubbing | null = null;
  const scrub = (text: string): string => (secrets === null ? text : secrets.scrub(text));
  const print = (text: string): void => {
    io.stdout.write(`${escapeControlCharacters(text)}\n`);
  };
  const printError = (text: string): void => {
    io.stderr.write(`${escapeControlCharacters(scrub(text))}\n`);
  };
  let exitCode: ExitCode = EXIT.ok;
  const progress = (text: string): void => {
    if (io.stderr.isTTY === true) io.stderr.write(`\r${text}\x1b[K`);
  };
  const endProgress = (): void => {
    if (io.stderr.isTTY === true) io.stderr.write('\r\x1b[K');
  };

  /** Loads the config (remembering its secrets for scrubbing) and makes the JSON logger. */
  const configAndLogger = (args: GlobalArgs, log: { defaultLevel: LogLevel; stdout?: boolean } = { defaultLevel: 'warn' }) => {
    const loaded = loadConfig(args.config, { env: io.env });
    secrets = loaded.secrets;
    const logger = createLogger({
      level: args.logLevel ?? loaded.config.logging.level ?? log.defaultLevel,
      secrets: loaded.secrets,
      ...(log.stdout === true ? { destination: pino.destination({ fd: 1, sync: true }), base: { pid: process.pid } } : {}),
    });
    loaded.secrets.onWarning((warning) => logger.warn(warning));
    return { loaded, logger };
  };

  const withContext = async <T>(args: GlobalArgs, fn: (ctx: Context) => Promise<T>, log?: { defaultLevel: LogLevel; stdout?: boolean }): Promise<T> => {
    const { loaded, logger } = configAndLogger(args, log);
    // Secrets are resolved where they are used: the store's here, a directory's when it is read.
    const store = await openStore({ url: loaded.resolveSecrets(loaded.config.store).url, baseDir: loaded.baseDir, licensedGroups: loaded.config.licensing.licensedGroups });
    const deps: EngineDeps = {
      loaded,
      store,
      logger,
      openConnector: (dir) => openConnector(loaded.resolveSecrets(dir), { logger, baseDir: loaded.baseDir }),
      ...(log?.stdout === true ? {} : { onProgress: progress }),
    };
    try {
      return await fn({ loaded, store, deps, storeLabel: store.label });
    } finally {
      endProgress();
      await store.close();
    }
  };

  const reportSync = (args: GlobalArgs, ctx: Context, result: SyncResult): void => {
    print(args.json ? JSON.stringify(result, null, 2) : formatSyncResult(result, ctx.storeLabel));
    exitCode = exitCodeFor(result);
    const withheld = withheldError(result.plan);
    if (exitCode === EXIT.withheld && withheld !== null) printError(`dirbridge: ${withheld.code}: ${withheld.message}`);
  };

  const base = (yargs([...argv]) as Argv)
    .scriptName('dirbridge')
    .usage('$0 <command> [options]\n\nSync service-desk customers from directories, without ever granting a licensed seat.')
    .option('config', { alias: 'c', type: 'string', default: io.env['DIRBRIDGE_CONFIG'] ?? 'dirbridge.yml', describe: 'Config file (or DIRBRIDGE_CONFIG)' })
    .option('log-level', { type: 'string', choices: LOG_LEVELS, describe: 'Log level for the JSON log on stderr (default: logging.level)' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output on stdout' })
    .command(
      'sync',
      'Read the directories, plan, apply the plan to the store and re-check the invariant',
      (y) =>
        y
          .option('dry-run', { type: 'boolean', describe: 'Plan and print; write nothing' })
          .option('directory', { alias: 'd', type: 'string', array: true, describe: 'Only these directory ids' })
          .option('allow-deactivations', { type: 'number', describe: 'Accept up to N deactivations in this run (above the limit, or after a suspect read)' })
          .option('plan', { type: 'string', describe: 'Apply exactly this saved plan (from `dirbridge plan --out`)' })
          .option('mode', { choices: ['full', 'incremental'] as const, describe: 'incremental: directories that can (Crowd, LDAP) read only what changed since the last sync (default full)' })
          .option('rebuild-store', { type: 'boolean', describe: 'The store lost customers (ERR_STORE_SUSPECT): recreate them from the directories anyway' })
          .conflicts('plan', ['dry-run', 'directory', 'allow-deactivations', 'mode', 'rebuild-store']),
      async (args) => {
        await withContext(args as unknown as GlobalArgs, async (ctx) => {
          const result =
            args.plan !== undefined
              ? await applySavedPlan(ctx.deps, args.plan)
              : await runSync(ctx.deps, {
                  dryRun: args.dryRun === true,
                  ...(args.mode === undefined ? {} : { mode: args.mode }),
                  ...(args.directory === undefined ? {} : { directoryIds: args.directory.map(String) }),
                  ...(args.allowDeactivations === undefined ? {} : { allowDeactivations: nonNegative(args.allowDeactivations, '--allow-deactivations') }),
                  ...(args.rebuildStore === true ? { rebuildStore: true } : {}),
                });
          reportSync(args as unknown as GlobalArgs, ctx, result);
        });
      },
    )
    .command(
      'plan',
      'Read the directories and show what a sync would change; --out saves the plan for `sync --plan`',
      (y) =>
        y
          .option('out', { alias: 'o', type: 'string', describe: 'Write the plan to this file' })
          .option('directory', { alias: 'd', type: 'string', array: true, describe: 'Only these directory ids' })
          .option('allow-deactivations', { type: 'number', describe: 'Accept up to N deactivations when the plan is applied' }),
      async (args) => {
        await withContext(args as unknown as GlobalArgs, async (ctx) => {
          const result = await runSync(ctx.deps, {
            dryRun: true,
            ...(args.directory === undefined ? {} : { directoryIds: args.directory.map(String) }),
            ...(args.allowDeactivations === undefined ? {} : { allowDeactivations: nonNegative(args.allowDeactivations, '--allow-deactivations') }),
          });
          if (args.out !== undefined && result.outcome !== 'rejected') writePlanFile(args.out, result, new Date());
          reportSync(args as unknown as GlobalArgs, ctx, result);
          if (args.out !== undefined && !args.json) print(result.outcome === 'rejected' ? 'plan rejected: nothing saved' : `plan saved to ${args.out}; apply it with: dirbridge sync --plan ${args.out}`);
        });
      },
    )
    .command('audit <what>', 'Audits (audit seats: prove that no customer consumes a licence seat)', (y) =>
      y
        .positional('what', { choices: ['seats'] as const, demandOption: true })
        .option('csv', { type: 'boolean', default: false, describe: 'CSV on stdout' })
        .option('live', { type: 'boolean', default: false, describe: 'Read the directories now instead of using the last run' })
        .option('fail-on', { choices: ['leak', 'violation', 'never'] as const, default: 'leak' as const, describe: 'Exit 4 on seat leaks or worse (leak), only on stored violations (violation), or never' }),
      async (args) => {
        await withContext(args as unknown as GlobalArgs, async (ctx) => {
          const audit = await auditSeats(ctx.deps, { live: args.live });
          print(args.json ? JSON.stringify(audit, null, 2) : args.csv ? auditCsv(audit) : formatAudit(audit));
          const failOn = args.failOn;
          const fails = failOn === 'never' ? false : failOn === 'violation' ? audit.status === 'violation' : audit.status !== 'pass';
          if (fails) {
            exitCode = EXIT.auditFindings;
            printError(`dirbridge: ERR_AUDIT_FINDINGS: the seat audit status is ${audit.status} (--fail-on ${failOn})`);
          }
        });
      },
    )
    .command('explain <user>', 'Why is this username a customer, or not? (reads the directories now)', (y) => y.positional('user', { type: 'string', demandOption: true }), async (args) => {
      await withContext(args as unknown as GlobalArgs, async (ctx) => {
        const licensing = await resolveLicensing(ctx.deps, { save: false });
        const { snapshots, failures } = await readSnapshots(ctx.deps, ctx.loaded.config.directories);
        const explanation = explainUser(args.user, withLicensing(policyFromConfig(ctx.loaded.config), licensing), snapshots);
        const stored = await ctx.store.findByUsername(args.user);
        print(args.json ? JSON.stringify({ ...explanation, stored, unreadDirectories: failures }, null, 2) : formatExplanation(explanation, stored));
        for (const f of failures) printError(`warning: ${f.directoryId} could not be read (${f.code}); the explanation ignores it`);
        for (const w of licensing.warnings) printError(`warning: ${w}`);
        if (explanation.verdict === 'not-found' && stored.length === 0) exitCode = EXIT.failure;
      });
    })
    .command('runs', 'The run journal, newest first', (y) => y.option('limit', { type: 'number', default: 20 }), async (args) => {
      await withContext(args as unknown as GlobalArgs, async (ctx) => {
        const runs = await ctx.store.listRuns({ limit: positive(args.limit, '--limit') });
        print(args.json ? JSON.stringify(runs, null, 2) : formatRuns(runs));
      });
    })
    .command('directories <action> <id>', 'directories test ID: read a directory and report what it found', (y) =>
      y.positional('action', { choices: ['test'] as const, demandOption: true }).positional('id', { type: 'string', demandOption: true }),
      async (args) => {
        const { loaded, logger } = configAndLogger(args as unknown as GlobalArgs);
        const { testDirectory } = await import('../engine/directory-test.js');
        const { writes, ...check } = await testDirectory({ loaded, logger }, args.id);
        const scope = check.partial ? ' (first page of each search)' : ' (read whole, as a sync reads it)';
        print(
          args.json
            ? JSON.stringify({ ...check, ...(writes === undefined ? {} : { writes }) }, null, 2)
            : [
                `${args.id}: OK, ${check.users} users, ${check.groups} groups${scope}`,
                ...(check.unresolvedMembers === undefined ? [] : formatUnresolved(check.unresolvedMembers)),
                `sample user: ${JSON.stringify(check.sampleUser)}`,
                'mapping:',
                ...Object.entries(check.mapping).map(([k, v]) => `  ${k.padEnd(12)} ← ${v}`),
                ...(writes === undefined ? [] : [`writes: ${writes.writes} (${writes.detail})`]),
              ].join('\n'),
        );
      },
    )
    .command('store <action> <from>', 'store migrate-from URL: copy another store (e.g. the embedded file:…) into the configured one', (y) =>
      y.positional('action', { choices: ['migrate-from'] as const, demandOption: true }).positional('from', { type: 'string', demandOption: true, describe: 'Source store URL; a relative file: path resolves against the current directory' }),
      async (args) => {
        await withContext(args as unknown as GlobalArgs, async (ctx) => {
          for (const form of urlPasswordForms(args.from)) ctx.loaded.secrets.add(form, 'the source store URL');
          const source = await openStore({ url: args.from, baseDir: process.cwd(), licensedGroups: ctx.loaded.config.licensing.licensedGroups });
          try {
            if (source.label === ctx.store.label) throw new DirbridgeError('ERR_USAGE', 'the source is the configured store itself');
            const result = await migrateStore(source, ctx.store, (n) => progress(`copied ${n} customers`));
            endProgress();
            print(args.json ? JSON.stringify(result) : `copied ${result.customers} customers, ${result.runs} runs and ${result.directories} directory states from ${source.label} to ${ctx.store.label}; customer management: ${result.records['requests'] ?? 0} requests, ${result.records['customer_events'] ?? 0} history entries, ${result.records['directory_addresses'] ?? 0} directory addresses`);
          } finally {
            await source.close();
          }
        });
      },
    )
    .command('serve', 'Run the config\'s schedules until stopped, with /healthz, /readyz, /metrics and /runs on an HTTP port', (y) =>
      y.option('port', { type: 'number', describe: 'HTTP port (default service.port, 8080); 0 picks a free one' }),
      async (args) => {
        await withContext(
          args as unknown as GlobalArgs,
          async ({ loaded, deps }) => {
            const { logger } = deps;
            // The service (HTTP, cron, metrics) loads only for `serve`.
            const { startService } = await import('../service/service.js');
            const service = await startService(deps, { port: args.port ?? loaded.config.service.port, host: loaded.config.service.host });
            const signal = await new Promise<NodeJS.Signals>((resolve) => {
              process.once('SIGTERM', resolve);
              process.once('SIGINT', resolve);
            });
            const force = (): never => process.exit(130);
            process.once('SIGTERM', force);
            process.once('SIGINT', force);
            logger.info({ signal, gracePeriodSeconds: loaded.config.service.gracePeriodSeconds }, 'stopping: no new runs; waiting for the current one');
            const { drained, settled } = await service.stop();
            if (!settled) {
              // The aborted run is still inside a store call: closing the store under it is what must not happen.
              logger.error('the aborted run did not stop: exiting without closing the store; its leases expire on their own');
              process.exit(EXIT.failure);
            }
            logger.info({ drained }, drained ? 'stopped' : 'stopped: the current run was aborted (grace period over); the next run completes it');
            if (!drained) exitCode = EXIT.failure;
          },
          { defaultLevel: 'info', stdout: true },
        );
      },
    )
    .command('config <action>', 'config validate [--live] | config schema', (y) =>
      y
        .positional('action', { choices: ['validate', 'schema'] as const, demandOption: true })
        .option('out', { alias: 'o', type: 'string', describe: 'With schema: write the JSON Schema here' })
        .option('live', { type: 'boolean', default: false, describe: 'With validate: read every directory and check the config against it (customer groups that exist nowhere)' }),
      async (args) => {
        if (args.action === 'schema') {
          const schema = `${JSON.stringify(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }), null, 2)}\n`;
          if (args.out === undefined) io.stdout.write(schema);
          else writeFileSync(args.out, schema);
          return;
        }
        const loaded = loadConfig(args.config, { env: io.env });
        secrets = loaded.secrets;
        const warnings: string[] = [];
        loaded.secrets.onWarning((warning) => warnings.push(warning));
        loaded.checkSecrets(); // every secret reference, whichever command would need it
        const c = loaded.config;
        warnings.push(...customerConfigWarnings(c), ...consoleConfigWarnings(c.console));
        for (const warning of warnings) printError(`warning: ${warning}`);
        const summary = `${loaded.path}: valid (${c.directories.length} directories: ${c.directories.map((d) => `${d.id} [${d.type}]`).join(', ')}; customer groups: ${c.roles.customer.groups.join(', ') || '(none)'}; ${c.licensing.licensedGroups.length} licensed groups${c.licensing.source === 'jira' ? ', plus the application access groups of Jira (checked with --live)' : ''})`;
        if (!args.live) {
          print(args.json ? JSON.stringify({ valid: true, path: loaded.path, warnings }) : summary);
          return;
        }
        const logger = createLogger({ level: (args as unknown as GlobalArgs).logLevel ?? c.logging.level ?? 'warn', secrets: loaded.secrets });
        const live = await checkConfigLive(loaded, (dir) => openConnector(loaded.resolveSecrets(dir), { logger, baseDir: loaded.baseDir }), { logger });
        const failed = live.directories.filter((d) => d.error !== null);
        const jiraError = live.licensing?.error ?? null;
        print(args.json ? JSON.stringify({ valid: failed.length === 0 && jiraError === null && live.problems.length === 0, path: loaded.path, warnings, live }, null, 2) : [summary, ...formatLiveCheck(live)].join('\n'));
        if (failed.length > 0) {
          const first = failed[0]?.error;
          throw new DirbridgeError(
            (first?.code ?? 'ERR_DIRECTORY_READ') as ErrorCode,
            `${failed.length} of ${live.directories.length} directories could not be read, so the config could not be checked against them: ${failed.map((d) => `${d.directoryId} (${d.error?.message ?? ''})`).join('; ')}`,
          );
        }
        if (jiraError !== null) {
          throw new DirbridgeError(jiraError.code as ErrorCode, `Jira (licensing.jira) could not be read, so the config could not be checked against its application access settings: ${jiraError.message}`);
        }
        if (live.problems.length > 0) {
          const noun = live.problems.length === 1 ? 'problem' : 'problems';
          throw new DirbridgeError('ERR_CONFIG', `config ${loaded.path} does not match its directories (${live.problems.length} ${noun}):\n${live.problems.map((p) => `  - ${p}`).join('\n')}`, {
            details: { problems: live.problems },
          });
        }
      },
    );
  const parser = registerCustomerCommands(registerConsoleCommands(base, print), {
    withDeps: (args, fn) => withContext(args as GlobalArgs, (ctx) => fn(ctx.deps)),
    print,
    warn: (code, message) => printError(`dirbridge: ${code}: ${message}`),
    setExit: (code) => {
      exitCode = code;
    },
    json: (args) => (args as GlobalArgs).json,
  })
    .demandCommand(1, 'Name a command (dirbridge --help lists them)')
    .strict()
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((message, error) => {
      throw error ?? new DirbridgeError('ERR_USAGE', message);
    });

  try {
    await parser.parseAsync();
    return exitCode;
  } catch (error) {
    endProgress();
    const e = isDirbridgeError(error) ? error : new DirbridgeError('ERR_INTERNAL', `unexpected error: ${(error as Error).stack ?? String(error)}`);
    printError(`dirbridge: ${e.code}: ${e.message}`);
    if (argv.includes('--json')) print(scrub(JSON.stringify({ error: { code: e.code, message: e.message, retryable: e.retryable } })));
    return e.exitCode;
  }
}

function nonNegative(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 0) throw new DirbridgeError('ERR_USAGE', `${flag} takes a whole number ≥ 0`);
  return value;
}

function positive(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new DirbridgeError('ERR_USAGE', `${flag} takes a whole number ≥ 1`);
  return value;
}
