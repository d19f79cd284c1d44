/**
 * How many update statements one bulk write command may carry, by server. MongoDB takes 1,000 at
 * ease. FerretDB 1.x stalls on an update command of 100 statements or more (SQLite backend), and on
 * PostgreSQL it runs the statements of one command on as many pool connections at once: a command of
 * as many statements as the pool holds (`pool_max_conns`, 50 by default) deadlocks the server. 20
 * stays well below both, leaving the pool room for the other writers and readers of a database
 * several dirbridge processes share; FerretDB's writes cost far more per statement than per command,
 * so smaller chunks cost little.
 */
export function updateChunkFor(buildInfo: { readonly ferretdbVersion?: string } | undefined): number {
  return buildInfo?.ferretdbVersion === undefined ? MONGODB_UPDATE_CHUNK : FERRETDB_UPDATE_CHUNK;
}

export const MONGODB_UPDATE_CHUNK = 1000;
export const FERRETDB_UPDATE_CHUNK = 20;
