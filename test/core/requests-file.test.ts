import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonSyntaxError } from '../../src/core/json-syntax.js';
import { parseRequestsFile, parseTimestamp } from '../../src/core/requests-file.js';

describe('requests files', () => {
  it('reads CSV with quoted fields, CRLF, a BOM, header aliases and status aliases', () => {
    const text = '\uFEFFIssue Key,Reporter,Status,Created,Resolution Date\r\n"SD-1","ann@example.org","Waiting for support",2026-01-02T10:00:00+01:00,\r\nSD-2,"lee, bob",Done,2026-01-02,"2026-01-03T00:00:00Z"\r\n';
    expect(parseRequestsFile(text, 'csv')).toEqual({
      ok: true,
      rows: [
        { line: 2, id: 'SD-1', reporter: 'ann@example.org', status: 'open', createdAt: '2026-01-02T09:00:00.000Z', resolvedAt: null },
        { line: 3, id: 'SD-2', reporter: 'lee, bob', status: 'closed', createdAt: '2026-01-02T00:00:00.000Z', resolvedAt: '2026-01-03T00:00:00.000Z' },
      ],
    });
  });

  it('counts lines inside quoted fields, so a problem names the line it is on', () => {
    const text = 'id,reporter,status,created\n"SD-1","multi\nline",open,2026-01-01\nSD-2,ann,bogus,2026-01-01\n';
    expect(parseRequestsFile(text, 'csv')).toEqual({ ok: false, problems: [{ line: 4, message: expect.stringContaining('status "bogus"') }], rows: [expect.objectContaining({ line: 2, reporter: 'multi\nline' })] });
  });

  it('lists every bad row at once, with its line', () => {
    const text = ['id,reporter,status,created,resolved', 'A,ann,open,2026-01-01,', ',ann,open,2026-01-01,', 'C,,open,yesterday,', 'A,bob,closed,2026-01-02,2026-01-01', 'E,ann,open,2026-01-01,2026-01-02', 'F,ann,open'].join('\n');
    const parsed = parseRequestsFile(text, 'csv');
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '3: no request id (column "id")',
      '4: no reporter (column "reporter": a customer key, e-mail or username)',
      '4: created "yesterday" is not an ISO 8601 date or date-time (e.g. 2026-03-01T09:30:00Z)',
      '5: resolved is before created',
      '6: an open request has a resolved time',
      '7: 3 fields where the header has 5',
    ]);
    expect(parseRequestsFile('id,reporter,status,created\nA,ann,open,2026-01-01\nA,bob,open,2026-01-01\n', 'csv')).toMatchObject({ ok: false, problems: [{ line: 3, message: 'request A repeats line 2' }] });
  });

  it('names a missing column, a stray quote and an unclosed quote', () => {
    expect(parseRequestsFile('id,reporter,created\n', 'csv')).toMatchObject({ ok: false, problems: [{ line: 1, message: expect.stringContaining('"status"') }] });
    expect(parseRequestsFile('id,reporter,status,created\nA,an"n,open,2026-01-01\n', 'csv')).toMatchObject({ ok: false, problems: [{ line: 2 }] });
    expect(parseRequestsFile('id,reporter,status,created\nA,"ann,open,2026-01-01\n\n', 'csv')).toMatchObject({ ok: false, problems: [{ line: 2, message: expect.stringContaining('not closed') }] });
    expect(parseRequestsFile('', 'csv')).toMatchObject({ ok: false, problems: [{ line: 1, message: expect.stringContaining('empty') }] });
  });

  it('reads JSON arrays and {"requests": [...]}, naming the line each request starts on', () => {
    const text = '{\n  "requests": [\n    { "id": "A", "reporter": "ann", "status": "open", "created": "2026-01-01" },\n    {\n      "id": "B", "reporter": "bob", "status": "shut", "created": "2026-01-01"\n    }\n  ]\n}\n';
    expect(parseRequestsFile(text, 'json')).toMatchObject({ ok: false, problems: [{ line: 4, message: expect.stringContaining('status "shut"') }], rows: [{ id: 'A', line: 3 }] });
    const array = '[{"id": 7, "reporter": "ann", "status": "closed", "created": "2026-01-01", "resolved": "2026-01-02"}]';
    expect(parseRequestsFile(array, 'json')).toMatchObject({ ok: true, rows: [{ id: '7', line: 1, resolvedAt: '2026-01-02T00:00:00.000Z' }] });
    expect(parseRequestsFile('{"x": 1}', 'json')).toMatchObject({ ok: false, problems: [{ message: expect.stringContaining('array of requests') }] });
    expect(parseRequestsFile('[\n{"id": "A",\n "reporter": ["x"], "status": "open", "created": "2026-01-01"}]', 'json')).toMatchObject({ ok: false, problems: [{ line: 2, message: '"reporter" must be a string' }] });
  });

  it('names the line of a JSON syntax error', () => {
    expect(parseRequestsFile('[\n  {"id": "A"},\n  {"id": "B",}\n]', 'json')).toMatchObject({ ok: false, problems: [{ line: 3, message: expect.stringContaining('not valid JSON') }] });
    expect(parseRequestsFile('[\n  {"id": "A"\n', 'json')).toMatchObject({ ok: false, problems: [{ line: 3 }] });
  });

  it('agrees with JSON.parse on which documents are valid', () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(40), fc.constantFrom('', ',', '}', ']', '"', ':', 'x', ' '), (json, at, noise) => {
        const text = json.slice(0, at) + noise + json.slice(at);
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(jsonSyntaxError(text) === null).toBe(valid);
      }),
      { numRuns: 500 },
    );
  });
});

describe('timestamps', () => {
  it('reads ISO 8601 dates and date-times into UTC, and refuses days that do not exist', () => {
    expect(parseTimestamp('2024-02-29')).toBe('2024-02-29T00:00:00.000Z');
    expect(parseTimestamp('2026-03-01T09:30Z')).toBe('2026-03-01T09:30:00.000Z');
    expect(parseTimestamp('2026-03-01 09:30:15.123456-05:30')).toBe('2026-03-01T15:00:15.123Z');
    expect(parseTimestamp('2026-01-01T00:30:00+01:00')).toBe('2025-12-31T23:30:00.000Z');
    for (const bad of ['2026-02-29', '2026-13-01', '2026-01-01T24:00', '01/02/2026', '2026-1-1', '']) expect(parseTimestamp(bad)).toBeNull();
  });

  it('agrees with the clock library of the platform', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-12-31T23:59:59Z'), noInvalidDate: true }), fc.integer({ min: -14 * 60, max: 14 * 60 }), (date, offset) => {
        const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 23);
        const sign = offset < 0 ? '-' : '+';
        const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
        expect(parseTimestamp(`${local}${zone}`)).toBe(date.toISOString());
      }),
      { numRuns: 500 },
    );
  });
});
