//! Giving freed memory back to the system. The search model's runtime (ONNX Runtime, C++)
//! allocates with the C library's `malloc`, which keeps what is freed for reuse; after a model
//! is let go that is most of its ~250 MB.
//!
//! One of the project's two `unsafe` places (the other is `cdo_core::store::tls`): a call into
//! the C library.
#![allow(unsafe_code)]

/// Returns the free memory of every `malloc` arena to the system (glibc's `malloc_trim`). Does
/// nothing where the C library has no such call.
pub(crate) fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointers; it walks glibc's own free lists under their locks
    // and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
