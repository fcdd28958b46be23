/*
 * malleable.h — the Malleable guest ABI for C, in one header.
 *
 * Build a checker with Debian's clang and lld, no libc, no WASI:
 *
 *   clang --target=wasm32 -nostdlib -ffreestanding -O2 -Wl,--no-entry \
 *         -o checker.wasm checker.c
 *
 * Write `MK_CHECK { ... }` for the exported `check` function. Include this header
 * in exactly one .c file: it also defines the exported `alloc` the host calls to
 * hand you a dataset as JSON, and the memset/memcpy the compiler may call.
 */
#ifndef MALLEABLE_H
#define MALLEABLE_H

#include <stdint.h>
#include <stddef.h>

/* ---- the raw imports (module "malleable"); strings are (pointer, byte length) ---- */

#define MK_IMPORT(name) __attribute__((import_module("malleable"), import_name(name)))

MK_IMPORT("dataset")        int64_t mk_raw_dataset(const char *name, size_t name_len);
MK_IMPORT("dataset_rows")   int64_t mk_raw_dataset_rows(const char *name, size_t name_len);
MK_IMPORT("dataset_scalar") double  mk_raw_dataset_scalar(const char *name, size_t name_len);
MK_IMPORT("ok")             void    mk_raw_ok(const char *text, size_t len);
MK_IMPORT("fail")           void    mk_raw_fail(const char *text, size_t len);
MK_IMPORT("log")            void    mk_raw_log(const char *text, size_t len);
MK_IMPORT("now_ms")         int64_t mk_now_ms(void);

/* The exported entry point: MK_CHECK { if (...) mk_fail("..."); } */
#define MK_CHECK __attribute__((export_name("check"))) void check(void)

/* ---- helpers over NUL-terminated strings ---- */

static inline size_t mk_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* An assertion that held / one that failed (any fail makes the run red) / a log line. */
static inline void mk_ok(const char *text)   { mk_raw_ok(text, mk_strlen(text)); }
static inline void mk_fail(const char *text) { mk_raw_fail(text, mk_strlen(text)); }
static inline void mk_log(const char *text)  { mk_raw_log(text, mk_strlen(text)); }

/* Record `text` as ok when `held`, as fail otherwise; returns `held`. */
static inline int mk_assert(int held, const char *text) {
    if (held) mk_ok(text); else mk_fail(text);
    return held;
}

/* Row count of a dataset; nothing is copied. */
static inline int64_t mk_rows(const char *name) {
    return mk_raw_dataset_rows(name, mk_strlen(name));
}

/* First cell of the first row as a number; NaN (x != x) when absent or not numeric. */
static inline double mk_scalar(const char *name) {
    return mk_raw_dataset_scalar(name, mk_strlen(name));
}

/* A dataset as UTF-8 JSON {"columns": [...], "rows": [[...], ...]}, not NUL-terminated.
 * The host writes it into memory it got from `alloc` below. */
typedef struct { const char *json; size_t len; } mk_json;

static inline mk_json mk_dataset(const char *name) {
    uint64_t packed = (uint64_t)mk_raw_dataset(name, mk_strlen(name));
    mk_json out = { (const char *)(uintptr_t)(packed >> 32), (size_t)(packed & 0xffffffffu) };
    return out;
}

/* ---- a small text builder, for messages with numbers in them ---- */

typedef struct { char buf[512]; size_t len; } mk_text;

static inline mk_text *mk_text_str(mk_text *t, const char *s) {
    while (*s && t->len < sizeof t->buf - 1) t->buf[t->len++] = *s++;
    t->buf[t->len] = 0;
    return t;
}

static inline mk_text *mk_text_int(mk_text *t, int64_t v) {
    char digits[20];
    int n = 0;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    if (v < 0) mk_text_str(t, "-");
    do { digits[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    while (n && t->len < sizeof t->buf - 1) t->buf[t->len++] = digits[--n];
    t->buf[t->len] = 0;
    return t;
}

/* ---- memory: a bump allocator the host calls for `dataset` ---- */

extern unsigned char __heap_base;  /* provided by wasm-ld: first byte after static data */
static uintptr_t mk_heap_top;

/* Never frees: a checker runs once in a fresh instance, so there is nothing to reuse.
 * Traps when memory cannot grow: returning 0 would let the host write over address 0. */
__attribute__((export_name("alloc"))) void *alloc(size_t len) {
    if (!mk_heap_top) mk_heap_top = (uintptr_t)&__heap_base;
    uintptr_t start = (mk_heap_top + 7) & ~(uintptr_t)7;
    if (len > UINTPTR_MAX - start) __builtin_trap();
    uintptr_t end = start + len;
    uintptr_t have = __builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uintptr_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) __builtin_trap();
    }
    mk_heap_top = end;
    return (void *)start;
}

/* The compiler may turn loops and struct copies into calls to these; there is no libc.
 * `no_builtin` stops it from turning these very loops back into calls to themselves. */
__attribute__((no_builtin)) void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

__attribute__((no_builtin)) void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

#endif /* MALLEABLE_H */
