//! Fewer than 42 users with a null e-mail — the seed checker, in Rust.
//!
//! Build:  make -C examples rust
//! Run:    python manage.py sandbox_run examples/build/rust/few_null_emails.wasm \
//!           --dataset users_with_email_null=examples/datasets/users_50.json

mod malleable;

const DATASET: &str = "users_with_email_null";

#[no_mangle]
pub extern "C" fn check() {
    malleable::log_panics();

    // The verdict needs only the row count: nothing is copied into the guest.
    let rows = malleable::rows(DATASET);

    // The whole dataset, as JSON, when a checker needs to look at the values.
    let json = malleable::dataset_json(DATASET);
    malleable::log(&format!("{DATASET}: {rows} rows, {} bytes of JSON", json.len()));

    malleable::check_that(rows < 42, "There should be less than 42 users in that state");
}
