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

/// At most this many retries of one request: one after a 401 (refresh or authorize),
/// and up to three step-ups for `403 insufficient_scope` (MCP authorization, "Step-Up
/// Authorization Flow").
const MAX_RETRIES: usize = 4;

/// The `WWW-Authenticate` values of a response.
fn challenges(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// Adds `Authorization: Bearer …` to requests for the server (and only to it). On every
/// answer, the first included and every retry: a 401 refreshes or authorizes (once per
/// request), a 403 `insufficient_scope` authorizes again with the union of the held and
/// challenged scopes (at most three times in a row, counted by the client); the
/// request is then retried with the new token, when its body can be cloned. Any other
/// answer, or one that cannot be acted on, goes back to the caller.
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
        let mut token = self
            .cached_token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        if let Some(token) = &token {
            req.headers_mut().insert(AUTHORIZATION, bearer(token)?);
        }
        // A copy to retry with; `None` for a body that cannot be cloned (a stream).
        let template = req.try_clone();
        let mut response = next.clone().run(req, extensions).await?;
        let mut unauthorized_handled = false;
        for _ in 0..MAX_RETRIES {
            let status = response.status();
            if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
                if token.is_some() && status.is_success() {
                    self.note_success();
                }
                return Ok(response);
            }
            let Some(mut retry) = template.as_ref().and_then(Request::try_clone) else {
                return Ok(response);
            };
            let values = challenges(&response);
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let fresh = if status == StatusCode::UNAUTHORIZED {
                if unauthorized_handled {
                    // A token just obtained is refused: asking again would loop.
                    tracing::warn!("the server refused a token it just had issued");
                    return Ok(response);
                }
                unauthorized_handled = true;
                self.handle_unauthorized(token.as_ref(), &values)
                    .await
                    .map_err(reqwest_middleware::Error::middleware)?
            } else {
                match self.handle_forbidden(token.as_ref(), &values).await {
                    Ok(Some(fresh)) => fresh,
                    Ok(None) => return Ok(response),
                    Err(Error::InsufficientScope(reason)) => {
                        tracing::warn!(reason = %crate::text::shown(&reason), "not retrying a 403");
                        return Ok(response);
                    }
                    Err(e) => return Err(reqwest_middleware::Error::middleware(e)),
                }
            };
            retry.headers_mut().insert(AUTHORIZATION, bearer(&fresh)?);
            token = Some(fresh);
            response = next.clone().run(retry, extensions).await?;
        }
        if response.status().is_success() {
            self.note_success();
        }
        Ok(response)
    }
}
