//! An event's export: a ZIP of `jobs.csv`, the results and the originals, streamed to the
//! browser as it is written. Jobs are read a page at a time and files a chunk at a time, so
//! memory stays flat whatever the event's size; a browser that leaves (or stops reading, see
//! the connection's write timeout) ends the writing, and nothing is left on disk.

use super::i18n::Lang;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::media::Media;
use crate::store::{JobRecord, Store};
use crate::zipstream::ZipStream;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::io;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// Exports written at once; an operator downloads one or two, a flood gets `503`.
pub const CONCURRENT_EXPORTS: usize = 4;
/// Jobs read per query.
const PAGE: u32 = 200;

pub async fn export(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let event = state.store.event(id).await?.ok_or(AppError::NotFound)?;
    let place = Arc::clone(&state.exports)
        .try_acquire_owned()
        .map_err(|_| AppError::Busy("other exports are being written; try again shortly"))?;
    let settings = state.settings();
    let sheet = Sheet {
        lang: settings.server_lang,
        zone: settings.time_zone.clone(),
    };
    let (mut zip, response) = streamed_zip(&archive_name(&event.name, event.id));
    let (store, media) = (state.store.clone(), state.media.clone());
    let now_ms = state.clock.now_ms();
    tokio::spawn(async move {
        match write_archive(&mut zip, &store, &media, &sheet, id, now_ms).await {
            Ok(()) => match zip.finish().await {
                Ok(()) => tracing::info!(event = id, "export written"),
                Err(e) => tracing::info!(event = id, error = %e, "export stopped"),
            },
            Err(e) => tracing::info!(event = id, error = %e, "export stopped"),
        }
        drop::<OwnedSemaphorePermit>(place);
    });
    Ok(response)
}

/// A ZIP answer whose body is what the returned stream is given, as it is written: four
/// chunks in flight, at most 1 MB per archive whatever its size.
pub fn streamed_zip(file_name: &str) -> (ZipStream, Response) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut r| async {
        r.recv().await.map(|chunk| (chunk, r))
    }));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    // A plain ASCII name for old browsers, the real one (an event's name may be Cyrillic) in
    // RFC 5987's form for the others.
    let plain: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = format!(
        "attachment; filename=\"{plain}\"; filename*=UTF-8''{}",
        percent_encoded(file_name)
    );
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    (ZipStream::new(sender), response)
}

/// Every byte but unreserved ASCII as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The event's name as a file name: what a file system refuses becomes `_`.
fn archive_name(event: &str, id: i64) -> String {
    let name: String = event
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    match name.trim() {
        "" => format!("event-{id}.zip"),
        name => format!("{name}.zip"),
    }
}

/// How the spreadsheet is written: in the server's language (Russian Excel reads `;`-separated
/// files in one double-click) with times on the operator's clock.
struct Sheet {
    lang: Lang,
    zone: jiff::tz::TimeZone,
}

impl Sheet {
    fn separator(&self) -> char {
        match self.lang {
            Lang::Ru => ';',
            Lang::En => ',',
        }
    }

    fn header(&self) -> String {
        let t = self.lang.strings();
        let names = [
            t.csv_time,
            t.csv_job,
            t.csv_slot,
            t.csv_status,
            t.csv_reason,
            t.csv_latency,
            t.csv_answered_by,
            t.csv_prompt,
            t.csv_booth,
            t.csv_fields,
            t.csv_photo,
        ];
        self.line(names.iter().map(|n| n.to_string()).collect())
    }

    fn line(&self, cells: Vec<String>) -> String {
        let separator = self.separator();
        let cells: Vec<String> = cells.iter().map(|c| csv_cell(c, separator)).collect();
        format!("{}\r\n", cells.join(&separator.to_string()))
    }

    fn local(&self, ms: i64, format: &str) -> String {
        crate::clock::local_time(ms, &self.zone, format)
    }

    /// One job's row; its photos' names in the archive end the row.
    fn row(&self, job: &JobRecord) -> String {
        let t = self.lang.strings();
        self.line(vec![
            self.local(job.created_at, "%Y-%m-%d %H:%M:%S"),
            job.id.clone(),
            format!("{}/{}", job.provider, job.slot),
            t.status(job.status).to_owned(),
            job.reason
                .as_deref()
                .map(|r| t.miss(r).to_owned())
                .unwrap_or_default(),
            job.latency_ms.map(|ms| ms.to_string()).unwrap_or_default(),
            job.answered_by.clone().unwrap_or_default(),
            job.prompt.clone().unwrap_or_default(),
            job.booth_name.clone().unwrap_or_default(),
            job.fields.clone(),
            self.photo_name(job),
        ])
    }

    /// A job's photos are named by when they were taken and their slot, the job id last: in
    /// the order of the night, never colliding, and matching the CSV row.
    fn photo_name(&self, job: &JobRecord) -> String {
        let time = self.local(job.created_at, "%Y-%m-%d_%H-%M-%S");
        format!("{time}_{}-{}_{}", job.provider, job.slot, job.id)
    }
}

/// The files of one job that go into the archive.
struct JobFiles {
    name: String,
    created_at: i64,
    result: Option<String>,
    original: String,
}

/// `jobs.csv` row by row, then each job's files. The CSV pass keeps only each job's paths, so
/// the files match the rows even while the event goes on.
async fn write_archive(
    zip: &mut ZipStream,
    store: &Store,
    media: &Media,
    sheet: &Sheet,
    event: i64,
    now_ms: i64,
) -> io::Result<()> {
    let mut files = Vec::new();
    let mut csv = zip.begin_entry("jobs.csv", now_ms).await?;
    // The byte-order mark makes Excel read the UTF-8 (Cyrillic) right.
    csv.write(format!("\u{FEFF}{}", sheet.header()).as_bytes())
        .await?;
    let mut after: Option<(i64, String)> = None;
    loop {
        let cursor = after.as_ref().map(|(time, id)| (*time, id.as_str()));
        let page = store
            .event_jobs_page(event, cursor, PAGE)
            .await
            .map_err(io::Error::other)?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some((last.created_at, last.id.clone()));
        for job in page {
            csv.write(sheet.row(&job).as_bytes()).await?;
            files.push(JobFiles {
                name: sheet.photo_name(&job),
                created_at: job.created_at,
                result: job.result_path,
                original: job.original_path,
            });
        }
    }
    csv.finish().await?;
    for job in files {
        let stored = [
            ("results", job.result.as_deref()),
            ("originals", Some(job.original.as_str())),
        ];
        for (folder, rel) in stored {
            let Some(path) = rel.and_then(|rel| media.absolute(rel)) else {
                continue;
            };
            // A file retention has removed is left out.
            let Ok(mut file) = tokio::fs::File::open(&path).await else {
                continue;
            };
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("bin");
            let name = format!("{folder}/{}.{ext}", job.name);
            zip.add_file(&name, job.created_at, &mut file).await?;
        }
    }
    Ok(())
}

/// Quoted when it must be; a cell a spreadsheet would run as a formula is kept as text. A
/// leading tab or carriage return counts: spreadsheets skip them and read the formula after.
fn csv_cell(value: &str, separator: char) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([separator, '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain", ','), "plain");
        assert_eq!(csv_cell("a,b", ','), "\"a,b\"");
        assert_eq!(csv_cell("a,b", ';'), "a,b");
        assert_eq!(csv_cell("a;b", ';'), "\"a;b\"");
        assert_eq!(csv_cell("say \"hi\"", ','), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)", ','), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("\t=1+1", ','), "'\t=1+1");
        assert_eq!(csv_cell("\r=1+1", ','), "\"'\r=1+1\"");
    }

    #[test]
    fn an_archive_is_named_after_its_event() {
        assert_eq!(archive_name("Свадьба 12/06", 3), "Свадьба 12_06.zip");
        assert_eq!(archive_name("  ", 3), "event-3.zip");
        assert_eq!(percent_encoded("Я a.zip"), "%D0%AF%20a.zip");
    }
}
