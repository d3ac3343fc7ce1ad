//! `port: NUMBER`: whether something listens on a TCP or UDP port of the host, where, and which program.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::ExecOutput;

pub struct Port;

/// The programs of ss's `users:(("nginx",pid=902,fd=6),...)`, compiled once: a host lists
/// hundreds of sockets.
static USERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\("([^"]*)",pid="#).expect("a valid regex"));

const PARAMS: &[Param] = &[
    Param::input("proto", &["tcp", "udp"], "the protocol; tcp when not given"),
    Param::expect(
        "listening",
        Shape::Bool,
        "a socket listens on the port (UDP: is bound to it)",
    ),
    Param::expect(
        "address",
        Shape::List,
        "the local addresses it listens on: 0.0.0.0, ::, 127.0.0.1, or * for all",
    ),
    Param::expect(
        "process",
        Shape::List,
        "the names of the programs listening (seen only when the grader is root)",
    ),
];

#[async_trait::async_trait]
impl Kind for Port {
    fn name(&self) -> &'static str {
        "port"
    }

    fn subject(&self) -> &'static str {
        "a port number"
    }

    fn doc(&self) -> &'static str {
        "A local port: whether a program listens on it, on which addresses, and which program."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("listening")
    }

    /// Every listening socket of the protocol is listed and the port picked out here, so the
    /// subject never reaches the host. No `-H`: ss before iproute2 4.15 lacks it, and the
    /// header is easy to skip.
    fn script(&self, q: &Query) -> String {
        let proto = if q.input("proto") == Some("udp") {
            "-u"
        } else {
            "-t"
        };
        format!("need ss\nss -l -n -p {proto}\n")
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let port = match q.subject.trim().parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("{:?} is not a port number (1 to 65535)", q.subject)),
        };
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("ss failed (exit {:?})", output.exit_code),
                reason => reason.to_string(),
            });
        }
        let mut addresses: Vec<String> = Vec::new();
        let mut processes = BTreeSet::new();
        for line in output.stdout_text().lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() || matches!(fields[0], "State" | "Netid") {
                continue;
            }
            let local = fields
                .get(3)
                .ok_or_else(|| format!("unexpected line from ss: {line:?}"))?;
            let (address, local_port) = local
                .rsplit_once(':')
                .ok_or_else(|| format!("unexpected line from ss: {line:?}"))?;
            if local_port.parse::<u16>() != Ok(port) {
                continue;
            }
            let address = plain_address(address);
            if !addresses.contains(&address) {
                addresses.push(address);
            }
            processes.extend(USERS.captures_iter(line).map(|c| c[1].to_string()));
        }
        let mut facts = Facts::new();
        facts.insert("listening", Fact::Bool(!addresses.is_empty()));
        if !addresses.is_empty() {
            facts.insert("address", Fact::List(addresses));
            facts.insert("process", Fact::List(processes.into_iter().collect()));
        }
        Ok(facts)
    }
}

/// `[::]` is `::`, and `127.0.0.53%lo` (bound to one interface) is `127.0.0.53`.
fn plain_address(ss_address: &str) -> String {
    let unbracketed = ss_address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(ss_address);
    unbracketed
        .split_once('%')
        .map_or(unbracketed, |(a, _)| a)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    /// Captured with `ss -l -n -p -t` in a network namespace, python listening.
    const TCP: &str = "\
State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN 0      128    127.0.0.1:8080 0.0.0.0:* users:((\"python3\",pid=5309,fd=5))
LISTEN 0      128      0.0.0.0:22   0.0.0.0:* users:((\"python3\",pid=5309,fd=3))
LISTEN 0      128         [::]:22      [::]:* users:((\"python3\",pid=5309,fd=4))
LISTEN 0      128            *:80         *:* users:((\"python3\",pid=5309,fd=6))
LISTEN 0      4096   127.0.0.53%lo:53  0.0.0.0:* users:((\"systemd-resolve\",pid=410,fd=15))
LISTEN 0      511      0.0.0.0:443  0.0.0.0:* users:((\"nginx\",pid=902,fd=6),(\"nginx\",pid=901,fd=6))
";

    fn tcp(port: &str) -> Result<Facts, String> {
        parse_canned(&Port, port, &[], 0, TCP, "")
    }

    #[test]
    fn both_families_are_listed() {
        let facts = tcp("22").unwrap();
        assert_eq!(facts["listening"], Fact::Bool(true));
        assert_eq!(
            facts["address"],
            Fact::List(vec!["0.0.0.0".into(), "::".into()])
        );
        assert_eq!(facts["process"], Fact::List(vec!["python3".into()]));
    }

    #[test]
    fn odd_addresses_and_several_workers() {
        assert_eq!(tcp("80").unwrap()["address"], Fact::List(vec!["*".into()]));
        assert_eq!(
            tcp("53").unwrap()["address"],
            Fact::List(vec!["127.0.0.53".into()])
        );
        assert_eq!(
            tcp("443").unwrap()["process"],
            Fact::List(vec!["nginx".into()])
        );
    }

    #[test]
    fn a_port_only_matches_itself() {
        let facts = tcp("8").unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["listening"], Fact::Bool(false));
    }

    #[test]
    fn without_root_there_is_no_process() {
        let out = "LISTEN 0      128    0.0.0.0:2024 0.0.0.0:*\n";
        let facts = parse_canned(&Port, "2024", &[], 0, out, "").unwrap();
        assert_eq!(facts["process"], Fact::List(Vec::new()));
    }

    #[test]
    fn udp_sockets_are_unconnected_rather_than_listening() {
        let out = "UNCONN 0      0      0.0.0.0:53 0.0.0.0:* users:((\"python3\",pid=5309,fd=7))\n\
                   UNCONN 0      0        [::1]:53    [::]:* users:((\"python3\",pid=5309,fd=8))\n";
        let facts = parse_canned(&Port, "53", &[("proto", "udp")], 0, out, "").unwrap();
        assert_eq!(
            facts["address"],
            Fact::List(vec!["0.0.0.0".into(), "::1".into()])
        );
    }

    #[test]
    fn not_a_port_is_an_error() {
        for bad in ["0", "65536", "http", "-1", ""] {
            assert!(tcp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_socket_of_this_test_is_seen() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let facts = run_locally(&Port, &port, &[], &[]).unwrap();
        assert_eq!(facts["listening"], Fact::Bool(true));
        assert_eq!(facts["address"], Fact::List(vec!["127.0.0.1".into()]));
        assert!(matches!(&facts["process"], Fact::List(p) if !p.is_empty()));
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port().to_string();
        let facts = run_locally(&Port, &port, &[("proto", "udp")], &[]).unwrap();
        assert_eq!(facts["listening"], Fact::Bool(true));
    }

    #[test]
    fn a_closed_port_is_not_listening() {
        // Bound and released at once: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let facts = run_locally(&Port, &port, &[], &["address"]).unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["listening"], Fact::Bool(false));
    }
}
