//! The JSON bodies of every product endpoint, sent to a real node with the
//! product's key: whatever the bytes, the answer is a 2xx or a 4xx with
//! the JSON error, never a 5xx, a dropped connection or a dead node. The
//! first byte picks the endpoint; a body that is a JSON object gets the
//! right enrollment secret, so registration reaches its validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_fuzz::target;

const ENDPOINTS: [&str; 6] = [
    "register",
    "handshake",
    "heartbeat",
    "logs",
    "result",
    "hello",
];

fuzz_target!(|input: &[u8]| {
    let Some((&pick, body)) = input.split_first() else {
        return;
    };
    let t = target();
    let endpoint = ENDPOINTS[pick as usize % ENDPOINTS.len()];
    let mut body = body.to_vec();
    if matches!(endpoint, "register" | "hello") {
        if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_slice(&body) {
            o.insert(
                "enrollment_secret".into(),
                testkit::ENROLLMENT_SECRET.into(),
            );
            body = serde_json::to_vec(&o).expect("JSON");
        }
    }
    let path = match endpoint {
        "register" => "products/register".to_owned(),
        "hello" => "provision/hello".to_owned(),
        "result" => format!("products/{}/commands/fuzz/result", t.product),
        other => format!("products/{}/{other}", t.product),
    };
    let reply = t.runtime.block_on(async {
        let response = t
            .http
            .post(format!("{}/api/v1/{path}", t.url))
            .bearer_auth(&t.key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok::<_, reqwest::Error>((status, response.text().await?))
    });
    let (status, text) = reply.unwrap_or_else(|e| panic!("{endpoint}: no answer: {e}"));
    assert!(status < 500, "{endpoint}: {status} {text}");
    if status >= 400 {
        let error: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{endpoint}: {status} without a JSON error: {text}"));
        assert!(error["error"]["code"].is_string(), "{endpoint}: {text}");
    }
});
