//! `dns: NAME`: what one named DNS server answers for a name: records, status and the AA and RA flags.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Query as Question};
use hickory_proto::rr::{Name, RData, RecordType};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Expect, Fact, NumberMatch, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Dns;

const TYPES: &[&str] = &["A", "AAAA", "MX", "CNAME", "PTR", "NS", "SOA", "TXT", "SRV"];

const PARAMS: &[Param] = &[
    Param::input(
        "server",
        &[],
        "the DNS server asked, ADDRESS or ADDRESS:PORT (53 by default); never the system's resolver",
    )
    .required(),
    Param::input(
        "type",
        TYPES,
        "the record type asked for; A by default. For PTR the subject may be an IP address",
    ),
    Param::expect(
        "answers",
        Shape::List,
        "the answer records of that type, as text: A and AAAA the address, MX `PREF HOST`, CNAME, NS and PTR the name (no final dot), TXT the strings joined, SRV `PRIO WEIGHT PORT TARGET`, SOA `MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`",
    ),
    Param::expect("serial", Shape::Number, "the SOA serial (with type: SOA)"),
    Param::expect(
        "rcode",
        Shape::Text,
        "the answer's status: NOERROR, NXDOMAIN, REFUSED, SERVFAIL...",
    ),
    Param::expect(
        "authoritative",
        Shape::Bool,
        "the server answers with authority for the name (the AA flag)",
    ),
    Param::expect(
        "recursion",
        Shape::Bool,
        "the server offers recursion (the RA flag): an open resolver when it should not be one",
    ),
    Param::expect(
        "count",
        Shape::Number,
        "how many answer records of that type",
    ),
];

/// Per attempt over UDP: a lost datagram is sent again after this long, within the check's wait.
const PER_TRY: Duration = Duration::from_millis(1500);

/// What is asked, of whom.
#[derive(Debug, PartialEq)]
struct Ask {
    name: String,
    rtype: &'static str,
    host: String,
    port: u16,
}

fn ask(q: &Query) -> Result<Ask, String> {
    let server = q
        .input("server")
        .ok_or("`server` is required: the address of the DNS server to ask")?;
    let (host, port) = server_address(server)?;
    let wanted = q.input("type").unwrap_or("A");
    let rtype = TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| format!("`{wanted}` is not one of {}", TYPES.join(", ")))?;
    let name = match q.subject.parse::<IpAddr>() {
        Ok(ip) if rtype == "PTR" => ptr_name(ip),
        _ => q.subject.trim_end_matches('.').to_string(),
    };
    if name.is_empty() {
        return Err("the name to look up is empty".to_string());
    }
    Ok(Ask {
        name,
        rtype,
        host,
        port,
    })
}

/// `ADDRESS`, `ADDRESS:PORT`, a bare IPv6 address or `[V6]:PORT`.
fn server_address(server: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{server}` is not a server address (ADDRESS or ADDRESS:PORT)");
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.strip_prefix(':').ok_or_else(bad)?)),
            None => return Err(bad()),
        }
    } else if server.matches(':').count() == 1 {
        let (host, port) = server.split_once(':').ok_or_else(bad)?;
        (host, Some(port))
    } else {
        (server, None)
    };
    let port = match port {
        None => 53,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?,
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// The reverse name of an address: 10.213.0.80 is 80.0.213.10.in-addr.arpa.
fn ptr_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|b| [b >> 4, b & 0xf])
                .map(|n| format!("{n:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

/// A name as the answers show it: no final dot, except the root itself.
fn bare(name: &str) -> String {
    match name.strip_suffix('.') {
        Some("") | None => name.to_string(),
        Some(bare) => bare.to_string(),
    }
}

/// The status words dig prints, so that both ways of probing say the same.
fn rcode_name(code: u16) -> String {
    match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        other => return format!("RCODE{other}"),
    }
    .to_string()
}

fn facts(rcode: String, aa: bool, ra: bool, answers: Vec<String>, serial: Option<u32>) -> Facts {
    let mut facts = Facts::from([
        ("rcode", Fact::Text(rcode)),
        ("authoritative", Fact::Bool(aa)),
        ("recursion", Fact::Bool(ra)),
        ("count", Fact::Number(answers.len() as f64)),
        ("answers", Fact::List(answers)),
    ]);
    if let Some(serial) = serial {
        facts.insert("serial", Fact::Number(f64::from(serial)));
    }
    facts
}

/// The serial of an SOA answer's text: its third field.
fn soa_serial(answer: &str) -> Option<u32> {
    answer.split_whitespace().nth(2)?.parse().ok()
}

/// A record's data as the `answers` fact shows it.
fn answer_text(data: &RData) -> String {
    let name = |n: &Name| bare(&n.to_ascii());
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::MX(mx) => format!("{} {}", mx.preference, name(&mx.exchange)),
        RData::CNAME(n) => name(&n.0),
        RData::NS(n) => name(&n.0),
        RData::PTR(n) => name(&n.0),
        RData::TXT(txt) => {
            let bytes: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        RData::SRV(srv) => format!(
            "{} {} {} {}",
            srv.priority,
            srv.weight,
            srv.port,
            name(&srv.target)
        ),
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            name(&soa.mname),
            name(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        ),
        other => other.to_string(),
    }
}

/// dig's presentation of a record's data, read into the same text as [`answer_text`].
fn dig_answer_text(rtype: &str, data: &str) -> String {
    match rtype {
        "TXT" => unquote(data),
        "A" | "AAAA" => data.to_string(),
        _ => data
            .split_whitespace()
            .map(bare)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Join dig's `"a" "b"` character-strings, undoing its `\"`, `\\` and `\DDD` escapes.
fn unquote(data: &str) -> String {
    let mut bytes = Vec::new();
    let mut chars = data.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => {
                let digits: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_digit))
                    .take(3)
                    .collect();
                if digits.is_empty() {
                    if let Some(next) = chars.next() {
                        let mut buf = [0; 4];
                        bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                    }
                } else {
                    bytes.push(digits.parse::<u16>().map_or(b'?', |n| n as u8));
                }
            }
            c if quoted || !c.is_whitespace() => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn record_type(rtype: &str) -> RecordType {
    match rtype {
        "AAAA" => RecordType::AAAA,
        "MX" => RecordType::MX,
        "CNAME" => RecordType::CNAME,
        "PTR" => RecordType::PTR,
        "NS" => RecordType::NS,
        "SOA" => RecordType::SOA,
        "TXT" => RecordType::TXT,
        "SRV" => RecordType::SRV,
        _ => RecordType::A,
    }
}

/// Read dig's `+noall +comments +answer +nottlid +noclass` output.
fn parse_dig(rtype: &str, stdout: &str) -> Result<Facts, String> {
    let mut rcode = None;
    let mut flags = None;
    let mut answers = Vec::new();
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix(";; ->>HEADER<<-") {
            rcode = header
                .split(',')
                .find_map(|part| part.trim().strip_prefix("status: "))
                .map(str::to_string);
        } else if let Some(rest) = line.strip_prefix(";; flags:") {
            flags = rest
                .split(';')
                .next()
                .map(|f| f.split_whitespace().map(str::to_string).collect::<Vec<_>>());
        } else if !line.is_empty() && !line.starts_with(';') {
            let mut fields = line.splitn(2, char::is_whitespace);
            let _owner = fields.next();
            let rest = fields.next().unwrap_or("").trim_start();
            let (found, data) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if found.eq_ignore_ascii_case(rtype) {
                answers.push(dig_answer_text(rtype, data.trim()));
            }
        }
    }
    let (Some(rcode), Some(flags)) = (rcode, flags) else {
        return Err("dig printed no answer header".to_string());
    };
    let has = |flag: &str| flags.iter().any(|f| f == flag);
    if !has("qr") {
        return Err("the server's reply is not a DNS answer (QR flag not set)".to_string());
    }
    let serial = if rtype == "SOA" {
        answers.first().and_then(|a| soa_serial(a))
    } else {
        None
    };
    Ok(facts(rcode, has("aa"), has("ra"), answers, serial))
}

/// Send one query over UDP and wait for its answer, sending again while no answer comes
/// and time is left. Anything that comes back and is not the answer ends in error at once.
async fn exchange(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    wait: Duration,
) -> Result<Message, String> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("an address")
    } else {
        "[::]:0".parse().expect("an address")
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| format!("open a UDP socket: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no answer from {server} within {} ms",
                wait.as_millis()
            ));
        }
        socket
            .send(query)
            .await
            .map_err(|e| format!("send to {server}: {e}"))?;
        let try_until = Instant::now() + PER_TRY.min(left);
        loop {
            let left = try_until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(format!(
                        "{server}: nothing answers DNS there (port unreachable)"
                    ));
                }
                Ok(Err(e)) => return Err(format!("receive from {server}: {e}")),
                Ok(Ok(n)) => {
                    let message = Message::from_vec(&buf[..n]).map_err(|e| {
                        format!("{server} answered {n} bytes that are not a DNS message: {e}")
                    })?;
                    if message.metadata.id != id {
                        // A late answer to an earlier attempt, or noise: keep waiting.
                        continue;
                    }
                    if message.metadata.message_type != MessageType::Response {
                        return Err(format!(
                            "{server} sent back something that is not a DNS answer (QR flag not set)"
                        ));
                    }
                    return Ok(message);
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Kind for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn subject(&self) -> &'static str {
        "a name"
    }

    fn doc(&self) -> &'static str {
        "What a given DNS server answers for a name (from the grader, or `from:` a role): records, status, authority, recursion."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    /// A check with no expectation asks that the name has a record of that type.
    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some((
            "count",
            Expect::Number(NumberMatch {
                ge: Some(1.0),
                ..Default::default()
            }),
        ))
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        ask(q).map(|a| a.host)
    }

    /// From a role: dig, one query with recursion desired (dig's default), so RA says
    /// whether recursion is offered.
    fn script(&self, q: &Query) -> String {
        let a = match ask(q) {
            Ok(a) => a,
            Err(reason) => return format!("echo {} >&2; exit 2\n", shell_quote(&reason)),
        };
        format!(
            "need dig\n\
             dig {server} -p {port} {name} {rtype} +noall +comments +answer +nottlid +noclass +time=2 +tries=2 2>&1\n",
            server = shell_quote(&format!("@{}", a.host)),
            port = a.port,
            name = shell_quote(&a.name),
            rtype = a.rtype,
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let rtype = ask(q).map(|a| a.rtype).unwrap_or("A");
        if output.exit_code != Some(0) {
            let lines: Vec<String> = stdout
                .lines()
                .chain(output.stderr_text().lines())
                .map(|l| l.trim().trim_start_matches(';').trim().to_string())
                .filter(|l| {
                    !l.is_empty() && !l.starts_with("<<>>") && !l.starts_with("global options")
                })
                .collect();
            // dig's first complaint names the cause; its last line only sums up.
            let said = lines
                .iter()
                .find(|l| l.contains("error") || l.contains("timed out"))
                .or(lines.last())
                .cloned();
            return Err(said.unwrap_or_else(|| format!("dig exited with {:?}", output.exit_code)));
        }
        parse_dig(rtype, &stdout)
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let a = ask(q)?;
        // Answer before the runner's own timeout does, with a reason of our own.
        let wait = wait
            .saturating_sub(Duration::from_millis(200))
            .max(Duration::from_millis(100));
        let started = Instant::now();
        let server = tokio::time::timeout(wait, tokio::net::lookup_host((a.host.as_str(), a.port)))
            .await
            .map_err(|_| format!("could not resolve the server `{}` in time", a.host))?
            .map_err(|e| format!("server `{}`: {e}", a.host))?
            .next()
            .ok_or_else(|| format!("server `{}` has no address", a.host))?;
        let name = Name::from_ascii(format!("{}.", a.name))
            .map_err(|e| format!("`{}` is not a DNS name: {e}", a.name))?;
        let rtype = record_type(a.rtype);
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Question::query(name, rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        message.set_edns(edns);
        let id = message.metadata.id;
        let bytes = message
            .to_vec()
            .map_err(|e| format!("could not build the query: {e}"))?;
        let sent = format!("query {} {} @{server} (rd)", a.name, a.rtype);
        let answer = exchange(server, &bytes, id, wait).await?;
        let meta = &answer.metadata;
        if meta.truncation {
            // dig would ask again over TCP; judging a cut list of records could fail a right answer.
            return Err(format!(
                "{server} truncated its answer (TC flag) and asking over TCP is not supported"
            ));
        }
        let rcode = rcode_name(u16::from(meta.response_code));
        let records: Vec<_> = answer
            .answers
            .iter()
            .filter(|r| r.record_type() == rtype)
            .collect();
        let answers: Vec<String> = records.iter().map(|r| answer_text(&r.data)).collect();
        let serial = records.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
        let mut flags = vec!["qr"];
        for (set, flag) in [
            (meta.authoritative, "aa"),
            (meta.recursion_desired, "rd"),
            (meta.recursion_available, "ra"),
        ] {
            if set {
                flags.push(flag);
            }
        }
        let mut transcript = format!(
            "{sent}\nstatus {rcode}, flags {}, {} answer(s) after {} ms",
            flags.join(" "),
            answer.answers.len(),
            started.elapsed().as_millis()
        );
        for record in &answer.answers {
            transcript.push_str(&format!(
                "\n{} {} {}",
                bare(&record.name.to_ascii()),
                record.record_type(),
                answer_text(&record.data)
            ));
        }
        Ok(Observation {
            facts: facts(
                rcode,
                meta.authoritative,
                meta.recursion_available,
                answers,
                serial,
            ),
            transcript,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;

    /// Captured from dig 9.18 against bind9 9.18 serving lab.example, recursion off.
    const WWW_A: &str = ";; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 22377
;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1
;; WARNING: recursion requested but not available

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 70b3e6657ad5e571010000006b0aeee7cd3ed4c1a6bd1342 (good)
;; ANSWER SECTION:
www.lab.example.\tA\t10.213.0.80

";

    const INTRANET_A: &str = ";; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 40913
;; flags: qr aa rd; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1
;; WARNING: recursion requested but not available

;; ANSWER SECTION:
intranet.lab.example.\tCNAME\twww.lab.example.
www.lab.example.\tA\t10.213.0.80

";

    const MX: &str = ";; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4793
;; flags: qr aa rd; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 2
;; WARNING: recursion requested but not available

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 0c424b6babf94d10010000006b0aeee7a2bd3e4145319d09 (good)
;; ANSWER SECTION:
lab.example.\t\tMX\t10 mail.lab.example.
lab.example.\t\tMX\t20 mail2.lab.example.

";

    const SOA: &str = ";; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 63101
;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1
;; WARNING: recursion requested but not available

;; ANSWER SECTION:
lab.example.\t\tSOA\tns1.lab.example. admin.lab.example. 2026112801 7200 900 1209600 300

";

    const TXT: &str = ";; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 52937
;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1
;; WARNING: recursion requested but not available

;; ANSWER SECTION:
long.lab.example.\tTXT\t\"part one \" \"part two\"

";

    const NXDOMAIN: &str = ";; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 7220
;; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1
;; WARNING: recursion requested but not available

";

    /// A UDP echo: dig warns, then prints the query back as if it were the answer.
    const ECHO: &str = ";; Warning: query response not set
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 32403
;; flags: rd ad; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1
;; WARNING: recursion requested but not available

";

    const DOWN: &str = ";; communications error to 127.0.0.1#5398: connection refused

; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> @127.0.0.1 -p 5398 lab.example A +noall +comments +answer +nottlid +noclass +time=1 +tries=1
; (1 server found)
;; global options: +cmd
;; no servers could be reached
";

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn parsed(subject: &str, rtype: &str, code: i32, stdout: &str) -> Result<Facts, String> {
        parse_canned(
            &Dns,
            subject,
            &[("server", "127.0.0.1"), ("type", rtype)],
            code,
            stdout,
            "",
        )
    }

    #[test]
    fn dig_output_is_read() {
        assert_eq!(
            parsed("www.lab.example", "A", 0, WWW_A),
            Ok(facts(
                "NOERROR".into(),
                true,
                false,
                list(&["10.213.0.80"]),
                None
            ))
        );
        assert_eq!(
            parsed("intranet.lab.example", "A", 0, INTRANET_A).unwrap()["answers"],
            Fact::List(list(&["10.213.0.80"])),
            "only the records of the type asked for"
        );
        assert_eq!(
            parsed("lab.example", "MX", 0, MX).unwrap()["answers"],
            Fact::List(list(&["10 mail.lab.example", "20 mail2.lab.example"]))
        );
        assert_eq!(
            parsed("lab.example", "SOA", 0, SOA),
            Ok(facts(
                "NOERROR".into(),
                true,
                false,
                list(&["ns1.lab.example admin.lab.example 2026112801 7200 900 1209600 300"]),
                Some(2026112801)
            ))
        );
        assert_eq!(
            parsed("long.lab.example", "TXT", 0, TXT).unwrap()["answers"],
            Fact::List(list(&["part one part two"]))
        );
        assert_eq!(
            parsed("nope.lab.example", "A", 0, NXDOMAIN),
            Ok(facts("NXDOMAIN".into(), true, false, Vec::new(), None))
        );
    }

    #[test]
    fn what_is_not_an_answer_is_an_error() {
        assert_eq!(
            parsed("www.lab.example", "A", 0, ECHO),
            Err("the server's reply is not a DNS answer (QR flag not set)".to_string())
        );
        assert_eq!(
            parsed("www.lab.example", "A", 9, DOWN),
            Err("communications error to 127.0.0.1#5398: connection refused".to_string())
        );
        assert_eq!(
            parsed("www.lab.example", "A", 0, "garbage\n"),
            Err("dig printed no answer header".to_string())
        );
    }

    #[test]
    fn txt_escapes_are_undone() {
        assert_eq!(unquote(r#""a\"b" "c\\d" "\195\169""#), "a\"bc\\dé");
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            ptr_name("10.213.0.80".parse().unwrap()),
            "80.0.213.10.in-addr.arpa"
        );
        assert_eq!(
            ptr_name("fd00::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"
        );
        let inputs = BTreeMap::from([
            ("server".to_string(), "10.0.0.1".to_string()),
            ("type".to_string(), "PTR".to_string()),
        ]);
        let q = Query {
            subject: "10.213.0.80",
            inputs: &inputs,
            wants: &[],
        };
        assert_eq!(ask(&q).unwrap().name, "80.0.213.10.in-addr.arpa");
        let q = Query {
            subject: "80.0.213.10.in-addr.arpa.",
            ..q
        };
        assert_eq!(ask(&q).unwrap().name, "80.0.213.10.in-addr.arpa");
    }

    #[test]
    fn destination_is_the_server() {
        let dest = |server: &str| {
            let inputs = BTreeMap::from([("server".to_string(), server.to_string())]);
            Dns.destination(&Query {
                subject: "www.lab.example",
                inputs: &inputs,
                wants: &[],
            })
        };
        assert_eq!(dest("10.213.0.2"), Ok("10.213.0.2".to_string()));
        assert_eq!(dest("10.213.0.2:5353"), Ok("10.213.0.2".to_string()));
        assert_eq!(dest("fd00::2"), Ok("fd00::2".to_string()));
        assert_eq!(dest("[fd00::2]:53"), Ok("fd00::2".to_string()));
        assert!(dest("10.213.0.2:0").is_err());
        assert!(dest("").is_err());
        let inputs = BTreeMap::new();
        assert_eq!(
            Dns.destination(&Query {
                subject: "www.lab.example",
                inputs: &inputs,
                wants: &[],
            }),
            Err("`server` is required: the address of the DNS server to ask".to_string())
        );
        assert_eq!(server_address("[::1]:5353"), Ok(("::1".to_string(), 5353)));
        assert_eq!(server_address("h:53"), Ok(("h".to_string(), 53)));
    }

    async fn observe(server: &str, wait: Duration) -> Result<Observation, String> {
        let inputs = BTreeMap::from([("server".to_string(), server.to_string())]);
        let q = Query {
            subject: "www.lab.example",
            inputs: &inputs,
            wants: &[],
        };
        Dns.observe(&q, wait).await
    }

    /// A one-shot server on loopback that answers each datagram with what `reply` makes of it.
    async fn serve(reply: fn(&[u8]) -> Option<Vec<u8>>) -> String {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                if let Some(answer) = reply(&buf[..n]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        address
    }

    #[tokio::test]
    async fn an_answer_is_read_into_facts() {
        let server = serve(|query| {
            let query = Message::from_vec(query).unwrap();
            let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
            answer.metadata.authoritative = true;
            answer.metadata.recursion_desired = query.metadata.recursion_desired;
            answer.add_queries(query.queries.clone());
            let name = query.queries[0].name().clone();
            answer.add_answer(hickory_proto::rr::Record::from_rdata(
                name,
                60,
                RData::A(hickory_proto::rr::rdata::A([10, 213, 0, 80].into())),
            ));
            Some(answer.to_vec().unwrap())
        })
        .await;
        let seen = observe(&server, Duration::from_secs(2)).await.unwrap();
        assert_eq!(
            seen.facts,
            facts("NOERROR".into(), true, false, list(&["10.213.0.80"]), None)
        );
        assert!(
            seen.transcript
                .starts_with(&format!("query www.lab.example A @{server} (rd)\nstatus NOERROR, flags qr aa rd, 1 answer(s) after ")),
            "{}",
            seen.transcript
        );
    }

    #[tokio::test]
    async fn an_echo_garbage_silence_or_nothing_is_an_error_in_bounded_time() {
        let echo = serve(|query| Some(query.to_vec())).await;
        let garbage = serve(|_| Some(b"\x00\x01hello".to_vec())).await;
        let silent = serve(|_| None).await;
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().to_string()
        };
        let wait = Duration::from_secs(2);
        let started = Instant::now();
        assert_eq!(
            observe(&echo, wait).await.unwrap_err(),
            format!("{echo} sent back something that is not a DNS answer (QR flag not set)")
        );
        assert!(
            observe(&garbage, wait)
                .await
                .unwrap_err()
                .starts_with(&format!(
                    "{garbage} answered 7 bytes that are not a DNS message: "
                ))
        );
        assert_eq!(
            observe(&closed, wait).await.unwrap_err(),
            format!("{closed}: nothing answers DNS there (port unreachable)")
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        let started = Instant::now();
        assert_eq!(
            observe(&silent, wait).await.unwrap_err(),
            format!("no answer from {silent} within 1800 ms")
        );
        assert!(started.elapsed() < wait);
    }
}
