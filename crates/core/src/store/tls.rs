//! When libgit2 reads the system's certificate bundle. libgit2 (with OpenSSL, on Linux and the
//! BSDs) makes its TLS context when it starts and has OpenSSL parse every certificate in the
//! bundle then: about 28 ms on these machines, at the start of every command, most of which
//! never talk to a remote. [`start_git`] starts libgit2 with the bundle out of sight, and
//! [`ready_for_remotes`] hands it over when a remote is first contacted. macOS and Windows use
//! the system's TLS and need neither.
//!
//! One of the project's two `unsafe` places (the other is `cdo_search::memory`): changing the
//! environment (which Rust cannot prove no other thread reads) and libgit2's global options.
#![allow(unsafe_code)]

/// Starts libgit2 without reading the certificate bundle. Call it first thing in `main`, before
/// any thread starts (it changes the environment for a moment) and before anything uses git.
pub fn start_git() {
    #[cfg(all(unix, not(target_os = "macos"), not(target_os = "ios")))]
    {
        const VAR: &str = "SSL_CERT_FILE";
        let own = std::env::var_os(VAR);
        // A file that exists (so git2's probe keeps it) and holds no certificate.
        // SAFETY: the caller runs this before any other thread exists, so nothing reads the
        // environment while it changes.
        unsafe { std::env::set_var(VAR, "/dev/null") };
        // Any option starts libgit2; this one is what `Store::open` sets anyway.
        git2::opts::strict_object_creation(false);
        // SAFETY: as above.
        unsafe {
            match own {
                Some(value) => std::env::set_var(VAR, value),
                None => std::env::remove_var(VAR),
            }
        }
        DEFERRED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(all(unix, not(target_os = "macos"), not(target_os = "ios")))]
static DEFERRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Gives libgit2 the certificate bundle [`start_git`] kept from it (once; a no-op otherwise):
/// the one `SSL_CERT_FILE` names, else the system's.
pub fn ready_for_remotes() {
    #[cfg(all(unix, not(target_os = "macos"), not(target_os = "ios")))]
    {
        static LOADED: std::sync::Once = std::sync::Once::new();
        if !DEFERRED.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        LOADED.call_once(|| {
            let bundle = std::env::var_os("SSL_CERT_FILE")
                .map(std::path::PathBuf::from)
                .or_else(|| openssl_probe::probe().cert_file);
            if let Some(bundle) = bundle.filter(|b| b.is_file()) {
                // SAFETY: libgit2 guards its TLS context; this only adds trusted roots to it.
                // A failure leaves the certificate folder, which OpenSSL still reads by hash.
                let _ = unsafe { git2::opts::set_ssl_cert_file(bundle) };
            }
        });
    }
}
