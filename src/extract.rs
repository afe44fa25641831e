//! Request extractors shared by the handlers: a slot's address from the path, and an admin form
//! whose token has been checked.

use crate::AppState;
use crate::domain::SlotId;
use crate::error::AppError;
use axum::extract::{Form, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use std::collections::HashMap;

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
