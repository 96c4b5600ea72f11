//! Which scope to ask for (MCP authorization, "Scope Selection Strategy"), and whether
//! to ask for consent so that an OpenID Provider issues a refresh token.

use crate::discovery::{Challenge, Discovered};

/// The scope OpenID Connect defines for a refresh token (OpenID Connect Core 1.0 §11).
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";

/// The scopes to ask for before any addition: the configured ones, else the challenge's
/// `scope` (the caller's challenge, else the one discovery received), else the protected
/// resource metadata's `scopes_supported`, else none. Order kept, duplicates dropped.
pub(crate) fn base(
    configured: Option<&[String]>,
    discovered: &Discovered,
    challenge: Option<&Challenge>,
) -> Vec<String> {
    let challenged = challenge
        .or(discovered.challenge.as_ref())
        .map(Challenge::scopes)
        .filter(|s| !s.is_empty());
    let chosen = match (configured, challenged) {
        (Some(configured), _) => configured.to_vec(),
        (None, Some(challenged)) => challenged,
        (None, None) => discovered.resource_scopes.clone().unwrap_or_default(),
    };
    let mut out: Vec<String> = Vec::with_capacity(chosen.len());
    for scope in chosen {
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    out
}

/// The `scope` of an authorization request (space-separated, `None` to omit it): the
/// [`base`] scopes, plus `step_up` ones (the union, for `insufficient_scope`), plus
/// `offline_access` when the authorization server lists it in `scopes_supported` and
/// some scope is asked for at all (asking for `offline_access` alone would narrow a
/// server's default scope to nothing but a refresh token).
pub(crate) fn select(
    configured: Option<&[String]>,
    discovered: &Discovered,
    challenge: Option<&Challenge>,
    step_up: &[String],
) -> Option<String> {
    let mut scopes = base(configured, discovered, challenge);
    for s in step_up {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    let listed = discovered
        .server
        .scopes_supported
        .as_ref()
        .is_some_and(|list| list.iter().any(|s| s == OFFLINE_ACCESS));
    if !scopes.is_empty() && listed && !scopes.iter().any(|s| s == OFFLINE_ACCESS) {
        scopes.push(OFFLINE_ACCESS.into());
    }
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// Whether the authorization request needs `prompt=consent`: it asks for
/// `offline_access` from an OpenID Provider, which otherwise ignores that scope (OpenID
/// Connect Core 1.0 §11) and issues no refresh token.
pub(crate) fn needs_consent(scope: Option<&str>, openid_provider: bool) -> bool {
    openid_provider && scope.is_some_and(|s| s.split_whitespace().any(|s| s == OFFLINE_ACCESS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::AsMetadata;

    fn discovered(
        resource_scopes: Option<&[&str]>,
        server_scopes: Option<&[&str]>,
        challenge: Option<&str>,
    ) -> Discovered {
        let mut raw = serde_json::json!({
            "issuer": "https://as.example",
            "token_endpoint": "https://as.example/token",
        });
        if let Some(list) = server_scopes {
            raw["scopes_supported"] = serde_json::json!(list);
        }
        let server = AsMetadata::parse(
            raw.as_object().cloned().unwrap_or_default(),
            "https://as.example",
            "t",
        )
        .unwrap();
        Discovered {
            resource: "https://mcp.example/mcp".into(),
            resource_scopes: resource_scopes.map(|l| l.iter().map(|s| s.to_string()).collect()),
            challenge: challenge.map(|c| Challenge::parse([c])),
            server,
        }
    }

    #[test]
    fn the_challenge_comes_before_the_metadata() {
        let d = discovered(
            Some(&["mcp:read", "mcp:write"]),
            None,
            Some(r#"Bearer scope="mcp:read""#),
        );
        assert_eq!(select(None, &d, None, &[]).as_deref(), Some("mcp:read"));
        let given = Challenge::parse([r#"Bearer scope="mcp:write""#]);
        assert_eq!(
            select(None, &d, Some(&given), &[]).as_deref(),
            Some("mcp:write")
        );
        let d = discovered(Some(&["mcp:read", "mcp:write"]), None, Some("Bearer"));
        assert_eq!(
            select(None, &d, None, &[]).as_deref(),
            Some("mcp:read mcp:write")
        );
        let d = discovered(None, None, None);
        assert_eq!(select(None, &d, None, &[]), None);
        let configured = vec!["x".to_string()];
        assert_eq!(
            select(Some(&configured), &d, None, &[]).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn offline_access_only_when_listed() {
        let listed = discovered(Some(&["a"]), Some(&["a", "offline_access"]), None);
        assert_eq!(
            select(None, &listed, None, &[]).as_deref(),
            Some("a offline_access")
        );
        let unlisted = discovered(Some(&["a"]), Some(&["a"]), None);
        assert_eq!(select(None, &unlisted, None, &[]).as_deref(), Some("a"));
        let nothing = discovered(None, Some(&["offline_access"]), None);
        assert_eq!(select(None, &nothing, None, &[]), None);
        let step = vec!["b".to_string(), "a".to_string()];
        assert_eq!(
            select(None, &listed, None, &step).as_deref(),
            Some("a b offline_access")
        );
    }

    #[test]
    fn consent_for_offline_access_at_openid_providers() {
        assert!(needs_consent(Some("a offline_access"), true));
        assert!(!needs_consent(Some("a offline_access"), false));
        assert!(!needs_consent(Some("a offline_accessory"), true));
        assert!(!needs_consent(None, true));
    }
}
