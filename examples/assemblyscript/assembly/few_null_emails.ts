// Fewer than 42 users with a null e-mail — the seed checker, in AssemblyScript.
//
// Build:  make -C examples assemblyscript     (or: npm ci && npm run build)
// Run:    python manage.py sandbox_run examples/build/assemblyscript/few_null_emails.wasm \
//           --dataset users_with_email_null=examples/datasets/users_50.json
import { checkThat, datasetJson, log, rows } from "./malleable";

// The host calls `alloc` to write the JSON that `datasetJson` returns.
export { alloc } from "./malleable";

const DATASET = "users_with_email_null";

export function check(): void {
  // The verdict needs only the row count: nothing is copied into the guest.
  const count = rows(DATASET);

  // The whole dataset, as JSON, when a checker needs to look at the values.
  const json = datasetJson(DATASET);
  log(DATASET + ": " + count.toString() + " rows, "
    + String.UTF8.byteLength(json).toString() + " bytes of JSON");

  checkThat(count < 42, "There should be less than 42 users in that state");
}
