import { DirbridgeError, isDirbridgeError } from '../../errors.js';

/**
 * One place that turns a driver's failure into the error people see, for every store: the store refuses
 * a customer with a licensed group (its triggers or validator) → ERR_STORE_INVARIANT; anything else →
 * ERR_STORE naming the store and the step. Messages from drivers never carry credentials (the MongoDB
 * URL is shown with its password replaced).
 */
export function storeFailure(where: string, what: string, cause: unknown): DirbridgeError {
  if (isDirbridgeError(cause)) return cause;
  const message = String((cause as { message?: unknown })?.message ?? cause);
  if (message.includes('licensed group')) return new DirbridgeError('ERR_STORE_INVARIANT', `${where} refused to ${what}: a customer cannot carry a licensed group`, { cause });
  const e = cause as { codeName?: string; code?: number | string };
  const detail = e.codeName ?? (typeof e.code === 'number' ? `code ${e.code}` : message);
  return new DirbridgeError('ERR_STORE', `${where} failed to ${what}: ${detail}`, { cause });
}
