//! Containment for third-party decoders that panic on corrupt input (laz-rs does on some
//! broken streams). A panic inside `contain` becomes an error string; the process keeps going
//! and nothing is printed, so the user sees one clear line instead of a backtrace.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static LAST: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // Decoders may panic on rayon worker threads: any panic while a contained region is
            // active is taken as coming from it.
            if ACTIVE.load(Ordering::SeqCst) > 0 {
                let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                    (*s).to_string()
                } else if let Some(s) = info.payload().downcast_ref::<String>() {
                    s.clone()
                } else {
                    "decoder panicked".to_string()
                };
                if let Ok(mut last) = LAST.lock() {
                    *last = Some(msg);
                }
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message)`.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    r.map_err(|_| {
        let msg = LAST.lock().ok().and_then(|mut l| l.take());
        format!(
            "decoder failed on corrupt data ({})",
            msg.unwrap_or_else(|| "panic".into())
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn panic_becomes_error() {
        let r: Result<u32, String> = super::contain(|| panic!("boom"));
        let e = r.unwrap_err();
        assert!(e.contains("boom"), "{e}");
        assert_eq!(super::contain(|| 7), Ok(7));
    }
}
