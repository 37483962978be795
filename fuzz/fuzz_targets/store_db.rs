//! The checkpoint database: opening a damaged or hostile file (the input, written to a tmpfs
//! file) and reading every row gives a typed error, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vod_upload::store::Store;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // scripts/fuzz.sh points VOD_FUZZ_SCRATCH at a directory it removes afterwards.
        let base = if let Some(dir) = std::env::var_os("VOD_FUZZ_SCRATCH") {
            PathBuf::from(dir)
        } else if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("vod-upload-fuzz-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("state.db");
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::write(&path, data).expect("write the database file");
    let Ok(store) = Store::open(&path) else {
        return;
    };
    if let Ok(files) = store.list_files() {
        for f in files {
            let _ = store.get_file(&f.id);
            let _ = store.get_session(&f.id);
            let _ = store.parts(&f.id);
            let _ = store.bytes_done(&f.id);
            let _ = f.result();
        }
    }
    let _ = store.cleanups();
});
