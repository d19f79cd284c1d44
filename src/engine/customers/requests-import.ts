import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { CustomerView, RequestRecord } from '../../core/customer-model.js';
import { parseRequestsFile, type FileProblem, type RequestRow } from '../../core/requests-file.js';
import { DirbridgeError } from '../../errors.js';
import type { UpsertResult } from '../../store/customers/request-store.js';
import { nowIso, type CustomerContext } from './context.js';
import { followSuccessor, preferred, resolveCustomers } from './resolve.js';

export interface ImportRequestsInput {
  /** For messages: the file name. */
  readonly source: string;
  readonly text: string;
  readonly format: 'csv' | 'json';
}

export interface ImportRequestsResult extends UpsertResult {
  readonly source: string;
  readonly rows: number;
}

/** The format a file name says (.csv, .json); anything else must be named. */
export function formatOf(path: string, given?: 'csv' | 'json'): 'csv' | 'json' {
  if (given !== undefined) return given;
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.json') return 'json';
  throw new DirbridgeError('ERR_USAGE', `cannot tell the format of ${path} from its name: pass --format csv or --format json`);
}

export function readRequestsFile(path: string, format?: 'csv' | 'json'): ImportRequestsInput {
  const chosen = formatOf(path, format);
  try {
    return { source: path, text: readFileSync(path, 'utf8'), format: chosen };
  } catch (cause) {
    throw new DirbridgeError('ERR_REQUESTS_FILE', `cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
}

/**
 * `requests import FILE`: every row is checked and every reporter resolved (key, else e-mail, else
 * username; a migrated profile stands for its successor) before anything is written; one bad row fails
 * the file with every problem and its line, and nothing of it is written. Idempotent by request id:
 * importing the same file again changes nothing, a newer export updates status and times.
 */
export async function importRequests(ctx: CustomerContext, input: ImportRequestsInput): Promise<ImportRequestsResult> {
  const parsed = parseRequestsFile(input.text, input.format);
  // Reporters are resolved for the rows that parsed, so one run names every problem of the file.
  const reporters = await resolveReporters(ctx, parsed.rows);
  const problems: FileProblem[] = parsed.ok ? [] : [...parsed.problems];
  const records: RequestRecord[] = [];
  for (const row of parsed.rows) {
    const key = reporters.get(row.reporter);
    if (typeof key !== 'string') problems.push({ line: row.line, message: key?.problem ?? `no customer is ${row.reporter}` });
    else records.push({ id: row.id, reporterKey: key, status: row.status, createdAt: row.createdAt, resolvedAt: row.resolvedAt, source: 'import' });
  }
  if (problems.length > 0) throw fileError(input.source, problems.sort((a, b) => a.line - b.line).slice(0, 20));
  const result = await ctx.records.requests.upsert(records, nowIso(ctx));
  return { ...result, source: input.source, rows: records.length };
}

async function resolveReporters(ctx: CustomerContext, rows: readonly RequestRow[]): Promise<Map<string, string | { problem: string }>> {
  const out = new Map<string, string | { problem: string }>();
  for (const reporter of new Set(rows.map((r) => r.reporter))) {
    const found = await resolveCustomers(ctx.records, reporter);
    const chosen: CustomerView | null = found.length === 1 ? (found[0] as CustomerView) : preferred(found);
    if (chosen === null) {
      out.set(reporter, { problem: found.length === 0 ? `no customer has the key, e-mail or username ${reporter}` : `${reporter} names ${found.length} customers, none active: use a customer key` });
      continue;
    }
    if (found.length > 1 && !reporter.includes('@') && found.filter((c) => c.active).length > 1) {
      out.set(reporter, { problem: `the username ${reporter} names ${found.length} customers (${found.map((c) => c.key).join(', ')}): use a customer key or an e-mail` });
      continue;
    }
    out.set(reporter, (await followSuccessor(ctx.records, chosen)).key);
  }
  return out;
}

function fileError(source: string, problems: readonly FileProblem[]): DirbridgeError {
  const lines = problems.map((p) => `  ${source} line ${p.line}: ${p.message}`);
  return new DirbridgeError('ERR_REQUESTS_FILE', `${source} was not imported (nothing of it was written); fix ${problems.length === 1 ? 'this row' : 'these rows'} and import it again:\n${lines.join('\n')}`, {
    details: { problems },
  });
}
