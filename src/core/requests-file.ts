import type { RequestStatus } from './customer-model.js';
import { jsonSyntaxError } from './json-syntax.js';

/**
 * The requests export `dirbridge requests import` reads: CSV (RFC 4180, a header row) or JSON (an array
 * of objects, or `{"requests": [...]}`), one request per row with these columns (header names are
 * matched case-insensitively; the aliases are what service-desk exports call them):
 *
 * | column | aliases | |
 * |---|---|---|
 * | `id` | `key`, `issue key`, `request id` | required, unique in the file |
 * | `reporter` | `reporter key`, `reporter email`, `reporter username` | a customer key, e-mail or username |
 * | `status` | `status category` | `open` or `closed` (see STATUS_ALIASES) |
 * | `created` | `created at` | ISO 8601 date or date-time |
 * | `resolved` | `resolved at`, `resolution date` | ISO 8601; empty for an open request |
 *
 * Pure: text in, rows or every problem (with its line) out. The caller resolves reporters and writes.
 */
export interface RequestRow {
  readonly line: number;
  readonly id: string;
  readonly reporter: string;
  readonly status: RequestStatus;
  /** ISO 8601 UTC, milliseconds. */
  readonly createdAt: string;
  readonly resolvedAt: string | null;
}

export interface FileProblem {
  readonly line: number;
  readonly message: string;
}

/** The rows read, or every problem; a file with problems still gives the rows that were fine, so more can be checked at once. */
export type ParsedRequests = { readonly ok: true; readonly rows: readonly RequestRow[] } | { readonly ok: false; readonly problems: readonly FileProblem[]; readonly rows: readonly RequestRow[] };

const COLUMNS = {
  id: ['id', 'key', 'issue key', 'request id'],
  reporter: ['reporter', 'reporter key', 'reporter email', 'reporter username'],
  status: ['status', 'status category'],
  created: ['created', 'created at'],
  resolved: ['resolved', 'resolved at', 'resolution date'],
} as const;
type Column = keyof typeof COLUMNS;

/** Status values accepted (case-insensitive) and what they count as. */
export const STATUS_ALIASES: Readonly<Record<string, RequestStatus>> = {
  open: 'open',
  new: 'open',
  'to do': 'open',
  'in progress': 'open',
  pending: 'open',
  'waiting for support': 'open',
  'waiting for customer': 'open',
  closed: 'closed',
  resolved: 'closed',
  done: 'closed',
  canceled: 'closed',
  cancelled: 'closed',
};

const MAX_PROBLEMS = 20;

export function parseRequestsFile(text: string, format: 'csv' | 'json'): ParsedRequests {
  const records = format === 'csv' ? csvRecords(text) : jsonRecords(text);
  if (!records.ok) return { ...records, rows: [] };
  const problems: FileProblem[] = [...records.problems];
  const rows: RequestRow[] = [];
  const seen = new Map<string, number>();
  for (const record of records.rows) {
    const row = toRow(record, problems);
    if (row === null) continue;
    const first = seen.get(row.id);
    if (first !== undefined) problems.push({ line: row.line, message: `request ${row.id} repeats line ${first}` });
    else seen.set(row.id, row.line);
    rows.push(row);
    if (problems.length >= MAX_PROBLEMS) break;
  }
  problems.sort((a, b) => a.line - b.line);
  return problems.length > 0 ? { ok: false, problems: problems.slice(0, MAX_PROBLEMS), rows } : { ok: true, rows };
}

interface RawRecord {
  readonly line: number;
  readonly values: ReadonlyMap<Column, string>;
}

function toRow(record: RawRecord, problems: FileProblem[]): RequestRow | null {
  const before = problems.length;
  const get = (c: Column): string => (record.values.get(c) ?? '').trim();
  const problem = (message: string): void => void problems.push({ line: record.line, message });
  const id = get('id');
  const reporter = get('reporter');
  const statusText = get('status');
  if (id === '') problem('no request id (column "id")');
  else if (id.length > 200) problem(`the request id is longer than 200 characters`);
  if (reporter === '') problem('no reporter (column "reporter": a customer key, e-mail or username)');
  const status = STATUS_ALIASES[statusText.toLowerCase()];
  if (status === undefined) problem(`status "${statusText}" is not one of: ${Object.keys(STATUS_ALIASES).join(', ')}`);
  const created = parseTimestamp(get('created'));
  if (created === null) problem(`created "${get('created')}" is not an ISO 8601 date or date-time (e.g. 2026-03-01T09:30:00Z)`);
  const resolvedText = get('resolved');
  const resolved = resolvedText === '' ? null : parseTimestamp(resolvedText);
  if (resolvedText !== '' && resolved === null) problem(`resolved "${resolvedText}" is not an ISO 8601 date or date-time`);
  if (status === 'open' && resolved !== null) problem('an open request has a resolved time');
  if (created !== null && resolved !== null && resolved < created) problem('resolved is before created');
  if (problems.length > before || status === undefined || created === null) return null;
  return { line: record.line, id, reporter, status, createdAt: created, resolvedAt: resolved };
}

/**
 * An ISO 8601 date (`2026-03-01`, midnight UTC) or date-time with seconds, fraction and a zone
 * (`Z` or ±HH:MM; none means UTC), as the canonical UTC form `2026-03-01T09:30:00.000Z`; null when
 * the text is not one, or names a day that does not exist.
 */
export function parseTimestamp(text: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text.trim());
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const millis = Number(((m[7] ?? '') + '000').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const hours = Number(digits.slice(1, 3));
    const minutes = Number(digits.slice(3, 5));
    if (hours > 23 || minutes > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  const total = daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis;
  return formatUtc(total);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const year = m <= 2 ? y - 1 : y;
  const era = Math.floor(year / 400);
  const yoe = year - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function formatUtc(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const hh = Math.floor(rest / 3_600_000);
  rest -= hh * 3_600_000;
  const mm = Math.floor(rest / 60_000);
  rest -= mm * 60_000;
  const ss = Math.floor(rest / 1000);
  const ms3 = rest - ss * 1000;
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(m)}-${p(d)}T${p(hh)}:${p(mm)}:${p(ss)}.${p(ms3, 3)}Z`;
}

/** Rows that could be read, with the problems of those that could not; or a file that cannot be read at all. */
type Records = { readonly ok: true; readonly rows: readonly RawRecord[]; readonly problems: readonly FileProblem[] } | { readonly ok: false; readonly problems: readonly FileProblem[] };

/** RFC 4180 rows mapped through the header row. */
function csvRecords(text: string): Records {
  const parsed = csvTable(text.startsWith('\uFEFF') ? text.slice(1) : text);
  if (!parsed.ok) return parsed;
  const [header, ...table] = parsed.table;
  if (header === undefined) return { ok: false, problems: [{ line: 1, message: 'the file is empty: a header row is needed (id,reporter,status,created,resolved)' }] };
  const mapped = mapHeader(header.fields, header.line);
  if (!mapped.ok) return mapped;
  const problems: FileProblem[] = [];
  const rows: RawRecord[] = [];
  for (const row of table) {
    if (row.fields.length !== header.fields.length) {
      problems.push({ line: row.line, message: `${row.fields.length} fields where the header has ${header.fields.length}` });
      continue;
    }
    rows.push({ line: row.line, values: new Map(mapped.columns.flatMap((c, i) => (c === null ? [] : [[c, row.fields[i] ?? '']]))) });
  }
  return { ok: true, rows, problems };
}

interface CsvRow {
  /** The line the row starts on. */
  readonly line: number;
  readonly fields: string[];
}

/** RFC 4180: comma-separated, fields in double quotes may hold commas, quotes ("") and line breaks; blank lines are skipped. */
function csvTable(body: string): { ok: true; table: CsvRow[] } | { ok: false; problems: FileProblem[] } {
  const table: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let wasQuoted = false;
  const endRow = (): void => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') table.push({ line: rowLine, fields });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (quoted) {
      if (ch === '"' && body[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field !== '' || wasQuoted) return { ok: false, problems: [{ line, message: 'a quote inside an unquoted field (quote the whole field and double the quote: "a ""b"" c")' }] };
      quoted = wasQuoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      wasQuoted = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && body[i + 1] === '\n') i++;
      endRow();
      rowLine = ++line;
    } else if (wasQuoted) {
      return { ok: false, problems: [{ line, message: 'text after a closing quote (a field is either quoted whole or not at all)' }] };
    } else field += ch;
  }
  if (quoted) return { ok: false, problems: [{ line: rowLine, message: 'a quoted field is not closed before the end of the file' }] };
  endRow();
  return { ok: true, table };
}

function mapHeader(names: readonly string[], line: number): { ok: true; columns: (Column | null)[] } | { ok: false; problems: FileProblem[] } {
  const columns = names.map((name) => columnOf(name));
  const missing = (['id', 'reporter', 'status', 'created'] as const).filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    return { ok: false, problems: [{ line, message: `the header has no ${missing.map((c) => `"${c}"`).join(', ')} column (columns: id, reporter, status, created, resolved)` }] };
  }
  const twice = columns.find((c, i) => c !== null && columns.indexOf(c) !== i);
  if (twice !== undefined) return { ok: false, problems: [{ line, message: `two header columns mean "${twice}"` }] };
  return { ok: true, columns };
}

function columnOf(name: string): Column | null {
  const n = name.trim().toLowerCase().replace(/[_-]+/g, ' ');
  for (const [column, aliases] of Object.entries(COLUMNS) as [Column, readonly string[]][]) if (aliases.includes(n)) return column;
  return null;
}

/** A JSON array of objects (or `{"requests": [...]}`); each request's line is where its object starts. */
function jsonRecords(input: string): Records {
  const text = input.startsWith('\uFEFF') ? ` ${input.slice(1)}` : input;
  const syntax = jsonSyntaxError(text);
  if (syntax !== null) return { ok: false, problems: [{ line: lineAt(text, syntax.at), message: `not valid JSON: ${syntax.message}` }] };
  const doc: unknown = JSON.parse(text);
  const wrapped = doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Array.isArray((doc as { requests?: unknown }).requests);
  const list = wrapped ? (doc as { requests: unknown[] }).requests : doc;
  if (!Array.isArray(list)) return { ok: false, problems: [{ line: 1, message: 'expected an array of requests, or an object with a "requests" array' }] };
  const starts = elementLines(text, wrapped);
  const problems: FileProblem[] = [];
  const rows: RawRecord[] = [];
  list.forEach((item, i) => {
    const line = starts[i] ?? 1;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      problems.push({ line, message: 'a request must be an object like {"id": …, "reporter": …, "status": …, "created": …}' });
      return;
    }
    const values = new Map<Column, string>();
    let typed = true;
    for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
      const column = columnOf(name);
      if (column === null) continue;
      if (value !== null && typeof value !== 'string' && typeof value !== 'number') {
        problems.push({ line, message: `"${name}" must be a string` });
        typed = false;
        continue;
      }
      values.set(column, value === null ? '' : String(value));
    }
    if (typed) rows.push({ line, values });
  });
  return { ok: true, rows, problems };
}

/** The 1-based line of each element of the requests array, found by scanning the (valid) JSON text. */
function elementLines(text: string, wrapped: boolean): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  // With a wrapper, elements are at depth 2 inside the "requests" array; we take the first array found at depth 1.
  const target = wrapped ? 2 : 1;
  let arrayDepthOpen = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      if (depth === target && arrayDepthOpen && expectingValue(text, i)) lines.push(line);
      inString = true;
    } else if (ch === '[' || ch === '{') {
      if (depth === target && arrayDepthOpen && expectingValue(text, i)) lines.push(line);
      depth++;
      if (ch === '[' && depth === target) arrayDepthOpen = true;
    } else if (ch === ']' || ch === '}') {
      if (ch === ']' && depth === target) arrayDepthOpen = false;
      depth--;
    } else if (depth === target && arrayDepthOpen && /[-0-9tfn]/.test(ch ?? '') && expectingValue(text, i)) {
      lines.push(line);
    }
  }
  return lines;
}

function expectingValue(text: string, i: number): boolean {
  for (let j = i - 1; j >= 0; j--) {
    const ch = text[j] as string;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') continue;
    return ch === '[' || ch === ',';
  }
  return false;
}

function lineAt(text: string, position: number): number {
  let line = 1;
  for (let i = 0; i < position && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}
