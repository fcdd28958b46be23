//! The Malleable guest ABI for Rust, as one module: copy this file next to your checker
//! and write `mod malleable;`. Build with Debian's rustc and its wasm32 standard library:
//!
//! ```sh
//! /usr/bin/rustc --edition 2021 -C opt-level=s -C lto -C strip=symbols \
//!     --target wasm32-unknown-unknown --crate-type cdylib -o checker.wasm checker.rs
//! ```
//!
//! Your checker exports `check`: `#[no_mangle] pub extern "C" fn check() { ... }`.
//! This module exports `alloc`, which the host calls to hand you a dataset as JSON.

#![allow(dead_code)] // a checker uses only part of the SDK

mod raw {
    #[link(wasm_import_module = "malleable")]
    extern "C" {
        pub fn dataset(name_ptr: *const u8, name_len: usize) -> i64;
        pub fn dataset_rows(name_ptr: *const u8, name_len: usize) -> i64;
        pub fn dataset_scalar(name_ptr: *const u8, name_len: usize) -> f64;
        pub fn ok(ptr: *const u8, len: usize);
        pub fn fail(ptr: *const u8, len: usize);
        pub fn log(ptr: *const u8, len: usize);
        pub fn now_ms() -> i64;
    }
}

/// An assertion that held.
pub fn ok(text: &str) {
    unsafe { raw::ok(text.as_ptr(), text.len()) }
}

/// An assertion that failed: any `fail` makes the run red.
pub fn fail(text: &str) {
    unsafe { raw::fail(text.as_ptr(), text.len()) }
}

/// A line for the run's log.
pub fn log(text: &str) {
    unsafe { raw::log(text.as_ptr(), text.len()) }
}

/// Records `text` as ok when `held`, as fail otherwise; returns `held`.
pub fn check_that(held: bool, text: &str) -> bool {
    if held { ok(text) } else { fail(text) }
    held
}

/// Row count of a dataset; nothing is copied.
pub fn rows(name: &str) -> i64 {
    unsafe { raw::dataset_rows(name.as_ptr(), name.len()) }
}

/// First cell of the first row as a number; NaN when absent or not numeric.
pub fn scalar(name: &str) -> f64 {
    unsafe { raw::dataset_scalar(name.as_ptr(), name.len()) }
}

/// The dataset as JSON text, `{"columns": [...], "rows": [[...], ...]}`.
pub fn dataset_json(name: &str) -> String {
    let packed = unsafe { raw::dataset(name.as_ptr(), name.len()) } as u64;
    let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
    // The host wrote `len` bytes into the buffer it got from `alloc(len)`: take it back.
    let bytes = unsafe { Vec::from_raw_parts(ptr as *mut u8, len, len) };
    String::from_utf8(bytes).expect("the host sends UTF-8")
}

/// Wall clock, in milliseconds since the epoch (the only clock a checker has).
pub fn now_ms() -> i64 {
    unsafe { raw::now_ms() }
}

/// Sends a panic's message to the run's log before the panic traps (the run is then an
/// error of kind `trap`). Call it first thing in `check`.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| log(&format!("panic: {info}"))));
}

/// Called by the host before it writes a dataset; `dataset_json` takes the buffer back.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len));
    buffer.as_mut_ptr()
}
