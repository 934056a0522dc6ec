//! The OpenAPI description of the node's HTTP API, served at
//! `GET /api/v1/openapi.json`. Each handler carries its own
//! `#[utoipa::path]` (method, path, parameters, replies); the request
//! bodies and query parameters come from the handlers' extractor types and
//! the reply bodies from the shared `app`/`protocol` types, and `routes.rs`
//! mounts every documented handler at the path its description gives, so
//! the document and the routes cannot disagree.
//!
//! The error replies every handler may give are grouped here, one group per
//! cause, so a handler lists the causes that apply to it.

use std::collections::BTreeMap;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

/// Tag of the operations a person or script calls: session cookie or API token.
pub const CONSOLE: &str = "console";
/// Tag of the product protocol: a product's bearer key.
pub const PRODUCT: &str = "product";
/// Tag of what anyone may call: health, metrics, registration with the
/// enrollment secret, sign-in.
pub const PUBLIC: &str = "public";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil node API",
        description = "The HTTP API of a Vigil node: the console and admin API (session cookie \
                       or `Authorization: Bearer vgt_…` API token), and the product protocol \
                       (a product's bearer key). Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    components(schemas(protocol::api::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "console", description = "Console and admin calls: a session cookie or an API token"),
        (name = "product", description = "The product protocol: the product's bearer key"),
        (name = "public", description = "No credentials: health, metrics, registration, sign-in"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("vigil_session"))),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("vgt_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "product_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The error reply: `ErrorBody` as JSON.
fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// Declares a group of error replies.
macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident { $($status:literal => $why:literal),+ $(,)? })+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    [$(($status, $why)),+]
                        .into_iter()
                        .map(|(status, why)| (status.to_string(), error(why)))
                        .collect()
                }
            }
        )+
    };
}

errors! {
    /// A console call: who is calling, and may they.
    Signed {
        "401" => "`unauthorized`: no valid session or API token",
        "403" => "`forbidden`: the role (or the token's) may not do this, or the request is cross-site",
        "503" => "`timeout`: the database did not answer in time; `database_unavailable`: the connection to it broke; `disk_full`: its disk is full",
    }
    /// A JSON body that cannot be read.
    BadBody {
        "400" => "`invalid_json` (not JSON), or a rule of this call broken (the code says which)",
        "413" => "`body_too_large`: over 64 KiB",
        "415" => "`unsupported_media_type`: not `application/json`",
        "422" => "`invalid_body`: JSON of the wrong shape",
    }
    /// Query parameters that cannot be read.
    BadQuery {
        "400" => "`invalid_query`, or a parameter out of its range (the code says which)",
    }
    /// The object named in the path.
    Missing {
        "404" => "`not_found`: no such object (or not visible to the caller)",
    }
    /// A product protocol call.
    Keyed {
        "401" => "`unauthorized`: unknown product or wrong key",
        "503" => "`timeout`: the database did not answer in time; `database_unavailable`: the connection to it broke; `disk_full`: its disk is full",
    }
}

/// Every error code the node answers, by the status it comes with. The
/// document's error replies name, for their status, these codes only, so a
/// code can be checked against its status (the contract run does). A test
/// reads the sources for `ApiError`s and fails on a pair missing here.
pub const ERROR_CODES: &[(&str, &[&str])] = &[
    (
        "400",
        &[
            "entry_too_long",
            "https_required",
            "invalid_activity",
            "invalid_alert",
            "invalid_command",
            "invalid_definition",
            "invalid_expiry",
            "invalid_format",
            "invalid_handshake",
            "invalid_hello",
            "invalid_json",
            "invalid_kind",
            "invalid_name",
            "invalid_outcome",
            "invalid_payload",
            "invalid_permission",
            "invalid_product",
            "invalid_query",
            "invalid_registration",
            "invalid_request",
            "invalid_result",
            "invalid_role",
            "invalid_sort",
            "invalid_state",
            "invalid_status",
            "invalid_user",
            "invalid_watch",
            "invalid_window",
            "not_an_alert",
            "page_too_deep",
            "product_required",
            "too_many_entries",
        ],
    ),
    (
        "401",
        &[
            "unauthorized",
            "bad_enrollment_secret",
            "bad_product_key",
            "invalid_credentials",
        ],
    ),
    ("403", &["forbidden"]),
    ("404", &["not_found"]),
    ("405", &["method_not_allowed"]),
    (
        "409",
        &[
            "alert_limit",
            "already_registered",
            "conflict",
            "folder_not_empty",
            "name_taken",
            "not_delivered",
            "too_deep",
            "tree_full",
            "user_exists",
        ],
    ),
    ("413", &["body_too_large"]),
    ("415", &["unsupported_media_type"]),
    ("422", &["invalid_body", "too_slow"]),
    ("429", &["too_many_attempts"]),
    (
        "503",
        &[
            "busy",
            "centralization_in_progress",
            "database_unavailable",
            "disk_full",
            "timeout",
        ],
    ),
];

/// The document as served: the error replies of each status point at
/// `Error<status>`, an `ErrorBody` whose `code` is one of that status's.
pub fn document(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut doc = serde_json::to_value(doc).expect("the document is JSON");
    let error_body = "#/components/schemas/ErrorBody";
    let mut used = std::collections::BTreeSet::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        let operations = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut());
        for operation in operations {
            let Some(replies) = operation["responses"].as_object_mut() else {
                continue;
            };
            for (status, reply) in replies.iter_mut() {
                let Some(schema) = reply.pointer_mut("/content/application~1json/schema") else {
                    continue;
                };
                if schema["$ref"] == error_body && ERROR_CODES.iter().any(|(s, _)| s == status) {
                    *schema = json!({"$ref": format!("#/components/schemas/Error{status}")});
                    used.insert(status.clone());
                }
            }
        }
    }
    for (status, codes) in ERROR_CODES.iter().filter(|(s, _)| used.contains(*s)) {
        doc["components"]["schemas"][format!("Error{status}")] = json!({
            "type": "object",
            "description": format!("An error answered with status {status}."),
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                },
            }},
        });
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(status, code)` of every `ApiError` the sources make with literals.
    fn made_in_sources() -> Vec<(String, String)> {
        let statuses = [
            ("BAD_REQUEST", "400"),
            ("UNAUTHORIZED", "401"),
            ("FORBIDDEN", "403"),
            ("NOT_FOUND", "404"),
            ("METHOD_NOT_ALLOWED", "405"),
            ("CONFLICT", "409"),
            ("PAYLOAD_TOO_LARGE", "413"),
            ("UNSUPPORTED_MEDIA_TYPE", "415"),
            ("UNPROCESSABLE_ENTITY", "422"),
            ("TOO_MANY_REQUESTS", "429"),
            ("SERVICE_UNAVAILABLE", "503"),
            ("INTERNAL_SERVER_ERROR", "500"),
        ];
        let mut found = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.ends_with("openapi.rs") {
                    continue; // this scan's own patterns
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // `ApiError::new(StatusCode::X, "code"` over any whitespace,
                // and `ApiError::bad_request("code"`.
                let flat = text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace("( ", "(");
                for part in flat.split("ApiError::new(StatusCode::").skip(1) {
                    let (name, rest) = part.split_once(',').unwrap_or_default();
                    let Some(code) = rest.trim().strip_prefix('"') else {
                        continue;
                    };
                    let code = code.split('"').next().unwrap_or_default();
                    let status = statuses.iter().find(|(n, _)| *n == name.trim());
                    let status = status.unwrap_or_else(|| panic!("{name} in {}", path.display()));
                    found.push((status.1.to_owned(), code.to_owned()));
                }
                for part in flat.split("ApiError::bad_request(\"").skip(1) {
                    found.push(("400".into(), part.split('"').next().unwrap().to_owned()));
                }
            }
        }
        found
    }

    #[test]
    fn every_error_code_in_the_sources_is_documented_with_its_status() {
        let found = made_in_sources();
        assert!(found.len() > 40, "the scan found too little: {found:?}");
        for (status, code) in found {
            if status == "500" {
                continue;
            }
            let listed = ERROR_CODES
                .iter()
                .any(|(s, codes)| *s == status && codes.contains(&code.as_str()));
            assert!(
                listed,
                "`{code}` with status {status} is not in ERROR_CODES"
            );
        }
    }
}
