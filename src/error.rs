//! The one error type of the HTTP layer and the JSON body every failure answers with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("wrong or missing upload password")]
    InvalidPassword,
    #[error("no such slot")]
    SlotNotFound,
    #[error("this slot is switched off")]
    SlotDisabled,
    #[error("{0}")]
    SlotNotConfigured(String),
    #[error("the photo is larger than {limit_mb} MB")]
    PayloadTooLarge { limit_mb: usize },
    #[error("the file is not a JPEG, PNG or WebP image")]
    UnsupportedMediaType,
    #[error("the image cannot be read: {0}")]
    UnreadableImage(String),
    #[error("{0}")]
    Provider(ProviderError),
    #[error("{0}")]
    ProviderNotConfigured(String),
    #[error("no result before the deadline")]
    Timeout,
    /// Every image the models drew before the deadline failed the result checks; the words of
    /// the last verdict.
    #[error("no image passed the result checks: {0}")]
    RejectedResult(String),
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("too many wrong passwords from this address; try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error(
        "too many uploads from this address are waiting for their password; try again in {retry_after} s"
    )]
    TooManyUnverified { retry_after: u64 },
    /// The server cannot take this now; the text says why.
    #[error("{0}")]
    Busy(&'static str),
    #[error("the server's disk is nearly full; the photo was not accepted")]
    InsufficientStorage,
    #[error("the form's text fields are larger than {limit_kb} KB in all")]
    FieldsTooLarge { limit_kb: usize },
    /// A setup to import that cannot be taken: what is wrong with it.
    #[error("{0}")]
    InvalidSetup(String),
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error(transparent)]
    Internal(InternalError),
}

/// How a call to an AI provider failed; the providers make these, the HTTP layer answers them.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProviderError {
    /// The model declined (safety, policy, …); retrying will not help.
    #[error("the model refused: {0}")]
    Refused(String),
    /// Worth another try while time is left (429, 5xx, an answer without an image).
    #[error("the model is unavailable: {0}")]
    Transient(String),
    /// A wrong key, model or address: the operator has to act.
    #[error("provider configuration: {0}")]
    BadConfig(String),
    /// The answer did not follow the documented format.
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// The model was still at work when the time ran out.
    #[error("no result before the deadline")]
    OutOfTime,
    /// The configured model does not exist (retired, or a typo).
    #[error("model not found: {0}")]
    ModelNotFound(String),
    /// The key has no credit or quota left.
    #[error("no credit on this key: {0}")]
    NoCredit(String),
    /// An answer this server does not know, in the provider's own words: not retried, and
    /// shown to the operator, who may have to act.
    #[error("the provider answered: {0}")]
    Unrecognised(String),
}

impl ProviderError {
    /// The class of the failure, as the providers JSON and the alerts name it.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Refused(_) => "refused",
            ProviderError::Transient(_) => "transient",
            ProviderError::BadConfig(_) => "bad_config",
            ProviderError::Protocol(_) => "protocol",
            ProviderError::OutOfTime => "out_of_time",
            ProviderError::ModelNotFound(_) => "model_not_found",
            ProviderError::NoCredit(_) => "no_credit",
            ProviderError::Unrecognised(_) => "unrecognised",
        }
    }

    /// What the operator has to fix (key, model, credit, address) or should read (an answer
    /// this server does not know), for Settings; `None` when it is not the operator's.
    pub fn for_operator(&self) -> Option<String> {
        match self {
            ProviderError::BadConfig(m) | ProviderError::ModelNotFound(m) => Some(m.clone()),
            ProviderError::NoCredit(_) | ProviderError::Unrecognised(_) => Some(self.to_string()),
            _ => None,
        }
    }
}

/// Anything unexpected: logged in full, shown to nobody.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl From<ProviderError> for AppError {
    /// A model still at work at the deadline is a timeout; anything else is the model's failure.
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::OutOfTime => AppError::Timeout,
            other => AppError::Provider(other),
        }
    }
}

impl From<InternalError> for AppError {
    /// A full disk is the operator's to fix, and the client is told so; anything else is internal.
    fn from(e: InternalError) -> Self {
        if e.is_disk_full() {
            tracing::error!(error = %e, "the disk is full");
            return AppError::InsufficientStorage;
        }
        AppError::Internal(e)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        InternalError::from(e).into()
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        InternalError::from(e).into()
    }
}

impl InternalError {
    /// The file system or the database ran out of space.
    pub fn is_disk_full(&self) -> bool {
        match self {
            InternalError::Io(e) => is_disk_full(e),
            // SQLITE_FULL, and an I/O error of the database's own files that is one.
            InternalError::Database(sqlx::Error::Database(e)) => e.code().as_deref() == Some("13"),
            InternalError::Database(sqlx::Error::Io(e)) => is_disk_full(e),
            _ => false,
        }
    }
}

/// No space (or quota) left on the device.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AppError::InvalidPassword | AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::SlotNotFound | AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::SlotDisabled | AppError::SlotNotConfigured(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } | AppError::FieldsTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::UnreadableImage(_)
            | AppError::Validation { .. }
            | AppError::InvalidSetup(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Provider(_) | AppError::RejectedResult(_) => StatusCode::BAD_GATEWAY,
            AppError::ProviderNotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyAttempts { .. } | AppError::TooManyUnverified { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable reason of the JSON body.
    pub fn reason(&self) -> &'static str {
        match self {
            AppError::InvalidRequest(_) => "invalid_request",
            AppError::InvalidPassword => "invalid_password",
            AppError::SlotNotFound => "slot_not_found",
            AppError::SlotDisabled => "slot_disabled",
            AppError::SlotNotConfigured(_) => "slot_not_configured",
            AppError::PayloadTooLarge { .. } | AppError::FieldsTooLarge { .. } => {
                "payload_too_large"
            }
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::UnreadableImage(_) => "unreadable_image",
            AppError::Provider(_) => "provider_error",
            AppError::ProviderNotConfigured(_) => "provider_not_configured",
            AppError::Timeout => "timeout",
            AppError::RejectedResult(_) => "rejected_result",
            AppError::NotFound => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooManyAttempts { .. } | AppError::TooManyUnverified { .. } => {
                "too_many_attempts"
            }
            AppError::Busy(_) => "busy",
            AppError::InsufficientStorage => "insufficient_storage",
            AppError::Validation { .. } => "invalid_value",
            AppError::InvalidSetup(_) => "invalid_setup",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// What the client may read: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => "internal server error".into(),
            other => other.to_string(),
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The answer, tagged with the job it belongs to, if one was recorded.
    pub fn into_response_for_job(self, job: Option<&str>) -> Response {
        if let AppError::Internal(e) = &self {
            tracing::error!(error = %e, job, "internal error");
        }
        let body = ErrorBody {
            status: if matches!(self, AppError::Timeout) {
                "timeout"
            } else {
                "error"
            },
            reason: self.reason(),
            message: self.public_message(),
            job,
            field: match &self {
                AppError::Validation { field, .. } => Some(field.as_str()),
                _ => None,
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        let retry_after = match self {
            AppError::TooManyAttempts { retry_after }
            | AppError::TooManyUnverified { retry_after } => Some(retry_after),
            AppError::Busy(_) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, AppError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="Boothgate", charset="UTF-8""#),
            );
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: &'static str,
    reason: &'static str,
    message: String,
    job: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.into_response_for_job(None)
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_and_other_io_errors_stay_internal() {
        let full = AppError::from(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(full.reason(), "insufficient_storage");
        let quota = AppError::from(std::io::Error::from_raw_os_error(libc::EDQUOT));
        assert_eq!(quota.reason(), "insufficient_storage");
        let other = AppError::from(std::io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(other.reason(), "internal_error");
    }
}
