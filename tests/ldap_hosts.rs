//! The `ldap` kind against a real OpenLDAP slapd, from the grader and from another role: every verdict asserted.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key};

/// The lab's admin password: given to labgrade as a secret, and never in its results.
const ADMIN_PASSWORD: &str = "Adm1n-Lab-s3cret";

/// slapd built from scratch: an mdb database for dc=lab,dc=example under /var/lib/lg-ldap,
/// the people alice (and bob), the posixGroup compta (MEMBERS), an ACL (ACL), TLS with the
/// snakeoil certificate or none (TLS). Then a port that answers garbage: 3899.
const SETUP: &str = r#"set -e
D=/var/lib/lg-ldap
mkdir -p "$D/db"
ADMIN=$(slappasswd -s 'ADMIN_PW')
ALICE=$(slappasswd -s alice-pw)
cat > "$D/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $D/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLS
database mdb
suffix "dc=lab,dc=example"
rootdn "cn=admin,dc=lab,dc=example"
rootpw $ADMIN
directory $D/db
ACL
access to * by * read
CONF
cat > "$D/data.ldif" <<LDIF
dn: dc=lab,dc=example
objectClass: dcObject
objectClass: organization
o: lab
dc: lab

dn: ou=people,dc=lab,dc=example
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=lab,dc=example
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=lab,dc=example
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice Martin
sn: Martin
uidNumber: 2001
gidNumber: 5000
homeDirectory: /home/alice
userPassword: $ALICE

BOB
dn: cn=compta,ou=groups,dc=lab,dc=example
objectClass: posixGroup
cn: compta
gidNumber: 5000
MEMBERS
LDIF
slapadd -q -f "$D/slapd.conf" -l "$D/data.ldif"
systemd-run --quiet --unit=lg-slapd /usr/sbin/slapd -d 0 -f "$D/slapd.conf" -h 'URLS'
systemd-run --quiet --unit=lg-garbage /usr/bin/systemd-socket-activate --listen=3899 --accept --inetd /bin/echo
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/389) 2>/dev/null && exit 0; sleep 0.1; done
echo slapd does not answer >&2; journalctl -u lg-slapd --no-pager >&2; exit 1
"#;

const BOB: &str = "dn: uid=bob,ou=people,dc=lab,dc=example
objectClass: inetOrgPerson
objectClass: posixAccount
uid: bob
cn: Bob Durand
sn: Durand
uidNumber: 2002
gidNumber: 5000
homeDirectory: /home/bob
";

/// The answer key, or a directory with every fault: another admin password, bob missing,
/// alice not in compta, passwords readable by anyone, no TLS at all.
fn setup(good: bool) -> String {
    if good {
        SETUP
            .replace("ADMIN_PW", ADMIN_PASSWORD)
            .replace("BOB\n", &format!("{BOB}\n"))
            .replace("MEMBERS", "memberUid: alice\nmemberUid: bob")
            .replace(
                "ACL\n",
                "access to attrs=userPassword by self write by anonymous auth by * none\n",
            )
            .replace(
                "TLS\n",
                "TLSCertificateFile /etc/ssl/certs/ssl-cert-snakeoil.pem\n\
                 TLSCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key\n",
            )
            .replace("URLS", "ldap:/// ldaps:///")
    } else {
        SETUP
            .replace("ADMIN_PW", "not-the-lab-password")
            .replace("BOB\n", "")
            .replace("MEMBERS", "memberUid: bob")
            .replace("ACL\n", "")
            .replace("TLS\n", "")
            .replace("URLS", "ldap:///")
    }
}

const LAB: &str = r#"lab: annuaire
title: Annuaire LDAP
block: 4
hosts:
  srv: {}
  client: {}
tasks:
  - id: annuaire
    title: slapd
    points: 10
    partial: true
    checks:
      - ldap: "ldap://{{ hosts.srv.address }}"
      - ldap: "ldap://{{ hosts.srv.address }}:389"
        bind_dn: cn=admin,dc=lab,dc=example
        secret: admin
        bind: true
      - ldap: "ldap://{{ hosts.srv.address }}"
        bind_dn: cn=admin,dc=lab,dc=example
        secret: admin
        base: dc=lab,dc=example
        filter: (cn=compta)
        attribute: memberUid
        values: { contains: alice }
      - ldap: "ldap://{{ hosts.srv.address }}"
        base: ou=people,dc=lab,dc=example
        filter: (uid=bob)
        found: true
      - ldap: "ldap://{{ hosts.srv.address }}"
        base: ou=groups,dc=lab,dc=example
        scope: one
        filter: (&(objectClass=posixGroup)(cn=compta))
        attribute: memberUid
        values: { contains: alice }
        entries: cn=compta,ou=groups,dc=lab,dc=example
      - ldap: "ldap://{{ hosts.srv.address }}"
        base: dc=lab,dc=example
        filter: (objectClass=posixAccount)
        count: 2
      - ldap: "ldap://{{ hosts.srv.address }}"
        base: dc=lab,dc=example
        filter: (uid=alice)
        attribute: userPassword
        values: { equals: [] }
      - ldap: "ldap://{{ hosts.srv.address }}"
        tls: starttls
        encrypted: true
      - ldap: "ldaps://{{ hosts.srv.address }}"
        base: dc=lab,dc=example
        filter: (uid=alice)
        found: true
        encrypted: true
      - ldap: "ldap://{{ hosts.srv.address }}"
        base: ou=nobody,dc=lab,dc=example
        found: false
  - id: from-client
    title: vu du client
    points: 4
    partial: true
    checks:
      - ldap: "ldap://{{ hosts.srv.address }}"
        from: client
        tls: starttls
        bind_dn: cn=admin,dc=lab,dc=example
        secret: admin
        base: dc=lab,dc=example
        filter: (cn=compta)
        attribute: memberUid
        values: { contains: alice }
      - ldap: "ldap://{{ hosts.srv.address }}"
        from: client
        base: dc=lab,dc=example
        filter: (objectClass=posixAccount)
        count: 2
        entries: uid=alice,ou=people,dc=lab,dc=example
      - ldap: "ldap://{{ hosts.srv.address }}"
        from: client
        bind_dn: cn=admin,dc=lab,dc=example
        secret: admin
        bind: true
      - ldap: "ldaps://{{ hosts.srv.address }}"
        from: client
        base: ou=people,dc=lab,dc=example
        filter: (uid=bob)
        found: true
  - id: unanswered
    title: arrêté ou pas LDAP
    points: 1
    checks:
      - ldap: "ldap://{{ hosts.client.address }}"
        timeout: 4s
      - ldap: "ldap://{{ hosts.srv.address }}:3899"
        timeout: 4s
      - ldap: "ldap://{{ hosts.srv.address }}:3899"
        from: client
        timeout: 10s
      - ldap: "ldap://{{ hosts.client.address }}"
        from: client
        timeout: 10s
"#;

fn results(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(dir.join("out"))
        .env_remove("SSH_AUTH_SOCK")
        .env("LABGRADE_SECRET_ADMIN", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(dir.join("out/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), stdout, text)
}

/// Grade both roles; every check's verdict, first line only, and the exit code.
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
    let (code, stdout, text) = results(
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
    assert!(
        !text.contains(ADMIN_PASSWORD),
        "the secret is in results.json"
    );
    let results: Value = serde_json::from_str(&text).unwrap();
    let mut verdicts = Vec::new();
    for task in results["labs"][0]["tasks"].as_array().unwrap() {
        for check in task["checks"].as_array().unwrap() {
            let line = format!(
                "{} from {}: {} {}",
                task["id"].as_str().unwrap(),
                check["role"].as_str().unwrap(),
                check["verdict"].as_str().unwrap(),
                check["reason"].as_str().unwrap_or("")
            );
            verdicts.push(line.lines().next().unwrap().to_string());
        }
    }
    (code, stdout, verdicts)
}

/// The checks that end in error whatever the directory: nothing listens, or garbage answers.
fn assert_unanswered(v: &[String], srv: &TestHost, client: &TestHost, stdout: &str) {
    assert_eq!(
        v[14..],
        [
            format!(
                "unanswered from grader: error connect to ldap://{}:389: I/O error: Connection refused (os error 111)",
                client.address
            ),
            "unanswered from grader: error bind as anonymous: the server ended the connection without an LDAP answer".to_string(),
            "unanswered from client: error could not read the host's answer: ldap_result: Can't contact LDAP server (-1)".to_string(),
            "unanswered from client: error could not read the host's answer: ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)".to_string(),
        ],
        "{stdout}\n(srv {})",
        srv.address
    );
}

#[test]
fn ldap_from_the_grader_and_from_a_role() {
    let client = TestHost::start("ldap-client", "");
    let good = TestHost::start("ldap-good", &setup(true));
    let faulty = TestHost::start("ldap-faulty", &setup(false));

    let (code, stdout, v) = grade(&good, &client);
    let mut expected = vec!["annuaire from grader: pass "; 10];
    expected.extend(["from-client from client: pass "; 4]);
    assert_eq!(v[..14], expected, "{stdout}");
    assert_unanswered(&v, &good, &client, &stdout);
    assert_eq!(code, 3, "{stdout}");

    let (code, stdout, v) = grade(&faulty, &client);
    let srv = &faulty.address;
    assert_eq!(
        v[..6],
        [
            "annuaire from grader: pass ".to_string(),
            "annuaire from grader: fail bind: expected true, found false".to_string(),
            format!("annuaire from grader: fail ldap://{srv}: bind is false"),
            "annuaire from grader: fail found: expected true, found false".to_string(),
            "annuaire from grader: fail values: expected includes alice, found bob".to_string(),
            "annuaire from grader: fail count: expected 2, found 1".to_string(),
        ],
        "{stdout}"
    );
    assert!(
        v[6].starts_with("annuaire from grader: fail values: expected exactly [], found {SSHA}"),
        "{}\n{stdout}",
        v[6]
    );
    assert_eq!(
        v[7..14],
        [
            "annuaire from grader: fail encrypted: expected true, found false".to_string(),
            format!(
                "annuaire from grader: error connect to ldaps://{srv}:636: I/O error: Connection refused (os error 111)"
            ),
            "annuaire from grader: pass ".to_string(),
            format!("from-client from client: fail ldap://{srv}: bind is false"),
            "from-client from client: fail count: expected 2, found 1".to_string(),
            "from-client from client: fail bind: expected true, found false".to_string(),
            "from-client from client: error could not read the host's answer: ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)".to_string(),
        ],
        "{stdout}"
    );
    assert_unanswered(&v, &faulty, &client, &stdout);
    assert_eq!(code, 3, "{stdout}");
    // The role's probes left nothing behind, the password file least of all.
    assert_eq!(client.exec_ok("find /tmp -maxdepth 1 -name 'tmp.*'"), "");
}
