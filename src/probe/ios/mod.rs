//! `os: ios` network devices (Cisco IOS and the switches and routers that answer like it):
//! each check is one `show` command, sent as the command of its own SSH exec channel.
//!
//! One exec per command rather than an interactive shell: IOS runs an exec request's
//! command without paging (no `--More--`, no need for `terminal length 0`), closes the
//! channel when it is done, and needs no prompt to be recognised. IOS often allows only one
//! command per channel, which is all a check needs; each check opens its own on the one
//! session.

use std::net::Ipv4Addr;

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::lab::Os;
use crate::transport::ExecOutput;

/// An IOS kind: a fixed `show` command and a reader of what it prints.
pub struct IosKind {
    name: &'static str,
    subject: &'static str,
    doc: &'static str,
    params: &'static [Param],
    command: &'static str,
    read: fn(&Query, &str) -> Result<Facts, String>,
}

#[async_trait::async_trait]
impl Kind for IosKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn host_os(&self) -> Os {
        Os::Ios
    }

    fn subject(&self) -> &'static str {
        self.subject
    }

    fn doc(&self) -> &'static str {
        self.doc
    }

    fn params(&self) -> &'static [Param] {
        self.params
    }

    fn presence(&self) -> Option<&'static str> {
        Some("exists")
    }

    fn script(&self, _q: &Query) -> String {
        self.command.to_string()
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text().replace('\r', "");
        // IOS says `% Invalid input detected...`, `% Authorization failed.` on the channel.
        if let Some(line) = stdout.lines().find(|l| l.starts_with('%')) {
            return Err(format!(
                "the device refused `{}`: {}",
                self.command,
                line.trim()
            ));
        }
        if output.exit_code.is_some_and(|c| c != 0) && stdout.trim().is_empty() {
            return Err(format!(
                "`{}` failed (exit {:?}): {}",
                self.command,
                output.exit_code,
                output.stderr_text().trim()
            ));
        }
        (self.read)(q, &stdout)
    }
}

// ---- config -----------------------------------------------------------------------------

const CONFIG_PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "the section is in the running configuration",
    ),
    Param::expect(
        "lines",
        Shape::List,
        "the section's lines, trimmed (nested lines included); for `global`, the top-level lines",
    ),
];

pub static CONFIG: IosKind = IosKind {
    name: "config",
    subject: "a section's first line",
    doc: "A section of the running configuration, named by its first line as the configuration writes it, in full (`interface GigabitEthernet1/0/24`, not `int gi1/0/24`; `router ospf 1`, `vlan 20`, `line vty 0 4`), or its top-level lines with `global`: the lines it holds.",
    params: CONFIG_PARAMS,
    command: "show running-config",
    read: |q, text| {
        let header = q.subject.trim();
        let mut lines = Vec::new();
        let mut found = false;
        let mut inside = false;
        for line in text.lines() {
            if line.trim().is_empty() || line.trim() == "!" {
                inside = false;
                continue;
            }
            let indented = line.starts_with(' ');
            if header == "global" {
                if !indented {
                    found = true;
                    lines.push(line.trim().to_string());
                }
                continue;
            }
            if !indented {
                inside = line.trim_end() == header;
                found |= inside;
            } else if inside {
                lines.push(line.trim().to_string());
            }
        }
        let mut facts = Facts::new();
        facts.insert("exists", Fact::Bool(found));
        if found {
            facts.insert("lines", Fact::List(lines));
        }
        Ok(facts)
    },
};

// ---- vlan -------------------------------------------------------------------------------

const VLAN_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the VLAN is in the VLAN database"),
    Param::expect("name", Shape::Text, "its name"),
    Param::expect("active", Shape::Bool, "its status is active"),
    Param::expect(
        "ports",
        Shape::List,
        "its access ports as the switch abbreviates them (Gi0/1, Fa0/2)",
    ),
];

pub static VLAN: IosKind = IosKind {
    name: "vlan",
    subject: "a VLAN number",
    doc: "A VLAN of a switch, from `show vlan brief`: name, status, access ports (trunks are not listed there: see `config`).",
    params: VLAN_PARAMS,
    command: "show vlan brief",
    read: |q, text| {
        let mut facts = Facts::new();
        let mut current: Option<(String, String, Vec<String>)> = None;
        let mut found = None;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let Some(first) = words.next() else { continue };
            if first.chars().all(|c| c.is_ascii_digit()) && !line.starts_with(' ') {
                if let Some(done) = current.take() {
                    found = found.or((done.0 == q.subject).then_some(done));
                }
                let name = words.next().unwrap_or_default().to_string();
                let status = words.next().unwrap_or_default().to_string();
                let ports = ports(words.collect::<Vec<_>>().join(" ").as_str());
                current = Some((first.to_string(), format!("{name}\t{status}"), ports));
            } else if line.starts_with(' ')
                && let Some((_, _, ports_so_far)) = current.as_mut()
            {
                ports_so_far.extend(ports(line));
            }
        }
        if let Some(done) = current.take() {
            found = found.or((done.0 == q.subject).then_some(done));
        }
        match found {
            None => {
                facts.insert("exists", Fact::Bool(false));
            }
            Some((_, name_status, ports)) => {
                let (name, status) = name_status.split_once('\t').unwrap_or_default();
                facts.insert("exists", Fact::Bool(true));
                facts.insert("name", Fact::Text(name.to_string()));
                facts.insert("active", Fact::Bool(status == "active"));
                facts.insert("ports", Fact::List(ports));
            }
        }
        Ok(facts)
    },
};

fn ports(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

// ---- interface --------------------------------------------------------------------------

const INTERFACE_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the interface exists"),
    Param::expect(
        "address",
        Shape::Text,
        "its IPv4 address (`unassigned` when it has none)",
    ),
    Param::expect("up", Shape::Bool, "its status and protocol are both up"),
    Param::expect(
        "status",
        Shape::Text,
        "its status: up, down, administratively down",
    ),
];

pub static INTERFACE: IosKind = IosKind {
    name: "interface",
    subject: "an interface name",
    doc: "An interface of a switch or router, named in full as IOS writes it (GigabitEthernet0/1, Vlan10), from `show ip interface brief`: its address and whether it is up.",
    params: INTERFACE_PARAMS,
    command: "show ip interface brief",
    read: |q, text| {
        let mut facts = Facts::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < 6 || words[0] != q.subject {
                continue;
            }
            let status = words[4..words.len() - 1].join(" ");
            let protocol = words[words.len() - 1];
            facts.insert("exists", Fact::Bool(true));
            facts.insert("address", Fact::Text(words[1].to_string()));
            facts.insert("up", Fact::Bool(status == "up" && protocol == "up"));
            facts.insert("status", Fact::Text(status));
            return Ok(facts);
        }
        if !text.contains("Interface") {
            return Err("`show ip interface brief` printed no table".into());
        }
        facts.insert("exists", Fact::Bool(false));
        Ok(facts)
    },
};

// ---- route ------------------------------------------------------------------------------

const ROUTE_PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "the routing table has a route for exactly that prefix",
    ),
    Param::expect(
        "source",
        Shape::Text,
        "where it comes from: connected, local, static, ospf, rip, eigrp, bgp...",
    ),
    Param::expect("via", Shape::List, "its next hops"),
    Param::expect("interfaces", Shape::List, "the interfaces it leaves by"),
];

pub static ROUTE: IosKind = IosKind {
    name: "route",
    subject: "a prefix",
    doc: "A route of a router's IPv4 table, by its prefix ADDRESS/LENGTH (0.0.0.0/0 is the default route), from `show ip route`: its source, next hops and interfaces.",
    params: ROUTE_PARAMS,
    command: "show ip route",
    read: |q, text| {
        let wanted = q.subject.trim();
        let mut facts = Facts::new();
        facts.insert("exists", Fact::Bool(false));
        for route in routes(text) {
            if route.prefix == wanted {
                facts.insert("exists", Fact::Bool(true));
                facts.insert("source", Fact::Text(route.source));
                facts.insert("via", Fact::List(route.via));
                facts.insert("interfaces", Fact::List(route.interfaces));
                break;
            }
        }
        Ok(facts)
    },
};

#[derive(Debug, PartialEq)]
struct Route {
    prefix: String,
    source: String,
    via: Vec<String>,
    interfaces: Vec<String>,
}

fn source_name(code: &str) -> &'static str {
    match code.trim_end_matches('*') {
        "C" => "connected",
        "L" => "local",
        "S" => "static",
        "R" => "rip",
        "B" => "bgp",
        "D" => "eigrp",
        "O" => "ospf",
        "i" => "isis",
        _ => "other",
    }
}

/// The routes of `show ip route`. Under a `NET/LEN is subnetted` line (one mask), IOS
/// writes the subnets without their length; a continuation line `[110/2] via ...` is one
/// more path of the route above it.
fn routes(text: &str) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    let mut subnet_len: Option<String> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if line.contains(" is subnetted") {
            subnet_len = words[0].split_once('/').map(|(_, l)| l.to_string());
            continue;
        }
        if line.contains(" is variably subnetted") {
            subnet_len = None;
            continue;
        }
        let Some(at) = words.iter().position(|w| {
            w.trim_end_matches(',')
                .split('/')
                .next()
                .is_some_and(|a| a.parse::<Ipv4Addr>().is_ok())
        }) else {
            continue;
        };
        let (via, interfaces) = paths(&words);
        if line.starts_with(' ') && words[0].starts_with('[') {
            if let Some(last) = routes.last_mut() {
                last.via.extend(via);
                last.interfaces.extend(interfaces);
            }
            continue;
        }
        if at == 0 || line.starts_with(' ') {
            continue;
        }
        let network = words[at];
        let prefix = match (network.contains('/'), &subnet_len) {
            (true, _) => network.to_string(),
            (false, Some(len)) => format!("{network}/{len}"),
            (false, None) => continue,
        };
        routes.push(Route {
            prefix,
            source: source_name(words[0]).to_string(),
            via,
            interfaces,
        });
    }
    routes
}

/// Next hops (`via A.B.C.D`) and interfaces (`directly connected, Gi0/0`, or the last
/// field of a `via` path) of one line.
fn paths(words: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut via = Vec::new();
    let mut interfaces = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if *w == "via"
            && let Some(hop) = words.get(i + 1)
        {
            via.push(hop.trim_end_matches(',').to_string());
        }
    }
    if let Some(last) = words.last()
        && last.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !last.ends_with(',')
        && words.len() > 1
        && !matches!(*last, "connected")
    {
        interfaces.push(last.to_string());
    }
    (via, interfaces)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn read(kind: &IosKind, subject: &str, file: &str) -> Facts {
        let path = format!(
            "{}/tests/recorded/ios/reference/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let inputs = BTreeMap::new();
        let q = Query {
            subject,
            inputs: &inputs,
            wants: &[],
        };
        assert_eq!(kind.script(&q), kind.command);
        let output = ExecOutput {
            exit_code: Some(0),
            stdout: std::fs::read(path).unwrap(),
            ..ExecOutput::default()
        };
        kind.parse(&q, &output).unwrap()
    }

    #[test]
    fn recorded_show_commands_read_into_facts() {
        let vlan1 = read(&VLAN, "1", "sw/show_vlan_brief.txt");
        let Fact::List(ports) = &vlan1["ports"] else {
            panic!()
        };
        assert_eq!(
            ports.len(),
            19,
            "ports on continuation lines count: {ports:?}"
        );
        assert_eq!(
            read(&VLAN, "30", "sw/show_vlan_brief.txt")["exists"],
            Fact::Bool(false)
        );

        let global = read(&CONFIG, "global", "sw/show_running-config.txt");
        let Fact::List(lines) = &global["lines"] else {
            panic!()
        };
        assert!(lines.contains(&"ip routing".to_string()), "{lines:?}");
        assert!(!lines.contains(&"name ADMIN".to_string()), "{lines:?}");
        let vlan10 = read(&CONFIG, "vlan 10", "sw/show_running-config.txt");
        assert_eq!(vlan10["lines"], Fact::List(vec!["name ADMIN".into()]));
        assert_eq!(
            read(&CONFIG, "router ospf 1", "sw/show_running-config.txt")["exists"],
            Fact::Bool(false)
        );

        let vlan1 = read(&INTERFACE, "Vlan1", "sw/show_ip_interface_brief.txt");
        assert_eq!(vlan1["status"], Fact::Text("administratively down".into()));
        assert_eq!(vlan1["up"], Fact::Bool(false));

        let connected = read(&ROUTE, "10.0.12.0/30", "rtr/show_ip_route.txt");
        assert_eq!(connected["source"], Fact::Text("connected".into()));
        assert_eq!(
            connected["interfaces"],
            Fact::List(vec!["GigabitEthernet0/1".into()])
        );
    }

    #[test]
    fn a_refused_command_is_an_error_not_a_fail() {
        let inputs = BTreeMap::new();
        let q = Query {
            subject: "10",
            inputs: &inputs,
            wants: &[],
        };
        let output = ExecOutput {
            exit_code: Some(0),
            stdout: b"show vlan brief\r\n     ^\r\n% Invalid input detected at '^' marker.\r\n"
                .to_vec(),
            ..ExecOutput::default()
        };
        assert_eq!(
            VLAN.parse(&q, &output).unwrap_err(),
            "the device refused `show vlan brief`: % Invalid input detected at '^' marker."
        );
    }

    #[test]
    fn subnets_under_one_mask_take_its_length_and_continuations_add_paths() {
        let text = r"Gateway of last resort is 10.0.0.254 to network 0.0.0.0

S*    0.0.0.0/0 [1/0] via 10.0.0.254
      172.16.0.0/24 is subnetted, 1 subnets
O IA     172.16.5.0 [110/3] via 10.0.0.2, 00:01:02, GigabitEthernet0/0
                    [110/3] via 10.0.0.3, 00:01:02, GigabitEthernet0/1
";
        let found = routes(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].prefix, "0.0.0.0/0");
        assert_eq!(found[0].via, ["10.0.0.254"]);
        assert_eq!(found[1].prefix, "172.16.5.0/24");
        assert_eq!(found[1].source, "ospf");
        assert_eq!(found[1].via, ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(
            found[1].interfaces,
            ["GigabitEthernet0/0", "GigabitEthernet0/1"]
        );
    }
}
