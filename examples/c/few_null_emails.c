/*
 * Fewer than 42 users with a null e-mail — the seed checker, in C.
 *
 * Build:  make -C examples c     (or the clang line at the top of malleable.h)
 * Run:    python manage.py sandbox_run examples/build/c/few_null_emails.wasm \
 *           --dataset users_with_email_null=examples/datasets/users_50.json
 */
#include "malleable.h"

#define DATASET "users_with_email_null"

MK_CHECK {
    /* The verdict needs only the row count: nothing is copied into the guest. */
    int64_t rows = mk_rows(DATASET);

    /* The whole dataset, as JSON, when a checker needs to look at the values. */
    mk_json data = mk_dataset(DATASET);

    mk_text line = {0};
    mk_text_str(&line, DATASET ": ");
    mk_text_int(&line, rows);
    mk_text_str(&line, " rows, ");
    mk_text_int(&line, (int64_t)data.len);
    mk_text_str(&line, " bytes of JSON");
    mk_log(line.buf);

    mk_text when = {0};
    mk_text_str(&when, "checked at ");
    mk_text_int(&when, mk_now_ms());
    mk_text_str(&when, " ms since the epoch");
    mk_log(when.buf);

    mk_assert(rows < 42, "There should be less than 42 users in that state");
}
