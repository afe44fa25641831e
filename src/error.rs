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
    Provider(crate::providers::ProviderError),
    #[error("{0}")]
    ProviderNotConfigured(String),
    #[error("no result before the deadline")]
    Timeout,
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("too many wrong passwords from this address; try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error(transparent)]
    Internal(#[from] InternalError),
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

impl From<crate::providers::ProviderError> for AppError {
    /// A model still at work at the deadline is a timeout; anything else is the model's failure.
    fn from(e: crate::providers::ProviderError) -> Self {
        match e {
            crate::providers::ProviderError::OutOfTime => AppError::Timeout,
            other => AppError::Provider(other),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AppError::InvalidPassword | AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::SlotNotFound | AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::SlotDisabled | AppError::SlotNotConfigured(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::UnreadableImage(_) | AppError::Validation { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Provider(_) => StatusCode::BAD_GATEWAY,
            AppError::ProviderNotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
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
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::UnreadableImage(_) => "unreadable_image",
            AppError::Provider(_) => "provider_error",
            AppError::ProviderNotConfigured(_) => "provider_not_configured",
            AppError::Timeout => "timeout",
            AppError::NotFound => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooManyAttempts { .. } => "too_many_attempts",
            AppError::Busy => "busy",
            AppError::Validation { .. } => "invalid_value",
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
            AppError::TooManyAttempts { retry_after } => Some(retry_after),
            AppError::Busy => Some(1),
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
