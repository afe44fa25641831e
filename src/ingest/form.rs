//! The booth's multipart form, read as a stream under a size cap; the photo goes straight to
//! a temporary file.

use super::unverified::Unverified;
use crate::error::AppError;
use crate::media::{Incoming, Media};
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

/// Form fields under which a photo is accepted, DSLR Remote Pro's own first.
const PHOTO_FIELDS: [&str; 3] = ["fileToUpload", "file", "image"];
const MAX_FIELDS: usize = 200;
/// All text fields of one form together.
const MAX_TEXT: usize = 64 * 1024;

/// What a booth's form carried.
#[derive(Default)]
pub struct UploadForm {
    /// The photo, on disk in a temporary file until it is kept.
    pub photo: Option<Incoming>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Reads a multipart form as a stream, refusing it once it passes `max_bytes`. The photo is
/// written to a temporary file chunk by chunk, never held whole in memory. Text fields are
/// kept (bounded), except `secret_field` (the upload password, or an admin form's token): it is
/// handed to `check_secret` with the fields read before it as soon as it has arrived, before the
/// rest of the body is read, and
/// never stored. A form without it is checked with an empty secret once it has been read.
///
/// A photo that arrives before the secret is taken from `unverified` as it arrives (when
/// given), and held with small buffers; the claim is given back once the secret passes.
pub async fn read_form(
    request: Request,
    media: &Media,
    max_bytes: usize,
    secret_field: &str,
    mut check_secret: impl FnMut(
        &str,
        &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AppError>,
    mut unverified: Option<Unverified>,
) -> Result<UploadForm, AppError> {
    let declared = declared_length(&request);
    let (mut multipart, mut body) = Body::open(request, max_bytes, declared).await?;
    let mut form = UploadForm::default();
    let mut secret_checked = false;
    // Once the secret is refused, the rest of the body is read past (so the client gets the
    // answer) but nothing of it is kept.
    let mut refused = None;
    let mut count = 0usize;
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(AppError::InvalidRequest(format!(
                "more than {MAX_FIELDS} form fields"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let is_photo_field = PHOTO_FIELDS.contains(&name.as_str());
        if refused.is_some() {
            body.skip_file(field).await?;
            continue;
        }
        if field.file_name().is_some() || is_photo_field {
            // The first photo field is kept; any other file is read past, not stored.
            if is_photo_field && form.photo.is_none() {
                let claim = unverified.as_mut().filter(|_| !secret_checked);
                form.photo = Some(body.receive_file(field, media, claim).await?);
            } else {
                body.skip_file(field).await?;
            }
            continue;
        }
        let text = body.read_text(field).await?;
        if name == secret_field {
            if !secret_checked {
                secret_checked = true;
                refused = check_secret(&text, &form.fields).err();
                if refused.is_none() {
                    unverified = None;
                }
            }
        } else if name.len() <= 256 {
            let text = crate::placeholders::strip_invisible(&text);
            form.fields.insert(name, text.into());
        }
    }
    if let Some(error) = refused {
        return Err(error);
    }
    if !secret_checked {
        check_secret("", &form.fields)?;
    }
    Ok(form)
}

/// The body's length as its `Content-Length` says, if it says.
pub fn declared_length(request: &Request) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
}

fn broken(e: axum::extract::multipart::MultipartError) -> AppError {
    AppError::InvalidRequest(format!("broken multipart body: {}", e.body_text()))
}

/// How much of a multipart body has been read, against its cap.
struct Body {
    max_bytes: usize,
    total: usize,
    /// Bytes of text fields so far.
    text: usize,
}

impl Body {
    async fn open(
        request: Request,
        max_bytes: usize,
        declared: Option<usize>,
    ) -> Result<(Multipart, Body), AppError> {
        if declared.is_some_and(|len| len > max_bytes) {
            // Answered before the body is read: with `Expect: 100-continue` it is never sent.
            return Err(too_large(max_bytes));
        }
        let multipart = Multipart::from_request(request, &()).await.map_err(|e| {
            AppError::InvalidRequest(format!(
                "expected a multipart/form-data upload: {}",
                e.body_text()
            ))
        })?;
        let body = Body {
            max_bytes,
            total: 0,
            text: 0,
        };
        Ok((multipart, body))
    }

    /// Counts a chunk against the cap.
    fn take(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        self.total += chunk.len();
        if self.total > self.max_bytes {
            return Err(too_large(self.max_bytes));
        }
        Ok(())
    }

    async fn skip_file(&mut self, mut field: Field<'_>) -> Result<(), AppError> {
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            self.take(&chunk)?;
        }
        Ok(())
    }

    /// Writes a file part to disk as it arrives, taking each chunk from `unverified` when the
    /// sender is not known yet. Should anything go wrong before its end, the partial file goes
    /// with the returned error. The file is closed at the part's end, so an upload waiting
    /// for the rest of its form holds no write buffers.
    async fn receive_file(
        &mut self,
        mut field: Field<'_>,
        media: &Media,
        mut unverified: Option<&mut Unverified>,
    ) -> Result<Incoming, AppError> {
        let mut photo = media.receive(unverified.is_none()).await?;
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            self.take(&chunk)?;
            if let Some(claim) = unverified.as_deref_mut() {
                claim.take(chunk.len())?;
            }
            photo.write(&chunk).await?;
        }
        photo.close().await?;
        Ok(photo)
    }

    async fn read_text(&mut self, mut field: Field<'_>) -> Result<String, AppError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            self.take(&chunk)?;
            self.text += chunk.len();
            if self.text > MAX_TEXT {
                return Err(AppError::FieldsTooLarge {
                    limit_kb: MAX_TEXT / 1024,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn too_large(max_bytes: usize) -> AppError {
    AppError::PayloadTooLarge {
        limit_mb: max_bytes / (1024 * 1024),
    }
}
