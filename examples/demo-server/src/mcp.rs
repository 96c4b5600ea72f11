//! The protected MCP endpoint (Streamable HTTP, JSON responses, no sessions): a bearer
//! token check, then `initialize`, `ping`, `tools/list` and `tools/call`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use key_value::AsyncKeyValueExt;
use serde_json::{Value, json};

use super::token::AccessGrant;
use super::{AppState, MCP_SCOPE, Shared, collections, secrets};

/// Protocol versions the endpoint speaks, newest first.
pub(crate) const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// The challenge that tells a client where to find the authorization server.
fn challenge(s: &Shared, error: Option<(&str, &str)>) -> String {
    let mut value = format!(
        "Bearer resource_metadata=\"{}\", scope=\"{MCP_SCOPE}\"",
        s.prm_url()
    );
    if let Some((code, why)) = error {
        value.push_str(&format!(", error=\"{code}\", error_description=\"{why}\""));
    }
    value
}

fn refuse(s: &Shared, status: StatusCode, error: Option<(&str, &str)>) -> Response {
    let mut response = (
        status,
        axum::Json(json!({
            "error": error.map(|e| e.0).unwrap_or("unauthorized"),
            "error_description": error.map(|e| e.1).unwrap_or("a bearer token is required"),
        })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge(s, error)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Whether an `Origin` header names a loopback origin (DNS rebinding protection).
fn loopback_origin(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    })
}

/// The grant behind the request's bearer token, or the 401/403 response.
async fn authorized(s: &Shared, headers: &HeaderMap) -> Result<AccessGrant, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        s.event("MCP request without a bearer token: answered 401 with the resource metadata URL");
        return Err(refuse(s, StatusCode::UNAUTHORIZED, None));
    };
    let invalid = |why: &str| {
        s.event(format!("MCP request with a bad token: {why}"));
        refuse(s, StatusCode::UNAUTHORIZED, Some(("invalid_token", why)))
    };
    let grant = match s
        .store
        .get_as::<AccessGrant>(&secrets::hash(token), Some(collections::ACCESS_TOKENS))
        .await
    {
        Ok(Some(g)) => g,
        Ok(None) => return Err(invalid("the access token is unknown or expired")),
        Err(e) => {
            s.event(format!("error: cannot read the token: {e}"));
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    if grant.expires_at <= super::clock::since_epoch().as_secs_f64() {
        return Err(invalid("the access token expired"));
    }
    match super::token::is_revoked(&*s.store, &grant.grant).await {
        Ok(false) => {}
        Ok(true) => {
            return Err(invalid(
                "the grant was revoked after a refresh token replay",
            ));
        }
        Err(e) => {
            s.event(format!("error: cannot read the revoked grants: {e}"));
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    }
    if grant.resource != s.resource {
        return Err(invalid("the access token is for another resource"));
    }
    if !grant.scope.split_whitespace().any(|sc| sc == MCP_SCOPE) {
        s.event("MCP request with too little scope: answered 403 insufficient_scope");
        return Err(refuse(
            s,
            StatusCode::FORBIDDEN,
            Some(("insufficient_scope", "the token lacks the mcp:tools scope")),
        ));
    }
    Ok(grant)
}

fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// `POST /mcp`.
pub(crate) async fn post(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let foreign_origin = headers
        .get(header::ORIGIN)
        .is_some_and(|o| !o.to_str().is_ok_and(loopback_origin));
    if foreign_origin {
        return (StatusCode::FORBIDDEN, "cross-origin requests are refused\n").into_response();
    }
    let grant = match authorized(&s, &headers).await {
        Ok(g) => g,
        Err(response) => return response,
    };
    let unknown_version = headers
        .get("mcp-protocol-version")
        .is_some_and(|v| !v.to_str().is_ok_and(|v| PROTOCOL_VERSIONS.contains(&v)));
    if unknown_version {
        let body = rpc_error(Value::Null, -32600, "unsupported MCP-Protocol-Version");
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let message = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Array(_)) => {
            let body = rpc_error(Value::Null, -32600, "batches are not supported");
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        _ => {
            let body = rpc_error(Value::Null, -32700, "the body is not a JSON-RPC message");
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    let method = message.get("method").and_then(Value::as_str);
    let Some(id) = message.get("id").cloned().filter(|_| method.is_some()) else {
        // A notification or a response: accepted, nothing to answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let method = method.unwrap_or_default();
    s.event(format!("MCP {method} from {}", grant.client_id));
    let result = match method {
        "initialize" => Ok(initialize(&params)),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools()})),
        "tools/call" => call_tool(&grant, &params),
        _ => Err((-32601, format!("method `{method}` is not supported"))),
    };
    let body = match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message)) => rpc_error(id, code, &message),
    };
    axum::Json(body).into_response()
}

/// `GET` and `DELETE /mcp`: no event stream, no sessions.
pub(crate) async fn not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST")],
        "this endpoint takes POST only (no event stream, no sessions)\n",
    )
        .into_response()
}

fn initialize(params: &Value) -> Value {
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    let version = requested
        .filter(|v| PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "key-value-rs demo", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "A demo server: `whoami` tells who the token belongs to; `add` adds two numbers.",
    })
}

fn tools() -> Value {
    json!([
        {
            "name": "whoami",
            "description": "Who the access token belongs to, its scope and how long it stays valid.",
            "inputSchema": {"type": "object", "properties": {}},
        },
        {
            "name": "add",
            "description": "Adds two numbers.",
            "inputSchema": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        }
    ])
}

fn text_result(text: String, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": is_error})
}

fn call_tool(grant: &AccessGrant, params: &Value) -> Result<Value, (i64, String)> {
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let args = params.get("arguments").cloned().unwrap_or(json!({}));
    match name {
        "whoami" => Ok(text_result(
            format!(
                "client {}, scope \"{}\", token valid for {} more seconds",
                grant.client_id,
                grant.scope,
                // Whole seconds left, rounded down; `as` saturates at zero.
                (grant.expires_at - super::clock::since_epoch().as_secs_f64()) as u64
            ),
            false,
        )),
        "add" => {
            let number = |k: &str| args.get(k).and_then(Value::as_f64);
            Ok(match (number("a"), number("b")) {
                (Some(a), Some(b)) => text_result(format!("{}", a + b), false),
                _ => text_result("`a` and `b` must be numbers".into(), true),
            })
        }
        _ => Err((-32602, format!("unknown tool `{name}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_origin;

    #[test]
    fn only_loopback_origins_pass() {
        assert!(loopback_origin("http://localhost:3000"));
        assert!(loopback_origin("http://127.0.0.1:8080"));
        assert!(!loopback_origin("https://evil.example"));
        assert!(!loopback_origin("null"));
    }
}
