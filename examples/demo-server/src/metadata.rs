//! The discovery documents: RFC 8414 authorization server metadata and RFC 9728
//! protected resource metadata, and a plain-text home page.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

use super::{AppState, MCP_SCOPE};

/// The scopes the server knows.
pub(crate) const SCOPES: &[&str] = &[MCP_SCOPE, "offline_access"];

/// `GET /.well-known/oauth-authorization-server`.
pub(crate) async fn authorization_server(State(s): State<AppState>) -> impl IntoResponse {
    s.event("served the authorization server metadata (RFC 8414)");
    let issuer = &s.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{issuer}/"),
    }))
}

/// `GET /.well-known/oauth-protected-resource/mcp`.
pub(crate) async fn protected_resource(State(s): State<AppState>) -> impl IntoResponse {
    s.event("served the protected resource metadata (RFC 9728)");
    Json(json!({
        "resource": s.resource,
        "authorization_servers": [s.issuer],
        "scopes_supported": [MCP_SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "key-value-rs demo MCP server",
    }))
}

/// `GET /`: what this server is.
pub(crate) async fn home(State(s): State<AppState>) -> impl IntoResponse {
    format!(
        "key-value-rs demo authorization server and MCP endpoint (for demos and tests only)\n\n\
         MCP endpoint (protected):        {resource}\n\
         authorization server metadata:   {issuer}/.well-known/oauth-authorization-server\n\
         protected resource metadata:     {prm}\n\
         registration / authorize / token: {issuer}/register, {issuer}/authorize, {issuer}/token\n\n\
         The authorization endpoint approves every valid request at once.\n",
        resource = s.resource,
        issuer = s.issuer,
        prm = s.prm_url(),
    )
}
