//! Panics from code that handles hostile files: caught per file, and never shown with their
//! message. A panic's message can carry the text it choked on (Rust's own slicing panics quote up
//! to 256 bytes of the string), and that text is a cell of somebody's row; so the hook says
//! where the panic happened and nothing else, and a caught panic becomes that file's error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Guarded sections running now, on any thread (a reader may panic on a thread it spawned).
static GUARDED: AtomicUsize = AtomicUsize::new(0);
/// Where the latest panic happened: `file:line`, never its message.
static LAST: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the default panic hook: records the location, and prints it (without the message)
/// unless a guarded section will turn the panic into a file's error. Set
/// `WANGGE_PANIC_DETAIL=1` to see the message too, on test data only.
pub fn install_hook() {
    let detail = std::env::var_os("WANGGE_PANIC_DETAIL").is_some_and(|v| v == "1");
    std::panic::set_hook(Box::new(move |info| {
        let location =
            info.location().map_or_else(|| "unknown place".to_string(), |l| format!("{}:{}", l.file(), l.line()));
        if let Ok(mut last) = LAST.lock() {
            *last = Some(location.clone());
        }
        if detail {
            eprintln!("\npanicked at {location}:\n{}", crate::privacy::redact(&payload_text(info.payload())));
        } else if GUARDED.load(Ordering::SeqCst) == 0 {
            eprintln!(
                "error: internal error at {location}; this is a bug in wangge (details withheld: they may hold text from the files)"
            );
        }
    }));
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Runs `f`; a panic inside becomes `Err` with the place it happened (`file:line`), never its
/// message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    GUARDED.fetch_add(1, Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.fetch_sub(1, Ordering::SeqCst);
    result.map_err(|_| {
        let at = LAST.lock().ok().and_then(|mut l| l.take());
        format!("at {}", at.unwrap_or_else(|| "an unknown place".into()))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_location_without_its_message() {
        let secret = "130205197310060490";
        let caught = super::catch(|| {
            let s = format!("外{secret}");
            // Slicing inside a character: the panic message would quote the text.
            let _ = &s[..1];
        });
        let error = caught.unwrap_err();
        assert!(!error.contains(secret), "{error}");
        assert_eq!(super::catch(|| 7), Ok(7));
    }
}
