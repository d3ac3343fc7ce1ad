//! `http: URL`: what a web server answers from where the probe stands: status, headers, body, redirect and its TLS certificate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Expect, Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Http;

const PARAMS: &[Param] = &[
    Param::input(
        "host_header",
        &[],
        "the site name to ask for (Host header and TLS SNI) while connecting to the URL's host, e.g. a name-based virtual host on an address",
    ),
    Param::input("method", &["GET", "HEAD"], "GET (the default) or HEAD"),
    Param::input(
        "ca",
        &[],
        "a PEM file of extra trusted CA certificates for tls_valid, on the machine the probe runs from",
    ),
    Param::expect("status", Shape::Number, "the HTTP status code"),
    Param::expect("body", Shape::Text, "the body, at most its first 1 MiB"),
    Param::expect(
        "body_contains",
        Shape::Text,
        "the body contains this text (a list: all of them); short for `body: { contains: ... }`",
    ),
    Param::expect(
        "headers",
        Shape::Text,
        "the response headers, one `name: value` line each, names in lower case",
    ),
    Param::expect(
        "redirect",
        Shape::Text,
        "the Location header (redirects are never followed)",
    ),
    Param::expect(
        "tls_valid",
        Shape::Bool,
        "the certificate chain verifies against the system's trusted roots (plus `ca`) and names host_header, or the URL's host. Over http:// no tls_* fact is found",
    ),
    Param::expect(
        "tls_names",
        Shape::List,
        "the DNS names of the server certificate (subjectAltName)",
    ),
    Param::expect(
        "tls_days_left",
        Shape::Number,
        "whole days until the server certificate expires (negative once expired)",
    ),
    Param::expect(
        "tls_issuer",
        Shape::Text,
        "the common name (CN) of the certificate's issuer, or its whole name when it has no CN",
    ),
    Param::expect(
        "tls_self_signed",
        Shape::Bool,
        "the certificate's issuer is its own subject",
    ),
];

/// The body is kept up to this size: enough for any page a lab tests, bounded for a hostile server.
const BODY_CAP: usize = 1 << 20;

const TLS_FACTS: &[&str] = &[
    "tls_valid",
    "tls_names",
    "tls_days_left",
    "tls_issuer",
    "tls_self_signed",
];

/// The URL split into what the probe contacts and what it asks for.
#[derive(Debug, PartialEq)]
struct Target {
    https: bool,
    /// The host to connect to, without brackets.
    host: String,
    port: u16,
    /// The name asked for: host_header, or the URL's host.
    name: String,
    /// The URL with `name` as its host.
    url: reqwest::Url,
}

fn target(q: &Query) -> Result<Target, String> {
    let bad = |why: &str| format!("`{}` is not an http:// or https:// URL: {why}", q.subject);
    let mut url = reqwest::Url::parse(q.subject).map_err(|e| bad(&e.to_string()))?;
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(bad(&format!("scheme {other}"))),
    };
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host.trim_start_matches('[').trim_end_matches(']'),
        _ => return Err(bad("no host")),
    }
    .to_string();
    let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
    let name = match q.input("host_header") {
        Some(name) if !name.is_empty() => {
            url.set_host(Some(name))
                .map_err(|e| format!("host_header `{name}`: {e}"))?;
            name.to_string()
        }
        _ => host.clone(),
    };
    Ok(Target {
        https,
        host,
        port,
        name,
        url,
    })
}

fn method(q: &Query) -> Result<&'static str, String> {
    match q.input("method").unwrap_or("GET") {
        "GET" | "get" => Ok("GET"),
        "HEAD" | "head" => Ok("HEAD"),
        other => Err(format!("method `{other}` is not GET or HEAD")),
    }
}

fn wants_tls(q: &Query) -> bool {
    TLS_FACTS.iter().any(|name| q.wants(name))
}

/// The message of an error and of everything that caused it: reqwest's own says only
/// "error sending request".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// What the certificate says, from its DER form.
fn certificate_facts(der: &[u8], facts: &mut Facts) -> Result<(), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("unreadable server certificate: {e}"))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(name) => Some(name.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok().map(str::to_string))
        .unwrap_or_else(|| cert.issuer().to_string());
    let left = cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp();
    facts.insert("tls_names", Fact::List(names));
    facts.insert(
        "tls_days_left",
        Fact::Number(left.div_euclid(86_400) as f64),
    );
    facts.insert("tls_issuer", Fact::Text(issuer));
    facts.insert(
        "tls_self_signed",
        Fact::Bool(cert.issuer().as_raw() == cert.subject().as_raw()),
    );
    Ok(())
}

/// Accepts every certificate, so that the probe sees a broken one too, and records what a
/// strict client would have said about it.
#[derive(Debug)]
struct Recorder {
    strict: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Mutex<Option<(CertificateDer<'static>, Result<(), String>)>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.strict {
            None => Err("no trusted root certificates on the grader".to_string()),
            Some(strict) => strict
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        *self.seen.lock().unwrap() = Some((end_entity.clone().into_owned(), verdict));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS handshake of our own, for the certificate and the verdict of a strict client.
async fn tls_facts(
    t: &Target,
    addr: SocketAddr,
    ca: Option<&str>,
    facts: &mut Facts,
) -> Result<String, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(ca) = ca {
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("ca {ca}: {e}"))? {
            let cert = cert.map_err(|e| format!("ca {ca}: {e}"))?;
            roots.add(cert).map_err(|e| format!("ca {ca}: {e}"))?;
        }
    }
    let strict = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .ok();
    let recorder = Arc::new(Recorder {
        strict,
        provider: provider.clone(),
        seen: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let server_name =
        ServerName::try_from(t.name.clone()).map_err(|e| format!("`{}`: {e}", t.name))?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {}", chain(&e)))?;
    let (leaf, verdict) = recorder
        .seen
        .lock()
        .unwrap()
        .take()
        .ok_or("the server sent no certificate")?;
    certificate_facts(&leaf, facts)?;
    facts.insert("tls_valid", Fact::Bool(verdict.is_ok()));
    Ok(match verdict {
        Ok(()) => format!("tls: certificate valid for {}", t.name),
        Err(why) => format!("tls: certificate not valid for {}: {why}", t.name),
    })
}

/// Read the headers of the answer into facts; the body comes separately.
fn header_facts(status: u16, headers: &[(String, String)], facts: &mut Facts) {
    facts.insert("status", Fact::Number(f64::from(status)));
    let lines: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("{}: {value}", name.to_ascii_lowercase()))
        .collect();
    facts.insert("headers", Fact::Text(lines.join("\n")));
    if let Some((_, location)) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("location"))
    {
        facts.insert("redirect", Fact::Text(location.clone()));
    }
}

fn body_fact(body: &[u8], facts: &mut Facts) {
    let body = String::from_utf8_lossy(&body[..body.len().min(BODY_CAP)]).into_owned();
    facts.insert("body_contains", Fact::Text(body.clone()));
    facts.insert("body", Fact::Text(body));
}

/// Markers between the parts of the script's answer; the body comes last, so it may hold anything.
const HEADERS_MARK: &str = "--labgrade-http-headers--";
const TLS_MARK: &str = "--labgrade-http-tls--";
const BODY_MARK: &str = "--labgrade-http-body--";

/// Read curl's header dump: the last block wins (a `100 Continue` may come first).
fn parse_header_dump(dump: &str, facts: &mut Facts) -> Result<(), String> {
    let dump = dump.replace('\r', "");
    let block = dump
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .ok_or("no HTTP answer")?;
    let mut lines = block.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    header_facts(status, &headers, facts);
    Ok(())
}

/// Read what `openssl s_client` and `openssl x509` said about the certificate.
fn parse_openssl(text: &str, facts: &mut Facts) -> Result<(), String> {
    let mut verified = None;
    let mut subject = None;
    let mut issuer = None;
    let mut not_after = None;
    let mut names = Vec::new();
    let mut in_san = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(code) = line.strip_prefix("Verify return code:") {
            verified = Some(code.trim().starts_with("0 "));
        } else if let Some(v) = line.strip_prefix("subject=") {
            subject = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("issuer=") {
            issuer = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("notAfter=") {
            not_after = Some(v.trim().to_string());
        } else if line.starts_with("X509v3 Subject Alternative Name") {
            in_san = true;
            continue;
        } else if in_san {
            names.extend(
                line.split(',')
                    .filter_map(|n| n.trim().strip_prefix("DNS:"))
                    .map(str::to_string),
            );
        }
        in_san = false;
    }
    let (Some(verified), Some(subject), Some(issuer), Some(not_after)) =
        (verified, subject, issuer, not_after)
    else {
        return Err("openssl did not show the server certificate".to_string());
    };
    let not_after = chrono::NaiveDateTime::parse_from_str(
        not_after.trim_end_matches(" GMT"),
        "%b %e %H:%M:%S %Y",
    )
    .map_err(|e| format!("notAfter {not_after:?}: {e}"))?
    .and_utc();
    let left = not_after.timestamp() - chrono::Utc::now().timestamp();
    facts.insert("tls_valid", Fact::Bool(verified));
    facts.insert("tls_names", Fact::List(names));
    facts.insert(
        "tls_days_left",
        Fact::Number(left.div_euclid(86_400) as f64),
    );
    facts.insert("tls_issuer", Fact::Text(common_name(&issuer)));
    facts.insert("tls_self_signed", Fact::Bool(issuer == subject));
    Ok(())
}

/// The CN of an RFC 2253 name, or the whole name when it has none.
fn common_name(dn: &str) -> String {
    dn.split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .unwrap_or(dn)
        .to_string()
}

#[async_trait::async_trait]
impl Kind for Http {
    fn name(&self) -> &'static str {
        "http"
    }

    fn subject(&self) -> &'static str {
        "a URL"
    }

    fn doc(&self) -> &'static str {
        "A web server seen from outside (the grader, or `from:` a role, which needs curl there, and openssl for the tls_* facts): its answer to one request, redirects not followed, and its TLS certificate."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some((
            "status",
            Expect::Number(crate::expect::NumberMatch {
                eq: Some(200.0),
                ..Default::default()
            }),
        ))
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        target(q).map(|t| t.host)
    }

    /// From a role: curl, which answers any certificate (`-k`) as the grader does; the
    /// certificate itself from `openssl s_client`, only when a tls_* fact is wanted.
    fn script(&self, q: &Query) -> String {
        let (t, method) = match target(q).and_then(|t| Ok((t, method(q)?))) {
            Ok(found) => found,
            Err(why) => return format!("echo {} >&2; exit 2\n", shell_quote(&why)),
        };
        let connect_host = if t.host.contains(':') {
            format!("[{}]", t.host)
        } else {
            t.host.clone()
        };
        let mut curl = format!(
            "curl -sS -k --noproxy '*' -D \"$d/h\" -o \"$d/b\" --connect-to {} {}",
            shell_quote(&format!(
                "{}:{}:{connect_host}:{}",
                t.url.host_str().unwrap_or(&t.name),
                t.port,
                t.port
            )),
            shell_quote(t.url.as_str())
        );
        if method == "HEAD" {
            curl.push_str(" -I");
        }
        let mut script = format!(
            "need curl\n\
             d=$(mktemp -d) || exit 3\n\
             trap 'rm -rf \"$d\"' EXIT\n\
             {curl} 2>\"$d/e\" || {{ cat \"$d/e\" >&2; exit 3; }}\n\
             echo {HEADERS_MARK}\n\
             cat \"$d/h\"\n"
        );
        if t.https && wants_tls(q) {
            let name = shell_quote(&t.name);
            let ca = q
                .input("ca")
                .map(|ca| format!(" -CAfile {}", shell_quote(ca)))
                .unwrap_or_default();
            // SNI carries names only: an address is checked against the certificate's IP entries.
            let check = if t.name.parse::<std::net::IpAddr>().is_ok() {
                format!("-verify_ip {name}")
            } else {
                format!("-servername {name} -verify_hostname {name}")
            };
            script.push_str(&format!(
                "need openssl\n\
                 echo {TLS_MARK}\n\
                 openssl s_client -connect {addr} {check}{ca} </dev/null >\"$d/t\" 2>/dev/null\n\
                 grep '^ *Verify return code:' \"$d/t\"\n\
                 openssl x509 -noout -subject -issuer -enddate -ext subjectAltName -nameopt RFC2253 <\"$d/t\" 2>/dev/null\n",
                addr = shell_quote(&format!("{connect_host}:{}", t.port)),
            ));
        }
        script.push_str(&format!(
            "echo {BODY_MARK}\n\
             head -c {BODY_CAP} \"$d/b\"\n"
        ));
        script
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let unexpected = || match output.stderr_text().trim() {
            "" => format!(
                "unexpected answer: {:?}",
                stdout.chars().take(200).collect::<String>()
            ),
            reason => reason.to_string(),
        };
        if output.exit_code != Some(0) {
            return Err(unexpected());
        }
        let rest = stdout
            .strip_prefix(&format!("{HEADERS_MARK}\n"))
            .ok_or_else(unexpected)?;
        let (head, _) = rest
            .split_once(&format!("{BODY_MARK}\n"))
            .ok_or_else(unexpected)?;
        // The body may be anything: cut it from the bytes, not from their lossy text.
        let mark = format!("\n{BODY_MARK}\n");
        let body_at = output
            .stdout
            .windows(mark.len())
            .position(|w| w == mark.as_bytes())
            .map(|at| at + mark.len())
            .ok_or_else(unexpected)?;
        let (headers, tls) = match head.split_once(&format!("{TLS_MARK}\n")) {
            Some((headers, tls)) => (headers, Some(tls)),
            None => (head, None),
        };
        let mut facts = Facts::new();
        parse_header_dump(headers, &mut facts)?;
        body_fact(&output.stdout[body_at..], &mut facts);
        if let Some(tls) = tls
            && wants_tls(q)
        {
            parse_openssl(tls, &mut facts)?;
        }
        Ok(facts)
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let t = target(q)?;
        let method = method(q)?;
        let started = Instant::now();
        let addr = tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("{}: {e}", t.host))?
            .next()
            .ok_or_else(|| format!("{}: no address", t.host))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // The status and body of a site with a broken certificate are still worth grading;
            // tls_valid says what a browser would think of it.
            .tls_danger_accept_invalid_certs(true)
            .resolve(&t.name, addr)
            .timeout(wait)
            .build()
            .map_err(|e| chain(&e))?;
        let request = match method {
            "HEAD" => client.head(t.url.clone()),
            _ => client.get(t.url.clone()),
        };
        let mut transcript = format!("{method} {} (connecting to {addr})\n", t.url);
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("{method} {}: {}", t.url, chain(&e)))?;
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        transcript.push_str(&format!("{:?} {status}\n", response.version()));
        for (name, value) in &headers {
            if ["location", "server", "content-type", "content-length"].contains(&name.as_str()) {
                transcript.push_str(&format!("{name}: {value}\n"));
            }
        }
        let mut facts = Facts::new();
        header_facts(status.as_u16(), &headers, &mut facts);
        let mut body = Vec::new();
        while body.len() < BODY_CAP
            && let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| format!("reading the body: {}", chain(&e)))?
        {
            body.extend_from_slice(&chunk);
        }
        transcript.push_str(&format!("body: {} bytes read\n", body.len()));
        body_fact(&body, &mut facts);
        if t.https && wants_tls(q) {
            let line = tls_facts(&t, addr, q.input("ca"), &mut facts).await?;
            transcript.push_str(&line);
            transcript.push('\n');
        }
        transcript.push_str(&format!("after {} ms", started.elapsed().as_millis()));
        Ok(Observation { facts, transcript })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn target_of(subject: &str, host_header: Option<&str>) -> Result<Target, String> {
        let mut inputs = BTreeMap::new();
        if let Some(h) = host_header {
            inputs.insert("host_header".to_string(), h.to_string());
        }
        target(&Query {
            subject,
            inputs: &inputs,
            wants: &[],
        })
    }

    #[test]
    fn urls_and_destinations() {
        let t = target_of("https://10.0.0.2/x?y=1", Some("intranet.lab.example")).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.https), ("10.0.0.2", 443, true));
        assert_eq!(t.name, "intranet.lab.example");
        assert_eq!(t.url.as_str(), "https://intranet.lab.example/x?y=1");
        let t = target_of("http://[::1]:8080/", None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.name.as_str()),
            ("::1", 8080, "::1")
        );
        let t = target_of("http://srv.example/", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("srv.example", 80));
        assert!(target_of("ftp://10.0.0.2/", None).is_err());
        assert!(target_of("10.0.0.2", None).is_err());
        let inputs = BTreeMap::new();
        let q = Query {
            subject: "https://10.0.0.2/",
            inputs: &inputs,
            wants: &[],
        };
        assert_eq!(Http.destination(&q), Ok("10.0.0.2".to_string()));
    }

    #[test]
    fn the_script_asks_only_what_is_wanted() {
        let inputs = BTreeMap::from([("method".to_string(), "HEAD".to_string())]);
        let q = Query {
            subject: "http://[::1]:8080/",
            inputs: &inputs,
            wants: &["status", "tls_valid"],
        };
        let script = Http.script(&q);
        assert!(
            script.contains("--connect-to '[::1]:8080:[::1]:8080' 'http://[::1]:8080/' -I"),
            "{script}"
        );
        assert!(!script.contains("openssl"), "no TLS over http://: {script}");
        let q = Query {
            subject: "https://10.0.0.2/",
            ..q
        };
        assert!(Http.script(&q).contains("need openssl"));
        let q = Query { wants: &[], ..q };
        assert!(!Http.script(&q).contains("openssl"));
    }

    const CANNED: &str = "--labgrade-http-headers--\n\
        HTTP/1.1 301 Moved Permanently\r\n\
        Server: nginx\r\n\
        Location: https://intranet.lab.example/\r\n\
        \r\n\
        --labgrade-http-tls--\n\
        Verify return code: 18 (self-signed certificate)\n\
        subject=CN=intranet.lab.example\n\
        issuer=CN=intranet.lab.example\n\
        notAfter=Nov 28 15:00:00 2099 GMT\n\
        X509v3 Subject Alternative Name: \n    DNS:intranet.lab.example, DNS:www.lab.example, IP Address:10.0.0.2\n\
        --labgrade-http-body--\n\
        <html>moved</html>\n";

    #[test]
    fn the_script_answer_is_read() {
        let facts = parse_canned(&Http, "https://h/", &[], 0, CANNED, "").unwrap();
        assert_eq!(facts["status"], Fact::Number(301.0));
        assert_eq!(
            facts["headers"],
            Fact::Text("server: nginx\nlocation: https://intranet.lab.example/".to_string())
        );
        assert_eq!(
            facts["redirect"],
            Fact::Text("https://intranet.lab.example/".to_string())
        );
        assert_eq!(
            facts["body"],
            Fact::Text("<html>moved</html>\n".to_string())
        );
        // parse_canned wants nothing, so the TLS part is not read.
        assert!(!facts.contains_key("tls_valid"));
        let mut tls = Facts::new();
        let part = CANNED.split(TLS_MARK).nth(1).unwrap();
        parse_openssl(part.split(BODY_MARK).next().unwrap(), &mut tls).unwrap();
        assert_eq!(tls["tls_valid"], Fact::Bool(false));
        assert_eq!(tls["tls_self_signed"], Fact::Bool(true));
        assert_eq!(
            tls["tls_issuer"],
            Fact::Text("intranet.lab.example".to_string())
        );
        assert_eq!(
            tls["tls_names"],
            Fact::List(vec![
                "intranet.lab.example".to_string(),
                "www.lab.example".to_string()
            ])
        );
        assert!(matches!(tls["tls_days_left"], Fact::Number(d) if d > 20_000.0));
        assert_eq!(
            parse_canned(
                &Http,
                "https://h/",
                &[],
                3,
                "",
                "curl: (7) Failed to connect\n"
            ),
            Err("curl: (7) Failed to connect".to_string())
        );
        assert!(
            parse_canned(
                &Http,
                "https://h/",
                &[],
                0,
                "--labgrade-http-headers--\nHTTP/1.1 junk\n--labgrade-http-body--\n",
                ""
            )
            .is_err()
        );
    }

    #[test]
    fn interim_answers_are_skipped() {
        let mut facts = Facts::new();
        parse_header_dump(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/2 204\r\nx-a: b\r\n\r\n",
            &mut facts,
        )
        .unwrap();
        assert_eq!(facts["status"], Fact::Number(204.0));
        assert_eq!(facts["headers"], Fact::Text("x-a: b".to_string()));
        assert!(!facts.contains_key("redirect"));
    }

    /// A server on loopback that answers every connection with `answer`.
    async fn canned_server(answer: &'static [u8]) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            }
        });
        port
    }

    async fn observe(subject: &str, inputs: &[(&str, &str)]) -> Result<Observation, String> {
        let inputs: BTreeMap<String, String> = inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = Query {
            subject,
            inputs: &inputs,
            wants: &[],
        };
        Http.observe(&q, Duration::from_secs(3)).await
    }

    #[tokio::test]
    async fn a_loopback_server_is_read() {
        let port = canned_server(
            b"HTTP/1.1 302 Found\r\nLocation: https://intranet.lab.example/\r\nContent-Length: 5\r\nX-Test: Yes\r\n\r\nhello",
        )
        .await;
        let seen = observe(
            &format!("http://127.0.0.1:{port}/"),
            &[("host_header", "intranet.lab.example")],
        )
        .await
        .unwrap();
        assert_eq!(seen.facts["status"], Fact::Number(302.0));
        assert_eq!(seen.facts["body"], Fact::Text("hello".to_string()));
        assert_eq!(
            seen.facts["redirect"],
            Fact::Text("https://intranet.lab.example/".to_string())
        );
        assert!(
            matches!(&seen.facts["headers"], Fact::Text(h) if h.contains("x-test: Yes")),
            "{:?}",
            seen.facts
        );
        assert!(
            seen.transcript.starts_with(&format!(
                "GET http://intranet.lab.example:{port}/ (connecting to 127.0.0.1:{port})\nHTTP/1.1 302 Found\n"
            )),
            "{}",
            seen.transcript
        );
    }

    #[tokio::test]
    async fn garbage_and_silence_are_errors() {
        let port = canned_server(b"\n").await;
        let err = observe(&format!("http://127.0.0.1:{port}/"), &[])
            .await
            .unwrap_err();
        assert!(err.starts_with("GET http://127.0.0.1"), "{err}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = observe(&format!("http://127.0.0.1:{port}/"), &[])
            .await
            .unwrap_err();
        assert!(err.contains("refused"), "{err}");
    }

    #[tokio::test]
    async fn the_script_runs_for_real() {
        let port = canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nIntranet").await;
        let subject = format!("http://127.0.0.1:{port}/");
        let facts = tokio::task::spawn_blocking(move || {
            crate::probe::testing::run_locally(
                &Http,
                &subject,
                &[("host_header", "intranet.lab.example")],
                &["status", "body"],
            )
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(facts["status"], Fact::Number(200.0));
        assert_eq!(facts["body"], Fact::Text("Intranet".to_string()));
    }
}
