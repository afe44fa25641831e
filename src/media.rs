//! Photos on disk: originals, results, trash, thumbnails and slots' reference images.
//!
//! Every path handed out is relative to the media folder and built here from job ids and
//! dates; no name a client sent ever becomes part of a path.

use crate::domain::{ImageFormat, SlotId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io;
use std::path::{Component, Path, PathBuf};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncWriteExt, BufWriter};

const ORIGINALS: &str = "originals";
const RESULTS: &str = "results";
const TRASH: &str = "trash";
const THUMBS: &str = "thumbs";
const REFERENCES: &str = "references";
/// Copies of a job's inputs, published to providers that fetch images by URL.
const INPUTS: &str = "inputs";
/// Photos still arriving. Beside the originals (same file system), so keeping one is a rename.
const INCOMING: &str = "incoming";
/// How much of an arriving photo is gathered before it is written out.
const INCOMING_BUFFER: usize = 256 * 1024;
/// The same for a photo whose sender is not known yet: such uploads may be many and held open.
const UNVERIFIED_BUFFER: usize = 16 * 1024;
/// How many of a photo's first bytes are kept to tell its format.
const HEAD_LEN: usize = 16;

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

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts receiving a photo into a temporary file of its own; `verified` when its sender
    /// is known to be a booth (larger buffers).
    pub async fn receive(&self, verified: bool) -> io::Result<Incoming> {
        let dir = self.root.join(INCOMING);
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{}.part", uuid::Uuid::now_v7().simple()));
        let file = tokio::fs::File::create(&path).await?;
        let buffer = if verified {
            INCOMING_BUFFER
        } else {
            UNVERIFIED_BUFFER
        };
        Ok(Incoming {
            file: Some(BufWriter::with_capacity(buffer, file)),
            path,
            head: Vec::with_capacity(HEAD_LEN),
            len: 0,
        })
    }

    /// Removes photos whose upload an earlier stop cut short: nothing was promised for them.
    pub fn clear_incoming(&self) -> io::Result<()> {
        match std::fs::remove_dir_all(self.root.join(INCOMING)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Keeps a received photo as a job's original, flushed to disk, before anything else
    /// happens to it.
    pub async fn keep_original(
        &self,
        mut photo: Incoming,
        job: &str,
        day: &str,
        ext: &str,
    ) -> io::Result<String> {
        photo.finish().await?;
        let rel = format!("{ORIGINALS}/{day}/{job}.{ext}");
        let path = self.root.join(&rel);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&photo.path, &path).await?;
        photo.path = PathBuf::new();
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
        let to_rel = trash_path(rel);
        let to = self.root.join(&to_rel);
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&from, &to).await?;
        Ok(to_rel)
    }

    /// Where an original recorded at `rel` lies now: there, or in the trash if a job's end
    /// moved it without the database hearing of it (the disk was full, the server stopped).
    pub fn locate_original(&self, rel: &str) -> Option<String> {
        [rel.to_owned(), trash_path(rel)]
            .into_iter()
            .find(|candidate| self.absolute(candidate).is_some_and(|p| p.is_file()))
    }

    pub fn thumb_path(&self, job: &str, which: Thumb) -> PathBuf {
        self.root
            .join(THUMBS)
            .join(format!("{job}-{}.jpg", which.suffix()))
    }

    /// Not flushed to disk: a thumbnail lost to a power cut costs nothing, while waiting for
    /// the disk would delay the booth's answer.
    pub async fn save_thumb(&self, job: &str, which: Thumb, bytes: &[u8]) -> io::Result<()> {
        let path = self.thumb_path(job, which);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(path, bytes).await
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

    /// Stores a copy of a job's input under `inputs/`, for a signed public link to serve.
    pub async fn save_input(&self, name: &str, bytes: &[u8]) -> io::Result<String> {
        let rel = format!(
            "{INPUTS}/{}",
            Path::new(name)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("input")
        );
        self.write_durably(&rel, bytes).await?;
        Ok(rel)
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

/// Where an original under `originals/` goes in the trash.
fn trash_path(rel: &str) -> String {
    let rest = rel
        .strip_prefix(ORIGINALS)
        .unwrap_or(rel)
        .trim_start_matches('/');
    format!("{TRASH}/{rest}")
}

/// A photo being received: its bytes go to a temporary file as they arrive, so a burst of
/// uploads costs disk, not memory. Dropped before it is kept (refused, cut short, too large),
/// its file is removed.
pub struct Incoming {
    file: Option<BufWriter<tokio::fs::File>>,
    /// Empty once the file has become an original.
    path: PathBuf,
    head: Vec<u8>,
    len: u64,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let missing = HEAD_LEN.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..missing]);
        self.len += chunk.len() as u64;
        match self.file.as_mut() {
            Some(file) => file.write_all(chunk).await,
            None => Err(io::Error::other("the photo is already complete")),
        }
    }

    /// The photo's first bytes, enough to tell its format.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes out what is buffered and closes the file, freeing its buffers.
    pub async fn close(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
        }
        Ok(())
    }

    /// Closes the file and waits until the disk has it.
    async fn finish(&mut self) -> io::Result<()> {
        self.close().await?;
        // Any descriptor of the file will do: fsync flushes the file, not the descriptor.
        tokio::fs::File::open(&self.path).await?.sync_all().await
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            // Unlinking is quick and cannot wait for a runtime that may be going away.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A link token for a file under `inputs/`, valid until `expires` (Unix seconds): the path and
/// the expiry, signed with HMAC-SHA256 by the install's secret.
pub fn sign_link(secret: &[u8; 32], rel: &str, expires: i64) -> String {
    let payload = format!("{expires}:{rel}");
    format!(
        "{}.{}",
        B64.encode(&payload),
        B64.encode(link_mac(secret, &payload))
    )
}

/// The file a token names, if the token is genuine, unaltered, unexpired and names an input.
pub fn verify_link(media: &Media, secret: &[u8; 32], token: &str, now: i64) -> Option<PathBuf> {
    let (payload, mac) = token.split_once('.')?;
    let payload = String::from_utf8(B64.decode(payload).ok()?).ok()?;
    let mac = B64.decode(mac).ok()?;
    if !bool::from(mac.as_slice().ct_eq(link_mac(secret, &payload).as_slice())) {
        return None;
    }
    let (expires, rel) = payload.split_once(':')?;
    if now >= expires.parse::<i64>().ok()? || !rel.starts_with(&format!("{INPUTS}/")) {
        return None;
    }
    media.absolute(rel)
}

fn link_mac(secret: &[u8; 32], payload: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(b"media\0");
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
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
    fn links_are_refused_when_forged_altered_or_expired() {
        let media = Media::new(Path::new("/data"));
        let secret = [7u8; 32];
        let token = sign_link(&secret, "inputs/job.jpg", 1_000);
        assert_eq!(
            verify_link(&media, &secret, &token, 999),
            Some(PathBuf::from("/data/media/inputs/job.jpg"))
        );
        assert_eq!(verify_link(&media, &secret, &token, 1_000), None, "expired");
        assert_eq!(
            verify_link(&media, &[8u8; 32], &token, 999),
            None,
            "another install's key"
        );
        let (_, mac) = token.split_once('.').unwrap();
        let altered = format!("{}.{mac}", B64.encode("9999999999:inputs/job.jpg"));
        assert_eq!(
            verify_link(&media, &secret, &altered, 999),
            None,
            "altered expiry"
        );
        let outside = sign_link(&secret, "originals/2026-01-01/job.jpg", 1_000);
        assert_eq!(
            verify_link(&media, &secret, &outside, 999),
            None,
            "only inputs are published"
        );
        assert_eq!(verify_link(&media, &secret, "garbage", 999), None);
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
