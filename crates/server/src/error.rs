//! Errors as HTTP answers: a status and a message that says what to do next, as Confluence
//! shapes them (`{"statusCode": 404, "message": "..."}`), plus optional data (a 409 carries
//! the current version).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cdo_app::WikiError;
use cdo_core::{ErrorKind, SpaceError};
use cdo_search::SearchError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), data: None }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn with_data(mut self, data: serde_json::Value) -> ApiError {
        self.data = Some(data);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "statusCode": self.status.as_u16(),
            "message": self.message,
        });
        if let (Some(data), Some(map)) = (self.data, body.as_object_mut()) {
            map.insert("data".into(), data);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::ReadOnly => StatusCode::FORBIDDEN,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<SpaceError> for ApiError {
    fn from(e: SpaceError) -> ApiError {
        ApiError::new(status_of(e.kind()), e.to_string())
    }
}

impl From<WikiError> for ApiError {
    fn from(e: WikiError) -> ApiError {
        match e {
            WikiError::Space(e) => e.into(),
            WikiError::UnknownSpace(key) => ApiError::not_found(format!("no space with key {key}")),
            WikiError::Invalid(message) => ApiError::bad_request(message),
            WikiError::PageNotFound(id) => ApiError::not_found(format!("no page {id} in any space")),
            WikiError::Search(e) => e.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> ApiError {
        match e {
            SearchError::Cql(e) => ApiError::bad_request(e.to_string()),
            SearchError::Busy(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(format!("the request's work stopped: {e}"))
    }
}

/// Reads a JSON body, with a 400 that says where it is malformed.
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the request needs a JSON body"));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}
