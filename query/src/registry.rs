//! The objects a query can read and their fields: the only names a query may
//! use, each mapped to a column the node chose, never to text from the user.

use crate::ast::Op;

/// The type of a field, and so of the values it is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Int,
    Bool,
    Enum(&'static [&'static str]),
    Uuid,
    /// Unix milliseconds; written as `"2026-12-01"` or `"2026-12-01T08:00:00Z"`.
    Timestamp,
    /// Milliseconds; written as `30s`, `5m`, `24h`, `7d`.
    Duration,
}

impl Type {
    /// The type's name in messages and column descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Int => "int",
            Type::Bool => "bool",
            Type::Enum(_) => "enum",
            Type::Uuid => "uuid",
            Type::Timestamp => "timestamp",
            Type::Duration => "duration",
        }
    }

    /// The operators a field of this type accepts. Strings are not ordered:
    /// the two databases sort text by different rules.
    pub fn operators(self) -> &'static [Op] {
        use Op::*;
        match self {
            Type::String => &[Eq, Ne, In, Glob, Contains],
            Type::Int | Type::Duration => &[Eq, Ne, Lt, Le, Gt, Ge, In],
            Type::Bool => &[Eq, Ne],
            Type::Enum(_) | Type::Uuid => &[Eq, Ne, In],
            Type::Timestamp => &[Lt, Le, Gt, Ge, OlderThan, NewerThan],
        }
    }

    /// Whether rows can be grouped by a field of this type.
    pub fn groupable(self) -> bool {
        !matches!(self, Type::Timestamp | Type::Duration)
    }
}

/// Where a field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A column of the object's own table.
    Column(&'static str),
    /// A column of the product the row belongs to (`product.name`).
    Product(&'static str),
    /// Whether a column of the own table holds a value.
    Present(&'static str),
    /// The first column minus the second (own table).
    Difference(&'static str, &'static str),
}

/// One field of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub ty: Type,
    pub source: Source,
    pub about: &'static str,
}

/// One object a query can read.
#[derive(Debug, PartialEq, Eq)]
pub struct Object {
    pub name: &'static str,
    pub table: &'static str,
    /// The primary key: the last sort key, so pages never overlap.
    pub key: &'static str,
    /// The column that holds the product's id (`@product`, joins).
    pub product_column: &'static str,
    pub fields: &'static [Field],
    /// The field `during last` bounds, and whether the object needs it.
    pub time: &'static str,
    pub needs_during: bool,
    pub default_fields: &'static [&'static str],
    pub default_sort: (&'static str, bool),
    pub about: &'static str,
}

impl Object {
    /// The field of that name, if the object has it.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

pub const PRODUCT_STATUS: &[&str] = &["pending", "online", "offline", "unmanaged"];
pub const TRANSPORTS: &[&str] = &["udp", "http"];
pub const MODES: &[&str] = &["one_way", "two_way"];
pub const COMMAND_STATES: &[&str] = &[
    "queued",
    "dispatched",
    "delivered",
    "succeeded",
    "failed",
    "expired",
    "dead",
];

const fn field(name: &'static str, ty: Type, source: Source, about: &'static str) -> Field {
    Field {
        name,
        ty,
        source,
        about,
    }
}

use Source::{Column, Difference, Present, Product};
use Type::{Bool, Duration, Enum, Int, String as Str, Timestamp, Uuid};

const PRODUCT_OF_ROW: [Field; 4] = [
    field("product.name", Str, Product("name"), "the product's name"),
    field(
        "product.type",
        Str,
        Product("product_type"),
        "the product's type",
    ),
    field(
        "product.status",
        Enum(PRODUCT_STATUS),
        Product("status"),
        "the product's status now",
    ),
    field(
        "product.home_node",
        Str,
        Product("home_node"),
        "the product's home node",
    ),
];

static PRODUCTS: Object = Object {
    name: "products",
    table: "products",
    key: "id",
    product_column: "id",
    fields: &[
        field("id", Uuid, Column("id"), "the product's UUID"),
        field("name", Str, Column("name"), "its name"),
        field("type", Str, Column("product_type"), "its product type"),
        field("version", Str, Column("version"), "its software version"),
        field(
            "status",
            Enum(PRODUCT_STATUS),
            Column("status"),
            "pending, online, offline or unmanaged",
        ),
        field(
            "transport",
            Enum(TRANSPORTS),
            Column("transport"),
            "how it sends heartbeats",
        ),
        field(
            "mode",
            Enum(MODES),
            Column("mode"),
            "one-way (polls) or two-way (can be woken)",
        ),
        field(
            "home_node",
            Str,
            Column("home_node"),
            "the node it reports to",
        ),
        field(
            "last_seen",
            Timestamp,
            Column("last_seen"),
            "its last proof of life",
        ),
        field(
            "registered_at",
            Timestamp,
            Column("registered_at"),
            "when it registered",
        ),
        field(
            "offline_after",
            Duration,
            Column("offline_after_ms"),
            "silence before it is offline",
        ),
        field(
            "has_callback",
            Bool,
            Present("callback_url"),
            "whether it gave a callback URL",
        ),
    ],
    time: "last_seen",
    needs_during: false,
    default_fields: &["name", "type", "status", "home_node", "last_seen"],
    default_sort: ("name", false),
    about: "the managed products",
};

static STATUS_CHANGES: Object = Object {
    name: "status_changes",
    table: "product_transitions",
    key: "id",
    product_column: "product_id",
    fields: &[
        field("product", Uuid, Column("product_id"), "the product's UUID"),
        PRODUCT_OF_ROW[0],
        PRODUCT_OF_ROW[1],
        PRODUCT_OF_ROW[2],
        PRODUCT_OF_ROW[3],
        field(
            "from",
            Enum(PRODUCT_STATUS),
            Column("from_status"),
            "the status before",
        ),
        field(
            "to",
            Enum(PRODUCT_STATUS),
            Column("to_status"),
            "the status after",
        ),
        field("at", Timestamp, Column("at"), "when it changed"),
        field(
            "recorded_at",
            Timestamp,
            Column("recorded_at"),
            "when it was written",
        ),
        field(
            "lag",
            Duration,
            Difference("recorded_at", "at"),
            "how late it was written",
        ),
        field("cause", Str, Column("cause"), "why it changed"),
    ],
    time: "at",
    needs_during: true,
    default_fields: &["at", "product.name", "from", "to", "cause"],
    default_sort: ("at", true),
    about: "every change of a product's status (needs `during last <duration>`)",
};

static COMMANDS: Object = Object {
    name: "commands",
    table: "commands",
    key: "id",
    product_column: "product_id",
    fields: &[
        field("id", Uuid, Column("id"), "the command's id"),
        field("product", Uuid, Column("product_id"), "the product's UUID"),
        PRODUCT_OF_ROW[0],
        PRODUCT_OF_ROW[1],
        PRODUCT_OF_ROW[2],
        PRODUCT_OF_ROW[3],
        field("kind", Str, Column("kind"), "what it asks"),
        field(
            "state",
            Enum(COMMAND_STATES),
            Column("state"),
            "where it stands",
        ),
        field(
            "created_at",
            Timestamp,
            Column("created_at"),
            "when it was queued",
        ),
        field(
            "created_by",
            Str,
            Column("created_by"),
            "who queued it (`@me`: you)",
        ),
        field(
            "created_on",
            Str,
            Column("created_on"),
            "the node that queued it",
        ),
        field(
            "expires_at",
            Timestamp,
            Column("expires_at"),
            "when it expires if still queued",
        ),
        field(
            "finished_at",
            Timestamp,
            Column("finished_at"),
            "when it ended",
        ),
        field("attempts", Int, Column("attempts"), "deliveries tried"),
        field(
            "max_attempts",
            Int,
            Column("max_attempts"),
            "deliveries allowed",
        ),
        field("output", Str, Column("output"), "the product's answer"),
    ],
    time: "created_at",
    needs_during: false,
    default_fields: &["created_at", "product.name", "kind", "state", "created_by"],
    default_sort: ("created_at", true),
    about: "the command queue",
};

static LOGS: Object = Object {
    name: "logs",
    table: "product_logs",
    key: "id",
    product_column: "product_id",
    fields: &[
        field("id", Int, Column("id"), "the entry's number"),
        field("product", Uuid, Column("product_id"), "the product's UUID"),
        PRODUCT_OF_ROW[0],
        PRODUCT_OF_ROW[1],
        PRODUCT_OF_ROW[2],
        PRODUCT_OF_ROW[3],
        field("at", Timestamp, Column("at"), "when the product wrote it"),
        field(
            "received_at",
            Timestamp,
            Column("received_at"),
            "when a node received it",
        ),
        field("level", Str, Column("level"), "its level"),
        field("message", Str, Column("message"), "its text"),
        field("node", Str, Column("node"), "the node that received it"),
    ],
    time: "at",
    needs_during: false,
    default_fields: &["at", "product.name", "level", "message"],
    default_sort: ("at", true),
    about: "the products' log entries",
};

/// Every object, in the order the console lists them.
pub static OBJECTS: [&Object; 4] = [&PRODUCTS, &STATUS_CHANGES, &COMMANDS, &LOGS];

/// The object of that name.
pub fn object(name: &str) -> Option<&'static Object> {
    OBJECTS.iter().copied().find(|o| o.name == name)
}

/// The name among `names` closest to a misspelt one, if it is close enough
/// to be what was meant.
pub fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    names
        .into_iter()
        .map(|n| (edit_distance(&word, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4) && *d < n.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance with transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_field_finds_the_one_meant() {
        let names = PRODUCTS.fields.iter().map(|f| f.name);
        assert_eq!(closest("stauts", names.clone()), Some("status"));
        assert_eq!(closest("lastseen", names.clone()), Some("last_seen"));
        assert_eq!(closest("zzzzzz", names), None);
    }

    #[test]
    fn every_default_names_a_field_of_its_object() {
        for object in OBJECTS {
            for name in object.default_fields {
                assert!(object.field(name).is_some(), "{}: {name}", object.name);
            }
            assert!(object.field(object.default_sort.0).is_some());
            assert_eq!(
                object.field(object.time).map(|f| f.ty),
                Some(Type::Timestamp)
            );
        }
    }
}
