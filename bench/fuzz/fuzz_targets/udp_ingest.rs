//! Datagrams to a real node's UDP socket: the fuzzed bytes as they are, and
//! the fuzzed payload signed with the product's real key (so it passes the
//! signature and reaches the payload's handling). The node must keep
//! answering; every 256th input checks it.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use protocol::{encode, Kind, MAX_PAYLOAD};
use vigil_fuzz::target;

static SEQ: AtomicU64 = AtomicU64::new(1);

fuzz_target!(|input: &[u8]| {
    let t = target();
    let Some((&pick, payload)) = input.split_first() else {
        return;
    };
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let _ = socket.send_to(input, t.udp);
    let id = t.product.replace('-', "");
    let mut product = [0u8; 16];
    for (i, b) in product.iter_mut().enumerate() {
        *b = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).expect("a UUID");
    }
    let kind = if pick % 2 == 0 {
        Kind::Heartbeat
    } else {
        Kind::Hello
    };
    let key: Vec<u8> = (0..t.key.len() / 2)
        .map(|i| u8::from_str_radix(&t.key[2 * i..2 * i + 2], 16).expect("a hex key"))
        .collect();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
    let _ = socket.send_to(&encode(kind, product, seq, now, payload, &key), t.udp);
    if seq % 256 == 0 {
        t.assert_alive();
    }
});
