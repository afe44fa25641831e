//! Request extractors shared by the handlers: a slot's address from the path, an admin form
//! whose token has been checked, and typed query filters.

use crate::AppState;
use crate::domain::SlotId;
use crate::error::AppError;
use axum::extract::{Form, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// `/{provider}/{slot}` of a URL, as a slot that exists; anything else is `slot_not_found`.
pub struct SlotPath(pub SlotId);

impl<S: Send + Sync> FromRequestParts<S> for SlotPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((provider, number)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::SlotNotFound)?;
        SlotId::parse(&provider, &number)
            .map(SlotPath)
            .ok_or(AppError::SlotNotFound)
    }
}

/// A query string read into its type; a value that does not read is `400 invalid_request`
/// naming it, in the JSON every error answers with.
pub struct Filters<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Filters<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| Filters(value))
            .map_err(|e| AppError::InvalidRequest(e.body_text()))
    }
}

/// A filter's value: an empty one (a form's "all") is none, any other must read as `T`.
pub fn blank_is_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match Option::<String>::deserialize(deserializer)? {
        Some(raw) if !raw.trim().is_empty() => {
            raw.trim().parse().map(Some).map_err(D::Error::custom)
        }
        _ => Ok(None),
    }
}

/// A URL-encoded admin form whose `csrf` token is this install's; refused with `403` otherwise.
pub struct TokenForm(pub HashMap<String, String>);

impl FromRequest<AppState> for TokenForm {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let Form(fields) = Form::<HashMap<String, String>>::from_request(request, state)
            .await
            .map_err(|e| AppError::InvalidRequest(e.body_text()))?;
        state
            .admin
            .require_csrf(fields.get("csrf").map(String::as_str))?;
        Ok(TokenForm(fields))
    }
}
