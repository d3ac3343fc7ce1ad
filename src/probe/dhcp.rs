//! `dhcp: SERVER`: what one DHCP server offers a new client on its segment: address, mask, router, DNS servers, domain, lease time. A DISCOVER only: no lease is taken.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Expect, Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Dhcp;

const PARAMS: &[Param] = &[
    Param::input(
        "interface",
        &[],
        "the interface the DISCOVER is broadcast on (default: the one whose route reaches the server, which must be on that segment, not behind a router)",
    ),
    Param::expect(
        "offers",
        Shape::Bool,
        "the server offered an address within 8 s (or the check's timeout, from the grader; from a role keep the timeout above 9 s); false: it stayed silent",
    ),
    Param::expect(
        "address",
        Shape::Text,
        "the address offered; a range is a regex: `{ matches: '^192\\.168\\.1\\.(1[0-9][0-9]|200)$' }` for .100 to .200",
    ),
    Param::expect("netmask", Shape::Text, "the subnet mask offered (option 1)"),
    Param::expect(
        "router",
        Shape::List,
        "the routers offered (option 3), usually one",
    ),
    Param::expect(
        "dns_servers",
        Shape::List,
        "the DNS servers offered (option 6)",
    ),
    Param::expect(
        "domain",
        Shape::Text,
        "the domain name offered (option 15); empty when none",
    ),
    Param::expect(
        "lease_time",
        Shape::Number,
        "the lease time offered, in seconds (option 51)",
    ),
    Param::expect(
        "server",
        Shape::Text,
        "the server identifier in the offer (option 54)",
    ),
];

const CLIENT_PORT: u16 = 68;
const SERVER_PORT: u16 = 67;
/// How long the probe listens for the offer. Servers ping the address they offer before
/// offering it: ISC dhcpd for 1 s, dnsmasq for 3 s, one DISCOVER at a time.
const LISTEN: Duration = Duration::from_secs(8);
/// A DISCOVER is sent again after this long, as RFC 2131 clients first do, in case it was lost.
/// Not sooner: a busy server queues DISCOVERs, and each one sent makes it busier.
const RESEND: Duration = Duration::from_secs(4);
/// Left of the check's timeout, natively, to judge and report once listening is over.
const MARGIN: Duration = Duration::from_millis(300);
/// A BOOTP message: the fixed fields up to the options' magic cookie.
const FIXED: usize = 236;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
/// The options asked for: mask, router, DNS servers, domain, lease time, server identifier.
const REQUESTED: [u8; 6] = [1, 3, 6, 15, 51, 54];
/// RFC 951's minimum BOOTP size, which some servers and relays insist on.
const MIN_SIZE: usize = 300;

fn server_address(subject: &str) -> Result<Ipv4Addr, String> {
    subject.trim().parse().map_err(|_| {
        format!("`{subject}` is not an IPv4 address: a DHCP server is named by its address")
    })
}

/// The one DISCOVER of a probe: its transaction id and the made-up hardware address it asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Discover {
    xid: u32,
    mac: [u8; 6],
}

impl Discover {
    /// A fresh transaction id and a random locally administered MAC, so the offer is the one
    /// a new machine gets (not the grader's own reservation or lease).
    fn random() -> Result<Discover, String> {
        use std::io::Read;
        let mut bytes = [0u8; 10];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| format!("reading /dev/urandom: {e}"))?;
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&bytes[4..]);
        mac[0] = (mac[0] & 0xfc) | 0x02;
        Ok(Discover {
            xid: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            mac,
        })
    }

    /// The DISCOVER, with the broadcast flag so that the offer comes back broadcast: the
    /// client has no address yet, and the probe cannot receive a unicast to the one offered.
    fn encode(&self) -> Vec<u8> {
        let mut p = vec![0u8; FIXED];
        p[0] = 1; // BOOTREQUEST
        p[1] = 1; // Ethernet
        p[2] = 6;
        p[4..8].copy_from_slice(&self.xid.to_be_bytes());
        p[10] = 0x80; // broadcast flag
        p[28..34].copy_from_slice(&self.mac);
        p.extend_from_slice(&COOKIE);
        p.extend_from_slice(&[53, 1, 1]);
        p.extend_from_slice(&[55, REQUESTED.len() as u8]);
        p.extend_from_slice(&REQUESTED);
        p.push(255);
        p.resize(MIN_SIZE.max(p.len()), 0);
        p
    }

    fn decode(bytes: &[u8]) -> Option<Discover> {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(bytes.get(28..34)?);
        Some(Discover {
            xid: u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?),
            mac,
        })
    }

    fn mac_text(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A server's reply, as far as the probe reads it.
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    xid: u32,
    /// Option 53: 2 is an OFFER, 6 a NAK.
    message_type: Option<u8>,
    yiaddr: Ipv4Addr,
    netmask: Option<Ipv4Addr>,
    routers: Vec<Ipv4Addr>,
    dns_servers: Vec<Ipv4Addr>,
    domain: Option<String>,
    lease_time: Option<u32>,
    server_id: Option<Ipv4Addr>,
}

fn addresses(value: &[u8]) -> Vec<Ipv4Addr> {
    value
        .chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect()
}

/// Read a BOOTREPLY and the options the probe asked for. Anything else is not DHCP.
fn decode(bytes: &[u8]) -> Result<Reply, String> {
    if bytes.len() < FIXED + COOKIE.len() || bytes[0] != 2 || bytes[236..240] != COOKIE {
        return Err(format!(
            "not a DHCP reply ({} bytes: {:?})",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        ));
    }
    let mut reply = Reply {
        xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        message_type: None,
        yiaddr: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
        netmask: None,
        routers: Vec::new(),
        dns_servers: Vec::new(),
        domain: None,
        lease_time: None,
        server_id: None,
    };
    let mut rest = &bytes[240..];
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            0 => {
                rest = tail;
                continue;
            }
            255 => break,
            _ => {}
        }
        let (&len, tail) = tail.split_first().ok_or("a DHCP option is cut short")?;
        let value = tail
            .get(..usize::from(len))
            .ok_or("a DHCP option is cut short")?;
        let four = || <[u8; 4]>::try_from(value).ok();
        match code {
            53 => reply.message_type = value.first().copied(),
            1 => reply.netmask = four().map(Ipv4Addr::from),
            3 => reply.routers = addresses(value),
            6 => reply.dns_servers = addresses(value),
            15 => {
                let text = String::from_utf8_lossy(value);
                reply.domain = Some(text.trim_end_matches('\0').to_string());
            }
            51 => reply.lease_time = four().map(u32::from_be_bytes),
            54 => reply.server_id = four().map(Ipv4Addr::from),
            _ => {}
        }
        rest = &tail[usize::from(len)..];
    }
    Ok(reply)
}

fn list(addresses: &[Ipv4Addr]) -> Vec<String> {
    addresses.iter().map(Ipv4Addr::to_string).collect()
}

fn describe(reply: &Reply) -> String {
    let kind = match reply.message_type {
        Some(2) => "OFFER".to_string(),
        Some(5) => "ACK".to_string(),
        Some(6) => "NAK".to_string(),
        Some(n) => format!("message type {n}"),
        None => "BOOTP reply".to_string(),
    };
    let opt = |a: Option<Ipv4Addr>| a.map_or("-".to_string(), |a| a.to_string());
    format!(
        "{kind} {} mask {} router {} dns {} domain {} lease {} server {}",
        reply.yiaddr,
        opt(reply.netmask),
        list(&reply.routers).join(","),
        list(&reply.dns_servers).join(","),
        reply.domain.as_deref().unwrap_or("-"),
        reply
            .lease_time
            .map_or("-".to_string(), |s| format!("{s} s")),
        opt(reply.server_id),
    )
}

fn offer_facts(reply: &Reply) -> Facts {
    let mut facts = Facts::from([
        ("offers", Fact::Bool(true)),
        ("address", Fact::Text(reply.yiaddr.to_string())),
        (
            "netmask",
            Fact::Text(reply.netmask.map(|m| m.to_string()).unwrap_or_default()),
        ),
        ("router", Fact::List(list(&reply.routers))),
        ("dns_servers", Fact::List(list(&reply.dns_servers))),
        (
            "domain",
            Fact::Text(reply.domain.clone().unwrap_or_default()),
        ),
        (
            "server",
            Fact::Text(reply.server_id.map(|s| s.to_string()).unwrap_or_default()),
        ),
    ]);
    if let Some(secs) = reply.lease_time {
        facts.insert("lease_time", Fact::Number(f64::from(secs)));
    }
    facts
}

/// Whether a datagram ends the wait: the server's own answer to this DISCOVER, or something
/// the server sent that is not DHCP at all. Offers to other clients and other servers'
/// offers (a segment may have several) do not.
fn answers(server: Ipv4Addr, xid: u32, from: Ipv4Addr, bytes: &[u8]) -> bool {
    match decode(bytes) {
        Err(_) => from == server,
        Ok(r) => r.xid == xid && (from == server || r.server_id == Some(server)),
    }
}

/// Judge what was heard: the server's offer, or its silence, or what it said instead.
fn judge_replies(
    server: Ipv4Addr,
    xid: u32,
    heard: &[(Ipv4Addr, Vec<u8>)],
    listened: Duration,
    transcript: &mut String,
) -> Result<Facts, String> {
    let mut wrong = None;
    for (from, bytes) in heard {
        let reply = match decode(bytes) {
            Ok(reply) => reply,
            Err(e) => {
                transcript.push_str(&format!("{from}: {e}\n"));
                if *from == server {
                    wrong.get_or_insert(format!("{server} answered with {e}"));
                }
                continue;
            }
        };
        let theirs = from == &server || reply.server_id == Some(server);
        let note = match (reply.xid == xid, theirs) {
            (false, _) => " (another client's: ignored)",
            (true, false) => " (another server's: ignored)",
            (true, true) => "",
        };
        transcript.push_str(&format!("{from}: {}{note}\n", describe(&reply)));
        if !note.is_empty() {
            continue;
        }
        if reply.message_type == Some(2) {
            return Ok(offer_facts(&reply));
        }
        wrong.get_or_insert(format!(
            "{server} answered the DISCOVER with a {}, not an OFFER",
            describe(&reply).split(' ').next().unwrap_or("reply")
        ));
    }
    if let Some(wrong) = wrong {
        return Err(wrong);
    }
    transcript.push_str(&format!(
        "no offer from {server} within {:.1} s\n",
        listened.as_secs_f64()
    ));
    Ok(Facts::from([("offers", Fact::Bool(false))]))
}

/// The way to a server, read from a routing table as /proc/net/route shows it.
#[derive(Debug, PartialEq)]
enum Route {
    OnLink(String),
    Via(Ipv4Addr, String),
    None,
}

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;
const RTF_REJECT: u32 = 0x200;

/// The longest prefix that holds the server, as the kernel would choose in the main table.
/// Addresses and masks are printed as the kernel holds them (network order in memory).
fn route(table: &str, server: Ipv4Addr) -> Route {
    let target = u32::from_ne_bytes(server.octets());
    let mut best: Option<((u32, i64), Route)> = None;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [iface, dest, gateway, flags, _, _, metric, mask, ..] = cols[..] else {
            continue;
        };
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(gateway), Some(flags), Some(mask), Ok(metric)) = (
            hex(dest),
            hex(gateway),
            hex(flags),
            hex(mask),
            metric.parse::<i64>(),
        ) else {
            continue;
        };
        if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || target & mask != dest {
            continue;
        }
        let rank = (mask.count_ones(), -metric);
        if best.as_ref().is_some_and(|(r, _)| *r >= rank) {
            continue;
        }
        let way = if flags & RTF_GATEWAY != 0 {
            Route::Via(Ipv4Addr::from(gateway.to_ne_bytes()), iface.to_string())
        } else {
            Route::OnLink(iface.to_string())
        };
        best = Some((rank, way));
    }
    best.map_or(Route::None, |(_, way)| way)
}

/// The interface to broadcast on: the one the server is on, or why there is none.
fn interface_for(route: Route, server: Ipv4Addr) -> Result<String, String> {
    match route {
        Route::OnLink(iface) => Ok(iface),
        Route::Via(gateway, iface) => Err(format!(
            "{server} is reached through the router {gateway} on {iface}: a DISCOVER is broadcast and does not cross routers; probe `from:` a host on the server's segment, or name its `interface`"
        )),
        Route::None => Err(format!("no route to {server}")),
    }
}

/// A socket on the client port of one interface, that may broadcast.
fn client_socket(iface: &str) -> Result<tokio::net::UdpSocket, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let fail = |e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (a DHCP client port: the probe needs root)"
        } else {
            ""
        };
        format!("listening on UDP port {CLIENT_PORT} of {iface}: {e}{hint}")
    };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    // A DHCP client of the machine may hold the port too: both then hear broadcasts.
    socket.set_reuse_address(true).map_err(fail)?;
    socket.set_broadcast(true).map_err(fail)?;
    socket.bind_device(Some(iface.as_bytes())).map_err(fail)?;
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT);
    socket.bind(&any.into()).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    tokio::net::UdpSocket::from_std(socket.into()).map_err(fail)
}

/// What a round has heard so far, or why it stopped.
#[derive(Debug, Default)]
struct Heard {
    datagrams: Vec<(Ipv4Addr, Vec<u8>)>,
    error: Option<String>,
}

/// One DISCOVER on one interface of the grader (resent after [`RESEND`], then twice as long
/// each time, as RFC 2131 clients do) and every datagram heard since, shared by the probes
/// that run meanwhile. Sharing is needed twice over: the client port of an interface is one
/// (an answer that is not broadcast reaches one socket only), and every server on a segment
/// answers every DISCOVER, some slowly (dnsmasq pings the address first, 3 s per DISCOVER,
/// one at a time): checks run at once would otherwise queue behind each other's DISCOVERs.
struct Round {
    discover: Discover,
    heard: watch::Receiver<Heard>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Round {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The rounds going on, by interface; a round ends when its last probe is done.
static ROUNDS: Mutex<BTreeMap<String, Weak<Round>>> = Mutex::new(BTreeMap::new());
/// A busy segment must not make a round grow without end.
const MAX_HEARD: usize = 1000;

/// Join the round going on on `iface`, or start one.
fn join(iface: &str) -> Result<Arc<Round>, String> {
    let mut rounds = ROUNDS.lock().unwrap_or_else(PoisonError::into_inner);
    rounds.retain(|_, round| round.strong_count() > 0);
    if let Some(round) = rounds.get(iface).and_then(Weak::upgrade) {
        return Ok(round);
    }
    let socket = client_socket(iface)?;
    let discover = Discover::random()?;
    let (tx, heard) = watch::channel(Heard::default());
    let task = tokio::spawn(listen_and_resend(socket, iface.to_string(), discover, tx));
    let round = Arc::new(Round {
        discover,
        heard,
        task,
    });
    rounds.insert(iface.to_string(), Arc::downgrade(&round));
    Ok(round)
}

async fn listen_and_resend(
    socket: tokio::net::UdpSocket,
    iface: String,
    discover: Discover,
    tx: watch::Sender<Heard>,
) {
    let packet = discover.encode();
    let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
    let mut next_send = Instant::now();
    let mut backoff = RESEND;
    let mut buf = vec![0u8; 4096];
    let error = loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_send) => {
                if let Err(e) = socket.send_to(&packet, to).await {
                    break format!("broadcasting the DISCOVER on {iface}: {e}");
                }
                next_send += backoff;
                backoff = (backoff * 2).min(Duration::from_secs(64));
            }
            got = socket.recv_from(&mut buf) => match got {
                Ok((n, SocketAddr::V4(from))) => tx.send_modify(|heard| {
                    if heard.datagrams.len() < MAX_HEARD {
                        heard.datagrams.push((*from.ip(), buf[..n].to_vec()));
                    }
                }),
                Ok(_) => {}
                Err(e) => break format!("listening on {iface}: {e}"),
            },
        }
    };
    tx.send_modify(|heard| heard.error = Some(error));
}

/// Wait in a round for the server's answer, until the end of `listen`; what was heard.
async fn wait_for(
    round: &Round,
    server: Ipv4Addr,
    listen: Duration,
) -> Result<Vec<(Ipv4Addr, Vec<u8>)>, String> {
    let deadline = Instant::now() + listen;
    let mut heard = round.heard.clone();
    loop {
        {
            let now = heard.borrow_and_update();
            if let Some(e) = &now.error {
                return Err(e.clone());
            }
            let xid = round.discover.xid;
            if now
                .datagrams
                .iter()
                .any(|(from, bytes)| answers(server, xid, *from, bytes))
            {
                return Ok(now.datagrams.clone());
            }
        }
        match tokio::time::timeout_at(deadline, heard.changed()).await {
            Err(_) => return Ok(heard.borrow().datagrams.clone()),
            Ok(Err(_)) => return Err("the DHCP listener stopped".to_string()),
            Ok(Ok(())) => {}
        }
    }
}

/// The role's side: find the interface, send the DISCOVER it is given, print what comes
/// back as `from ADDRESS HEX` for `parse` to decode with the same code as the grader.
const SCRIPT: &str = r#"import socket, struct, sys, time
server, iface, hexed, listen, resend = sys.argv[1:6]
srv = socket.inet_aton(server)
if not iface:
    target, best = struct.unpack("=I", srv)[0], None
    for line in open("/proc/net/route").read().splitlines()[1:]:
        c = line.split()
        if len(c) < 8:
            continue
        dest, gw, flags, mask = (int(c[i], 16) for i in (1, 2, 3, 7))
        if flags & 1 and not flags & 0x200 and target & mask == dest:
            rank = (bin(mask).count("1"), -int(c[6]))
            if best is None or rank > best[0]:
                best = (rank, c[0], gw, flags)
    if best is None:
        print("route none")
        sys.exit(0)
    if best[3] & 2:
        print("route via %s %s" % (socket.inet_ntoa(struct.pack("=I", best[2])), best[1]))
        sys.exit(0)
    iface = best[1]
print("interface " + iface, flush=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_BINDTODEVICE", 25), iface.encode())
    s.bind(("0.0.0.0", 68))
except OSError as e:
    hint = " (a DHCP client port: the probe needs root)" if e.errno == 13 else ""
    sys.stderr.write("listening on UDP port 68 of %s: %s%s\n" % (iface, e.strerror, hint))
    sys.exit(3)
packet = bytes.fromhex(hexed)
xid = packet[4:8]
start = time.monotonic()
deadline, sends = start + float(listen), [start, start + float(resend)]
while True:
    now = time.monotonic()
    if sends and now >= sends[0]:
        s.sendto(packet, ("255.255.255.255", 67))
        sends.pop(0)
        print("sent " + hexed, flush=True)
    until = min([deadline] + sends[:1])
    if now >= deadline:
        break
    s.settimeout(max(until - now, 0.01))
    try:
        data, (host, _) = s.recvfrom(4096)
    except socket.timeout:
        continue
    print("from %s %s" % (host, data.hex()), flush=True)
    mine = data[4:8] == xid
    if (host == server and (len(data) < 240 or mine)) or (mine and b"\x36\x04" + srv in data[240:]):
        break
print("end")
"#;

/// Read the role script's lines: the interface, the DISCOVER sent, the datagrams heard.
/// The script's output is the check's evidence already: the transcript is not kept.
fn read_script(server: Ipv4Addr, out: &str) -> Result<Facts, String> {
    let mut discover = None;
    let mut heard = Vec::new();
    for line in out.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "route" => {
                let mut parts = rest.split_whitespace();
                let way = match (parts.next(), parts.next(), parts.next()) {
                    (Some("via"), Some(gw), Some(iface)) => Route::Via(
                        gw.parse()
                            .map_err(|_| format!("unexpected line {line:?}"))?,
                        iface.to_string(),
                    ),
                    _ => Route::None,
                };
                return Err(interface_for(way, server)
                    .err()
                    .unwrap_or_else(|| format!("unexpected line {line:?}")));
            }
            "interface" => {}
            "sent" if discover.is_none() => {
                let bytes = unhex(rest).ok_or_else(|| format!("unexpected line {line:?}"))?;
                discover = Some(Discover::decode(&bytes).ok_or("the DISCOVER sent is cut short")?);
            }
            "from" => {
                let (from, hex) = rest
                    .split_once(' ')
                    .ok_or_else(|| format!("unexpected line {line:?}"))?;
                let from: Ipv4Addr = from
                    .parse()
                    .map_err(|_| format!("unexpected line {line:?}"))?;
                heard.push((from, unhex(hex).unwrap_or_default()));
            }
            _ => {}
        }
    }
    let discover = discover.ok_or("the probe sent no DISCOVER")?;
    if !out.lines().any(|l| l == "end") {
        return Err("the probe stopped before the end of its wait".to_string());
    }
    judge_replies(server, discover.xid, &heard, LISTEN, &mut String::new())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl Kind for Dhcp {
    fn name(&self) -> &'static str {
        "dhcp"
    }

    fn subject(&self) -> &'static str {
        "server"
    }

    fn doc(&self) -> &'static str {
        "A DHCP server seen by a new client on its segment: a DHCPDISCOVER is broadcast (from the grader, or `from:` a role on that segment) and the server's OFFER is read; offers from other servers are ignored. No REQUEST follows: no lease is taken from the pool. Binding the DHCP client port needs root on the grader or the role's host (python3 there: Debian package python3)."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("offers")
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some(("offers", Expect::Bool(true)))
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        server_address(q.subject).map(|a| a.to_string())
    }

    /// From a role: python3, whose sockets can broadcast and bind to a device. The DISCOVER
    /// is built here and handed over as hex; the datagrams heard come back as hex.
    fn script(&self, q: &Query) -> String {
        let server = match server_address(q.subject) {
            Ok(s) => s,
            Err(e) => return format!("echo {} >&2; exit 2\n", shell_quote(&e)),
        };
        let discover = match Discover::random() {
            Ok(d) => d,
            Err(e) => return format!("echo {} >&2; exit 2\n", shell_quote(&e)),
        };
        format!(
            "need python3\npython3 -c {} {} {} {} {} {}\n",
            shell_quote(SCRIPT),
            shell_quote(&server.to_string()),
            shell_quote(q.input("interface").unwrap_or("")),
            shell_quote(&hex(&discover.encode())),
            LISTEN.as_secs_f64(),
            RESEND.as_secs_f64(),
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("the probe stopped: {:?}", output.exit_code),
                reason => reason.to_string(),
            });
        }
        let server = server_address(q.subject)?;
        read_script(server, &output.stdout_text())
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let server = server_address(q.subject)?;
        let iface = match q.input("interface") {
            Some(iface) => iface.to_string(),
            None => {
                let table = std::fs::read_to_string("/proc/net/route")
                    .map_err(|e| format!("reading /proc/net/route: {e}"))?;
                interface_for(route(&table, server), server)?
            }
        };
        let listen = LISTEN.min(wait.saturating_sub(MARGIN));
        let round = join(&iface)?;
        let discover = round.discover;
        let mut transcript = format!(
            "DISCOVER xid {:#010x} as {} on {iface}, broadcast to port {SERVER_PORT}\n",
            discover.xid,
            discover.mac_text(),
        );
        let heard = wait_for(&round, server, listen).await?;
        match judge_replies(server, discover.xid, &heard, listen, &mut transcript) {
            Ok(facts) => Ok(Observation { facts, transcript }),
            Err(e) => Err(format!("{e}\n{}", transcript.trim_end())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;

    /// An OFFER as dnsmasq 2.90 sends it, cut to the fields read, with a pad option.
    fn offer(xid: u32, yiaddr: [u8; 4], server: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; FIXED];
        p[0] = 2;
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&xid.to_be_bytes());
        p[16..20].copy_from_slice(&yiaddr);
        p.extend_from_slice(&COOKIE);
        p.extend_from_slice(&[53, 1, 2, 54, 4]);
        p.extend_from_slice(&server);
        p.extend_from_slice(&[51, 4, 0, 0, 0x1c, 0x20, 0, 1, 4, 255, 255, 0, 0]);
        p.extend_from_slice(&[3, 4, 10, 213, 0, 254, 6, 8, 10, 213, 0, 53, 10, 213, 0, 54]);
        p.extend_from_slice(&[15, 12]);
        p.extend_from_slice(b"lab.example\0");
        p.push(255);
        p
    }

    #[test]
    fn the_discover_is_a_broadcast_bootrequest() {
        let d = Discover {
            xid: 0x0102_0304,
            mac: [2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
        };
        let p = d.encode();
        assert_eq!(p.len(), MIN_SIZE);
        assert_eq!(p[..12], [1, 1, 6, 0, 1, 2, 3, 4, 0, 0, 0x80, 0]);
        assert_eq!(p[28..34], d.mac);
        assert_eq!(
            p[236..253],
            [
                99, 130, 83, 99, 53, 1, 1, 55, 6, 1, 3, 6, 15, 51, 54, 255, 0
            ]
        );
        assert_eq!(Discover::decode(&p), Some(d));
        let r = Discover::random().unwrap();
        assert_eq!(r.mac[0] & 0x03, 0x02, "locally administered, unicast");
    }

    #[test]
    fn an_offer_is_read() {
        let reply = decode(&offer(7, [10, 213, 250, 12], [10, 213, 0, 5])).unwrap();
        assert_eq!(reply.message_type, Some(2));
        let facts = offer_facts(&reply);
        assert_eq!(facts["address"], Fact::Text("10.213.250.12".into()));
        assert_eq!(facts["netmask"], Fact::Text("255.255.0.0".into()));
        assert_eq!(facts["router"], Fact::List(vec!["10.213.0.254".into()]));
        assert_eq!(
            facts["dns_servers"],
            Fact::List(vec!["10.213.0.53".into(), "10.213.0.54".into()])
        );
        assert_eq!(facts["domain"], Fact::Text("lab.example".into()));
        assert_eq!(facts["lease_time"], Fact::Number(7200.0));
        assert_eq!(facts["server"], Fact::Text("10.213.0.5".into()));
        assert!(decode(b"garbage\n").is_err());
        let mut cut = offer(7, [1, 2, 3, 4], [5, 6, 7, 8]);
        cut.truncate(cut.len() - 8);
        assert_eq!(decode(&cut), Err("a DHCP option is cut short".to_string()));
    }

    #[test]
    fn only_the_named_servers_answer_counts() {
        let server = Ipv4Addr::new(10, 213, 0, 5);
        let other = Ipv4Addr::new(10, 213, 0, 6);
        let mut t = String::new();
        let heard = vec![
            (other, offer(7, [10, 213, 251, 1], [10, 213, 0, 6])),
            (server, offer(8, [10, 213, 250, 1], [10, 213, 0, 5])),
            (other, b"garbage".to_vec()),
            (server, offer(7, [10, 213, 250, 2], [10, 213, 0, 5])),
        ];
        assert!(!answers(server, 7, heard[0].0, &heard[0].1));
        assert!(!answers(server, 7, heard[1].0, &heard[1].1));
        assert!(answers(server, 7, heard[3].0, &heard[3].1));
        let facts = judge_replies(server, 7, &heard, LISTEN, &mut t).unwrap();
        assert_eq!(facts["address"], Fact::Text("10.213.250.2".into()));
        assert!(t.contains("another server's: ignored"), "{t}");
        assert!(t.contains("another client's: ignored"), "{t}");

        let silent = judge_replies(server, 7, &heard[..3], LISTEN, &mut t).unwrap();
        assert_eq!(silent, Facts::from([("offers", Fact::Bool(false))]));

        let garbage = [(server, b"garbage\n".to_vec())];
        assert!(answers(server, 7, server, &garbage[0].1));
        assert_eq!(
            judge_replies(server, 7, &garbage, LISTEN, &mut t),
            Err("10.213.0.5 answered with not a DHCP reply (8 bytes: \"garbage\\n\")".into())
        );
        let mut nak = offer(7, [0, 0, 0, 0], [10, 213, 0, 5]);
        nak[242] = 6;
        assert_eq!(
            judge_replies(server, 7, &[(server, nak)], LISTEN, &mut t),
            Err("10.213.0.5 answered the DISCOVER with a NAK, not an OFFER".into())
        );
    }

    /// /proc/net/route of the grader in the tests (x86: addresses little-end first).
    const TABLE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        lgtest0\t0000D50A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
        *\tFEFFD50A\t00000000\t0205\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    #[cfg(target_endian = "little")]
    #[test]
    fn the_route_names_the_interface() {
        let at = |s: &str| route(TABLE, s.parse().unwrap());
        assert_eq!(at("10.213.3.4"), Route::OnLink("lgtest0".into()));
        assert_eq!(at("192.0.2.9"), Route::OnLink("eth0".into()));
        assert_eq!(
            at("198.51.100.1"),
            Route::Via("192.0.2.1".parse().unwrap(), "eth0".into())
        );
        assert_eq!(at("10.213.255.254"), Route::OnLink("lgtest0".into()));
        assert_eq!(route("Iface\n", Ipv4Addr::LOCALHOST), Route::None);
        let server = "198.51.100.1".parse().unwrap();
        assert_eq!(
            interface_for(route(TABLE, server), server),
            Err("198.51.100.1 is reached through the router 192.0.2.1 on eth0: a DISCOVER is broadcast and does not cross routers; probe `from:` a host on the server's segment, or name its `interface`".into())
        );
    }

    #[test]
    fn the_role_script_output_is_read() {
        let d = Discover {
            xid: 7,
            mac: [2, 1, 2, 3, 4, 5],
        };
        let out = format!(
            "interface eth0\nsent {}\nfrom 10.213.0.6 {}\nfrom 10.213.0.5 {}\nend\n",
            hex(&d.encode()),
            hex(&offer(7, [10, 213, 251, 1], [10, 213, 0, 6])),
            hex(&offer(7, [10, 213, 250, 1], [10, 213, 0, 5])),
        );
        let facts = parse_canned(&Dhcp, "10.213.0.5", &[], 0, &out, "").unwrap();
        assert_eq!(facts["address"], Fact::Text("10.213.250.1".into()));
        let silent = format!("interface eth0\nsent {}\nend\n", hex(&d.encode()));
        assert_eq!(
            parse_canned(&Dhcp, "10.213.0.5", &[], 0, &silent, ""),
            Ok(Facts::from([("offers", Fact::Bool(false))]))
        );
        assert_eq!(
            parse_canned(&Dhcp, "10.213.0.5", &[], 0, "route none\n", ""),
            Err("no route to 10.213.0.5".into())
        );
        assert_eq!(
            parse_canned(
                &Dhcp,
                "10.213.0.5",
                &[],
                3,
                "interface eth0\n",
                "listening on UDP port 68 of eth0: Permission denied\n"
            ),
            Err("listening on UDP port 68 of eth0: Permission denied".into())
        );
        assert!(
            Dhcp.destination(&Query {
                subject: "srv.lab",
                inputs: &Default::default(),
                wants: &[]
            })
            .is_err()
        );
    }

    /// The role's python runs: a server behind the default route, or no route at all, is
    /// refused before any socket is opened.
    #[test]
    fn the_role_script_runs_for_real() {
        let e = crate::probe::testing::run_locally(&Dhcp, "127.0.0.1", &[], &[]).unwrap_err();
        assert!(
            e == "no route to 127.0.0.1" || e.contains("does not cross routers"),
            "{e}"
        );
    }
}
