//! The `dns` kind against a real bind9, from the grader and from another role: every verdict asserted.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{TestHost, grader_key, verdict_lines};

/// An authoritative server for lab.example and 213.10.in-addr.arpa, then a UDP echo on
/// 5353 (an answer that is not DNS). `SERIAL`, `MX` and `RECURSION` make it right or faulty.
const SETUP: &str = r#"set -e
cat > /etc/bind/named.conf.options <<'EOF'
options {
  directory "/var/cache/bind";
  listen-on { any; };
  listen-on-v6 { none; };
  recursion RECURSION;
  allow-recursion { ALLOW; };
  dnssec-validation no;
};
EOF
cat > /etc/bind/named.conf.local <<'EOF'
zone "lab.example" { type primary; file "/etc/bind/db.lab.example"; };
zone "213.10.in-addr.arpa" { type primary; file "/etc/bind/db.10.213"; };
EOF
cat > /etc/bind/db.lab.example <<'EOF'
$TTL 3600
@        IN SOA   ns1.lab.example. admin.lab.example. SERIAL 7200 900 1209600 300
@        IN NS    ns1.lab.example.
MX
@        IN TXT   "v=spf1 mx -all"
ns1      IN A     10.213.0.53
www      IN A     10.213.0.80
www      IN AAAA  fd00::80
mail     IN A     10.213.0.25
intranet IN CNAME www.lab.example.
_ldap._tcp IN SRV 0 5 389 ns1.lab.example.
EOF
cat > /etc/bind/db.10.213 <<'EOF'
$TTL 3600
@        IN SOA   ns1.lab.example. admin.lab.example. SERIAL 7200 900 1209600 300
@        IN NS    ns1.lab.example.
80.0     IN PTR   www.lab.example.
EOF
named-checkconf -z
systemctl start named
systemd-run --quiet --unit=lg-echo /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(4096)
    s.sendto(data, peer)
'
for i in $(seq 50); do dig +short +time=1 +tries=1 @127.0.0.1 lab.example SOA | grep -q . && exit 0; sleep 0.1; done
echo named does not answer >&2; exit 1
"#;

fn setup(serial: &str, mx: bool, recursion: bool) -> String {
    SETUP
        .replace("SERIAL", serial)
        .replace(
            "MX\n",
            if mx {
                "@        IN MX    10 mail.lab.example.\n"
            } else {
                ""
            },
        )
        .replace("RECURSION", if recursion { "yes" } else { "no" })
        .replace("ALLOW", if recursion { "any" } else { "none" })
}

const LAB: &str = r#"lab: dns
title: Serveur DNS de lab.example
block: 4
hosts:
  srv: {}
  client: {}
tasks:
  - id: records
    title: Les enregistrements de la zone
    points: 4
    partial: true
    checks:
      - dns: www.lab.example
        server: "{{ hosts.srv.address }}"
        answers: { equals: [10.213.0.80] }
      - dns: www.lab.example
        server: "{{ hosts.srv.address }}"
        type: AAAA
        answers: fd00::80
      - dns: lab.example
        server: "{{ hosts.srv.address }}"
        type: MX
        answers: { equals: ["10 mail.lab.example"] }
      - dns: intranet.lab.example
        server: "{{ hosts.srv.address }}:53"
        type: CNAME
        answers: www.lab.example
      - dns: lab.example
        server: "{{ hosts.srv.address }}"
        type: NS
        answers: ns1.lab.example
        count: 1
      - dns: lab.example
        server: "{{ hosts.srv.address }}"
        type: TXT
        answers: "v=spf1 mx -all"
      - dns: _ldap._tcp.lab.example
        server: "{{ hosts.srv.address }}"
        type: SRV
        answers: "0 5 389 ns1.lab.example"
      - dns: 10.213.0.80
        server: "{{ hosts.srv.address }}"
        type: PTR
        answers: www.lab.example
  - id: soa
    title: La zone fait autorité, numéro de série du jour
    points: 2
    checks:
      - dns: lab.example
        server: "{{ hosts.srv.address }}"
        type: SOA
        serial: 2026112801
        authoritative: true
        answers: { matches: '^ns1\.lab\.example admin\.lab\.example ' }
  - id: closed
    title: Pas de récursion offerte, un nom absent est NXDOMAIN
    points: 2
    checks:
      - dns: www.lab.example
        server: "{{ hosts.srv.address }}"
        recursion: false
      - dns: nope.lab.example
        server: "{{ hosts.srv.address }}"
        rcode: NXDOMAIN
        count: 0
  - id: from-client
    title: Le client voit la même chose
    points: 2
    checks:
      - dns: www.lab.example
        from: client
        server: "{{ hosts.srv.address }}"
        answers: 10.213.0.80
        authoritative: true
      - dns: lab.example
        from: client
        server: "{{ hosts.srv.address }}"
        type: MX
        answers: { equals: ["10 mail.lab.example"] }
      - dns: lab.example
        from: client
        server: "{{ hosts.srv.address }}"
        type: SOA
        serial: 2026112801
      - dns: 10.213.0.80
        from: client
        server: "{{ hosts.srv.address }}"
        type: PTR
        answers: www.lab.example
        recursion: false
      - dns: nope.lab.example
        from: client
        server: "{{ hosts.srv.address }}"
        rcode: NXDOMAIN
  - id: unanswered
    title: Un serveur arrêté ou qui ne parle pas DNS
    points: 1
    checks:
      - dns: www.lab.example
        server: "{{ hosts.client.address }}"
        timeout: 4s
      - dns: www.lab.example
        server: "{{ hosts.srv.address }}:5353"
        timeout: 4s
      - dns: www.lab.example
        from: client
        server: "{{ hosts.srv.address }}:5354"
        timeout: 8s
      - dns: www.lab.example
        from: client
        server: "{{ hosts.srv.address }}:5353"
        timeout: 8s
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

/// Grade `srv` with `client` as the second role: every check as "task from role: verdict reason".
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
fn dns_from_the_grader_and_from_a_role() {
    let client = TestHost::start("dns-client", "");
    let good = TestHost::start("dns-good", &setup("2026112801", true, false));
    let faulty = TestHost::start("dns-faulty", &setup("2026112700", false, true));

    let started = Instant::now();
    let (code, stdout, verdicts) = grade(&good, &client);
    let ns = good.address.to_string();
    let client_address = client.address.to_string();
    let mut expected: Vec<String> = [
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "soa from grader: pass ",
        "closed from grader: pass ",
        "closed from grader: pass ",
        "from-client from client: pass ",
        "from-client from client: pass ",
        "from-client from client: pass ",
        "from-client from client: pass ",
        "from-client from client: pass ",
    ]
    .map(String::from)
    .to_vec();
    let unanswered = [
        format!(
            "unanswered from grader: error {client_address}:53: nothing answers DNS there (port unreachable)"
        ),
        format!(
            "unanswered from grader: error {ns}:5353 sent back something that is not a DNS answer (QR flag not set)"
        ),
        format!(
            "unanswered from client: error could not read the host's answer: communications error to {ns}#5354: connection refused"
        ),
        "unanswered from client: error could not read the host's answer: the server's reply is not a DNS answer (QR flag not set)".to_string(),
    ];
    expected.extend(unanswered.iter().cloned());
    assert_eq!(verdicts, expected, "{stdout}");
    assert_eq!(
        code, 3,
        "the unanswered checks are errors, not failures: {stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "errors come quickly: {:?}",
        started.elapsed()
    );

    // Wrong serial, no MX, recursion open: exactly those checks fail.
    let (code, stdout, verdicts) = grade(&faulty, &client);
    let ns = faulty.address.to_string();
    let mut expected: Vec<String> = [
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: fail answers: expected exactly [10 mail.lab.example], found none",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "records from grader: pass ",
        "soa from grader: fail serial: expected 2026112801, found 2026112700",
        "closed from grader: fail recursion: expected false, found true",
        "closed from grader: pass ",
        "from-client from client: pass ",
        "from-client from client: fail answers: expected exactly [10 mail.lab.example], found none",
        "from-client from client: fail serial: expected 2026112801, found 2026112700",
        "from-client from client: fail recursion: expected false, found true",
        "from-client from client: pass ",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(
        unanswered
            .iter()
            .map(|v| v.replace(&good.address.to_string(), &ns)),
    );
    assert_eq!(verdicts, expected, "{stdout}");
    assert_eq!(code, 3, "{stdout}");
}
