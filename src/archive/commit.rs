//! Moving a finished archive into place without ever replacing what is already there.
//!
//! `rename()` silently replaces an existing file (and, on Unix, an empty folder), so two
//! exports to one name would leave only the later one. Where the OS can rename without
//! replacing in one step (`renameat2(RENAME_NOREPLACE)` on Linux, `renameatx_np(RENAME_EXCL)`
//! on macOS) that is used; elsewhere a file is hard-linked to its name (which fails if the
//! name is taken) and the temporary name removed, and a folder is renamed after a check.

use std::io;
use std::path::Path;

/// Renames `from` to `to`, failing with [`io::ErrorKind::AlreadyExists`] when `to` exists.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        match rustix::fs::renameat_with(
            rustix::fs::CWD,
            from,
            rustix::fs::CWD,
            to,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::EXIST) | Err(rustix::io::Errno::NOTEMPTY) => {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            // A file system without the flag (some network and FAT mounts): the fallback.
            Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => {}
            Err(other) => return Err(other.into()),
        }
    }
    fallback(from, to)
}

fn fallback(from: &Path, to: &Path) -> io::Result<()> {
    if from.is_dir() {
        // A folder cannot be hard-linked; the check leaves a window only on systems without
        // the atomic flag, and a non-empty folder is never replaced by rename anyway.
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        return std::fs::rename(from, to);
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_existing_file_or_folder_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
        std::fs::write(&a, b"new").unwrap();
        std::fs::write(&b, b"earlier").unwrap();
        let refused = rename_no_replace(&a, &b).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&b).unwrap(), b"earlier");
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        // An empty folder, which plain rename() would replace.
        let (c, d) = (dir.path().join("c"), dir.path().join("d"));
        std::fs::create_dir(&c).unwrap();
        std::fs::write(c.join("manifest.json"), b"{}").unwrap();
        std::fs::create_dir(&d).unwrap();
        assert_eq!(
            rename_no_replace(&c, &d).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert!(c.join("manifest.json").is_file());
        // And a free name works, for files and folders, through both paths.
        rename_no_replace(&a, &dir.path().join("free.zip")).unwrap();
        fallback(&c, &dir.path().join("free")).unwrap();
        std::fs::write(&a, b"again").unwrap();
        fallback(&a, &dir.path().join("free2.zip")).unwrap();
        assert!(!a.exists());
        assert_eq!(
            fallback(&dir.path().join("free2.zip"), &b)
                .unwrap_err()
                .kind(),
            io::ErrorKind::AlreadyExists
        );
    }
}
