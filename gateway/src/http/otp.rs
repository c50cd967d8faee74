//! `/v1/otp` and `/v1/support-links`: thin handlers over [`crate::service::otp`] and
//! [`crate::service::support`].

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiError;
use super::guard::ClientId;
use super::va::Body;
use crate::app::AppState;
use crate::service::otp::{self as service, NewOtp, Otp, OtpCheck};

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_otp))
        .routes(routes!(verify_otp))
        .routes(routes!(resend_otp))
        .routes(routes!(support_link))
}

/// A click-to-chat link to customer care, with the topic's prefilled text.
#[utoipa::path(post, path = "/v1/support-links", tag = "messages",
    request_body = crate::service::support::NewSupportLink,
    responses(
        (status = 200, body = crate::service::support::SupportLink),
        (status = 422, description = "validation_failed / support_not_configured", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn support_link(
    State(state): State<AppState>,
    Body(request): Body<crate::service::support::NewSupportLink>,
) -> Result<Response, ApiError> {
    let link = crate::service::support::link(&state, &request)?;
    Ok((StatusCode::OK, axum::Json(link)).into_response())
}

/// Send a one-time code over WhatsApp.
#[utoipa::path(post, path = "/v1/otp", tag = "otp", request_body = NewOtp,
    responses(
        (status = 201, description = "Sent (the code is never in the answer)", body = Otp),
        (status = 422, description = "validation_failed / no_route / otp_not_configured / provider_rejected", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too_many_requests: the recipient's or the client's send cap", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn create_otp(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Body(request): Body<NewOtp>,
) -> Result<Response, ApiError> {
    let otp = service::create(&state, &client, request).await?;
    Ok((StatusCode::CREATED, axum::Json(otp)).into_response())
}

/// The answer to a right code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Verified {
    verified: bool,
}

/// Check a code (at most `otp.max_attempts` times; once right, never again).
#[utoipa::path(post, path = "/v1/otp/{id}/verify", tag = "otp", request_body = OtpCheck,
    params(("id" = String, Path, description = "otp_…")),
    responses(
        (status = 200, body = Verified),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "otp_expired: expired or used already", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_code, with attempts_left", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too_many_attempts", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn verify_otp(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
    Body(check): Body<OtpCheck>,
) -> Result<Response, ApiError> {
    service::verify(&state, &client, &id, check).await?;
    Ok((StatusCode::OK, axum::Json(Verified { verified: true })).into_response())
}

/// Send the same code again, after the cooldown.
#[utoipa::path(post, path = "/v1/otp/{id}/resend", tag = "otp",
    params(("id" = String, Path, description = "otp_…")),
    responses(
        (status = 200, body = Otp),
        (status = 404, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "otp_expired", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too_many_requests: cooldown or send cap (Retry-After)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("signed_request" = [])))]
async fn resend_otp(
    State(state): State<AppState>,
    Extension(ClientId(client)): Extension<ClientId>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let otp = service::resend(&state, &client, &id).await?;
    Ok((StatusCode::OK, axum::Json(otp)).into_response())
}
