//! The disk floor: new photos are refused while the data folder's file system has less free
//! space than the reserve, so the photos already accepted (and the database) always have room.
//! The condition is kept for the operator while it lasts.

use crate::error::AppError;
use std::io;
use std::path::Path;
use std::sync::Mutex;

/// Free space when an upload was last refused for want of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskLow {
    /// When the floor was first reached (ms), this time round.
    pub since_ms: i64,
    pub free_bytes: u64,
    pub reserve_bytes: u64,
}

#[derive(Default)]
pub struct DiskFloor {
    low: Mutex<Option<DiskLow>>,
}

impl DiskFloor {
    /// Refuses an upload of `incoming` bytes (as declared; 0 when unknown) that would leave less
    /// than `reserve` bytes free under `dir`. A file system that cannot be asked lets it through.
    pub fn admit(
        &self,
        dir: &Path,
        reserve: u64,
        incoming: u64,
        now_ms: i64,
    ) -> Result<(), AppError> {
        if reserve == 0 {
            return Ok(());
        }
        let free = match free_bytes(dir) {
            Ok(free) => free,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell the free disk space");
                return Ok(());
            }
        };
        let mut low = self.low.lock().expect("disk lock");
        if free >= reserve.saturating_add(incoming) {
            if low.take().is_some() {
                tracing::info!(free_mb = free >> 20, "disk space is back above the reserve");
            }
            return Ok(());
        }
        if low.is_none() {
            tracing::error!(
                free_mb = free >> 20,
                reserve_mb = reserve >> 20,
                "disk space below the reserve: new photos are refused"
            );
        }
        let since_ms = low.map_or(now_ms, |l| l.since_ms);
        *low = Some(DiskLow {
            since_ms,
            free_bytes: free,
            reserve_bytes: reserve,
        });
        Err(AppError::InsufficientStorage)
    }

    /// The floor reached by the last upload, if it was.
    pub fn low(&self) -> Option<DiskLow> {
        *self.low.lock().expect("disk lock")
    }
}

/// Bytes an unprivileged process may still write on the file system holding `dir`.
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: `statvfs` only writes into the zeroed struct we own, given a valid C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the fields' widths differ between platforms
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> io::Result<u64> {
    Ok(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_reserve_and_remembers_it_until_space_is_back() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).unwrap();
        assert!(free > 0);
        let floor = DiskFloor::default();
        assert!(
            floor.admit(&dir, 0, u64::MAX, 7).is_ok(),
            "no reserve, no check"
        );
        assert!(floor.admit(&dir, 1, 0, 7).is_ok());
        let refused = floor.admit(&dir, free * 2, 0, 7).unwrap_err();
        assert_eq!(refused.status(), 507);
        assert_eq!(floor.low().unwrap().reserve_bytes, free * 2);
        assert!(
            floor.admit(&dir, 1, free * 4, 7).is_err(),
            "the upload's size counts"
        );
        assert!(floor.admit(&dir, 1, 0, 7).is_ok());
        assert_eq!(floor.low(), None);
    }
}
