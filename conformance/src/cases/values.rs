//! Values: any JSON object round-trips exactly; too-large values are refused cleanly.

use key_value_core::{AsyncKeyValueExt, ErrorKind, JsonObject};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::harness::{Ctx, Outcome, expect_error, num, object};
use crate::harness::{ensure, ensure_eq};

/// Puts each value under its own key, then reads all back, singly and in one batch.
async fn round_trip(cx: &Ctx, values: Vec<JsonObject>) -> Outcome {
    let c = cx.collection("c");
    let keys: Vec<String> = (0..values.len()).map(|i| format!("v{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    for (key, value) in keys.iter().zip(&values) {
        cx.store().put(key, value.clone(), None, Some(&c)).await?;
    }
    for (key, value) in keys.iter().zip(&values) {
        ensure_eq!(
            cx.store().get(key, Some(&c)).await?,
            Some(value.clone()),
            "value under {key}"
        );
    }
    let batch: Vec<Option<JsonObject>> = values.iter().cloned().map(Some).collect();
    ensure_eq!(
        cx.store().get_many(&key_refs, Some(&c)).await?,
        batch,
        "get_many of the values"
    );
    // The same values written as one batch.
    let batch_collection = cx.collection("batch");
    cx.store()
        .put_many(&key_refs, values.clone(), None, Some(&batch_collection))
        .await?;
    let batch: Vec<Option<JsonObject>> = values.into_iter().map(Some).collect();
    ensure_eq!(
        cx.store()
            .get_many(&key_refs, Some(&batch_collection))
            .await?,
        batch,
        "get_many after put_many of the values"
    );
    Ok(())
}

pub(crate) async fn nested_values_round_trip(cx: &Ctx) -> Outcome {
    round_trip(
        cx,
        vec![
            object(json!({"a": {"b": {"c": {"d": [1, [2, [3, {"e": []}]]]}}}})),
            object(json!({"list": [1, "two", 3.5, null, true, {"x": []}], "empty": {}})),
            object(json!({"deep": (0..64).fold(json!("leaf"), |acc, _| json!({"n": acc}))})),
        ],
    )
    .await
}

pub(crate) async fn unicode_values_round_trip(cx: &Ctx) -> Outcome {
    round_trip(cx, vec![
        object(json!({"s": "é ü ß ñ", "cjk": "鍵と値", "emoji": "🦀👨‍👩‍👧‍👦", "rtl": "مفتاح"})),
        object(json!({"ключ": "значение", "🔑": "🗝", "e\u{301}": "nfd", "é": "nfc"})),
        object(json!({"astral": "\u{1f600}\u{10ffff}", "bom": "\u{feff}", "sep": "\u{2028}\u{2029}"})),
    ]).await
}

pub(crate) async fn integer_edges_round_trip(cx: &Ctx) -> Outcome {
    round_trip(
        cx,
        vec![
            object(json!({"min": i64::MIN, "max": i64::MAX, "umax": u64::MAX})),
            object(json!({"zero": 0, "minus_one": -1, "two_53": 9_007_199_254_740_993_u64})),
            object(json!({"list": [i64::MIN, -1, 0, 1, i64::MAX, u64::MAX]})),
        ],
    )
    .await
}

pub(crate) async fn float_values_round_trip(cx: &Ctx) -> Outcome {
    round_trip(cx, vec![
        object(json!({"tenth": 0.1, "third": 1.0 / 3.0, "half": 0.5, "neg": -2.5})),
        object(json!({"max": f64::MAX, "min_positive": f64::MIN_POSITIVE, "tiny": 5e-324, "min": f64::MIN})),
        object(json!({"whole": 1.0, "big": 1e300, "exp": 6.02214076e23})),
        // Shortest forms that a fast but inexact float parser reads back an ulp off.
        object(json!({"subnormal": 1.744605594264187e-308, "near_max": 1.7976931348623155e308, "odd": 2.2250738585072014e-308})),
    ]).await
}

pub(crate) async fn null_and_booleans_round_trip(cx: &Ctx) -> Outcome {
    round_trip(
        cx,
        vec![
            object(json!({"null": null, "t": true, "f": false})),
            object(json!({"list": [null, true, false, null]})),
        ],
    )
    .await
}

pub(crate) async fn empty_object_round_trips(cx: &Ctx) -> Outcome {
    round_trip(cx, vec![JsonObject::new(), object(json!({"": ""}))]).await
}

pub(crate) async fn string_escapes_round_trip(cx: &Ctx) -> Outcome {
    let controls: String = (1u8..32).map(char::from).collect();
    round_trip(
        cx,
        vec![
            object(json!({"quotes": "\"'`", "backslash": "\\ \\\\ \\n", "slash": "/ </script>"})),
            object(json!({"controls": controls, "del": "\u{7f}", "nul": "a\u{0}b"})),
            object(json!({"json": "{\"not\": \"parsed\"}", "spaces": "  \t\n  "})),
        ],
    )
    .await
}

pub(crate) async fn large_value_round_trips(cx: &Ctx) -> Outcome {
    // 1 MiB, or half the store's entry limit when it is smaller.
    let size = cx
        .caps()
        .max_entry_bytes
        .map_or(1 << 20, |max| (max / 2).min(1 << 20));
    let text: String = (0..size)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    round_trip(cx, vec![object(json!({"blob": text}))]).await
}

pub(crate) async fn oversized_value_is_refused(cx: &Ctx) -> Outcome {
    let Some(limit) = cx.caps().max_entry_bytes else {
        return cx.require(false, "max_entry_bytes");
    };
    let c = cx.collection("c");
    cx.store().put("k", num(1), None, Some(&c)).await?;
    let too_big = object(json!({"blob": "x".repeat(limit + 1)}));
    let err = expect_error(
        cx.store().put("k", too_big.clone(), None, Some(&c)).await,
        ErrorKind::ValueTooLarge,
        "put of a value over the store's limit",
    )?;
    ensure!(
        err.to_string().contains(&limit.to_string()),
        "the error must name the limit of {limit} bytes: {err}"
    );
    ensure_eq!(
        cx.store().get("k", Some(&c)).await?,
        Some(num(1)),
        "a refused put must leave the earlier value"
    );
    let err = cx
        .store()
        .put_many(&["k2"], vec![too_big], None, Some(&c))
        .await;
    expect_error(
        err,
        ErrorKind::ValueTooLarge,
        "put_many of a value over the store's limit",
    )?;
    ensure_eq!(
        cx.store().get("k2", Some(&c)).await?,
        None,
        "a refused put_many must write nothing"
    );
    Ok(())
}

/// Values whose fields look like the stored document's own fields (or the encryption
/// envelope's) must come back as they were, not be taken for metadata.
pub(crate) async fn reserved_looking_fields_round_trip(cx: &Ctx) -> Outcome {
    round_trip(cx, vec![
        object(json!({"value": {"value": 1}, "key": "k", "collection": "c", "version": 99})),
        object(json!({"created_at": "2000-01-01T00:00:00+00:00", "expires_at": "2000-01-01T00:00:00+00:00"})),
        object(json!({"__encrypted_data__": "not really", "__encryption_version__": 1})),
    ]).await
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Token {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    scopes: Vec<String>,
}

pub(crate) async fn typed_values_round_trip(cx: &Ctx) -> Outcome {
    let c = cx.collection("c");
    let token = Token {
        access_token: "at-1".into(),
        token_type: "Bearer".into(),
        expires_in: Some(3600),
        scopes: vec!["read".into(), "write".into()],
    };
    cx.store().put_as("t", &token, None, Some(&c)).await?;
    ensure_eq!(
        cx.store().get_as::<Token>("t", Some(&c)).await?,
        Some(token.clone()),
        "typed get"
    );
    let raw = cx.store().get("t", Some(&c)).await?;
    ensure_eq!(
        raw.and_then(|v| v.get("token_type").cloned()),
        Some(Value::from("Bearer")),
        "typed values are plain JSON objects"
    );
    cx.store().put("wrong", num(1), None, Some(&c)).await?;
    expect_error(
        cx.store().get_as::<Token>("wrong", Some(&c)).await,
        ErrorKind::Deserialization,
        "typed get of a value of another shape",
    )?;
    Ok(())
}
