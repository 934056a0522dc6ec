//! `vigil-test-ca DIR [NAME...]`: makes a throwaway CA and a node
//! certificate for NAME (default 127.0.0.1 and localhost) in DIR, and prints
//! `{"ca_cert", "cert", "key", "spki_sha256", "ca_spki_sha256"}` as JSON. For end-to-end tests.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: vigil-test-ca DIR [NAME...]");
        std::process::exit(2);
    };
    let mut names: Vec<String> = args.collect();
    if names.is_empty() {
        names = vec!["127.0.0.1".into(), "localhost".into()];
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ca = testkit::tls::TestCa::new("Vigil test CA");
    match ca.write(std::path::Path::new(&dir), &names) {
        Ok(w) => println!(
            "{}",
            serde_json::json!({
                "ca_cert": w.ca_cert,
                "cert": w.cert,
                "key": w.key,
                "spki_sha256": w.spki_sha256,
                "ca_spki_sha256": w.ca_spki_sha256,
            })
        ),
        Err(e) => {
            eprintln!("cannot write {dir}: {e}");
            std::process::exit(1);
        }
    }
}
