use super::*;

fn ok(text: &str) -> Checked {
    analyze(text, Kind::Investigation).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    analyze(text, Kind::Investigation)
        .expect_err(text)
        .to_string()
}

fn canon(text: &str) -> String {
    canonical(&ok(text))
}

#[test]
fn the_example_of_the_language_reads_and_checks() {
    let q = ok(
        "products where status = offline and name ~ \"web-*\" and last_seen older_than 24h \
        fields name, type, version, home_node, last_seen sort last_seen desc limit 500",
    );
    assert_eq!(q.object.name, "products");
    assert_eq!(q.limit, 500);
    assert_eq!(q.columns().len(), 5);
    assert!(matches!(q.filter, Some(Cond::And(ref t)) if t.len() == 3));
}

#[test]
fn an_unknown_field_is_named_at_its_place_with_the_field_meant() {
    assert_eq!(
        err("products where stauts = offline"),
        "line 1, col 16: unknown field \"stauts\" (did you mean \"status\"?)"
    );
    assert_eq!(
        err("products\nwhere name = \"a\"\n  and lst_seen older_than 1h"),
        "line 3, col 7: unknown field \"lst_seen\" (did you mean \"last_seen\"?)"
    );
}

#[test]
fn syntax_errors_say_what_was_expected_where() {
    assert_eq!(
        err("products where status offline"),
        "line 1, col 23: expected an operator (=, !=, <, <=, >, >=, ~, contains, in, older_than or newer_than), found \"offline\""
    );
    assert_eq!(
        err("products where"),
        "line 1, col 15: expected a condition (a field, \"not\" or \"(\"), found the end of the query"
    );
    assert_eq!(
        err("products where (status = online"),
        "line 1, col 32: expected \")\", found the end of the query"
    );
    assert_eq!(
        err("products wher status = online"),
        "line 1, col 10: expected a clause (where, during, fields, group by, sort or limit) or the end of the query, found \"wher\""
    );
    assert_eq!(
        err("products where name = \"abc"),
        "line 1, col 23: this text has no closing quote"
    );
    assert_eq!(
        err("products where last_seen older_than 3x"),
        "line 1, col 37: unknown unit \"x\" (use ms, s, m, h, d or w)"
    );
    assert_eq!(
        err("products limit 5 limit 6"),
        "line 1, col 18: \"limit\" is given twice"
    );
}

#[test]
fn type_errors_name_the_type_and_what_fits() {
    assert_eq!(
        err("products where status = offlne"),
        "line 1, col 25: \"offlne\" is not a value of status (did you mean offline?)"
    );
    assert_eq!(
        err("products where status ~ \"off*\""),
        "line 1, col 23: \"~\" does not apply to status (enum; use =, !=, in)"
    );
    assert_eq!(
        err("products where last_seen > 5"),
        "line 1, col 28: last_seen is a timestamp: expected a time such as \"2026-12-01T08:30:00Z\""
    );
    assert_eq!(
        err("status_changes where to = offline"),
        "line 1, col 1: status_changes needs \"during last <duration>\" (for example: during last 7d)"
    );
    assert_eq!(
        err("products where id = @product"),
        "line 1, col 21: @product is only for one-click investigations"
    );
    assert_eq!(
        err("prodcts"),
        "line 1, col 1: unknown object \"prodcts\" (did you mean \"products\"?)"
    );
    assert_eq!(
        err("products group by last_seen count"),
        "line 1, col 19: rows cannot be grouped by last_seen (a timestamp)"
    );
    assert_eq!(
        err("products limit 10001"),
        "line 1, col 16: the limit is between 1 and 10000 rows per page"
    );
}

#[test]
fn one_click_investigations_take_the_product() {
    let q = analyze(
        "commands where product = @product during last 7d",
        Kind::OneClick,
    )
    .unwrap();
    assert!(q.needs_product());
    assert!(!ok("commands where created_by = @me").needs_product());
}

#[test]
fn two_spellings_of_one_query_have_one_canonical_form() {
    let a = canon("products where status = offline and name ~ \"web-*\" fields name, type");
    let b = canon("PRODUCTS  WHERE (name ~ \"web-*\")\n AND status = \"Offline\" FIELDS type,name sort name limit 100");
    assert_eq!(a, b);
    assert_eq!(
        a,
        "products where name ~ \"web-*\" and status = offline fields name, type sort name limit 100"
    );
    assert_eq!(
        canon("products where not not (status = online or status = offline) and last_seen older_than 1440m"),
        canon("products where last_seen older_than 1d and (status = offline or status = online or status = online)")
    );
    assert_eq!(
        canon("products where status in (online, offline, online)"),
        "products where status in (offline, online) fields home_node, last_seen, name, status, type sort name limit 100"
    );
    assert_eq!(
        canon("products"),
        canon("products fields name, type, status, home_node, last_seen sort name asc")
    );
    assert_ne!(
        canon("products where status = online"),
        canon("products where status != online")
    );
}

#[test]
fn the_canonical_form_reads_back_as_itself() {
    for text in [
        "products where (status = online or status = offline) and not version = \"1.0\"",
        "status_changes during last 36h where lag > 2s and product.name contains \"a\\\"b\\\\c\" group by to count",
        "logs where message contains \"100%_done\" and at < \"2026-12-01T10:00:00.5Z\" sort product.name desc, at",
        "commands where created_by = @me and state in (dead, failed) and attempts >= 3",
        "products where has_callback = false and offline_after < 90s",
    ] {
        let once = canon(text);
        assert_eq!(canon(&once), once, "{text}");
    }
}

#[test]
fn limits_bound_what_one_query_can_ask() {
    let deep = format!(
        "products where {}status = online{}",
        "(".repeat(9),
        ")".repeat(9)
    );
    assert_eq!(err(&deep), "line 1, col 24: conditions nest at most 8 deep");
    let many = vec!["status = online"; 65].join(" or ");
    assert!(err(&format!("products where {many}")).contains("at most 64 conditions"));
    let list = (0..101)
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(err(&format!("products where name in ({list})")).contains("at most 100 values"));
    assert!(err(&"x".repeat(5000)).contains("limited to 4096 bytes"));
    assert!(err("products where name = \"a\0b\"").contains("NUL"));
}

#[test]
fn suggestions_follow_the_cursor() {
    let texts = |t: &str| {
        suggest(t, t.len())
            .0
            .into_iter()
            .map(|s| s.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(texts("prod"), ["products"]);
    assert!(texts("products where sta").contains(&"status".to_string()));
    assert_eq!(texts("products where status "), ["=", "!=", "in"]);
    assert_eq!(
        texts("products where status = "),
        ["pending", "online", "offline", "unmanaged"]
    );
    assert!(texts("products where status = online ").contains(&"and".to_string()));
    assert!(texts("logs fields ").contains(&"message".to_string()));
    let (_, range) = suggest("products where sta", 18);
    assert_eq!(range, 15..18);
}

#[test]
fn an_alert_query_narrows_to_home_nodes_and_product_ids() {
    let mut q = ok("logs where level = error");
    q.within_homes(&["node-a".to_string()]);
    q.product_ids(500);
    assert_eq!(
        canonical(&q),
        "logs where level = \"error\" and product.home_node in (\"node-a\") group by product count sort product limit 500"
    );
}

#[cfg(feature = "sql")]
mod sql {
    use super::*;
    use crate::sql::{rows, total, Bindings, Engine, Param};

    const B: Bindings = Bindings {
        now_ms: 1_000_000_000,
        me: "alice",
        product: None,
    };

    #[test]
    fn values_are_parameters_and_patterns_are_escaped() {
        let q = ok("products where name ~ \"a%b_c*\" and version = \"'; DROP TABLE users; --\"");
        for engine in [Engine::Sqlite, Engine::Postgres] {
            let s = rows(&q, engine, &B, 0, 100).unwrap();
            assert!(!s.sql.contains("DROP"), "{}", s.sql);
            assert!(
                s.params.contains(&Param::Text("a\\%b\\_c%".into())),
                "{:?}",
                s.params
            );
            assert!(s
                .params
                .contains(&Param::Text("'; DROP TABLE users; --".into())));
        }
    }

    #[test]
    fn the_sql_names_only_registry_columns() {
        let q = ok("commands where created_by = @me and product.name contains \"web\" during last 1d sort product.name");
        let s = rows(&q, Engine::Postgres, &B, 200, 100).unwrap();
        assert_eq!(
            s.sql,
            "SELECT \"t\".\"created_at\" AS \"c0\", \"p\".\"name\" AS \"c1\", \"t\".\"kind\" AS \"c2\", \"t\".\"state\" AS \"c3\", \"t\".\"created_by\" AS \"c4\" \
             FROM \"commands\" AS \"t\" LEFT JOIN \"products\" AS \"p\" ON \"p\".\"id\" = \"t\".\"product_id\" \
             WHERE \"t\".\"created_at\" >= $1 AND \"t\".\"created_by\" = $2 AND (LOWER(\"p\".\"name\" COLLATE \"C\") LIKE $3 ESCAPE '\\') \
             ORDER BY \"p\".\"name\" COLLATE \"C\" ASC NULLS LAST, \"t\".\"id\" ASC LIMIT $4 OFFSET $5"
        );
        assert_eq!(
            s.params,
            [
                Param::Int(1_000_000_000 - 86_400_000),
                Param::Text("alice".into()),
                Param::Text("%web%".into()),
                Param::Int(100),
                Param::Int(200)
            ]
        );
        let t = total(&q, Engine::Sqlite, &B).unwrap();
        assert!(
            t.sql
                .starts_with("SELECT COUNT(*) AS \"total\" FROM \"commands\""),
            "{}",
            t.sql
        );
    }

    #[test]
    fn a_one_click_query_needs_its_product() {
        let q = analyze("logs where product = @product", Kind::OneClick).unwrap();
        assert!(rows(&q, Engine::Sqlite, &B, 0, 10).is_err());
        let b = Bindings {
            product: Some("6f1c0b5e-0000-4000-8000-000000000001"),
            ..B
        };
        let s = rows(&q, Engine::Sqlite, &b, 0, 10).unwrap();
        assert!(s
            .params
            .contains(&Param::Text("6f1c0b5e-0000-4000-8000-000000000001".into())));
    }
}
