//! The `smtp` kind against a real postfix, from the grader and from another role: every verdict asserted.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key, verdict_lines};

/// postfix for lab.example with a local user alice; `MYNETWORKS` and `TLS` make it a closed
/// relay with STARTTLS or an open relay without. Then a port that answers garbage: 2525.
const SETUP: &str = r#"set -e
id alice >/dev/null 2>&1 || useradd -m alice
postconf -e 'myhostname = srv.lab.example' 'mydomain = lab.example' \
  'mydestination = srv.lab.example, lab.example, localhost' 'inet_interfaces = all' \
  'inet_protocols = ipv4' 'mynetworks = MYNETWORKS' 'smtpd_tls_security_level = TLS' \
  'smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem' \
  'smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key' 'smtp_dns_support_level = disabled'
newaliases
systemctl start postfix
systemd-run --quiet --unit=lg-garbage /usr/bin/systemd-socket-activate --listen=2525 --accept --inetd /bin/echo
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null && exit 0; sleep 0.1; done
echo postfix does not answer >&2; exit 1
"#;

fn setup(closed: bool) -> String {
    SETUP
        .replace(
            "MYNETWORKS",
            if closed { "127.0.0.0/8" } else { "0.0.0.0/0" },
        )
        .replace("TLS", if closed { "may" } else { "none" })
}

const LAB: &str = r#"lab: mail
title: Serveur de messagerie
block: 5
hosts:
  srv: {}
  client: {}
tasks:
  - id: smtp
    title: postfix
    points: 4
    partial: true
    checks:
      - smtp: "{{ hosts.srv.address }}"
        banner: { contains: ESMTP }
      - smtp: "{{ hosts.srv.address }}:25"
        extensions: { contains: [PIPELINING, STARTTLS] }
      - smtp: "{{ hosts.srv.address }}"
        starttls: true
      - smtp: "{{ hosts.srv.address }}"
        relay_denied: true
      - smtp: "{{ hosts.srv.address }}"
        to: alice@lab.example
        accepts: true
      - smtp: "{{ hosts.srv.address }}"
        to: nosuchuser@lab.example
        accepts: false
  - id: from-client
    title: vu du client
    points: 2
    checks:
      - smtp: "{{ hosts.srv.address }}"
        from: client
        relay_denied: true
        extensions: { contains: STARTTLS }
      - smtp: "{{ hosts.srv.address }}"
        from: client
        to: alice@lab.example
        accepts: true
      - smtp: "{{ hosts.srv.address }}"
        from: client
        starttls: true
  - id: unanswered
    title: arrêté ou pas SMTP
    points: 1
    checks:
      - smtp: "{{ hosts.client.address }}"
        timeout: 4s
      - smtp: "{{ hosts.srv.address }}:2525"
        timeout: 4s
      - smtp: "{{ hosts.srv.address }}:2525"
        from: client
        timeout: 10s
"#;

fn results(dir: &Path, args: &[&str]) -> (i32, String, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(dir.join("out"))
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(dir.join("out/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap(),
        stdout,
        serde_json::from_str(&text).unwrap(),
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
    let (code, stdout, results) = results(
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
    let verdicts = verdict_lines(&results);
    (code, stdout, verdicts)
}

#[test]
fn smtp_from_the_grader_and_from_a_role() {
    let client = TestHost::start("mail-client", "");
    let good = TestHost::start("mail-good", &setup(true));
    let faulty = TestHost::start("mail-faulty", &setup(false));
    let (code, stdout, verdicts) = grade(&good, &client);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    assert_eq!(
        v[..9],
        [
            "smtp from grader: pass ",
            "smtp from grader: pass ",
            "smtp from grader: pass ",
            "smtp from grader: pass ",
            "smtp from grader: pass ",
            "smtp from grader: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: error could not read the host's answer: starttls is checked from the grader only",
        ],
        "{stdout}"
    );
    let down = format!(
        "unanswered from grader: error connect to {}:25: Connection refused",
        client.address
    );
    assert!(v[9].starts_with(&down), "{stdout}");
    assert!(
        v[10].starts_with("unanswered from grader: error "),
        "{stdout}"
    );
    assert!(
        v[11].starts_with("unanswered from client: error "),
        "{stdout}"
    );
    assert_eq!(code, 3, "{stdout}");

    let (code, stdout, verdicts) = grade(&faulty, &client);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    let exts =
        "PIPELINING, SIZE, VRFY, ETRN, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING";
    assert_eq!(
        v[..9],
        [
            "smtp from grader: pass ".to_string(),
            format!("smtp from grader: fail extensions: expected includes PIPELINING and includes STARTTLS, found {exts}"),
            "smtp from grader: fail starttls: expected true, found false".to_string(),
            "smtp from grader: fail relay_denied: expected true, found false".to_string(),
            "smtp from grader: pass ".to_string(),
            "smtp from grader: pass ".to_string(),
            format!("from-client from client: fail relay_denied: expected true, found false; extensions: expected includes STARTTLS, found {exts}"),
            "from-client from client: pass ".to_string(),
            "from-client from client: error could not read the host's answer: starttls is checked from the grader only".to_string(),
        ],
        "{stdout}"
    );
    assert_eq!(code, 3, "{stdout}");
}
