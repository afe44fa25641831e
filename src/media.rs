//! Photos on disk: originals, results, trash, thumbnails and slots' reference images.
//!
//! Every path handed out is relative to the media folder and built here from job ids and
//! dates; no name a client sent ever becomes part of a path.

use crate::domain::{ImageFormat, SlotId};
use std::io;
use std::path::{Component, Path, PathBuf};
use tokio::io::AsyncWriteExt;

const ORIGINALS: &str = "originals";
const RESULTS: &str = "results";
const TRASH: &str = "trash";
const THUMBS: &str = "thumbs";
const REFERENCES: &str = "references";

/// Which picture of a job a thumbnail shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thumb {
    Before,
    After,
}

impl Thumb {
    pub fn parse(s: &str) -> Option<Thumb> {
        match s {
            "before" => Some(Thumb::Before),
            "after" => Some(Thumb::After),
            _ => None,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Thumb::Before => "before",
            Thumb::After => "after",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Media {
    root: PathBuf,
}

impl Media {
    pub fn new(data_dir: &Path) -> Media {
        Media {
            root: data_dir.join("media"),
        }
    }

    /// Stores a guest's photo durably (flushed to disk) before anything else happens to it.
    pub async fn save_original(
        &self,
        job: &str,
        day: &str,
        ext: &str,
        bytes: &[u8],
    ) -> io::Result<String> {
        let rel = format!("{ORIGINALS}/{day}/{job}.{ext}");
        self.write_durably(&rel, bytes).await?;
        Ok(rel)
    }

    pub async fn save_result(
        &self,
        job: &str,
        day: &str,
        format: ImageFormat,
        bytes: &[u8],
    ) -> io::Result<String> {
        let rel = format!("{RESULTS}/{day}/{job}.{}", format.extension());
        self.write_durably(&rel, bytes).await?;
        Ok(rel)
    }

    /// Moves a failed job's original into the trash, or deletes it when the operator said so.
    /// Returns where it lies now (empty when deleted).
    pub async fn discard_original(&self, rel: &str, keep_in_trash: bool) -> io::Result<String> {
        let from = self.root.join(rel);
        if !keep_in_trash {
            tokio::fs::remove_file(&from).await?;
            return Ok(String::new());
        }
        let rest = rel
            .strip_prefix(ORIGINALS)
            .unwrap_or(rel)
            .trim_start_matches('/');
        let to_rel = format!("{TRASH}/{rest}");
        let to = self.root.join(&to_rel);
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&from, &to).await?;
        Ok(to_rel)
    }

    pub fn thumb_path(&self, job: &str, which: Thumb) -> PathBuf {
        self.root
            .join(THUMBS)
            .join(format!("{job}-{}.jpg", which.suffix()))
    }

    pub async fn save_thumb(&self, job: &str, which: Thumb, bytes: &[u8]) -> io::Result<()> {
        let rel = format!("{THUMBS}/{job}-{}.jpg", which.suffix());
        self.write_durably(&rel, bytes).await
    }

    /// Stores a new reference image for a slot under a fresh name, so caches never show an old one.
    pub async fn save_reference(
        &self,
        slot: SlotId,
        format: ImageFormat,
        bytes: &[u8],
    ) -> io::Result<String> {
        let name = format!(
            "{}-{}-{}.{}",
            slot.provider,
            slot.number,
            uuid::Uuid::now_v7().simple(),
            format.extension()
        );
        self.write_durably(&format!("{REFERENCES}/{name}"), bytes)
            .await?;
        Ok(name)
    }

    pub async fn remove_reference(&self, name: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.reference_path(name)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn reference_path(&self, name: &str) -> PathBuf {
        self.root
            .join(REFERENCES)
            .join(Path::new(name).file_name().unwrap_or_default())
    }

    /// Resolves a stored relative path; refuses anything that could leave the media folder.
    pub fn absolute(&self, rel: &str) -> Option<PathBuf> {
        let path = Path::new(rel);
        let safe = !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
        safe.then(|| self.root.join(path))
    }

    async fn write_durably(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let partial = path.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&partial, &path).await
    }
}

/// The UTC day `YYYY-MM-DD` of a time in milliseconds: the folder a job's files go in.
pub fn day_of(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_folder_is_utc_date() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_758_217_512_000), "2025-09-18");
    }

    #[test]
    fn absolute_refuses_escapes() {
        let media = Media::new(Path::new("/data"));
        assert!(media.absolute("../etc/passwd").is_none());
        assert!(media.absolute("/etc/passwd").is_none());
        assert!(media.absolute("").is_none());
        assert_eq!(
            media.absolute("originals/2026-01-01/a.jpg").unwrap(),
            Path::new("/data/media/originals/2026-01-01/a.jpg")
        );
    }

    #[test]
    fn reference_path_keeps_only_the_file_name() {
        let media = Media::new(Path::new("/data"));
        assert_eq!(
            media.reference_path("../../x.jpg"),
            Path::new("/data/media/references/x.jpg")
        );
    }
}
