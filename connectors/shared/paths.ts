import { isAbsolute, resolve } from 'node:path';

/** A path from the config, resolved against the config file's directory. */
export function resolveConfigPath(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}
