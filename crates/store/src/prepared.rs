//! Hand-written SQL that PostgreSQL prepares once per connection.
//!
//! `diesel::sql_query` marks every statement as unsafe to cache, so PostgreSQL
//! parses and plans it on each call. The few statements we write by hand are
//! fixed `'static` text, which is what Diesel's statement cache keys on;
//! [`Prepared`] lets them be cached like the DSL's own queries. (`make bench`
//! shows the difference on the message page, the hottest read.)

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::result::{Error, QueryResult};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use std::marker::PhantomData;

/// A fixed SQL statement with `$1`, `$2`, … placeholders, bound in order with
/// [`Prepared::bind`]; loads `QueryableByName` rows like `sql_query`. A
/// placeholder may appear more than once. The text must not hold a `$` other
/// than a placeholder's.
///
/// Rows load by column name (`QueryableByName`), unless the statement is
/// given its row type with [`Prepared::returning`]: then they load by
/// position (`Queryable`), without looking each column up by its name in
/// every row (the message page: 15 columns, 51 rows).
#[must_use = "a query runs only when loaded"]
pub(crate) struct Prepared<Row = Untyped, K = ()> {
    sql: &'static str,
    binds: Vec<Box<dyn Bind>>,
    row: PhantomData<fn() -> (Row, K)>,
}

/// How Diesel's statement cache finds a [`Prepared`] statement: `()` by its
/// SQL text and bind types, written out and hashed on every call; a
/// [`Statement`] by its type alone.
pub(crate) trait CacheKey: 'static {
    /// Whether the type is the key.
    const BY_TYPE: bool;
}

impl CacheKey for () {
    const BY_TYPE: bool = false;
}

/// A hot statement, known by its type: Diesel's cache finds it by the type's
/// id, without writing its SQL out again and hashing it on every call (the
/// message page's text is 600 bytes). One type per text: [`Prepared::of`]
/// takes the text from the type, so the two cannot disagree.
pub(crate) trait Statement: CacheKey {
    /// The statement's text.
    const SQL: &'static str;
}

/// Declares `$name` as the [`Statement`] whose text is `$sql`.
macro_rules! statement {
    ($(#[$doc:meta])* $name:ident = $sql:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;
        impl $crate::prepared::Statement for $name {
            const SQL: &'static str = $sql;
        }
        impl $crate::prepared::CacheKey for $name {
            const BY_TYPE: bool = true;
        }
    };
}
pub(crate) use statement;

impl Prepared {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            binds: Vec::with_capacity(4),
            row: PhantomData,
        }
    }

    /// The statement `S`, cached by its type.
    pub(crate) fn of<S: Statement>() -> Prepared<Untyped, S> {
        Prepared {
            sql: S::SQL,
            binds: Vec::with_capacity(4),
            row: PhantomData,
        }
    }
}

impl<K> Prepared<Untyped, K> {
    /// The SQL types of the statement's columns, in order (a tuple).
    pub(crate) fn returning<Row>(self) -> Prepared<Row, K> {
        Prepared {
            sql: self.sql,
            binds: self.binds,
            row: PhantomData,
        }
    }
}

impl<Row, K> Prepared<Row, K> {
    /// Binds the next placeholder (`$1` first) as SQL type `ST`.
    pub(crate) fn bind<ST, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<ST>,
        V: ToSql<ST, Pg> + 'static,
        ST: 'static,
    {
        self.binds
            .push(Box::new(Typed::<ST, V>(value, PhantomData)));
        self
    }
}

trait Bind {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Typed<ST, V>(V, PhantomData<fn() -> ST>);

impl<ST, V> Bind for Typed<ST, V>
where
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg>,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, V>(&self.0)
    }
}

impl<Row, K: CacheKey> QueryId for Prepared<Row, K> {
    type QueryId = K;
    // `()`: the cache keys the statement by its SQL text and bind types.
    const HAS_STATIC_QUERY_ID: bool = K::BY_TYPE;
}

impl<Row, K> QueryFragment<Pg> for Prepared<Row, K> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let bind = rest[at + 1..at + 1 + digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| self.binds.get(i))
                .ok_or_else(|| {
                    Error::QueryBuilderError(
                        format!("no bind for the placeholder at byte {at} of a prepared statement")
                            .into(),
                    )
                })?;
            bind.push(&mut out)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl<Row, K> Query for Prepared<Row, K> {
    type SqlType = Row;
}

impl<Row, K, Conn> RunQueryDsl<Conn> for Prepared<Row, K> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use diesel::sql_types::{Integer, Text};

    #[test]
    fn placeholders_become_binds_in_order_and_may_repeat() {
        let q = Prepared::new("SELECT $1, $2 WHERE x = $1")
            .bind::<Integer, _>(7)
            .bind::<Text, _>("a");
        assert_eq!(
            diesel::debug_query::<Pg, _>(&q).to_string(),
            r#"SELECT $1, $2 WHERE x = $3 -- binds: [7, "a", 7]"#
        );
    }

    statement!(
        /// A statement for the tests.
        Probe = "SELECT $1"
    );

    #[test]
    fn a_statement_type_is_its_cache_key_and_a_bare_text_is_not() {
        use std::any::TypeId;
        let keyed = Prepared::of::<Probe>().bind::<Integer, _>(1);
        assert_eq!(
            diesel::debug_query::<Pg, _>(&keyed).to_string(),
            "SELECT $1 -- binds: [1]"
        );
        assert_eq!(
            <Prepared<Untyped, Probe> as QueryId>::query_id(),
            Some(TypeId::of::<Probe>())
        );
        assert_eq!(<Prepared as QueryId>::query_id(), None);
    }

    #[test]
    fn a_placeholder_without_its_bind_is_an_error_not_a_panic() {
        let q = Prepared::new("SELECT $1, $2").bind::<Integer, _>(7);
        let mut sql = String::new();
        let mut builder = <Pg as diesel::backend::Backend>::QueryBuilder::default();
        let result = q.to_sql(&mut builder, &Pg);
        sql.push_str(&diesel::query_builder::QueryBuilder::finish(builder));
        assert!(matches!(result, Err(Error::QueryBuilderError(_))), "{sql}");
    }
}
