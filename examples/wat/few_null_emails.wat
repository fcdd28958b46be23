;; Fewer than 42 users with a null e-mail — the seed checker, in WebAssembly text.
;;
;; Run it:  python manage.py sandbox_run examples/wat/few_null_emails.wat \
;;            --dataset users_with_email_null=examples/datasets/users_50.json
;;
;; The pattern to copy: import what you need from "malleable", keep your strings in
;; data segments at known offsets, export `check` and `memory`. Strings are passed as
;; (offset, byte length); count the bytes of the UTF-8, not the characters.
(module
  ;; --- the guest ABI (import only what you use) -------------------------------
  (import "malleable" "dataset_rows" (func $dataset_rows (param i32 i32) (result i64)))
  (import "malleable" "ok"   (func $ok   (param i32 i32)))
  (import "malleable" "fail" (func $fail (param i32 i32)))
  (import "malleable" "log"  (func $log  (param i32 i32)))

  (memory (export "memory") 1)

  ;; --- strings: (offset, length) -----------------------------------------------
  (data (i32.const 0)  "users_with_email_null")                             ;; 0, 21
  (data (i32.const 32) "There should be less than 42 users in that state") ;; 32, 48
  (data (i32.const 96) "counting users with a null e-mail")                 ;; 96, 33

  (func (export "check")
    (call $log (i32.const 96) (i32.const 33))
    (if (i64.lt_s (call $dataset_rows (i32.const 0) (i32.const 21)) (i64.const 42))
      (then (call $ok   (i32.const 32) (i32.const 48)))
      (else (call $fail (i32.const 32) (i32.const 48))))))
