import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirbridgeError } from '../../src/errors.js';
import { openMongoStore } from '../../src/store/mongodb/mongo-store.js';
import { redactMongoUrl } from '../../src/store/mongodb/redact-url.js';

/** Every character RFC 3986 reserves (gen-delims and sub-delims), percent, a space and a backslash. */
const RESERVED = ['@', '/', ':', '?', '#', '[', ']', '%', '+', ' ', '!', '$', '&', "'", '(', ')', '*', ',', ';', '=', '\\'];
const password = (ch: string): string => `Left${ch}Right-S3NT`;
const url = (secret: string): string => `mongodb://dirbridge:${secret}@db1.example:27017,db2.example:27018/dirbridge?replicaSet=rs0`;
const fragments = ['Left', 'Right-S3NT'];

/** A port that accepts nothing: a listener that closed again. */
let closedPort = 0;
let server: Server;
beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
afterAll(() => {
  server.close();
});

async function openError(connectionString: string): Promise<DirbridgeError> {
  try {
    const store = await openMongoStore({ url: connectionString, licensedGroups: [], serverSelectionTimeoutMS: 200 });
    await store.close();
  } catch (error) {
    if (error instanceof DirbridgeError) return error;
    throw error;
  }
  throw new Error('the store opened');
}

describe('MongoDB URLs shown to people', () => {
  for (const ch of RESERVED) {
    it(`hides a password holding ${JSON.stringify(ch)}, percent-encoded or not`, () => {
      const encoded = redactMongoUrl(url(encodeURIComponent(password(ch))));
      expect(encoded).toBe('mongodb://dirbridge:…@db1.example:27017,db2.example:27018/dirbridge');
      const raw = redactMongoUrl(url(password(ch)));
      for (const fragment of fragments) expect(raw).not.toContain(fragment);
      expect(raw).toMatch(/^mongodb:\/\//);
    });
  }

  it('keeps hosts and database when there is no password, and names an unparseable URL without echoing it', () => {
    expect(redactMongoUrl('mongodb://db1,db2/dirbridge?replicaSet=rs0')).toBe('mongodb://db1,db2/dirbridge');
    expect(redactMongoUrl('mongodb+srv://user:p%40ss@cluster0.example.net/db?retryWrites=true')).toBe('mongodb+srv://user:…@cluster0.example.net/db');
    expect(redactMongoUrl('mongodb://user:Left@Right-S3NT@@')).not.toMatch(/Left|Right/);
  });

  it('an error opening the store never shows the password, whatever it holds', async () => {
    for (const ch of RESERVED) {
      const invalid = await openError(url(password(ch)).replace(/db1\.example:27017,db2\.example:27018/, `127.0.0.1:${closedPort}`));
      const valid = await openError(url(encodeURIComponent(password(ch))).replace(/db1\.example:27017,db2\.example:27018/, `127.0.0.1:${closedPort}`));
      for (const error of [invalid, valid]) {
        expect(['ERR_CONFIG', 'ERR_STORE']).toContain(error.code);
        for (const fragment of fragments) expect(`${error.message} ${JSON.stringify(error.details ?? {})}`, `${ch}: ${error.message}`).not.toContain(fragment);
      }
      expect(valid.code, valid.message).toBe('ERR_STORE');
    }
  });
});
