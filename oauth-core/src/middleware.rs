//! [`OAuth`] as a `reqwest_middleware` middleware.

use http::Extensions;
use http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::flow::OAuth;

fn bearer(token: &SecretString) -> reqwest_middleware::Result<HeaderValue> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            reqwest_middleware::Error::middleware(Error::InvalidResponse(
                "the access token contains characters not allowed in a header".into(),
            ))
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Adds `Authorization: Bearer …` to requests for the server (and only to it); on a
/// 401 refreshes or authorizes, on a 403 `insufficient_scope` steps up, and retries
/// the request once (when its body can be cloned).
#[async_trait::async_trait]
impl Middleware for OAuth {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !self.is_for_server(req.url()) {
            return next.run(req, extensions).await;
        }
        let token = self
            .cached_token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        if let Some(token) = &token {
            req.headers_mut().insert(AUTHORIZATION, bearer(token)?);
        }
        let retry = req.try_clone();
        let response = next.clone().run(req, extensions).await?;
        let status = response.status();
        if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
            if token.is_some() && status.is_success() {
                self.note_success();
            }
            return Ok(response);
        }
        let challenges: Vec<String> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let challenges: Vec<&str> = challenges.iter().map(String::as_str).collect();
        let fresh = if status == StatusCode::UNAUTHORIZED {
            Some(
                self.handle_unauthorized(token.as_ref(), &challenges)
                    .await
                    .map_err(reqwest_middleware::Error::middleware)?,
            )
        } else {
            match self.handle_forbidden(token.as_ref(), &challenges).await {
                Ok(fresh) => fresh,
                Err(Error::InsufficientScope(reason)) => {
                    tracing::warn!(%reason, "not retrying a 403");
                    None
                }
                Err(e) => return Err(reqwest_middleware::Error::middleware(e)),
            }
        };
        let (Some(fresh), Some(mut retry)) = (fresh, retry) else {
            return Ok(response);
        };
        retry.headers_mut().insert(AUTHORIZATION, bearer(&fresh)?);
        let response = next.run(retry, extensions).await?;
        if response.status().is_success() {
            self.note_success();
        }
        Ok(response)
    }
}
