//! The `imap` and `pop3` kinds against a real dovecot, from the grader and from another role: every verdict asserted, and no password in the results.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key};

/// alice's password has what IMAP must quote (a space, `"`, `\`), what a shell must not see
/// (`'`, `$(...)`), and 8-bit UTF-8, which IMAP sends as a literal.
const ALICE: &str = r#"Wh1te "rabbit\ é'$(id)Kx7q"#;
const BOB: &str = "b0b-Pl41n-pass";

/// dovecot with maildirs: on the good host, bob has two messages in INBOX and the mailboxes
/// Sent and Envoyés; on the faulty one, an empty INBOX alone. The good host offers STARTTLS and IMAPS/POP3S with the snakeoil
/// certificate and refuses plain-text logins from outside (dovecot's default); the faulty
/// one has no TLS (plain IMAP and POP3 on 993 and 995), allows plain-text logins, and knows
/// alice by an old password. Then a port that answers garbage: 2143.
const SETUP: &str = r#"set -e
useradd -m alice; useradd -m bob
printf '%s\n' "alice:$ALICE_PASSWORD" 'bob:BOB_PASSWORD' | chpasswd
h=/home/bob/Maildir
mkdir -p $h/cur $h/new $h/tmp
for box in BOXES; do mkdir -p "$h/.$box/cur" "$h/.$box/new" "$h/.$box/tmp"; done
for m in MESSAGES; do printf 'From: a@lab.example\nSubject: %s\n\nhello\n' $m > $h/new/170000000$m.M${m}P1.srv; done
chown -R bob: $h
cat > /etc/dovecot/conf.d/99-lab.conf <<'END'
mail_location = maildir:~/Maildir
CONFIG
END
systemctl start dovecot
systemd-run --quiet --unit=lg-garbage /usr/bin/systemd-socket-activate --listen=2143 --accept --inetd /bin/echo
for port in 143 110 993 995 2143; do
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && continue 2; sleep 0.1; done
  echo "nothing answers on $port" >&2; journalctl -u dovecot --no-pager >&2; exit 1
done
"#;

const GOOD: &str = "ssl = yes
ssl_cert = </etc/ssl/certs/ssl-cert-snakeoil.pem
ssl_key = </etc/ssl/private/ssl-cert-snakeoil.key";

const FAULTY: &str = "ssl = no
disable_plaintext_auth = no
service imap-login {
  inet_listener imaps {
    port = 993
    ssl = no
  }
}
service pop3-login {
  inet_listener pop3s {
    port = 995
    ssl = no
  }
}";

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn setup(good: bool) -> String {
    let alice = if good { ALICE } else { "an-old-password" };
    format!("ALICE_PASSWORD={}\n{}", shell_quote(alice), SETUP)
        .replace("BOB_PASSWORD", BOB)
        .replace("BOXES", if good { "Sent Envoy\\&AOk-s" } else { "" })
        .replace("MESSAGES", if good { "1 2" } else { "" })
        .replace("CONFIG", if good { GOOD } else { FAULTY })
}

const LAB: &str = r#"lab: mailbox
title: Messagerie IMAP et POP3
block: 5
hosts:
  srv: {}
  client: {}
tasks:
  - id: imap
    title: dovecot IMAP
    points: 4
    partial: true
    checks:
      - imap: "{{ hosts.srv.address }}"
        banner: { contains: Dovecot }
        capabilities: { contains: [IMAP4REV1, STARTTLS, LOGINDISABLED] }
      - imap: "{{ hosts.srv.address }}"
        starttls: true
      - imap: "{{ hosts.srv.address }}"
        tls: true
      - imap: "{{ hosts.srv.address }}"
        user: alice
        secret: alice-mail
      - imap: "{{ hosts.srv.address }}:143"
        user: bob
        secret: bob-mail
        mailboxes: { contains: [INBOX, Sent, Envoyés] }
      - imap: "{{ hosts.srv.address }}"
        security: none
        user: bob
        secret: bob-mail
        login: false
      - imap: "{{ hosts.srv.address }}"
        security: tls
        user: bob
        secret: alice-mail
        login: false
  - id: pop3
    title: dovecot POP3
    points: 3
    partial: true
    checks:
      - pop3: "{{ hosts.srv.address }}"
        banner: { contains: Dovecot }
        starttls: true
      - pop3: "{{ hosts.srv.address }}:995"
        tls: true
      - pop3: "{{ hosts.srv.address }}"
        user: alice
        secret: alice-mail
        login: true
      - pop3: "{{ hosts.srv.address }}"
        user: bob
        secret: bob-mail
        messages: 2
  - id: from-client
    title: vu du client
    points: 3
    partial: true
    checks:
      - imap: "{{ hosts.srv.address }}"
        from: client
        banner: { contains: Dovecot }
        starttls: true
      - imap: "{{ hosts.srv.address }}"
        from: client
        tls: true
      - imap: "{{ hosts.srv.address }}"
        from: client
        user: alice
        secret: alice-mail
        login: true
      - imap: "{{ hosts.srv.address }}"
        from: client
        user: bob
        secret: bob-mail
        mailboxes: { contains: [INBOX, Sent, Envoyés] }
      - imap: "{{ hosts.srv.address }}"
        from: client
        security: none
        user: bob
        secret: bob-mail
        login: false
      - pop3: "{{ hosts.srv.address }}"
        from: client
        capabilities: { contains: [STLS, SASL] }
        starttls: true
      - pop3: "{{ hosts.srv.address }}"
        from: client
        security: tls
        user: alice
        secret: alice-mail
        login: true
      - pop3: "{{ hosts.srv.address }}"
        from: client
        user: bob
        secret: bob-mail
        messages: 2
  - id: unanswered
    title: arrêté ou pas un serveur de messagerie
    points: 1
    checks:
      - imap: "{{ hosts.client.address }}"
        banner: { contains: Dovecot }
        timeout: 4s
      - pop3: "{{ hosts.client.address }}"
        from: client
        banner: { contains: Dovecot }
        timeout: 10s
      - imap: "{{ hosts.srv.address }}:2143"
        banner: { contains: Dovecot }
        timeout: 4s
      - pop3: "{{ hosts.srv.address }}:2143"
        banner: { contains: Dovecot }
        timeout: 4s
      - imap: "{{ hosts.srv.address }}:2143"
        from: client
        user: alice
        secret: alice-mail
        timeout: 10s
      - pop3: "{{ hosts.srv.address }}:2143"
        from: client
        banner: { contains: Dovecot }
        timeout: 10s
"#;

fn results(dir: &Path, args: &[&str]) -> (i32, String, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(dir.join("out"))
        .env_remove("SSH_AUTH_SOCK")
        .env("LABGRADE_SECRET_ALICE_MAIL", ALICE)
        .env("LABGRADE_SECRET_BOB_MAIL", BOB)
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

/// Every string in a JSON value, keys included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => {}
    }
}

/// Grade, then make sure that neither password was written anywhere.
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
    let mut all = Vec::new();
    strings(&results, &mut all);
    for s in &all {
        assert!(
            !s.contains(ALICE) && !s.contains(BOB) && !s.contains("Kx7q"),
            "a password in results.json: {s}"
        );
    }
    assert!(!text.contains("Kx7q") && !text.contains(BOB));
    // The transcripts show where the passwords went: quoted, as a literal, after PASS.
    for sent in [
        "LOGIN \"bob\" [secret]\n",
        "LOGIN \"alice\" {27}\nS: + OK\nC: [secret]\n",
        "C: PASS [secret]\n",
    ] {
        assert!(
            all.iter().any(|s| s.contains(sent)),
            "no {sent:?} in {text}"
        );
    }
    assert!(
        all.iter().any(|s| s.contains("[secret alice-mail]")),
        "the role's script carried alice's password, redacted"
    );
    // What varies between runs and machines: curl's timings and OpenSSL's version.
    let varies = regex::Regex::new(r"after \d+ ms|OpenSSL/[0-9.]+").unwrap();
    let mut verdicts = Vec::new();
    for task in results["labs"][0]["tasks"].as_array().unwrap() {
        for check in task["checks"].as_array().unwrap() {
            verdicts.push(format!(
                "{} from {}: {} {}",
                task["id"].as_str().unwrap(),
                check["role"].as_str().unwrap(),
                check["verdict"].as_str().unwrap(),
                varies.replace_all(
                    check["reason"].as_str().unwrap_or(""),
                    |c: &regex::Captures| {
                        if c[0].starts_with("after") {
                            "after N ms"
                        } else {
                            "OpenSSL"
                        }
                    }
                )
            ));
        }
    }
    (code, stdout, verdicts)
}

#[test]
fn imap_and_pop3_from_the_grader_and_from_a_role() {
    let client = TestHost::start("mailbox-client", "");
    let good = TestHost::start("mailbox-good", &setup(true));
    let faulty = TestHost::start("mailbox-faulty", &setup(false));
    let (code, stdout, verdicts) = grade(&good, &client);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    let mut expected = vec!["imap from grader: pass ".to_string(); 7];
    expected.extend(vec!["pop3 from grader: pass ".to_string(); 4]);
    expected.extend(vec!["from-client from client: pass ".to_string(); 8]);
    expected.extend(unanswered(&client));
    assert_eq!(v, expected, "{stdout}");
    assert_eq!(code, 3, "{stdout}");

    let (code, stdout, verdicts) = grade(&faulty, &client);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    let caps = "IMAP4REV1, SASL-IR, LOGIN-REFERRALS, ID, ENABLE, IDLE, LITERAL+, AUTH=PLAIN";
    let boxes =
        "mailboxes: expected includes INBOX and includes Sent and includes Envoyés, found INBOX";
    let mut expected = vec![
        format!("imap from grader: fail capabilities: expected includes IMAP4REV1 and includes STARTTLS and includes LOGINDISABLED, found {caps}"),
        "imap from grader: fail starttls: expected true, found false".to_string(),
        "imap from grader: fail tls: expected true, found false".to_string(),
        "imap from grader: fail login: expected true, found false".to_string(),
        format!("imap from grader: fail {boxes}"),
        "imap from grader: fail login: expected false, found true".to_string(),
        format!("imap from grader: error {}:993: TLS handshake: received corrupt message of type InvalidContentType", faulty.address),
        "pop3 from grader: fail starttls: expected true, found false".to_string(),
        "pop3 from grader: fail tls: expected true, found false".to_string(),
        "pop3 from grader: fail login: expected true, found false".to_string(),
        "pop3 from grader: fail messages: expected 2, found 0".to_string(),
        "from-client from client: fail starttls: expected true, found false".to_string(),
        "from-client from client: fail tls: expected true, found false".to_string(),
        "from-client from client: fail login: expected true, found false".to_string(),
        format!("from-client from client: fail {boxes}"),
        "from-client from client: fail login: expected false, found true".to_string(),
        "from-client from client: fail capabilities: expected includes STLS and includes SASL, found CAPA, TOP, UIDL, RESP-CODES, PIPELINING, AUTH-RESP-CODE, USER, SASL; starttls: expected true, found false".to_string(),
        "from-client from client: error could not read the host's answer: curl: (35) OpenSSL: error:0A00010B:SSL routines::wrong version number".to_string(),
        "from-client from client: fail messages: expected 2, found 0".to_string(),
    ];
    expected.extend(unanswered(&client));
    assert_eq!(v, expected, "{stdout}");
    assert_eq!(code, 3, "{stdout}");
}

/// A closed port and a port that answers garbage end in error, from the grader and the client.
fn unanswered(client: &TestHost) -> Vec<String> {
    let read = "unanswered from client: error could not read the host's answer:";
    vec![
        format!(
            "unanswered from grader: error connect to {}:143: Connection refused (os error 111)",
            client.address
        ),
        format!(
            "{read} curl: (7) Failed to connect to {} port 110 after N ms: Couldn't connect to server",
            client.address
        ),
        "unanswered from grader: error not an IMAP server: it said \"\"".to_string(),
        "unanswered from grader: error not a POP3 server: it said \"\"".to_string(),
        format!("{read} not an IMAP server: it said \"\""),
        format!("{read} not a POP3 server: it said \"\""),
    ]
}
