//! Retention: photos older than the retention setting are deleted (originals, results, trash,
//! thumbnails and published inputs); job rows and statistics stay.

use crate::config::{Settings, SharedSettings};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The folders under media whose files age out; reference images never do.
const AGEING: [&str; 5] = ["originals", "results", "trash", "thumbs", "inputs"];
const EVERY: Duration = Duration::from_secs(3600);

/// What a cleanup would delete.
#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

/// Files under the ageing folders last written before `cutoff`.
pub fn plan(media_root: &Path, cutoff: SystemTime) -> Plan {
    let mut plan = Plan::default();
    let mut stack: Vec<PathBuf> = AGEING.iter().map(|f| media_root.join(f)).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.modified().is_ok_and(|m| m < cutoff) {
                plan.bytes += meta.len();
                plan.files.push(entry.path());
            }
        }
    }
    plan
}

/// Deletes the planned files, then the day folders they leave empty. Returns how many went.
pub fn apply(plan: &Plan) -> usize {
    let deleted = plan
        .files
        .iter()
        .filter(|f| std::fs::remove_file(f).is_ok())
        .count();
    for dir in plan.files.iter().filter_map(|f| f.parent()) {
        // Only succeeds on an empty folder.
        let _ = std::fs::remove_dir(dir);
    }
    deleted
}

/// The cutoff under the current settings; `None` keeps everything.
pub fn cutoff(settings: &Settings) -> Option<SystemTime> {
    let days = u64::from(settings.retention_days);
    (days > 0).then(|| SystemTime::now() - Duration::from_secs(days * 86_400))
}

/// What the next run would delete now, for the Settings page.
pub async fn preview(media_root: &Path, settings: &Settings) -> Option<(usize, u64)> {
    let cutoff = cutoff(settings)?;
    let root = media_root.to_owned();
    let plan = tokio::task::spawn_blocking(move || plan(&root, cutoff))
        .await
        .ok()?;
    Some((plan.files.len(), plan.bytes))
}

/// Runs a cleanup a minute after start and then every hour.
pub async fn run_forever(media_root: PathBuf, settings: SharedSettings) {
    tokio::time::sleep(Duration::from_secs(60)).await;
    loop {
        if let Some(cutoff) = cutoff(&settings.current()) {
            let root = media_root.clone();
            let done = tokio::task::spawn_blocking(move || {
                let plan = plan(&root, cutoff);
                (apply(&plan), plan.bytes)
            })
            .await;
            if let Ok((deleted, bytes)) = done
                && deleted > 0
            {
                tracing::info!(deleted, bytes, "retention: old photos deleted");
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_files_in_ageing_folders_go() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [
            "originals/2026-01-01/a.jpg",
            "trash/2026-01-01/b.jpg",
            "references/r.jpg",
            "thumbs/a-before.jpg",
        ] {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"1234").unwrap();
        }
        let future = SystemTime::now() + Duration::from_secs(60);
        let plan = plan(root, future);
        assert_eq!(plan.files.len(), 3, "references never age out");
        assert_eq!(plan.bytes, 12);
        assert_eq!(apply(&plan), 3);
        assert!(
            !root.join("originals/2026-01-01").exists(),
            "empty day folders go too"
        );
        assert!(root.join("references/r.jpg").exists());
        assert!(
            super::plan(root, SystemTime::UNIX_EPOCH).files.is_empty(),
            "nothing is older than 1970"
        );
    }
}
