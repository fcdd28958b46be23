// The Malleable guest ABI for AssemblyScript: copy this file into your `assembly/` folder.
//
// AssemblyScript strings are UTF-16; the host speaks UTF-8, so every string crosses the
// boundary through String.UTF8. Your checker exports `check`, and re-exports `alloc`
// from here (`export { alloc } from "./malleable"`) if it calls `dataset`.

// ---- the raw imports (module "malleable"); strings are (pointer, byte length) ----

@external("malleable", "dataset")
declare function raw_dataset(name_ptr: usize, name_len: usize): i64;
@external("malleable", "dataset_rows")
declare function raw_dataset_rows(name_ptr: usize, name_len: usize): i64;
@external("malleable", "dataset_scalar")
declare function raw_dataset_scalar(name_ptr: usize, name_len: usize): f64;
@external("malleable", "ok")
declare function raw_ok(ptr: usize, len: usize): void;
@external("malleable", "fail")
declare function raw_fail(ptr: usize, len: usize): void;
@external("malleable", "log")
declare function raw_log(ptr: usize, len: usize): void;
@external("malleable", "now_ms")
declare function raw_now_ms(): i64;

// ---- the SDK ----

/** An assertion that held. */
export function ok(text: string): void {
  const utf8 = String.UTF8.encode(text);
  raw_ok(changetype<usize>(utf8), utf8.byteLength);
}

/** An assertion that failed: any `fail` makes the run red. */
export function fail(text: string): void {
  const utf8 = String.UTF8.encode(text);
  raw_fail(changetype<usize>(utf8), utf8.byteLength);
}

/** A line for the run's log. */
export function log(text: string): void {
  const utf8 = String.UTF8.encode(text);
  raw_log(changetype<usize>(utf8), utf8.byteLength);
}

/** Records `text` as ok when `held`, as fail otherwise; returns `held`. */
export function checkThat(held: bool, text: string): bool {
  if (held) ok(text);
  else fail(text);
  return held;
}

/** Row count of a dataset; nothing is copied. */
export function rows(name: string): i64 {
  const utf8 = String.UTF8.encode(name);
  return raw_dataset_rows(changetype<usize>(utf8), utf8.byteLength);
}

/** First cell of the first row as a number; NaN when absent or not numeric. */
export function scalar(name: string): f64 {
  const utf8 = String.UTF8.encode(name);
  return raw_dataset_scalar(changetype<usize>(utf8), utf8.byteLength);
}

/** The dataset as JSON text, `{"columns": [...], "rows": [[...], ...]}`. */
export function datasetJson(name: string): string {
  const utf8 = String.UTF8.encode(name);
  const packed = <u64>raw_dataset(changetype<usize>(utf8), utf8.byteLength);
  return String.UTF8.decodeUnsafe(<usize>(packed >>> 32), <usize>(packed & 0xffffffff));
}

/** Wall clock, in milliseconds since the epoch (the only clock a checker has). */
export function nowMs(): i64 {
  return raw_now_ms();
}

/** Called by the host before it writes a dataset into the guest's memory. */
export function alloc(len: usize): usize {
  return heap.alloc(len);
}

/** Replaces AssemblyScript's `env.abort` import (see asconfig.json): log, then trap. */
export function abort(message: string | null, file: string | null, line: u32, column: u32): void {
  const where = (file ? file : "?") + ":" + line.toString() + ":" + column.toString();
  log("abort: " + (message ? message : "") + " at " + where);
  unreachable();
}
