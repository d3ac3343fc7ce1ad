//! The `db` kind against a real MariaDB and a real PostgreSQL, from the grader and from another role: every verdict asserted.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key, verdict_lines};

const PASSWORD: &str = "Lab-db-7f3a9c-pass";
const WRONG: &str = "Not-the-pass-51e0";

/// MariaDB and PostgreSQL on one host, both listening on every address, with a database
/// `compta` whose invoice 1 totals 42.50, and a user `app` who may read it from 10.213.0.0/16.
/// The faulty host differs in three ways: invoice 1 totals 13.00, MariaDB's `admin` may log
/// in from localhost only, and PostgreSQL has no database `compta`.
/// Then a port that answers garbage (3307) and one that accepts and never speaks (3308).
const SETUP: &str = r#"set -e
printf '[mysqld]\nbind-address = 0.0.0.0\nskip-name-resolve\n' > /etc/mysql/mariadb.conf.d/99-lab.cnf
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
systemctl start mariadb
mysql <<'SQL'
CREATE DATABASE compta;
CREATE TABLE compta.factures (id INT PRIMARY KEY, total DECIMAL(8,2));
INSERT INTO compta.factures VALUES (1, @TOTAL@);
CREATE USER 'app'@'10.213.%' IDENTIFIED BY '@PASS@';
GRANT SELECT ON compta.* TO 'app'@'10.213.%';
CREATE USER 'admin'@'@ADMINHOST@' IDENTIFIED BY '@PASS@';
SQL
V=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
[ -d /etc/postgresql/$V/main ] || pg_createcluster $V main >/dev/null
mkdir -p /etc/postgresql/$V/main/conf.d
echo "listen_addresses = '*'" > /etc/postgresql/$V/main/conf.d/lab.conf
echo 'host all all 10.213.0.0/16 scram-sha-256' >> /etc/postgresql/$V/main/pg_hba.conf
systemctl start postgresql@$V-main
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE app LOGIN PASSWORD '@PASS@';
CREATE DATABASE @PGDB@;
\c @PGDB@
CREATE TABLE factures (id int PRIMARY KEY, total numeric(8,2));
INSERT INTO factures VALUES (1, @TOTAL@);
GRANT SELECT ON factures TO app;
SQL
systemd-run --quiet --unit=lg-garbage /usr/bin/systemd-socket-activate --listen=3307 --accept --inetd /bin/echo
systemd-run --quiet --unit=lg-silent /usr/bin/systemd-socket-activate --listen=3308 --accept --inetd /bin/sleep 60
"#;

fn setup(good: bool) -> String {
    SETUP
        .replace("@PASS@", PASSWORD)
        .replace("@TOTAL@", if good { "42.50" } else { "13.00" })
        .replace("@ADMINHOST@", if good { "10.213.%" } else { "localhost" })
        .replace("@PGDB@", if good { "compta" } else { "ventes" })
}

const LAB: &str = r#"lab: db
title: Serveurs de bases de données
block: 5
hosts:
  srv: {}
  client: {}
tasks:
  - id: mariadb
    title: MariaDB
    points: 4
    partial: true
    checks:
      - db: "{{ hosts.srv.address }}:3306"
        engine: mariadb
        version: { matches: '^\d+\.\d+\.\d+-MariaDB' }
      - db: "{{ hosts.srv.address }}:3306"
        user: app
        secret: db-app
        login: true
        databases: compta
      - db: "{{ hosts.srv.address }}:3306"
        user: app
        secret: db-app
        database: compta
        query: SELECT total FROM factures WHERE id = 1
        value: "42.50"
        rows: 1
      - db: "{{ hosts.srv.address }}:3306"
        user: app
        secret: db-wrong
        login: false
      - db: "{{ hosts.srv.address }}:3306"
        user: admin
        secret: db-app
  - id: postgresql
    title: PostgreSQL
    points: 4
    partial: true
    checks:
      - db: "{{ hosts.srv.address }}"
        protocol: postgresql
        engine: postgresql
      - db: "{{ hosts.srv.address }}:5432"
        user: app
        secret: db-app
        version: { matches: '^1\d' }
        databases: { contains: compta, not_contains: template0 }
      - db: "{{ hosts.srv.address }}:5432"
        user: app
        secret: db-app
        database: compta
        query: "SELECT total FROM factures WHERE id = 1;"
        value: "42.50"
      - db: "{{ hosts.srv.address }}:5432"
        user: app
        secret: db-wrong
        login: false
  - id: from-client
    title: vu du client
    points: 2
    checks:
      - db: "{{ hosts.srv.address }}:3306"
        from: client
        engine: mariadb
        version: { contains: MariaDB }
      - db: "{{ hosts.srv.address }}:3306"
        from: client
        user: app
        secret: db-app
        database: compta
        query: SELECT total FROM factures WHERE id = 1
        value: "42.50"
        databases: compta
      - db: "{{ hosts.srv.address }}:3306"
        from: client
        user: app
        secret: db-wrong
        login: false
      - db: "{{ hosts.srv.address }}:3306"
        from: client
        user: admin
        secret: db-app
      - db: "{{ hosts.srv.address }}:5432"
        from: client
        engine: postgresql
      - db: "{{ hosts.srv.address }}:5432"
        from: client
        user: app
        secret: db-app
        version: { matches: '^1\d' }
        databases: { contains: compta, not_contains: template0 }
      - db: "{{ hosts.srv.address }}:5432"
        from: client
        user: app
        secret: db-app
        database: compta
        query: SELECT total FROM factures WHERE id = 1
        value: "42.50"
        rows: 1
      - db: "{{ hosts.srv.address }}:5432"
        from: client
        user: app
        secret: db-wrong
        login: false
  - id: unanswered
    title: arrêté, muet ou pas une base
    points: 1
    checks:
      - db: "{{ hosts.client.address }}:3306"
        engine: mariadb
        timeout: 4s
      - db: "{{ hosts.client.address }}:5432"
        user: app
        secret: db-app
        timeout: 4s
      - db: "{{ hosts.srv.address }}:3307"
        protocol: mysql
        engine: mariadb
        timeout: 4s
      - db: "{{ hosts.srv.address }}:3307"
        protocol: mysql
        user: app
        secret: db-app
        timeout: 4s
      - db: "{{ hosts.srv.address }}:3307"
        protocol: postgresql
        user: app
        secret: db-app
        timeout: 4s
      - db: "{{ hosts.srv.address }}:3308"
        protocol: mysql
        engine: mariadb
        timeout: 2s
      - db: "{{ hosts.srv.address }}:3307"
        engine: mariadb
      - db: "{{ hosts.client.address }}:3306"
        from: client
        user: app
        secret: db-app
        timeout: 10s
      - db: "{{ hosts.srv.address }}:3307"
        from: client
        protocol: mysql
        engine: mariadb
        timeout: 10s
      - db: "{{ hosts.srv.address }}:3307"
        from: client
        protocol: postgresql
        engine: postgresql
        timeout: 10s
      - db: "{{ hosts.srv.address }}:3307"
        from: client
        protocol: postgresql
        user: app
        secret: db-app
        timeout: 10s
"#;

fn results(dir: &Path, args: &[&str]) -> (i32, String, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(dir.join("out"))
        .env_remove("SSH_AUTH_SOCK")
        .env("LABGRADE_SECRET_DB_APP", PASSWORD)
        .env("LABGRADE_SECRET_DB_WRONG", WRONG)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(dir.join("out/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap(),
        stdout,
        serde_json::from_str(&text).unwrap(),
        text,
    )
}

fn grade(srv: &TestHost, client: &TestHost) -> (i32, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), LAB).unwrap();
    let known = dir.path().join("known_hosts");
    std::fs::write(
        &known,
        format!(
            "{}\n{}\n",
            srv.known_hosts_line(),
            client.known_hosts_line()
        ),
    )
    .unwrap();
    let key = grader_key();
    let (code, stdout, results, text) = results(
        dir.path(),
        &[
            dir.path().join("lab.yaml").to_str().unwrap(),
            "--host",
            &format!("srv=root@{}", srv.address),
            "--host",
            &format!("client=root@{}", client.address),
            "--identity",
            key.to_str().unwrap(),
            "--known-hosts",
            known.to_str().unwrap(),
        ],
    );
    for secret in [PASSWORD, WRONG] {
        assert!(
            !text.contains(secret),
            "a password in results.json:\n{text}"
        );
    }
    assert!(text.contains("[secret db-app]"), "{text}");
    let verdicts = verdict_lines(&results);
    (code, stdout, verdicts)
}

/// The first line of each verdict: a reason's transcript follows on the next lines.
fn firsts(verdicts: &[String]) -> Vec<&str> {
    verdicts.iter().map(|v| v.lines().next().unwrap()).collect()
}

#[test]
fn db_from_the_grader_and_from_a_role() {
    let client = TestHost::start("db-client", "");
    let good = TestHost::start("db-good", &setup(true));
    let faulty = TestHost::start("db-faulty", &setup(false));

    let (code, stdout, verdicts) = grade(&good, &client);
    let v = firsts(&verdicts);
    assert_eq!(
        v[..17],
        [
            "mariadb from grader: pass ",
            "mariadb from grader: pass ",
            "mariadb from grader: pass ",
            "mariadb from grader: pass ",
            "mariadb from grader: pass ",
            "postgresql from grader: pass ",
            "postgresql from grader: pass ",
            "postgresql from grader: pass ",
            "postgresql from grader: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
        ],
        "{stdout}"
    );
    let (c, s) = (&client.address, &good.address);
    let expected_errors = [
        format!("unanswered from grader: error connect to {c}:3306: Connection refused (os error 111)"),
        format!("unanswered from grader: error logging in to {c}:5432: error connecting to server: Connection refused (os error 111)"),
        "unanswered from grader: error not a MySQL or MariaDB server: it said \".\"".to_string(),
        format!("unanswered from grader: error logging in to {s}:3307: Input/output error: "),
        format!("unanswered from grader: error logging in to {s}:3307: error communicating with the server: "),
        format!("unanswered from grader: error no complete answer from {s}:3308 within 2 s"),
        format!("unanswered from grader: error `{s}:3307`: say which server this is with `protocol: mysql` or `protocol: postgresql` (only ports 3306 and 5432 tell)"),
        format!("unanswered from client: error could not read the host's answer: ERROR 2002 (HY000): Can't connect to server on '{c}' (115)"),
        "unanswered from client: error could not read the host's answer: not a MySQL or MariaDB server: it said \".\"".to_string(),
        "unanswered from client: error could not read the host's answer: not a PostgreSQL server: it answered \"\\n\"".to_string(),
        format!("unanswered from client: error could not read the host's answer: psql: error: connection to server at \"{s}\", port 3307 failed: received invalid response to SSL negotiation"),
    ];
    for (found, want) in v[17..].iter().zip(&expected_errors) {
        assert!(
            found.starts_with(want.as_str()),
            "{found}\nis not\n{want}\n{stdout}"
        );
    }
    assert_eq!(v.len(), 17 + expected_errors.len(), "{stdout}");
    assert_eq!(code, 3, "{stdout}");

    let (code, stdout, verdicts) = grade(&faulty, &client);
    let v = firsts(&verdicts);
    let f = &faulty.address;
    assert_eq!(
        v[..17],
        [
            "mariadb from grader: pass ".to_string(),
            "mariadb from grader: pass ".to_string(),
            "mariadb from grader: fail value: expected \"42.50\", found \"13.00\"".to_string(),
            "mariadb from grader: pass ".to_string(),
            "mariadb from grader: fail login: expected true, found false".to_string(),
            "postgresql from grader: pass ".to_string(),
            "postgresql from grader: fail databases: expected includes compta and excludes template0, found postgres, ventes".to_string(),
            format!("postgresql from grader: fail {f}:5432: login is false"),
            "postgresql from grader: pass ".to_string(),
            "from-client from client: pass ".to_string(),
            "from-client from client: fail value: expected \"42.50\", found \"13.00\"".to_string(),
            "from-client from client: pass ".to_string(),
            "from-client from client: fail login: expected true, found false".to_string(),
            "from-client from client: pass ".to_string(),
            "from-client from client: fail databases: expected includes compta and excludes template0, found postgres, ventes".to_string(),
            format!("from-client from client: fail {f}:5432: login is false"),
            "from-client from client: pass ".to_string(),
        ],
        "{stdout}"
    );
    assert_eq!(code, 3, "{stdout}");
}
