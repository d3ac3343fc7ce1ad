//! `db: HOST[:PORT]`: a MySQL, MariaDB or PostgreSQL server seen from outside: what it is, a login with a secret, the databases, a read-only query's value.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Db;

const PARAMS: &[Param] = &[
    Param::input(
        "protocol",
        &["mysql", "postgresql"],
        "the protocol the server speaks (mysql for MariaDB too); default from the port: 3306 mysql, 5432 postgresql",
    ),
    Param::input(
        "user",
        &[],
        "the login, for `login`, `databases` and `query`",
    ),
    Param::secret("secret", "the secret holding `user`'s password"),
    Param::input(
        "database",
        &[],
        "the database to log in to and run `query` in (PostgreSQL: default postgres)",
    ),
    Param::input(
        "query",
        &[],
        "one SQL statement, run in a read-only transaction that is rolled back; its first row gives `value`",
    ),
    Param::expect(
        "engine",
        Shape::Text,
        "what the server is: mariadb, mysql or postgresql (known without logging in)",
    ),
    Param::expect(
        "version",
        Shape::Text,
        "the server's version: from the MySQL or MariaDB greeting without logging in; PostgreSQL's `server_version` after login",
    ),
    Param::expect(
        "login",
        Shape::Bool,
        "`user` logs in with `secret` (to `database` when given); a refusal is false, not an error",
    ),
    Param::expect(
        "databases",
        Shape::List,
        "the databases `user` can see (MySQL's SHOW DATABASES; PostgreSQL's it may connect to)",
    ),
    Param::expect("rows", Shape::Number, "how many rows `query` returned"),
    Param::expect(
        "value",
        Shape::Text,
        "the first column of `query`'s first row, as text (NULL reads \"NULL\"; no row reads \"\")",
    ),
];

/// The wire protocol to speak: MariaDB speaks MySQL's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Protocol {
    Mysql,
    Postgresql,
}

impl Protocol {
    fn port(self) -> u16 {
        match self {
            Protocol::Mysql => 3306,
            Protocol::Postgresql => 5432,
        }
    }
}

/// The server to contact and how to speak to it.
#[derive(Debug, PartialEq)]
struct Target {
    host: String,
    port: u16,
    protocol: Protocol,
}

fn target(q: &Query) -> Result<Target, String> {
    let subject = q.subject;
    let bad = || format!("`{subject}` is not HOST or HOST:PORT");
    let (host, port): (&str, Option<&str>) = if let Some(rest) = subject.strip_prefix('[') {
        let (host, port) = rest.split_once(']').ok_or_else(bad)?;
        match port {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match subject.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            _ => (subject, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port: Option<u16> = match port {
        Some(p) => Some(p.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?),
        None => None,
    };
    let protocol = match (q.input("protocol"), port) {
        (Some("mysql"), _) => Protocol::Mysql,
        (Some("postgresql"), _) => Protocol::Postgresql,
        (Some(other), _) => {
            return Err(format!("`protocol: {other}`: expected mysql or postgresql"));
        }
        (None, Some(3306)) => Protocol::Mysql,
        (None, Some(5432)) => Protocol::Postgresql,
        (None, _) => {
            return Err(format!(
                "`{subject}`: say which server this is with `protocol: mysql` or `protocol: postgresql` (only ports 3306 and 5432 tell)"
            ));
        }
    };
    Ok(Target {
        host: host.to_string(),
        port: port.unwrap_or(protocol.port()),
        protocol,
    })
}

/// What the check needs beyond the server's greeting.
struct Needs {
    login: bool,
    databases: bool,
    query: Option<String>,
}

fn needs(q: &Query, t: &Target) -> Result<Needs, String> {
    let query = if q.wants("value") || q.wants("rows") {
        Some(statement(
            q.input("query")
                .ok_or("`value` and `rows` need a `query`")?,
        )?)
    } else {
        None
    };
    let pg_version = t.protocol == Protocol::Postgresql && q.wants("version");
    let needs = Needs {
        login: q.wants("login") || q.wants("databases") || query.is_some() || pg_version,
        databases: q.wants("databases"),
        query,
    };
    if needs.login && (q.input("user").is_none() || q.input("secret").is_none()) {
        return Err(if pg_version {
            "a PostgreSQL server tells its version only after login: give `user` and `secret`"
                .to_string()
        } else {
            "logging in needs a `user` and a `secret`".to_string()
        });
    }
    Ok(needs)
}

/// One statement, without its final `;`: a second statement could escape the read-only transaction.
fn statement(query: &str) -> Result<String, String> {
    let one = query.trim().trim_end_matches([';', ' ', '\t', '\r', '\n']);
    if one.is_empty() {
        return Err("`query` is empty".to_string());
    }
    if one.contains(';') {
        return Err("`query` is one SQL statement: it may not contain `;`".to_string());
    }
    Ok(one.to_string())
}

/// The MySQL server errors that mean "not you, not here": a wrong password, an unknown user, a
/// host the account does not cover, a database that does not exist or is not the user's.
fn mysql_refusal(code: u16) -> bool {
    matches!(code, 1044 | 1045 | 1049 | 1130 | 1698)
}

/// PostgreSQL's equivalents: the SQLSTATE classes of a refused login.
fn postgres_refusal(code: &str) -> bool {
    code.starts_with("28") || code == "3D000" || code == "42501"
}

const LONGEST_GREETING: usize = 1024;

/// Read a MySQL server's greeting packet (header included) into (engine, version).
fn mysql_greeting(packet: &[u8]) -> Result<(String, String), String> {
    let shown: String = String::from_utf8_lossy(&packet[..packet.len().min(60)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    let not = || format!("not a MySQL or MariaDB server: it said {shown:?}");
    let len = match packet {
        [a, b, c, 0, ..] => usize::from(*a) | usize::from(*b) << 8 | usize::from(*c) << 16,
        _ => return Err(not()),
    };
    let payload = packet.get(4..4 + len).ok_or_else(not)?;
    match payload {
        [10, rest @ ..] => {
            let end = rest.iter().position(|b| *b == 0).ok_or_else(not)?;
            let version = std::str::from_utf8(&rest[..end]).map_err(|_| not())?;
            // MariaDB before 11 prefixes its version with 5.5.5- for old clients' sake.
            let version = version.strip_prefix("5.5.5-").unwrap_or(version);
            let engine = if version.contains("MariaDB") {
                "mariadb"
            } else {
                "mysql"
            };
            Ok((engine.to_string(), version.to_string()))
        }
        [0xff, c1, c2, message @ ..] => Err(format!(
            "the server refuses this address: ERROR {}: {}",
            u16::from_le_bytes([*c1, *c2]),
            String::from_utf8_lossy(message)
        )),
        _ => Err(not()),
    }
}

/// PostgreSQL answers a request for TLS with one byte, `S` or `N`, before anything else.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

fn postgres_answer(answer: &[u8]) -> Result<(), String> {
    match answer {
        [b'S'] | [b'N'] => Ok(()),
        [] => Err("not a PostgreSQL server: it said nothing and closed".to_string()),
        other => Err(format!(
            "not a PostgreSQL server: it answered {:?}",
            String::from_utf8_lossy(other)
        )),
    }
}

/// Put what a logged-in probe learned into facts.
fn logged_in(facts: &mut Facts, databases: Option<Vec<String>>, result: Option<Vec<String>>) {
    facts.insert("login", Fact::Bool(true));
    if let Some(databases) = databases {
        facts.insert("databases", Fact::List(databases));
    }
    if let Some(rows) = result {
        facts.insert("rows", Fact::Number(rows.len() as f64));
        facts.insert(
            "value",
            Fact::Text(rows.into_iter().next().unwrap_or_default()),
        );
    }
}

// ---- from the grader ----

async fn mysql_greeting_native(t: &Target, transcript: &mut String) -> Result<Facts, String> {
    let mut tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("connect to {}:{}: {e}", t.host, t.port))?;
    let mut packet = vec![0; 4];
    let read = read_up_to(&mut tcp, &mut packet).await?;
    packet.truncate(read);
    if let [a, b, c, 0] = packet[..] {
        let len = usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16;
        let mut payload = vec![0; len.min(LONGEST_GREETING)];
        let read = read_up_to(&mut tcp, &mut payload).await?;
        packet.extend_from_slice(&payload[..read]);
    }
    let (engine, version) = mysql_greeting(&packet)?;
    transcript.push_str(&format!("greeting from {}:{}: {version}\n", t.host, t.port));
    Ok(Facts::from([
        ("engine", Fact::Text(engine)),
        ("version", Fact::Text(version)),
    ]))
}

/// Read until `buf` is full or the server closes; how much was read.
async fn read_up_to(tcp: &mut tokio::net::TcpStream, buf: &mut [u8]) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        match tcp.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(format!("reading the server's greeting: {e}")),
        }
    }
    Ok(filled)
}

fn mysql_text(value: Option<&mysql_async::Value>) -> String {
    use mysql_async::Value;
    match value {
        None | Some(Value::NULL) => "NULL".to_string(),
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::UInt(u)) => u.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Double(d)) => d.to_string(),
        Some(other) => other.as_sql(true),
    }
}

async fn mysql_native(
    q: &Query<'_>,
    t: &Target,
    needs: &Needs,
    transcript: &mut String,
) -> Result<Facts, String> {
    use mysql_async::prelude::Queryable;
    let mut facts = if q.wants("engine") || q.wants("version") {
        mysql_greeting_native(t, transcript).await?
    } else {
        Facts::new()
    };
    if !needs.login {
        return Ok(facts);
    }
    let user = q.input("user").unwrap_or_default();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(t.host.as_str())
        .tcp_port(t.port)
        .prefer_socket(false)
        .user(Some(user))
        .pass(q.input("secret"))
        .db_name(q.input("database"))
        .init(vec!["SET SESSION TRANSACTION READ ONLY"]);
    let on = q
        .input("database")
        .map(|d| format!(" to {d}"))
        .unwrap_or_default();
    let mut conn = match mysql_async::Conn::new(opts).await {
        Ok(conn) => conn,
        Err(mysql_async::Error::Server(e)) if mysql_refusal(e.code) => {
            transcript.push_str(&format!("login as {user}{on}: refused: {e}\n"));
            facts.insert("login", Fact::Bool(false));
            return Ok(facts);
        }
        Err(e) => return Err(format!("logging in to {}:{}: {e}", t.host, t.port)),
    };
    transcript.push_str(&format!("login as {user}{on}: accepted\n"));
    let asked = async {
        let databases = if needs.databases {
            let names: Vec<String> = conn.query("SHOW DATABASES").await?;
            Some(names)
        } else {
            None
        };
        let result = match &needs.query {
            Some(query) => {
                conn.query_drop("START TRANSACTION READ ONLY").await?;
                let mut firsts = Vec::new();
                let mut rows = conn.query_iter(query.as_str()).await?;
                rows.for_each(|row| firsts.push(mysql_text(row.as_ref(0))))
                    .await?;
                drop(rows);
                conn.query_drop("ROLLBACK").await?;
                Some(firsts)
            }
            None => None,
        };
        Ok::<_, mysql_async::Error>((databases, result))
    }
    .await;
    let _ = conn.disconnect().await;
    let (databases, result) = asked.map_err(|e| format!("{e}"))?;
    note(transcript, &databases, &result, needs.query.as_deref());
    logged_in(&mut facts, databases, result);
    Ok(facts)
}

fn note(
    transcript: &mut String,
    databases: &Option<Vec<String>>,
    result: &Option<Vec<String>>,
    query: Option<&str>,
) {
    if let Some(databases) = databases {
        transcript.push_str(&format!("databases: {}\n", databases.join(", ")));
    }
    if let (Some(rows), Some(query)) = (result, query) {
        transcript.push_str(&format!(
            "{query}: {} row(s){}\n",
            rows.len(),
            rows.first()
                .map(|v| format!(", first value {v:?}"))
                .unwrap_or_default()
        ));
    }
}

fn postgres_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

async fn postgres_native(
    q: &Query<'_>,
    t: &Target,
    needs: &Needs,
    wait: Duration,
    transcript: &mut String,
) -> Result<Facts, String> {
    let mut facts = Facts::new();
    if q.wants("engine") {
        let mut tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("connect to {}:{}: {e}", t.host, t.port))?;
        tcp.write_all(&SSL_REQUEST)
            .await
            .map_err(|e| format!("sending to {}:{}: {e}", t.host, t.port))?;
        let mut answer = [0u8; 1];
        let read = read_up_to(&mut tcp, &mut answer).await?;
        postgres_answer(&answer[..read])?;
        transcript.push_str(&format!("{}:{} speaks PostgreSQL\n", t.host, t.port));
        facts.insert("engine", Fact::Text("postgresql".to_string()));
    }
    if !needs.login {
        return Ok(facts);
    }
    let user = q.input("user").unwrap_or_default();
    let database = q.input("database").unwrap_or("postgres");
    let mut config = tokio_postgres::Config::new();
    config
        .host(t.host.as_str())
        .port(t.port)
        .user(user)
        .password(q.input("secret").unwrap_or_default())
        .dbname(database)
        .application_name("labgrade")
        .options("-c default_transaction_read_only=on")
        .ssl_mode(tokio_postgres::config::SslMode::Disable)
        .connect_timeout(wait);
    let (client, connection) = match config.connect(tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) if e.code().is_some_and(|c| postgres_refusal(c.code())) => {
            transcript.push_str(&format!(
                "login as {user} to {database}: refused: {}\n",
                postgres_error(&e)
            ));
            facts.insert("login", Fact::Bool(false));
            return Ok(facts);
        }
        Err(e) => {
            return Err(format!(
                "logging in to {}:{}: {}",
                t.host,
                t.port,
                postgres_error(&e)
            ));
        }
    };
    let connection = tokio::spawn(connection);
    transcript.push_str(&format!("login as {user} to {database}: accepted\n"));
    let firsts = |messages: Vec<tokio_postgres::SimpleQueryMessage>| -> Vec<String> {
        messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some(row.get(0).unwrap_or("NULL").to_string())
                }
                _ => None,
            })
            .collect()
    };
    let asked = async {
        if q.wants("version") {
            let version = firsts(client.simple_query("SHOW server_version").await?);
            let version = version.into_iter().next().unwrap_or_default();
            transcript.push_str(&format!("server_version: {version}\n"));
            facts.insert("version", Fact::Text(version));
        }
        let databases = if needs.databases {
            Some(firsts(
                client
                    .simple_query(
                        "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn \
                         AND has_database_privilege(datname, 'CONNECT') ORDER BY datname",
                    )
                    .await?,
            ))
        } else {
            None
        };
        let result = match &needs.query {
            Some(query) => {
                client.batch_execute("BEGIN READ ONLY").await?;
                let rows = firsts(client.simple_query(query).await?);
                client.batch_execute("ROLLBACK").await?;
                Some(rows)
            }
            None => None,
        };
        Ok::<_, tokio_postgres::Error>((databases, result))
    }
    .await;
    drop(client);
    connection.abort();
    let (databases, result) = asked.map_err(|e| postgres_error(&e))?;
    note(transcript, &databases, &result, needs.query.as_deref());
    logged_in(&mut facts, databases, result);
    Ok(facts)
}

// ---- from a role ----

/// One step of a role's script: `== NAME EXIT_CODE`, then `| ` stdout lines and `! ` stderr lines.
#[derive(Debug, Default, PartialEq)]
struct Step {
    code: i32,
    out: Vec<String>,
    err: Vec<String>,
}

impl Step {
    fn error_text(&self) -> String {
        if self.code == 124 {
            return "no answer within 5 s".to_string();
        }
        match self.err.iter().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => line.trim().to_string(),
            None => format!("exit code {}", self.code),
        }
    }

    /// The bytes a step printed with `od -An -tu1`.
    fn bytes(&self) -> Result<Vec<u8>, String> {
        self.out
            .iter()
            .flat_map(|l| l.split_whitespace())
            .map(|b| b.parse().map_err(|_| format!("not a byte: {b:?}")))
            .collect()
    }
}

fn steps(text: &str) -> Result<Vec<(String, Step)>, String> {
    let mut steps: Vec<(String, Step)> = Vec::new();
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("== ") {
            let (name, code) = head
                .split_once(' ')
                .ok_or_else(|| format!("a step without its exit code: {line:?}"))?;
            let code = code
                .parse()
                .map_err(|_| format!("a step without its exit code: {line:?}"))?;
            steps.push((
                name.to_string(),
                Step {
                    code,
                    ..Step::default()
                },
            ));
        } else if let Some((_, step)) = steps.last_mut() {
            if let Some(out) = line.strip_prefix("| ").or(line.strip_prefix("|")) {
                step.out.push(out.to_string());
            } else if let Some(err) = line.strip_prefix("! ").or(line.strip_prefix("!")) {
                step.err.push(err.to_string());
            }
        }
    }
    Ok(steps)
}

/// The mysql client's batch output escapes tab, newline, NUL and backslash.
fn mysql_unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The first field of each CSV record psql printed (fields may be quoted and span lines).
fn csv_firsts(lines: &[String]) -> Vec<String> {
    let text = lines.join("\n");
    let mut firsts = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' || *c == '\n' {
                    break;
                }
                field.push(*c);
                chars.next();
            }
        }
        firsts.push(field);
        // The rest of the record: other fields, quoted newlines included.
        let mut quoted = false;
        for c in chars.by_ref() {
            match c {
                '"' => quoted = !quoted,
                '\n' if !quoted => break,
                _ => {}
            }
        }
    }
    firsts
}

/// Whether the login step's failure is the server's refusal (false) or no answer (error).
fn refused(protocol: Protocol, step: &Step) -> bool {
    match protocol {
        Protocol::Mysql => step.err.iter().any(|l| {
            l.strip_prefix("ERROR ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|code| code.parse().ok())
                .is_some_and(mysql_refusal)
        }),
        // libpq prints a server's own message as `SEVERITY:  text`, in the server's language;
        // it fails with exit code 2 when it could not connect.
        Protocol::Postgresql => {
            step.code == 2
                && step
                    .err
                    .iter()
                    .any(|l| l.contains("failed: ") && l.contains(":  "))
        }
    }
}

fn role_facts(q: &Query, t: &Target, text: &str) -> Result<Facts, String> {
    let needs = needs(q, t)?;
    let steps = steps(text)?;
    let step = |name: &str| steps.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let mut facts = Facts::new();
    if let Some(s) = step("greeting") {
        if s.code != 0 {
            return Err(s.error_text());
        }
        let (engine, version) = mysql_greeting(&s.bytes()?)?;
        facts.insert("engine", Fact::Text(engine));
        facts.insert("version", Fact::Text(version));
    }
    if let Some(s) = step("ssl") {
        if s.code != 0 {
            return Err(s.error_text());
        }
        postgres_answer(&s.bytes()?)?;
        facts.insert("engine", Fact::Text("postgresql".to_string()));
    }
    if !needs.login {
        return Ok(facts);
    }
    let login = step("login").ok_or("the script did not try to log in")?;
    if login.code != 0 {
        if refused(t.protocol, login) {
            facts.insert("login", Fact::Bool(false));
            return Ok(facts);
        }
        return Err(login.error_text());
    }
    let firsts = |s: &Step| -> Vec<String> {
        match t.protocol {
            Protocol::Mysql => s
                .out
                .iter()
                .map(|l| mysql_unescape(l.split('\t').next().unwrap_or_default()))
                .collect(),
            Protocol::Postgresql => csv_firsts(&s.out),
        }
    };
    if t.protocol == Protocol::Postgresql && q.wants("version") {
        let version = firsts(login).into_iter().next().unwrap_or_default();
        facts.insert("version", Fact::Text(version));
    }
    let asked = |name: &str| -> Result<Vec<String>, String> {
        let s = step(name).ok_or_else(|| format!("the script did not report {name}"))?;
        if s.code != 0 {
            return Err(s.error_text());
        }
        Ok(firsts(s))
    };
    let databases = if needs.databases {
        Some(asked("databases")?)
    } else {
        None
    };
    let result = match needs.query {
        Some(_) => Some(asked("query")?),
        None => None,
    };
    logged_in(&mut facts, databases, result);
    Ok(facts)
}

/// The script of a role: coreutils and bash for the greeting, the mysql (mariadb-client) or
/// psql (postgresql-client) client to log in. The password goes through the environment
/// (MYSQL_PWD, PGPASSWORD), never on a command line.
fn role_script(q: &Query, t: &Target) -> Result<String, String> {
    let needs = needs(q, t)?;
    let mut s = String::from(
        "need od\nneed head\nneed sed\nneed mktemp\n\
         d=$(mktemp -d) || exit 3\n\
         trap 'rm -rf \"$d\"' EXIT\n\
         step() {\n\
           name=$1; shift\n\
           \"$@\" >\"$d/out\" 2>\"$d/err\"; rc=$?\n\
           echo \"== $name $rc\"; sed 's/^/| /' \"$d/out\"; sed 's/^/! /' \"$d/err\"\n\
           return $rc\n\
         }\n",
    );
    let tcp = shell_quote(&format!("/dev/tcp/{}/{}", t.host, t.port));
    match t.protocol {
        Protocol::Mysql if q.wants("engine") || q.wants("version") => {
            s.push_str(&format!(
                "need bash\nneed timeout\n\
                 step greeting timeout 5 bash -c '\n\
                 exec 3<>\"$1\" || exit 3\n\
                 h=$(head -c 4 <&3 | od -An -v -tu1)\n\
                 printf \"%s\\n\" \"$h\"\n\
                 set -- $h\n\
                 [ $# -eq 4 ] || exit 0\n\
                 n=$(( $1 + $2 * 256 + $3 * 65536 ))\n\
                 [ $n -le {LONGEST_GREETING} ] || n={LONGEST_GREETING}\n\
                 head -c $n <&3 | od -An -v -tu1\n\
                 ' bash {tcp} || exit 0\n"
            ));
        }
        Protocol::Postgresql if q.wants("engine") => {
            s.push_str(&format!(
                "need bash\nneed timeout\n\
                 step ssl timeout 5 bash -c '\n\
                 exec 3<>\"$1\" || exit 3\n\
                 printf \"\\000\\000\\000\\010\\004\\322\\026\\057\" >&3\n\
                 head -c 1 <&3 | od -An -v -tu1\n\
                 ' bash {tcp} || exit 0\n"
            ));
        }
        _ => {}
    }
    if !needs.login {
        return Ok(s);
    }
    let user = shell_quote(q.input("user").unwrap_or_default());
    let secret = shell_quote(q.input("secret").unwrap_or_default());
    let host = shell_quote(&t.host);
    match t.protocol {
        Protocol::Mysql => {
            let database = q
                .input("database")
                .map(|d| format!(" -D {}", shell_quote(d)))
                .unwrap_or_default();
            s.push_str(&format!(
                "need mysql\n\
                 MYSQL_PWD={secret}; export MYSQL_PWD\n\
                 set -- --protocol=TCP --connect-timeout=5 -h {host} -P {port} -u {user}{database} \
                 --batch --skip-column-names '--init-command=SET SESSION TRANSACTION READ ONLY'\n\
                 step login mysql \"$@\" -e 'SELECT 1' || exit 0\n",
                port = t.port,
            ));
            if needs.databases {
                s.push_str("step databases mysql \"$@\" -e 'SHOW DATABASES'\n");
            }
            if let Some(query) = &needs.query {
                s.push_str(&format!(
                    "step query mysql \"$@\" -e {}\n",
                    shell_quote(&format!("START TRANSACTION READ ONLY; {query}; ROLLBACK"))
                ));
            }
        }
        Protocol::Postgresql => {
            let database = shell_quote(q.input("database").unwrap_or("postgres"));
            s.push_str(&format!(
                "need psql\n\
                 PGPASSWORD={secret}; PGCONNECT_TIMEOUT=5; PGSSLMODE=prefer\n\
                 PGOPTIONS='-c default_transaction_read_only=on'; PGAPPNAME=labgrade\n\
                 export PGPASSWORD PGCONNECT_TIMEOUT PGSSLMODE PGOPTIONS PGAPPNAME\n\
                 set -- -X -w -q -h {host} -p {port} -U {user} -d {database} --csv -t \
                 -P null=NULL -v ON_ERROR_STOP=1\n\
                 step login psql \"$@\" -c 'SHOW server_version' || exit 0\n",
                port = t.port,
            ));
            if needs.databases {
                s.push_str(
                    "step databases psql \"$@\" -c \"SELECT datname FROM pg_database WHERE NOT \
                     datistemplate AND datallowconn AND has_database_privilege(datname, 'CONNECT') \
                     ORDER BY datname\"\n",
                );
            }
            if let Some(query) = &needs.query {
                s.push_str(&format!(
                    "step query psql \"$@\" -c 'BEGIN READ ONLY' -c {} -c 'ROLLBACK'\n",
                    shell_quote(query)
                ));
            }
        }
    }
    Ok(s)
}

#[async_trait::async_trait]
impl Kind for Db {
    fn name(&self) -> &'static str {
        "db"
    }

    fn subject(&self) -> &'static str {
        "host[:port]"
    }

    fn doc(&self) -> &'static str {
        "A database server seen from outside (MySQL, MariaDB, PostgreSQL): what it is, whether a user logs in with a secret, the databases it sees, the value of a read-only query. When the login is refused, the other properties are skipped. From a role the host needs bash, coreutils and the mysql (mariadb-client) or psql (postgresql-client) client; the password reaches them through the environment."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("login")
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        target(q).map(|t| t.host)
    }

    fn script(&self, q: &Query) -> String {
        match target(q).and_then(|t| role_script(q, &t)) {
            Ok(script) => script,
            Err(e) => format!("echo {} >&2; exit 2\n", shell_quote(&e)),
        }
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("the probe stopped: {:?}", output.exit_code),
                reason => reason.to_string(),
            });
        }
        role_facts(q, &target(q)?, &output.stdout_text())
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let t = target(q)?;
        let needs = needs(q, &t)?;
        let mut transcript = String::new();
        let probe = async {
            match t.protocol {
                Protocol::Mysql => mysql_native(q, &t, &needs, &mut transcript).await,
                Protocol::Postgresql => postgres_native(q, &t, &needs, wait, &mut transcript).await,
            }
        };
        let facts = tokio::time::timeout(wait, probe).await.unwrap_or_else(|_| {
            Err(format!(
                "no complete answer from {}:{} within {} s",
                t.host,
                t.port,
                wait.as_secs()
            ))
        });
        match facts {
            Ok(facts) => Ok(Observation { facts, transcript }),
            Err(e) if transcript.is_empty() => Err(e),
            Err(e) => Err(format!("{e}\n{}", transcript.trim_end())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;

    fn query<'a>(
        subject: &'a str,
        inputs: &'a BTreeMap<String, String>,
        wants: &'a [&'a str],
    ) -> Query<'a> {
        Query {
            subject,
            inputs,
            wants,
        }
    }

    fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_port_or_the_protocol_says_which_server() {
        let none = inputs(&[]);
        let t = target(&query("10.0.0.2:5432", &none, &[])).unwrap();
        assert_eq!((t.port, t.protocol), (5432, Protocol::Postgresql));
        let t = target(&query("[::1]:3306", &none, &[])).unwrap();
        assert_eq!((t.host.as_str(), t.protocol), ("::1", Protocol::Mysql));
        let pg = inputs(&[("protocol", "postgresql")]);
        let t = target(&query("db.lab", &pg, &[])).unwrap();
        assert_eq!((t.port, t.protocol), (5432, Protocol::Postgresql));
        let err = target(&query("10.0.0.2:3307", &none, &[])).unwrap_err();
        assert!(err.contains("`protocol: mysql`"), "{err}");
        assert!(target(&query(":3306", &none, &[])).is_err());
        assert!(target(&query("h:0", &none, &[])).is_err());
    }

    #[test]
    fn a_query_is_one_statement() {
        assert_eq!(statement(" SELECT 1 ;\n"), Ok("SELECT 1".to_string()));
        assert!(statement("SELECT 1; DROP TABLE t").is_err());
        assert!(statement(" ; ").is_err());
    }

    #[test]
    fn greetings_tell_mariadb_from_mysql() {
        let mut packet = vec![0, 0, 0, 0, 10];
        packet.extend_from_slice(b"5.5.5-10.11.19-MariaDB-0+deb12u1\0rest");
        packet[0] = (packet.len() - 4) as u8;
        assert_eq!(
            mysql_greeting(&packet),
            Ok(("mariadb".into(), "10.11.19-MariaDB-0+deb12u1".into()))
        );
        let mut packet = vec![0, 0, 0, 0, 10];
        packet.extend_from_slice(b"8.0.36\0");
        packet[0] = (packet.len() - 4) as u8;
        assert_eq!(
            mysql_greeting(&packet),
            Ok(("mysql".into(), "8.0.36".into()))
        );
        let mut refused = vec![0, 0, 0, 0, 0xff, 0x6a, 0x04];
        refused.extend_from_slice(b"Host '10.0.0.9' is not allowed");
        refused[0] = (refused.len() - 4) as u8;
        assert_eq!(
            mysql_greeting(&refused),
            Err(
                "the server refuses this address: ERROR 1130: Host '10.0.0.9' is not allowed"
                    .into()
            )
        );
        assert_eq!(
            mysql_greeting(b"\n"),
            Err("not a MySQL or MariaDB server: it said \".\"".into())
        );
        assert!(postgres_answer(b"N").is_ok());
        assert!(postgres_answer(b"\n").is_err());
    }

    #[test]
    fn client_outputs_are_read() {
        assert_eq!(mysql_unescape(r"a\tb\\c\nd"), "a\tb\\c\nd");
        let lines: Vec<String> = ["42.50,x", "\"multi", "line, \"\"quoted\"\"\",y", "NULL"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            csv_firsts(&lines),
            ["42.50", "multi\nline, \"quoted\"", "NULL"]
        );
    }

    #[test]
    fn a_role_transcript_is_judged() {
        let pairs = [
            ("user", "app"),
            ("secret", "s3cret"),
            ("query", "SELECT total FROM t"),
        ];
        let ins = inputs(&pairs);
        let wants = ["engine", "login", "databases", "value"];
        let q = query("10.0.0.2:3306", &ins, &wants);
        let t = target(&q).unwrap();
        let out = "== greeting 0\n| 10 0 0 0\n| 10 56 46 48 46 51 54 0 1 2\n\
                   == login 0\n| 1\n== databases 0\n| information_schema\n| compta\n\
                   == query 0\n| 42.50\tx\n| 7\ty\n";
        let facts = role_facts(&q, &t, out).unwrap();
        assert_eq!(facts["engine"], Fact::Text("mysql".into()));
        assert_eq!(facts["login"], Fact::Bool(true));
        assert_eq!(
            facts["databases"],
            Fact::List(vec!["information_schema".into(), "compta".into()])
        );
        assert_eq!(facts["value"], Fact::Text("42.50".into()));
        assert_eq!(facts["rows"], Fact::Number(2.0));
        let denied = "== greeting 0\n| 10 0 0 0\n| 10 56 46 48 46 51 54 0 1 2\n== login 1\n\
                      ! ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.3' (using password: YES)\n";
        let facts = role_facts(&q, &t, denied).unwrap();
        assert_eq!(facts["login"], Fact::Bool(false));
        let down = "== greeting 0\n| 10 0 0 0\n| 10 56 46 48 46 51 54 0 1 2\n== login 1\n\
                    ! ERROR 2002 (HY000): Can't connect to server on '10.0.0.2' (115)\n";
        assert_eq!(
            role_facts(&q, &t, down),
            Err("ERROR 2002 (HY000): Can't connect to server on '10.0.0.2' (115)".into())
        );
    }

    #[test]
    fn psql_refusals_and_failures() {
        let pairs = [("user", "app"), ("secret", "s3cret")];
        let ins = inputs(&pairs);
        let q = query("10.0.0.2:5432", &ins, &["login"]);
        let t = target(&q).unwrap();
        let refused = "== login 2\n! psql: error: connection to server at \"10.0.0.2\", port 5432 failed: \
                       FATAL:  password authentication failed for user \"app\"\n";
        assert_eq!(
            role_facts(&q, &t, refused).unwrap()["login"],
            Fact::Bool(false)
        );
        let down = "== login 2\n! psql: error: connection to server at \"10.0.0.2\", port 5432 failed: \
                    Connection refused\n!\tIs the server running on that host and accepting TCP/IP connections?\n";
        assert!(
            role_facts(&q, &t, down)
                .unwrap_err()
                .contains("Is the server running")
        );
        assert_eq!(
            parse_canned(&Db, "10.0.0.2:5432", &pairs, 0, "== login 0\n| 15.14\n", ""),
            Ok(Facts::new()),
            "no fact is reported that the check did not ask for"
        );
    }
}
