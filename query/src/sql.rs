//! A checked query compiled to parameterised SQL (sea-query), the same rows
//! on SQLite and PostgreSQL.
//!
//! Only names from the registry reach the SQL text; every value the user
//! wrote is a bound parameter, and `~` / `contains` patterns are escaped so
//! that `%` and `_` match themselves. Text compares and sorts byte by byte
//! on both engines (`COLLATE "C"` on PostgreSQL), and `~` / `contains` fold
//! ASCII letters only, so both engines return the same rows in the same
//! order.

use sea_query::{
    Alias, Asterisk, Cond as SqlCond, Expr, ExprTrait, JoinType, NullOrdering, Order,
    PostgresQueryBuilder, Query, SelectStatement, SimpleExpr, SqliteQueryBuilder,
};

use crate::ast::Op;
use crate::check::{Checked, Cond, Shape, SortBy, Value};
use crate::registry::{Field, Source, Type};

/// The SQL engine to write for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// What a query's `@me`, `@product` and relative times stand for when it
/// runs.
#[derive(Clone, Debug)]
pub struct Bindings<'a> {
    /// Unix milliseconds; `older_than 24h` is before `now_ms - 24h`.
    pub now_ms: i64,
    pub me: &'a str,
    pub product: Option<&'a str>,
}

/// A bound parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// SQL text with its parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Why a query cannot be compiled as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// It names `@product` and runs without one.
    NeedsProduct,
}

const TABLE: &str = "t";
const PRODUCT: &str = "p";

/// Rows `offset ..= offset + limit` in the query's order; the columns are
/// `c0`, `c1`, … as [`Checked::columns`] lists them.
pub fn rows(
    q: &Checked,
    engine: Engine,
    b: &Bindings,
    offset: i64,
    limit: i64,
) -> Result<Statement, CompileError> {
    let mut select = select(q, engine, b)?;
    SelectStatement::limit(&mut select, u64::try_from(limit).unwrap_or(0));
    SelectStatement::offset(&mut select, u64::try_from(offset).unwrap_or(0));
    Ok(build(&select, engine))
}

/// Rows without a page: every row in order, at most `cap`.
pub fn all(q: &Checked, engine: Engine, b: &Bindings, cap: i64) -> Result<Statement, CompileError> {
    let mut select = select(q, engine, b)?;
    SelectStatement::limit(&mut select, u64::try_from(cap).unwrap_or(0));
    Ok(build(&select, engine))
}

/// The number of rows (or groups) the query matches, as column `total`.
pub fn total(q: &Checked, engine: Engine, b: &Bindings) -> Result<Statement, CompileError> {
    let mut inner = Query::select();
    // A count joins the products only when its rows are chosen or grouped
    // by them: a left join on a key changes no count.
    let grouped_by_product =
        matches!(&q.shape, Shape::GroupCount(f) if matches!(f.source, Source::Product(_)));
    let filtered_by_product = q.filter.as_ref().is_some_and(cond_joins);
    join(q, &mut inner, grouped_by_product || filtered_by_product);
    filter(q, engine, b, &mut inner)?;
    let select = match &q.shape {
        Shape::GroupCount(f) => {
            inner.expr(Expr::val(1)).add_group_by([output(f, engine)]);
            let mut outer = Query::select();
            outer
                .expr_as(Expr::col(Asterisk).count(), "total")
                .from_subquery(inner, "g");
            outer
        }
        Shape::Rows(_) => {
            inner.expr_as(Expr::col(Asterisk).count(), "total");
            inner
        }
    };
    Ok(build(&select, engine))
}

fn build(select: &SelectStatement, engine: Engine) -> Statement {
    let (sql, values) = match engine {
        Engine::Sqlite => select.build(SqliteQueryBuilder),
        Engine::Postgres => select.build(PostgresQueryBuilder),
    };
    let params = values.into_iter().map(param).collect();
    Statement { sql, params }
}

fn param(v: sea_query::Value) -> Param {
    use sea_query::Value as V;
    match v {
        V::String(Some(s)) => Param::Text(s),
        V::BigInt(Some(n)) => Param::Int(n),
        V::Int(Some(n)) => Param::Int(n.into()),
        V::BigUnsigned(Some(n)) => Param::Int(i64::try_from(n).unwrap_or(i64::MAX)),
        V::Unsigned(Some(n)) => Param::Int(n.into()),
        V::Bool(Some(b)) => Param::Int(b.into()),
        other => unreachable!("the compiler binds only text and integers, not {other:?}"),
    }
}

fn select(q: &Checked, engine: Engine, b: &Bindings) -> Result<SelectStatement, CompileError> {
    let mut s = Query::select();
    from(q, &mut s);
    filter(q, engine, b, &mut s)?;
    match &q.shape {
        Shape::Rows(fields) => {
            for (i, f) in fields.iter().enumerate() {
                s.expr_as(output(f, engine), Alias::new(format!("c{i}")));
            }
        }
        Shape::GroupCount(f) => {
            s.expr_as(output(f, engine), "c0")
                .expr_as(Expr::col(Asterisk).count(), "c1")
                .add_group_by([output(f, engine)]);
        }
    }
    for (by, desc) in &q.sort {
        let order = if *desc { Order::Desc } else { Order::Asc };
        let e = match by {
            SortBy::Count => Expr::col(Asterisk).count(),
            SortBy::Field(f) => sortable(f, engine),
        };
        s.order_by_expr_with_nulls(e, order, NullOrdering::Last);
    }
    // The last key makes the order total, so pages never overlap.
    // It runs the way the last key does, so an index on that key (which
    // ends with the row's id) can serve both without a sort.
    match &q.shape {
        Shape::Rows(_) => {
            let descending = q.sort.last().is_some_and(|(_, d)| *d);
            let order = if descending { Order::Desc } else { Order::Asc };
            s.order_by_expr(Expr::col((TABLE, q.object.key)), order);
        }
        Shape::GroupCount(f) if !q.sort.iter().any(|(by, _)| *by == SortBy::Field(f)) => {
            s.order_by_expr_with_nulls(sortable(f, engine), Order::Asc, NullOrdering::Last);
        }
        Shape::GroupCount(_) => {}
    }
    Ok(s)
}

fn from(q: &Checked, s: &mut SelectStatement) {
    join(q, s, uses_product(q));
}

fn join(q: &Checked, s: &mut SelectStatement, with_product: bool) {
    s.from_as(q.object.table, TABLE);
    if with_product && q.object.table != "products" {
        s.join_as(
            JoinType::LeftJoin,
            "products",
            PRODUCT,
            Expr::col((PRODUCT, "id")).equals((TABLE, q.object.product_column)),
        );
    }
}

fn filter(
    q: &Checked,
    engine: Engine,
    b: &Bindings,
    s: &mut SelectStatement,
) -> Result<(), CompileError> {
    if let Some(d) = q.during {
        let time = q
            .object
            .field(q.object.time)
            .expect("the registry names its time field");
        s.and_where(field(time).gte(b.now_ms.saturating_sub(d)));
    }
    if let Some(c) = &q.filter {
        s.cond_where(cond(c, engine, b)?);
    }
    Ok(())
}

fn uses_product(q: &Checked) -> bool {
    let joined = |f: &Field| matches!(f.source, Source::Product(_));
    let in_shape = match &q.shape {
        Shape::Rows(fields) => fields.iter().any(|f| joined(f)),
        Shape::GroupCount(f) => joined(f),
    };
    let in_sort = q
        .sort
        .iter()
        .any(|(by, _)| matches!(by, SortBy::Field(f) if joined(f)));
    in_shape || in_sort || q.filter.as_ref().is_some_and(cond_joins)
}

fn cond_joins(c: &Cond) -> bool {
    match c {
        Cond::And(t) | Cond::Or(t) => t.iter().any(cond_joins),
        Cond::Not(c) => cond_joins(c),
        Cond::Compare { field, .. } | Cond::In { field, .. } => {
            matches!(field.source, Source::Product(_))
        }
    }
}

/// The field's value in a condition or a grouping.
fn field(f: &Field) -> SimpleExpr {
    match f.source {
        Source::Column(c) => Expr::col((TABLE, c)),
        Source::Product(c) => Expr::col((PRODUCT, c)),
        Source::Present(c) => Expr::col((TABLE, c)).is_not_null(),
        Source::Difference(a, b) => Expr::col((TABLE, a)).sub(Expr::col((TABLE, b))),
    }
}

/// The field's value as a column of the result: booleans as 0 / 1 on both
/// engines.
fn output(f: &Field, engine: Engine) -> SimpleExpr {
    match f.source {
        Source::Present(c) => custom(
            engine,
            "CASE WHEN $1 IS NULL THEN 0 ELSE 1 END",
            [Expr::col((TABLE, c))],
        ),
        _ => field(f),
    }
}

/// A fixed SQL template of ours around expressions, written with `$1`,
/// `$2`…, in order (SQLite's builder takes `?` instead).
fn custom<const N: usize>(
    engine: Engine,
    template: &'static str,
    exprs: [SimpleExpr; N],
) -> SimpleExpr {
    let text = match engine {
        Engine::Postgres => template.to_string(),
        Engine::Sqlite => (1..=N).fold(template.to_string(), |t, n| {
            t.replace(&format!("${n}"), "?")
        }),
    };
    Expr::cust_with_exprs(text, exprs)
}

/// The field's value as a sort key: text byte by byte on both engines.
fn sortable(f: &Field, engine: Engine) -> SimpleExpr {
    let text = matches!(f.ty, Type::String | Type::Enum(_) | Type::Uuid);
    match (engine, text) {
        (Engine::Postgres, true) => custom(engine, "$1 COLLATE \"C\"", [field(f)]),
        _ => output(f, engine),
    }
}

fn cond(c: &Cond, engine: Engine, b: &Bindings) -> Result<SqlCond, CompileError> {
    Ok(match c {
        Cond::And(terms) => terms
            .iter()
            .try_fold(SqlCond::all(), |acc, t| Ok(acc.add(cond(t, engine, b)?)))?,
        Cond::Or(terms) => terms
            .iter()
            .try_fold(SqlCond::any(), |acc, t| Ok(acc.add(cond(t, engine, b)?)))?,
        Cond::Not(inner) => cond(inner, engine, b)?.not(),
        Cond::Compare {
            field: f,
            op,
            value,
        } => SqlCond::all().add(compare(f, *op, value, engine, b)?),
        Cond::In { field: f, values } => {
            let values = values
                .iter()
                .map(|v| bound(v, b))
                .collect::<Result<Vec<_>, _>>()?;
            SqlCond::all().add(field(f).is_in(values))
        }
    })
}

fn compare(
    f: &Field,
    op: Op,
    value: &Value,
    engine: Engine,
    b: &Bindings,
) -> Result<SimpleExpr, CompileError> {
    if let (Source::Present(c), Value::Bool(wanted)) = (f.source, value) {
        let present = matches!(op, Op::Eq) == *wanted;
        let col = Expr::col((TABLE, c));
        return Ok(if present {
            col.is_not_null()
        } else {
            col.is_null()
        });
    }
    let e = field(f);
    Ok(match op {
        Op::Eq => e.eq(bound(value, b)?),
        Op::Ne => e.ne(bound(value, b)?),
        Op::Lt => e.lt(bound(value, b)?),
        Op::Le => e.lte(bound(value, b)?),
        Op::Gt => e.gt(bound(value, b)?),
        Op::Ge => e.gte(bound(value, b)?),
        Op::OlderThan => e.lt(b.now_ms.saturating_sub(int(value))),
        Op::NewerThan => e.gte(b.now_ms.saturating_sub(int(value))),
        Op::Glob => like(e, glob(text(value)), engine),
        Op::Contains => like(
            e,
            format!("%{}%", escape(&text(value).to_ascii_lowercase())),
            engine,
        ),
        Op::In => unreachable!("`in` is a Cond::In"),
    })
}

/// `LOWER(x) LIKE pattern`: the pattern is already lower case, and only
/// ASCII letters fold on both engines.
fn like(e: SimpleExpr, pattern: String, engine: Engine) -> SimpleExpr {
    let template = match engine {
        Engine::Sqlite => "LOWER($1) LIKE $2 ESCAPE '\\'",
        Engine::Postgres => "LOWER($1 COLLATE \"C\") LIKE $2 ESCAPE '\\'",
    };
    custom(engine, template, [e, Expr::val(pattern)])
}

/// A glob (`*`, `?`) as a LIKE pattern, lower case, everything else literal.
fn glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.to_ascii_lowercase().chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            c => push_escaped(&mut out, c),
        }
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    text.chars().for_each(|c| push_escaped(&mut out, c));
    out
}

fn push_escaped(out: &mut String, c: char) {
    if matches!(c, '%' | '_' | '\\') {
        out.push('\\');
    }
    out.push(c);
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
        _ => "",
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        _ => 0,
    }
}

fn bound(v: &Value, b: &Bindings) -> Result<sea_query::Value, CompileError> {
    Ok(match v {
        Value::Text(s) => s.clone().into(),
        Value::Int(n) => (*n).into(),
        Value::Bool(x) => i64::from(*x).into(),
        Value::Me => b.me.to_string().into(),
        Value::Product => b
            .product
            .ok_or(CompileError::NeedsProduct)?
            .to_string()
            .into(),
    })
}
