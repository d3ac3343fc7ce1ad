//! The `dhcp` kind against real dnsmasq servers sharing one segment, from the grader and from another role: every verdict asserted, and no lease taken.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key};

/// dnsmasq as a DHCP server only (`port=0`: no DNS), on the host's eth0 alone. Its range
/// lies far from the hosts' addresses; it only ever answers DISCOVERs, and the probe sends
/// nothing else, so it hands out nothing on the shared test bridge.
///
/// The good server keeps dnsmasq's default ping of an address before offering it (3 s, one
/// DISCOVER at a time), which the probe must wait out. The faulty one, whose range is one
/// address, does not ping: it answers every DISCOVER of the test, also those of the good
/// server's grading, and would otherwise still be working through them at its own.
const DNSMASQ: &str = r#"set -e
mkdir -p /var/lib/misc
cat > /etc/lg-dnsmasq.conf <<'EOF'
port=0
interface=eth0
bind-interfaces
dhcp-range=RANGE,255.255.0.0,LEASE
dhcp-option=option:router,ROUTER
dhcp-option=option:dns-server,DNS
dhcp-option=option:domain-name,DOMAIN
dhcp-leasefile=/var/lib/misc/lg-dnsmasq.leases
log-dhcp
EXTRA
EOF
systemd-run --quiet --unit=lg-dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/etc/lg-dnsmasq.conf
for i in $(seq 100); do ss -Hlun 'sport = :67' | grep -q . && exit 0; sleep 0.1; done
echo dnsmasq does not listen >&2; journalctl -u lg-dnsmasq >&2; exit 1
"#;

fn dnsmasq(good: bool) -> String {
    let (range, lease, router, dns, domain) = if good {
        (
            "10.213.250.10,10.213.250.20",
            "2h",
            "10.213.0.254",
            "10.213.0.53,10.213.0.54",
            "lab.example",
        )
    } else {
        (
            "10.213.251.10,10.213.251.10",
            "10m",
            "10.213.0.253",
            "10.213.0.53",
            "wrong.example",
        )
    };
    DNSMASQ
        .replace("RANGE", range)
        .replace("LEASE", lease)
        .replace("ROUTER", router)
        .replace("DNS", dns)
        .replace("DOMAIN", domain)
        .replace("EXTRA", if good { "" } else { "no-ping" })
}

/// Not a DHCP server: whatever reaches UDP port 67 is answered "garbage" to its sender.
const GARBAGE: &str = r#"set -e
systemd-run --quiet --unit=lg-garbage /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 67))
while True:
    data, sender = s.recvfrom(4096)
    s.sendto(b"garbage\n", sender)
'
for i in $(seq 100); do ss -Hlun 'sport = :67' | grep -q . && exit 0; sleep 0.1; done
echo the garbage server does not listen >&2; exit 1
"#;

const RANGE: &str = r"'^10\.213\.250\.(1[0-9]|20)$'";

fn lab() -> String {
    r#"lab: dhcp
title: Serveur DHCP
block: 4
hosts:
  srv: {}
  client: {}
  odd: {}
tasks:
  - id: offer
    title: l'offre vue du grader
    points: 4
    partial: true
    checks:
      - dhcp: "{{ hosts.srv.address }}"
      - dhcp: "{{ hosts.srv.address }}"
        address: { matches: RANGE }
        netmask: 255.255.0.0
      - dhcp: "{{ hosts.srv.address }}"
        interface: lgtest0
        router: 10.213.0.254
        dns_servers: { equals: [10.213.0.53, 10.213.0.54] }
        domain: lab.example
        lease_time: 7200
        server: "{{ hosts.srv.address }}"
  - id: from-client
    title: l'offre vue du client
    points: 2
    checks:
      - dhcp: "{{ hosts.srv.address }}"
        from: client
        address: { matches: RANGE }
        router: 10.213.0.254
        dns_servers: { equals: [10.213.0.53, 10.213.0.54] }
        domain: lab.example
        lease_time: { ge: 3600, le: 86400 }
      - dhcp: "{{ hosts.srv.address }}"
        from: client
        interface: eth0
        server: "{{ hosts.srv.address }}"
  - id: silent
    title: pas de serveur DHCP
    points: 1
    checks:
      - dhcp: "{{ hosts.client.address }}"
        timeout: 2s
        router: 10.213.0.254
      - dhcp: "{{ hosts.client.address }}"
        offers: false
      - dhcp: "{{ hosts.client.address }}"
        from: client
        offers: false
  - id: broken
    title: pas DHCP, pas d'interface
    points: 1
    checks:
      - dhcp: "{{ hosts.odd.address }}"
      - dhcp: "{{ hosts.odd.address }}"
        from: client
      - dhcp: "{{ hosts.srv.address }}"
        interface: nosuch0
      - dhcp: "{{ hosts.srv.address }}"
        from: client
        interface: nosuch0
"#
    .replace("RANGE", RANGE)
}

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

/// Grade `srv` with `client` and `odd`; each verdict as "TASK from ROLE: VERDICT REASON",
/// and each check's duration.
fn grade(
    srv: &TestHost,
    client: &TestHost,
    odd: &TestHost,
) -> (i32, String, Vec<String>, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab()).unwrap();
    let known = dir.path().join("known_hosts");
    let lines: Vec<String> = [srv, client, odd]
        .iter()
        .map(|h| h.known_hosts_line())
        .collect();
    std::fs::write(&known, lines.join("\n") + "\n").unwrap();
    let key = grader_key();
    let (code, stdout, results) = results(
        dir.path(),
        &[
            dir.path().join("lab.yaml").to_str().unwrap(),
            "--host",
            &format!("srv=root@{}", srv.address),
            "--host",
            &format!("client=root@{}", client.address),
            "--host",
            &format!("odd=root@{}", odd.address),
            "--identity",
            key.to_str().unwrap(),
            "--known-hosts",
            known.to_str().unwrap(),
        ],
    );
    let mut verdicts = Vec::new();
    let mut durations = Vec::new();
    for task in results["labs"][0]["tasks"].as_array().unwrap() {
        for check in task["checks"].as_array().unwrap() {
            verdicts.push(format!(
                "{} from {}: {} {}",
                task["id"].as_str().unwrap(),
                check["role"].as_str().unwrap(),
                check["verdict"].as_str().unwrap(),
                check["reason"].as_str().unwrap_or("")
            ));
            durations.push(check["evidence"]["duration_ms"].as_u64().unwrap());
        }
    }
    (code, stdout, verdicts, durations)
}

/// The lines every grading shares: no server on the client, garbage on odd, no such interface.
fn common(client: &TestHost, odd: &TestHost) -> Vec<String> {
    vec![
        format!("silent from grader: fail {}: offers is false", client.address),
        "silent from grader: pass ".to_string(),
        "silent from client: pass ".to_string(),
        format!(
            "broken from grader: error {} answered with not a DHCP reply (8 bytes: \"garbage\\n\")",
            odd.address
        ),
        format!(
            "broken from client: error could not read the host's answer: {} answered with not a DHCP reply (8 bytes: \"garbage\\n\")",
            odd.address
        ),
        "broken from grader: error listening on UDP port 68 of nosuch0: No such device (os error 19)".to_string(),
        "broken from client: error could not read the host's answer: listening on UDP port 68 of nosuch0: No such device".to_string(),
    ]
}

/// What a dnsmasq saw and kept: the DISCOVERs it offered to, and its lease file.
fn server_side(host: &TestHost) -> (usize, String) {
    let log = host.exec_ok("journalctl -q -o cat -u lg-dnsmasq");
    let offers = log
        .lines()
        .filter(|l| l.contains("DHCPOFFER(eth0)"))
        .count();
    assert!(!log.contains("DHCPREQUEST"), "{log}");
    let leases = host.exec_ok("cat /var/lib/misc/lg-dnsmasq.leases");
    (offers, leases)
}

#[test]
fn dhcp_from_the_grader_and_from_a_role_among_several_servers() {
    let client = TestHost::start("dhcp-client", "");
    let good = TestHost::start("dhcp-good", &dnsmasq(true));
    let faulty = TestHost::start("dhcp-faulty", &dnsmasq(false));
    let odd = TestHost::start("dhcp-odd", GARBAGE);

    // Both servers answer every DISCOVER: each grading must read its own server's offer.
    let (code, stdout, verdicts, durations) = grade(&good, &client, &odd);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    let mut expected = vec!["offer from grader: pass ".to_string(); 3];
    expected.extend(vec!["from-client from client: pass ".to_string(); 2]);
    expected.extend(common(&client, &odd));
    assert_eq!(v, expected, "{stdout}");
    assert_eq!(code, 3, "{stdout}");
    // The silent server is given up on within the check's timeout (2 s), not after it.
    assert!(durations[5] < 2000, "{durations:?}");

    let (code, stdout, verdicts, _) = grade(&faulty, &client, &odd);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    let range = RANGE.trim_matches('\'');
    let mut expected = vec![
        "offer from grader: pass ".to_string(),
        format!(
            "offer from grader: fail address: expected matches /{range}/, found \"10.213.251.10\""
        ),
        format!(
            "offer from grader: fail router: expected includes 10.213.0.254, found 10.213.0.253; \
             dns_servers: expected exactly [10.213.0.53, 10.213.0.54], found 10.213.0.53; \
             domain: expected \"lab.example\", found \"wrong.example\"; lease_time: expected 7200, found 600"
        ),
        format!(
            "from-client from client: fail address: expected matches /{range}/, found \"10.213.251.10\"; \
             router: expected includes 10.213.0.254, found 10.213.0.253; \
             dns_servers: expected exactly [10.213.0.53, 10.213.0.54], found 10.213.0.53; \
             domain: expected \"lab.example\", found \"wrong.example\"; lease_time: expected >= 3600 and <= 86400, found 600"
        ),
        "from-client from client: pass ".to_string(),
    ];
    expected.extend(common(&client, &odd));
    assert_eq!(v, expected, "{stdout}");
    assert_eq!(code, 3, "{stdout}");

    // Offers were made (so the empty lease files say something), and nothing was leased.
    // How many varies: the servers answer the DISCOVERs of every check, some still queued.
    for server in [&good, &faulty] {
        let (offers, leases) = server_side(server);
        assert!(offers >= 2, "{} offered {offers} times", server.name);
        assert_eq!(leases, "", "{} leased an address", server.name);
    }
}
