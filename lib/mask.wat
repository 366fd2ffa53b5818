;; WebSocket masking (RFC 6455 §5.3) with WebAssembly SIMD: the source of lib/mask-wasm.ts.
;; Rebuild with `node scripts/build-mask-wasm.js` (wabt's wat2wasm) after changing this file.
;;
;; mask(at, length, key) XORs `length` bytes of memory from `at` with the masking key, in place.
;; `key` holds the key's four bytes as a little-endian word (byte 0 of the key in its low 8
;; bits), the key cycle starting at `at`. JS copies a piece of a payload into the memory, calls
;; mask, and copies it out: 16 bytes per instruction outweigh the two copies.
(module
  ;; 128 KiB: room for one 64 KiB piece and more, so that the memory never grows (growing would
  ;; detach the views JS holds on it).
  (memory (export "memory") 2 2)
  (func (export "mask") (param $at i32) (param $length i32) (param $key i32)
    (local $end i32)
    (local $k v128)
    (local.set $k (i32x4.splat (local.get $key)))
    ;; 64 bytes per turn.
    (local.set $end (i32.add (local.get $at) (i32.and (local.get $length) (i32.const -64))))
    (block $done64
      (loop $next64
        (br_if $done64 (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store offset=0 (local.get $at) (v128.xor (v128.load offset=0 (local.get $at)) (local.get $k)))
        (v128.store offset=16 (local.get $at) (v128.xor (v128.load offset=16 (local.get $at)) (local.get $k)))
        (v128.store offset=32 (local.get $at) (v128.xor (v128.load offset=32 (local.get $at)) (local.get $k)))
        (v128.store offset=48 (local.get $at) (v128.xor (v128.load offset=48 (local.get $at)) (local.get $k)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $next64)))
    ;; Then 16 bytes per turn (up to three turns).
    (local.set $end (i32.add (local.get $at) (i32.and (local.get $length) (i32.const 48))))
    (block $done16
      (loop $next16
        (br_if $done16 (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (local.get $at) (v128.xor (v128.load (local.get $at)) (local.get $k)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next16)))
    ;; Then 4 bytes per turn (up to three turns).
    (local.set $end (i32.add (local.get $at) (i32.and (local.get $length) (i32.const 12))))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $at) (local.get $end)))
        (i32.store (local.get $at) (i32.xor (i32.load (local.get $at)) (local.get $key)))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $next4)))
    ;; The last 0-3 bytes: every turn above was a multiple of 4, so they take key bytes 0, 1, 2.
    (if (i32.ge_u (i32.and (local.get $length) (i32.const 3)) (i32.const 1))
      (then (i32.store8 (local.get $at) (i32.xor (i32.load8_u (local.get $at)) (local.get $key)))))
    (if (i32.ge_u (i32.and (local.get $length) (i32.const 3)) (i32.const 2))
      (then (i32.store8 offset=1 (local.get $at)
        (i32.xor (i32.load8_u offset=1 (local.get $at)) (i32.shr_u (local.get $key) (i32.const 8))))))
    (if (i32.eq (i32.and (local.get $length) (i32.const 3)) (i32.const 3))
      (then (i32.store8 offset=2 (local.get $at)
        (i32.xor (i32.load8_u offset=2 (local.get $at)) (i32.shr_u (local.get $key) (i32.const 16))))))
  )
)
