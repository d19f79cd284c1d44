/**
 * The record driver: the thin, store-specific layer under every customer-management operation. It
 * knows how to find, count, insert and update records of a few declared collections, and nothing of
 * customers: the operations themselves (licence check, paging, migration steps, error messages) are
 * written once, above it (src/store/customers/), and run unchanged on every store.
 *
 * Contract, on every store:
 * - A filter is a conjunction of field conditions, plus `$or` (a list of filters, any of which matches).
 *   `null` matches a missing value too; `$ne` matches a missing value; `$contains` is a case-sensitive
 *   substring; `$hasItem` matches a list field holding the value, ignoring case and surrounding space.
 * - Sorting compares strings by code point, numbers numerically; null and missing sort first ascending
 *   and last descending.
 * - `insertMany` skips records whose key exists (an idempotent create) and reports how many it wrote.
 * - Setting a field to null removes it.
 * - Each write call is one write (a transaction on SQLite, one command or bulk on MongoDB). No call needs
 *   a multi-document transaction: an operation that needs several writes is written as idempotent steps.
 * - Failures are DirbridgeErrors (ERR_STORE), naming the store and what was being done.
 */
export type Scalar = string | number | boolean | null;

export type Condition =
  | Scalar
  | { readonly $in: readonly Scalar[] }
  | { readonly $ne: Scalar }
  | { readonly $gt: string | number }
  | { readonly $contains: string }
  | { readonly $hasItem: string };

export interface Filter {
  readonly [field: string]: Condition | readonly Filter[] | undefined;
}

export interface SortKey {
  readonly field: string;
  readonly order: 'asc' | 'desc';
}

export interface FindOptions {
  readonly sort?: readonly SortKey[];
  readonly skip?: number;
  readonly limit?: number;
}

export type RecordDoc = Record<string, unknown>;

export type FieldType = 'text' | 'int' | 'bool' | 'json' | 'list';

export interface FieldSpec {
  /** The SQLite column. */
  readonly column: string;
  readonly type: FieldType;
}

export interface CollectionSpec {
  /** The MongoDB collection. */
  readonly name: string;
  /** The SQLite table. */
  readonly table: string;
  /** Fields making the key; on MongoDB `_id` is their values joined with "/". */
  readonly key: readonly string[];
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** `mongoOnly`: the SQLite primary key already serves it. */
  readonly indexes: readonly { readonly name: string; readonly fields: readonly (readonly [string, 'asc' | 'desc'])[]; readonly mongoOnly?: boolean }[];
  /** Values MongoDB documents of this collection get on insert when the record does not set them. */
  readonly mongoDefaults?: Readonly<Record<string, unknown>>;
}

export interface GroupCount {
  readonly values: Readonly<Record<string, Scalar>>;
  readonly count: number;
}

export interface KeyedUpdate {
  readonly key: readonly string[];
  readonly set: RecordDoc;
}

export interface RecordDriver {
  readonly kind: 'sqlite' | 'mongodb';
  find(spec: CollectionSpec, filter: Filter, options?: FindOptions): Promise<RecordDoc[]>;
  count(spec: CollectionSpec, filter: Filter): Promise<number>;
  /** How many records match, per distinct combination of `fields`. */
  countBy(spec: CollectionSpec, filter: Filter, fields: readonly string[]): Promise<GroupCount[]>;
  insertMany(spec: CollectionSpec, docs: readonly RecordDoc[]): Promise<number>;
  /** Sets fields on every record matching; returns how many matched. */
  updateMany(spec: CollectionSpec, filter: Filter, set: RecordDoc): Promise<number>;
  /** Sets fields on records addressed by key, in one bulk write; returns how many matched. */
  updateEach(spec: CollectionSpec, updates: readonly KeyedUpdate[]): Promise<number>;
  deleteMany(spec: CollectionSpec, filter: Filter): Promise<number>;
  /**
   * Raises the store's revision (the one `SyncStore.revision` reads) by one. Customer writes outside
   * a sync (invitations, signups, migrations, deactivations by hand) call it just before writing, so
   * that a saved or held plan made before them is refused as stale.
   */
  bumpRevision(): Promise<void>;
}
