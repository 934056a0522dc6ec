//! The UDP datagram parser and verifier, on any bytes: `parse` never
//! panics; what parses encodes back to the same bytes under the right key
//! (and verifies), and never verifies under another key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{encode, Datagram};

const KEY: &[u8] = b"fuzz-key-0123456789abcdef0123456";

fuzz_target!(|bytes: &[u8]| {
    let Ok(d) = Datagram::parse(bytes) else {
        return;
    };
    assert!(
        !d.verify(b"another key"),
        "verified under a key it was not made with"
    );
    let again = encode(d.kind, d.product, d.seq, d.sent_at_ms, d.payload, KEY);
    let back = Datagram::parse(&again).expect("an encoded datagram parses");
    assert!(back.verify(KEY));
    assert_eq!(
        (
            back.kind,
            back.product,
            back.seq,
            back.sent_at_ms,
            back.payload
        ),
        (d.kind, d.product, d.seq, d.sent_at_ms, d.payload)
    );
    assert_eq!(
        &again[..again.len() - protocol::TAG_LEN],
        &bytes[..bytes.len() - protocol::TAG_LEN]
    );
});
