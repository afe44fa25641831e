//! A ZIP archive written as a stream of chunks, for a response body: entries are stored (photos
//! are compressed already), each followed by a data descriptor, so nothing is known or held in
//! advance. ZIP64 records appear where sizes or offsets pass 4 GiB (APPNOTE 6.3.10, 4.3.9,
//! 4.5.3, 4.3.14–4.3.15), with the 32-bit fields they replace set to `0xFFFFFFFF`.
//!
//! Async from end to end: an archive whose reader stalls costs its buffers, never a thread.

use axum::body::Bytes;
use std::io;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// How much is gathered before a chunk is handed to the reader (and read from a file at once).
pub const CHUNK: usize = 256 * 1024;
const MAX_32: u64 = 0xFFFF_FFFF;
/// UTF-8 names (bit 11) and a data descriptor after the data (bit 3).
const FLAGS: u16 = 0x0808;
const VERSION_ZIP64: u16 = 45;
const VERSION_PLAIN: u16 = 20;
/// Made by: Unix (3), spec 4.5.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// A regular file, rw-r--r--, in the Unix high half of the external attributes.
const FILE_MODE: u32 = 0o100_644 << 16;

/// Where the chunks go: the response body's channel.
pub type Sender = mpsc::Sender<io::Result<Bytes>>;

struct Entry {
    name: String,
    dos: (u16, u16),
    crc: u32,
    size: u64,
    offset: u64,
    zip64_local: bool,
}

pub struct ZipStream {
    sender: Sender,
    buffer: Vec<u8>,
    written: u64,
    entries: Vec<Entry>,
}

impl ZipStream {
    pub fn new(sender: Sender) -> ZipStream {
        ZipStream {
            sender,
            buffer: Vec::with_capacity(CHUNK),
            written: 0,
            entries: Vec::new(),
        }
    }

    /// Bytes of archive produced so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Adds a file from disk under `name`, dated `ms` (Unix milliseconds).
    pub async fn add_file(
        &mut self,
        name: &str,
        ms: i64,
        file: &mut tokio::fs::File,
    ) -> io::Result<()> {
        let expected = file.metadata().await?.len();
        let mut entry = self.begin(name, ms, expected >= MAX_32).await?;
        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        loop {
            let start = self.buffer.len();
            // Into the spare capacity: no zeroing, one read of the file per chunk.
            self.buffer.reserve(CHUNK.saturating_sub(start));
            let n = file.read_buf(&mut self.buffer).await?;
            if n == 0 {
                break;
            }
            crc.update(&self.buffer[start..]);
            size += n as u64;
            self.written += n as u64;
            if self.buffer.len() >= CHUNK {
                self.send().await?;
            }
        }
        entry.crc = crc.finalize();
        entry.size = size;
        self.end(entry).await
    }

    /// Starts an entry whose bytes are then given with [`EntryWriter::write`].
    pub async fn begin_entry(&mut self, name: &str, ms: i64) -> io::Result<EntryWriter<'_>> {
        let entry = self.begin(name, ms, false).await?;
        Ok(EntryWriter {
            zip: self,
            entry,
            crc: crc32fast::Hasher::new(),
        })
    }

    async fn begin(&mut self, name: &str, ms: i64, zip64: bool) -> io::Result<Entry> {
        let entry = Entry {
            name: name.to_owned(),
            dos: dos_time(ms),
            crc: 0,
            size: 0,
            offset: self.written,
            zip64_local: zip64,
        };
        let mut header = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut header, 0x0403_4b50);
        put16(
            &mut header,
            if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN },
        );
        put16(&mut header, FLAGS);
        put16(&mut header, 0); // stored
        put16(&mut header, entry.dos.0);
        put16(&mut header, entry.dos.1);
        put32(&mut header, 0); // CRC, sizes: in the data descriptor
        let size_field = if zip64 { MAX_32 as u32 } else { 0 };
        put32(&mut header, size_field);
        put32(&mut header, size_field);
        put16(&mut header, name.len() as u16);
        put16(&mut header, if zip64 { 20 } else { 0 });
        header.extend_from_slice(name.as_bytes());
        if zip64 {
            put16(&mut header, 0x0001);
            put16(&mut header, 16);
            put64(&mut header, 0);
            put64(&mut header, 0);
        }
        self.write(&header).await?;
        Ok(entry)
    }

    async fn end(&mut self, entry: Entry) -> io::Result<()> {
        if !entry.zip64_local && entry.size >= MAX_32 {
            return Err(io::Error::other(format!(
                "{} grew past 4 GiB while it was written",
                entry.name
            )));
        }
        let mut descriptor = Vec::with_capacity(24);
        put32(&mut descriptor, 0x0807_4b50);
        put32(&mut descriptor, entry.crc);
        if entry.zip64_local {
            put64(&mut descriptor, entry.size);
            put64(&mut descriptor, entry.size);
        } else {
            put32(&mut descriptor, entry.size as u32);
            put32(&mut descriptor, entry.size as u32);
        }
        self.write(&descriptor).await?;
        self.entries.push(entry);
        Ok(())
    }

    /// Writes the central directory and hands over the last chunk.
    pub async fn finish(mut self) -> io::Result<()> {
        let directory_offset = self.written;
        let entries = std::mem::take(&mut self.entries);
        let mut directory = Vec::new();
        for entry in &entries {
            central_header(&mut directory, entry);
            if directory.len() >= CHUNK {
                let chunk = std::mem::take(&mut directory);
                self.write(&chunk).await?;
            }
        }
        self.write(&directory).await?;
        let directory_size = self.written - directory_offset;
        let count = entries.len() as u64;
        let mut end = Vec::with_capacity(98);
        let needs_zip64 = count >= 0xFFFF || directory_size >= MAX_32 || directory_offset >= MAX_32;
        if needs_zip64 {
            let record_offset = self.written;
            put32(&mut end, 0x0606_4b50);
            put64(&mut end, 44);
            put16(&mut end, MADE_BY);
            put16(&mut end, VERSION_ZIP64);
            put32(&mut end, 0);
            put32(&mut end, 0);
            put64(&mut end, count);
            put64(&mut end, count);
            put64(&mut end, directory_size);
            put64(&mut end, directory_offset);
            put32(&mut end, 0x0706_4b50);
            put32(&mut end, 0);
            put64(&mut end, record_offset);
            put32(&mut end, 1);
        }
        put32(&mut end, 0x0605_4b50);
        put16(&mut end, 0);
        put16(&mut end, 0);
        put16(&mut end, count.min(0xFFFF) as u16);
        put16(&mut end, count.min(0xFFFF) as u16);
        put32(&mut end, directory_size.min(MAX_32) as u32);
        put32(&mut end, directory_offset.min(MAX_32) as u32);
        put16(&mut end, 0);
        self.write(&end).await?;
        self.send().await
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.buffer.len() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }

    /// Hands what is gathered to the reader; fails once the reader has gone.
    async fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .send(Ok(chunk))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader has gone"))
    }
}

/// An entry being written piece by piece (a CSV made row by row).
pub struct EntryWriter<'a> {
    zip: &'a mut ZipStream,
    entry: Entry,
    crc: crc32fast::Hasher,
}

impl EntryWriter<'_> {
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.entry.size += bytes.len() as u64;
        self.zip.write(bytes).await
    }

    pub async fn finish(mut self) -> io::Result<()> {
        self.entry.crc = self.crc.finalize();
        self.zip.end(self.entry).await
    }
}

/// One entry's central directory header, with a ZIP64 extra field holding exactly the values
/// that do not fit their 32-bit fields, in the order the spec gives.
fn central_header(out: &mut Vec<u8>, entry: &Entry) {
    let mut extra = Vec::new();
    let size32 = if entry.size >= MAX_32 {
        put64(&mut extra, entry.size); // uncompressed
        put64(&mut extra, entry.size); // compressed
        MAX_32 as u32
    } else {
        entry.size as u32
    };
    let offset32 = if entry.offset >= MAX_32 {
        put64(&mut extra, entry.offset);
        MAX_32 as u32
    } else {
        entry.offset as u32
    };
    let zip64 = !extra.is_empty() || entry.zip64_local;
    put32(out, 0x0201_4b50);
    put16(out, MADE_BY);
    put16(out, if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN });
    put16(out, FLAGS);
    put16(out, 0);
    put16(out, entry.dos.0);
    put16(out, entry.dos.1);
    put32(out, entry.crc);
    put32(out, size32);
    put32(out, size32);
    put16(out, entry.name.len() as u16);
    put16(
        out,
        if extra.is_empty() {
            0
        } else {
            4 + extra.len() as u16
        },
    );
    put16(out, 0); // comment
    put16(out, 0); // disk
    put16(out, 0); // internal attributes
    put32(out, FILE_MODE);
    put32(out, offset32);
    out.extend_from_slice(entry.name.as_bytes());
    if !extra.is_empty() {
        put16(out, 0x0001);
        put16(out, extra.len() as u16);
        out.extend_from_slice(&extra);
    }
}

/// MS-DOS time and date of a Unix time in ms (UTC), clamped to the range DOS can say.
fn dos_time(ms: i64) -> (u16, u16) {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    if t.year() < 1980 {
        return (0, (1 << 5) | 1);
    }
    let time =
        (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | u16::from(t.second() / 2);
    let year = (t.year() - 1980).min(127) as u16;
    let date = (year << 9) | (u16::from(u8::from(t.month())) << 5) | u16::from(t.day());
    (time, date)
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    async fn archive(build: impl AsyncFnOnce(&mut ZipStream)) -> Vec<u8> {
        let (sender, mut receiver) = mpsc::channel(1024);
        let mut zip = ZipStream::new(sender);
        build(&mut zip).await;
        zip.finish().await.unwrap();
        let mut out = Vec::new();
        while let Ok(chunk) = receiver.try_recv() {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_reader_finds_every_entry_with_its_bytes_and_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.jpg");
        let photo: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &photo).unwrap();
        let bytes = archive(async |zip| {
            let mut csv = zip
                .begin_entry("jobs.csv", 1_764_000_000_000)
                .await
                .unwrap();
            csv.write("время;слот\r\n".as_bytes()).await.unwrap();
            csv.write(b"1;2\r\n").await.unwrap();
            csv.finish().await.unwrap();
            let mut file = tokio::fs::File::open(&path).await.unwrap();
            zip.add_file("results/фото.jpg", 1_764_000_000_000, &mut file)
                .await
                .unwrap();
        })
        .await;
        let mut reader = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(reader.len(), 2);
        let mut text = String::new();
        reader
            .by_name("jobs.csv")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "время;слот\r\n1;2\r\n");
        let mut entry = reader.by_name("results/фото.jpg").unwrap();
        let mut read = Vec::new();
        entry.read_to_end(&mut read).unwrap();
        assert_eq!(read, photo, "the CRC checked out and the bytes match");
        let modified = entry.last_modified().unwrap();
        assert_eq!(
            (modified.year(), modified.month(), modified.day()),
            (2025, 11, 24)
        );
    }

    #[test]
    fn offsets_past_4_gib_move_to_one_zip64_field() {
        let entry = Entry {
            name: "a".into(),
            dos: (0, 0),
            crc: 1,
            size: 10,
            offset: 5 << 30,
            zip64_local: false,
        };
        let mut out = Vec::new();
        central_header(&mut out, &entry);
        assert_eq!(
            &out[20..28],
            &[10, 0, 0, 0, 10, 0, 0, 0],
            "small sizes stay"
        );
        assert_eq!(&out[42..46], &[0xFF; 4], "the offset is in the extra field");
        assert_eq!(
            u16::from_le_bytes([out[30], out[31]]),
            12,
            "one field of 8 bytes"
        );
        assert_eq!(&out[47..51], &[1, 0, 8, 0]);
        assert_eq!(u64::from_le_bytes(out[51..59].try_into().unwrap()), 5 << 30);
    }
}
