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
        "503" => "`timeout`: the database did not answer in time",
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
        "503" => "`timeout`: the database did not answer in time",
    }
}
