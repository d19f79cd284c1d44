import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Console passwords: scrypt (Node's crypto), stored as `scrypt$N$r$p$SALT$HASH` (salt and hash in
 * base64url). N = 2^15, r = 8, p = 1 costs about 32 MiB and 50-100 ms per check on a small server: slow
 * enough against guessing a stolen hash, quick enough for a sign-in form that is also rate-limited.
 */
export const PASSWORD_HASH_PATTERN = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43,})$/;
const DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error === null ? resolve(key) : reject(error))));
}

const memoryFor = (N: number, r: number): number => 128 * N * r * 2;

export async function hashPassword(password: string, cost: { N: number; r: number; p: number } = DEFAULTS): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, { ...cost, maxmem: memoryFor(cost.N, cost.r) });
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `password` matches `stored` (constant-time comparison); false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = PASSWORD_HASH_PATTERN.exec(stored);
  if (match === null) return false;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const expected = Buffer.from(match[5] as string, 'base64url');
  const key = await scrypt(password, Buffer.from(match[4] as string, 'base64url'), expected.length, { N, r, p, maxmem: memoryFor(N, r) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Spends about as long as a real check, so an unknown username answers as slowly as a wrong password. */
let dummy: Promise<string> | undefined;
export async function wastePasswordCheck(password: string): Promise<void> {
  await verifyPassword(password, await (dummy ??= hashPassword('not a password')));
}
