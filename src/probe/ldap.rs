//! `ldap: ldap://HOST[:PORT]`: what a directory answers: a bind (anonymous, or as a DN with a secret) and a search: the entries it finds and an attribute's values.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, SearchEntry};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Expect, Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Ldap;

const PARAMS: &[Param] = &[
    Param::input(
        "bind_dn",
        &[],
        "the DN to bind as, with `secret`; without it the bind is anonymous",
    ),
    Param::secret("secret", "the secret holding the password of `bind_dn`"),
    Param::input(
        "tls",
        &["none", "starttls"],
        "`starttls`: ask for TLS (StartTLS) before binding; an ldaps:// URL is TLS from the start. Any certificate is accepted",
    ),
    Param::input(
        "base",
        &[],
        "the DN the search starts from: `ou=people,dc=lab,dc=example`; needed by found, count, entries and values",
    ),
    Param::input(
        "filter",
        &[],
        "the search filter (default `(objectClass=*)`): `(uid=alice)`, `(&(objectClass=posixGroup)(cn=compta))`",
    ),
    Param::input(
        "scope",
        &["base", "one", "sub"],
        "how deep the search goes below `base`: the base entry alone, its children, or the whole subtree (the default)",
    ),
    Param::input(
        "attribute",
        &[],
        "the attribute whose values `values` lists: `memberUid`, `mail`",
    ),
    Param::expect(
        "bind",
        Shape::Bool,
        "the bind is accepted (false: refused, e.g. a wrong password, or the StartTLS asked for is refused: nothing is sent in clear then); when false, the search properties are skipped",
    ),
    Param::expect(
        "encrypted",
        Shape::Bool,
        "the connection is encrypted: an ldaps:// URL, or `tls: starttls` accepted",
    ),
    Param::expect("found", Shape::Bool, "the search finds at least one entry"),
    Param::expect("count", Shape::Number, "how many entries the search finds"),
    Param::expect(
        "entries",
        Shape::List,
        "the DNs of the entries found, as the server writes them",
    ),
    Param::expect(
        "values",
        Shape::List,
        "the values of `attribute` in the entries found: a group's memberUid lists its members",
    ),
];

const DEFAULT_FILTER: &str = "(objectClass=*)";
const SEARCH_FACTS: &[&str] = &["found", "count", "entries", "values"];

/// The URL split into what the probe contacts.
#[derive(Debug, PartialEq)]
struct Target {
    /// ldaps://: TLS from the first byte.
    ldaps: bool,
    /// The host to connect to, without brackets.
    host: String,
    port: u16,
}

impl Target {
    fn url(&self) -> String {
        let scheme = if self.ldaps { "ldaps" } else { "ldap" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

fn target(subject: &str) -> Result<Target, String> {
    let bad = |why: &str| format!("`{subject}` is not an ldap:// or ldaps:// URL: {why}");
    let url = reqwest::Url::parse(subject).map_err(|e| bad(&e.to_string()))?;
    let ldaps = match url.scheme() {
        "ldap" => false,
        "ldaps" => true,
        other => return Err(bad(&format!("scheme {other}"))),
    };
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host.trim_start_matches('[').trim_end_matches(']'),
        _ => return Err(bad("no host")),
    }
    .to_string();
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "the search goes in `base`, `filter`, `scope` and `attribute`, not in the URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("the DN to bind as goes in `bind_dn`"));
    }
    let port = url.port().unwrap_or(if ldaps { 636 } else { 389 });
    Ok(Target { ldaps, host, port })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Base,
    One,
    Sub,
}

impl Scope {
    fn word(self) -> &'static str {
        match self {
            Scope::Base => "base",
            Scope::One => "one",
            Scope::Sub => "sub",
        }
    }
}

/// A search, as the check's inputs describe it.
#[derive(Debug)]
struct Search<'a> {
    base: &'a str,
    scope: Scope,
    filter: &'a str,
    attribute: Option<&'a str>,
}

/// What the probe does, from the check's inputs; the same for the grader and a role.
#[derive(Debug)]
struct Request<'a> {
    target: Target,
    bind_dn: &'a str,
    password: &'a str,
    starttls: bool,
    /// `None` when no search fact is wanted: then only the bind is tried.
    search: Option<Search<'a>>,
}

fn request<'a>(q: &'a Query) -> Result<Request<'a>, String> {
    let target = target(q.subject)?;
    let (bind_dn, password) = match (q.input("bind_dn"), q.input("secret")) {
        (Some(dn), Some(password)) if !dn.is_empty() => (dn, password),
        (Some(_), None) => {
            return Err("`bind_dn` needs a `secret`: the password to bind with".to_string());
        }
        (None, Some(_)) => return Err("`secret` needs a `bind_dn` to bind as".to_string()),
        _ => ("", ""),
    };
    let starttls = match q.input("tls") {
        None | Some("none") => false,
        Some("starttls") if target.ldaps => {
            return Err(
                "an ldaps:// URL is TLS already: `tls: starttls` is for ldap://".to_string(),
            );
        }
        Some("starttls") => true,
        Some(other) => return Err(format!("`tls: {other}` is not none or starttls")),
    };
    let wants_search = SEARCH_FACTS.iter().any(|f| q.wants(f));
    let search = if wants_search {
        let base = q
            .input("base")
            .ok_or("a search needs a `base`, the DN it starts from: `base: dc=lab,dc=example`")?;
        let scope = match q.input("scope") {
            None | Some("sub") => Scope::Sub,
            Some("one") => Scope::One,
            Some("base") => Scope::Base,
            Some(other) => return Err(format!("`scope: {other}` is not base, one or sub")),
        };
        let attribute = q.input("attribute").filter(|a| !a.is_empty());
        if q.wants("values") && attribute.is_none() {
            return Err("`values` needs an `attribute` whose values to list".to_string());
        }
        Some(Search {
            base,
            scope,
            filter: q.input("filter").unwrap_or(DEFAULT_FILTER),
            attribute,
        })
    } else {
        None
    };
    Ok(Request {
        target,
        bind_dn,
        password,
        starttls,
        search,
    })
}

/// One entry found: its DN and its attributes' values, in the order they came.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    dn: String,
    attrs: Vec<(String, String)>,
}

/// How far the dialogue went.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The server refused StartTLS: nothing else is tried, so no password goes in clear.
    TlsRefused,
    BindRefused {
        encrypted: bool,
    },
    /// Bound; the entries found when a search was asked for.
    Bound {
        encrypted: bool,
        entries: Option<Vec<Entry>>,
    },
}

/// An attribute description matches its name whatever the case and options (`cn;lang-fr`).
fn same_attribute(description: &str, name: &str) -> bool {
    description
        .split(';')
        .next()
        .is_some_and(|d| d.eq_ignore_ascii_case(name))
}

fn facts(q: &Query, search: Option<&Search>, outcome: Outcome) -> Facts {
    match outcome {
        Outcome::TlsRefused => {
            let mut facts = Facts::from([("encrypted", Fact::Bool(false))]);
            // A check that only asks about TLS reads "encrypted: false", not a refused bind.
            if q.wants.iter().any(|w| *w != "encrypted") {
                facts.insert("bind", Fact::Bool(false));
            }
            facts
        }
        Outcome::BindRefused { encrypted } => Facts::from([
            ("encrypted", Fact::Bool(encrypted)),
            ("bind", Fact::Bool(false)),
        ]),
        Outcome::Bound { encrypted, entries } => {
            let mut facts = Facts::from([
                ("encrypted", Fact::Bool(encrypted)),
                ("bind", Fact::Bool(true)),
            ]);
            if let Some(entries) = entries {
                let values = match search.and_then(|s| s.attribute) {
                    Some(name) => entries
                        .iter()
                        .flat_map(|e| &e.attrs)
                        .filter(|(a, _)| same_attribute(a, name))
                        .map(|(_, v)| v.clone())
                        .collect(),
                    None => Vec::new(),
                };
                facts.insert("found", Fact::Bool(!entries.is_empty()));
                facts.insert("count", Fact::Number(entries.len() as f64));
                facts.insert(
                    "entries",
                    Fact::List(entries.into_iter().map(|e| e.dn).collect()),
                );
                facts.insert("values", Fact::List(values));
            }
            facts
        }
    }
}

/// Search result codes that still say what the directory holds: success, a size limit
/// (the entries sent so far), and noSuchObject (the base is not there: nothing found).
fn search_answered(rc: u32) -> Option<bool> {
    match rc {
        0 | 4 => Some(true),
        32 => Some(false),
        _ => None,
    }
}

/// Accepts any certificate: `tls` asks whether TLS works, not whom it proves. Signatures
/// are still checked, so the handshake is a real one.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificate's subject, for the transcript: it is reported, not judged.
fn certificate_subject(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.subject().to_string(),
        Err(_) => "a certificate that does not parse".to_string(),
    }
}

/// `SearchEntry::construct` panics on an entry it cannot read; a hostile server must not
/// stop the grader.
fn entry(raw: ldap3::ResultEntry) -> Result<Entry, String> {
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(raw)))
            .map_err(|_| "the server sent an entry that does not parse".to_string())?;
    let mut attrs: Vec<(String, String)> = parsed
        .attrs
        .into_iter()
        .flat_map(|(name, values)| values.into_iter().map(move |v| (name.clone(), v)))
        .collect();
    attrs.extend(parsed.bin_attrs.into_iter().flat_map(|(name, values)| {
        values
            .into_iter()
            .map(move |v| (name.clone(), String::from_utf8_lossy(&v).into_owned()))
    }));
    Ok(Entry {
        dn: parsed.dn,
        attrs,
    })
}

/// ldap3 names a connection that ended by its internal channels; say what happened instead.
fn lost(e: LdapError) -> String {
    match e {
        LdapError::ResultRecv { .. } | LdapError::OpSend { .. } | LdapError::EndOfStream => {
            "the server ended the connection without an LDAP answer".to_string()
        }
        e => e.to_string(),
    }
}

fn who(req: &Request) -> String {
    if req.bind_dn.is_empty() {
        "anonymous".to_string()
    } else {
        req.bind_dn.to_string()
    }
}

/// The native dialogue: connect (StartTLS when asked), bind, search.
async fn dialogue(
    req: &Request<'_>,
    wait: Duration,
    transcript: &mut String,
) -> Result<Outcome, String> {
    let url = req.target.url();
    let settings = LdapConnSettings::new()
        .set_conn_timeout(wait)
        .set_config(tls_config()?)
        .set_starttls(req.starttls);
    transcript.push_str(&format!(
        "connect {url}{}\n",
        if req.starttls { " with StartTLS" } else { "" }
    ));
    let (conn, mut ldap) = match LdapConnAsync::with_settings(settings, &url).await {
        Ok(pair) => pair,
        Err(LdapError::LdapResult { result }) if req.starttls => {
            transcript.push_str(&format!("StartTLS refused: {result}\n"));
            return Ok(Outcome::TlsRefused);
        }
        Err(e) => return Err(format!("connect to {url}: {e}")),
    };
    let driver = tokio::spawn(conn.drive());
    let encrypted = req.starttls || req.target.ldaps;
    let result = async {
        if encrypted && let Ok(Some(der)) = ldap.get_peer_certificate().await {
            transcript.push_str(&format!(
                "TLS: certificate {} (accepted unverified)\n",
                certificate_subject(&der)
            ));
        }
        let bound = ldap
            .with_timeout(wait)
            .simple_bind(req.bind_dn, req.password)
            .await
            .map_err(|e| format!("bind as {}: {}", who(req), lost(e)))?;
        transcript.push_str(&format!("bind as {}: {bound}\n", who(req)));
        if bound.rc != 0 {
            return Ok(Outcome::BindRefused { encrypted });
        }
        let Some(search) = &req.search else {
            return Ok(Outcome::Bound {
                encrypted,
                entries: None,
            });
        };
        let attrs = vec![search.attribute.unwrap_or("1.1")];
        let scope = match search.scope {
            Scope::Base => ldap3::Scope::Base,
            Scope::One => ldap3::Scope::OneLevel,
            Scope::Sub => ldap3::Scope::Subtree,
        };
        let ldap3::SearchResult(raw, result) = ldap
            .with_timeout(wait)
            .search(search.base, scope, search.filter, attrs)
            .await
            .map_err(|e| match e {
                LdapError::FilterParsing => {
                    format!("`{}` is not an LDAP search filter", search.filter)
                }
                e => format!("search: {}", lost(e)),
            })?;
        transcript.push_str(&format!(
            "search base={:?} scope={} filter={} attribute={}: {} entries sent, {result}\n",
            search.base,
            search.scope.word(),
            search.filter,
            search.attribute.unwrap_or("none"),
            raw.len()
        ));
        let entries = match search_answered(result.rc) {
            Some(true) => raw.into_iter().map(entry).collect::<Result<Vec<_>, _>>()?,
            Some(false) => Vec::new(),
            None => return Err(format!("the search failed: {result}")),
        };
        for e in &entries {
            transcript.push_str(&format!("  dn: {}\n", e.dn));
            for (name, value) in &e.attrs {
                transcript.push_str(&format!("    {name}: {value}\n"));
            }
        }
        Ok(Outcome::Bound {
            encrypted,
            entries: Some(entries),
        })
    }
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(1), ldap.unbind()).await;
    driver.abort();
    result
}

/// Decode standard base64 (LDIF's `attr:: ` values).
fn base64(text: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("{text:?} is not base64")),
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = clean
        .strip_suffix(b"==")
        .or_else(|| clean.strip_suffix(b"="))
        .unwrap_or(&clean);
    if !clean.len().is_multiple_of(4) || body.len() % 4 == 1 {
        return Err(format!("{text:?} is not base64"));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= digit(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

/// Read `ldapsearch -LLL` output: records separated by blank lines, each `dn: ` first.
fn ldif(text: &str) -> Result<Vec<Entry>, String> {
    // Unfold continuation lines (a leading space), in case a tool wraps despite ldif-wrap=no.
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        match (line.strip_prefix(' '), lines.last_mut()) {
            (Some(rest), Some(last)) if !last.is_empty() => last.push_str(rest),
            _ => lines.push(line.to_string()),
        }
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut open = false;
    for line in &lines {
        if line.is_empty() {
            open = false;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not LDIF: {line:?}"))?;
        let value = match value.strip_prefix(':') {
            Some(encoded) => String::from_utf8_lossy(&base64(encoded.trim())?).into_owned(),
            None => value.strip_prefix(' ').unwrap_or(value).to_string(),
        };
        if !open {
            if !name.eq_ignore_ascii_case("dn") {
                return Err(format!("not LDIF: an entry starts with {line:?}"));
            }
            entries.push(Entry {
                dn: value,
                attrs: Vec::new(),
            });
            open = true;
        } else if let Some(entry) = entries.last_mut() {
            entry.attrs.push((name.to_string(), value));
        }
    }
    Ok(entries)
}

/// One diagnostic of the OpenLDAP tools: `ldap_bind: Invalid credentials (49)`.
#[derive(Debug, PartialEq)]
struct Diagnostic {
    call: Option<String>,
    text: String,
    code: i32,
}

/// A line of [`diagnostics`], compiled once.
static DIAGNOSTIC: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^(?:([A-Za-z_]+(?:\([A-Z]+\))?): )?(.+) \((-?\d+)\)$")
        .expect("a valid regex")
});

fn diagnostics(stderr: &str) -> Vec<Diagnostic> {
    stderr
        .lines()
        .filter_map(|l| DIAGNOSTIC.captures(l.trim_end()))
        .filter_map(|c| {
            Some(Diagnostic {
                call: c.get(1).map(|m| m.as_str().to_string()),
                text: c[2].to_string(),
                code: c[3].parse().ok()?,
            })
        })
        .collect()
}

/// What stderr says, without ldapsearch's warnings, on one line.
fn complaint(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning:"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Judge what ldapsearch printed and how it exited.
fn outcome_of_ldapsearch(
    req: &Request,
    rc: i32,
    stdout: &str,
    stderr: &str,
) -> Result<Outcome, String> {
    let encrypted = req.starttls || req.target.ldaps;
    let failed = || match complaint(stderr) {
        c if c.is_empty() => format!("ldapsearch exited {rc}"),
        c => c,
    };
    for d in diagnostics(stderr) {
        let call = d.call.as_deref().unwrap_or("");
        // A negative code is the client's own: no connection, a failed handshake.
        if d.code <= 0 && !call.is_empty() {
            return Err(failed());
        }
        if call == "ldap_start_tls" {
            return Ok(Outcome::TlsRefused);
        }
        if call.starts_with("ldap_bind") || call.starts_with("ldap_sasl_bind") {
            return Ok(Outcome::BindRefused { encrypted });
        }
    }
    // Past 127 ldapsearch reports a client-side error code (negative, as a byte).
    if rc > 127 {
        return Err(failed());
    }
    let entries = match &req.search {
        None => None,
        Some(_) => match search_answered(rc as u32) {
            Some(true) => Some(ldif(stdout)?),
            Some(false) => Some(Vec::new()),
            None => return Err(format!("the search failed: {}", failed())),
        },
    };
    Ok(Outcome::Bound { encrypted, entries })
}

const EXIT_MARK: &str = "# ldapsearch exit ";

#[async_trait::async_trait]
impl Kind for Ldap {
    fn name(&self) -> &'static str {
        "ldap"
    }

    fn subject(&self) -> &'static str {
        "an LDAP URL"
    }

    fn doc(&self) -> &'static str {
        "A directory seen from outside, at ldap://HOST[:PORT] or ldaps://HOST[:PORT]: a bind, anonymous or as `bind_dn` with a secret, and a search that finds entries: users, groups, a group's members (`attribute: memberUid`). From a role it runs ldapsearch (Debian package ldap-utils)."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("bind")
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some(("bind", Expect::Bool(true)))
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        target(q.subject).map(|t| t.host)
    }

    /// From a role: one ldapsearch. The password reaches it in a 0600 file (`-y`), never
    /// on its command line; the file's folder is removed on exit, also on a timeout.
    /// Without a search, the root DSE is read, so only the bind counts.
    fn script(&self, q: &Query) -> String {
        let req = match request(q) {
            Ok(req) => req,
            Err(e) => return format!("echo {} >&2; exit 2\n", shell_quote(&e)),
        };
        let mut args = vec![
            "-x".to_string(),
            "-H".to_string(),
            shell_quote(&req.target.url()),
        ];
        if req.starttls {
            args.push("-ZZ".to_string());
        }
        let mut password = String::new();
        if !req.bind_dn.is_empty() {
            args.extend([
                "-D".to_string(),
                shell_quote(req.bind_dn),
                "-y".to_string(),
                "\"$d/pw\"".to_string(),
            ]);
            password = format!(
                "(umask 077; printf '%s' {} > \"$d/pw\") || exit 3\n",
                shell_quote(req.password)
            );
        }
        args.extend(["-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=10"].map(String::from));
        match &req.search {
            Some(s) => args.extend([
                "-b".to_string(),
                shell_quote(s.base),
                "-s".to_string(),
                s.scope.word().to_string(),
                "--".to_string(),
                shell_quote(s.filter),
                shell_quote(s.attribute.unwrap_or("1.1")),
            ]),
            None => args.extend(
                ["-b", "''", "-s", "base", "--", "'(objectClass=*)'", "1.1"].map(String::from),
            ),
        }
        format!(
            "need ldapsearch\n\
             need mktemp\n\
             d=$(mktemp -d) || exit 3\n\
             trap 'rm -rf \"$d\"' EXIT\n\
             trap 'exit 124' HUP INT TERM\n\
             cd \"$d\" || exit 3\n\
             {password}\
             HOME=$d LDAPTLS_REQCERT=never; export HOME LDAPTLS_REQCERT\n\
             ldapsearch {args}\n\
             echo \"{EXIT_MARK}$?\"\n",
            args = args.join(" "),
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let req = request(q)?;
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        if output.exit_code != Some(0) {
            return Err(match complaint(&stderr) {
                c if c.is_empty() => format!("the probe stopped: {:?}", output.exit_code),
                c => c,
            });
        }
        let (ldif, mark) = stdout
            .trim_end()
            .rsplit_once('\n')
            .unwrap_or(("", stdout.trim_end()));
        let rc: i32 = mark
            .strip_prefix(EXIT_MARK)
            .and_then(|rc| rc.trim().parse().ok())
            .ok_or("ldapsearch did not finish")?;
        let outcome = outcome_of_ldapsearch(&req, rc, ldif, &stderr)?;
        Ok(facts(q, req.search.as_ref(), outcome))
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let req = request(q)?;
        let mut transcript = String::new();
        let url = req.target.url();
        let outcome = tokio::time::timeout(wait, dialogue(&req, wait, &mut transcript))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no complete answer from {url} within {} s",
                    wait.as_secs()
                ))
            });
        match outcome {
            Ok(outcome) => Ok(Observation {
                facts: facts(q, req.search.as_ref(), outcome),
                transcript,
            }),
            Err(e) if transcript.lines().count() <= 1 => Err(e),
            Err(e) => Err(format!("{e}\n{}", transcript.trim_end())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;

    fn query<'a>(inputs: &'a BTreeMap<String, String>, wants: &'a [&'a str]) -> Query<'a> {
        Query {
            subject: "ldap://10.0.0.2",
            inputs,
            wants,
        }
    }

    fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn targets() {
        assert_eq!(
            target("ldap://srv.lab"),
            Ok(Target {
                ldaps: false,
                host: "srv.lab".into(),
                port: 389
            })
        );
        let t = target("ldaps://[::1]:1636/").unwrap();
        assert_eq!((t.ldaps, t.host.as_str(), t.port), (true, "::1", 1636));
        assert_eq!(t.url(), "ldaps://[::1]:1636");
        assert!(target("http://srv").is_err());
        assert!(target("srv:389").is_err());
        assert!(target("ldap://srv/dc=lab?uid").is_err());
        assert!(target("ldap://admin@srv").is_err());
    }

    #[test]
    fn requests_need_what_they_use() {
        let i = inputs(&[("bind_dn", "cn=admin")]);
        assert!(
            request(&query(&i, &["bind"]))
                .unwrap_err()
                .contains("secret")
        );
        let i = inputs(&[]);
        assert!(
            request(&query(&i, &["found"]))
                .unwrap_err()
                .contains("base")
        );
        let i = inputs(&[("base", "dc=lab")]);
        assert!(
            request(&query(&i, &["values"]))
                .unwrap_err()
                .contains("attribute")
        );
        let i = inputs(&[("base", "dc=lab"), ("tls", "starttls")]);
        let q = query(&i, &["count"]);
        let r = request(&q).unwrap();
        assert!(r.starttls);
        assert_eq!(r.search.unwrap().filter, DEFAULT_FILTER);
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(base64("YWxpY2U=").unwrap(), b"alice");
        assert_eq!(base64("Ym9i").unwrap(), b"bob");
        assert_eq!(base64("w6lsb2k=").unwrap(), "éloi".as_bytes());
        assert_eq!(base64("YQ==").unwrap(), b"a");
        assert!(base64("YWx").is_err());
        assert!(base64("YW*j").is_err());
    }

    #[test]
    fn ldif_is_read_with_base64_values() {
        let text = "dn: cn=compta,ou=groups,dc=lab,dc=example\nmemberUid: alice\nmemberUid: bob\n\n\
                    dn:: Y249w6lsb2ksZGM9bGFi\ndescription:: w6l0w6k=\ncn: long\n  name\n\n";
        let entries = ldif(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].attrs.len(), 2);
        assert_eq!(entries[1].dn, "cn=éloi,dc=lab");
        assert_eq!(
            entries[1].attrs,
            vec![
                ("description".to_string(), "été".to_string()),
                ("cn".to_string(), "long name".to_string())
            ]
        );
        assert!(ldif("memberUid: alice\n").is_err());
        assert_eq!(ldif("").unwrap(), Vec::new());
    }

    #[test]
    fn a_group_search_is_judged() {
        let i = inputs(&[
            ("base", "dc=lab,dc=example"),
            ("filter", "(cn=compta)"),
            ("attribute", "memberuid"),
        ]);
        let q = query(&i, &["values", "count"]);
        let out = "dn: cn=compta,ou=groups,dc=lab,dc=example\nmemberUid: alice\nmemberUid: bob\n\n# ldapsearch exit 0\n";
        let facts = Ldap
            .parse(
                &q,
                &ExecOutput {
                    exit_code: Some(0),
                    stdout: out.as_bytes().to_vec(),
                    ..ExecOutput::default()
                },
            )
            .unwrap();
        assert_eq!(facts["bind"], Fact::Bool(true));
        assert_eq!(facts["encrypted"], Fact::Bool(false));
        assert_eq!(facts["count"], Fact::Number(1.0));
        assert_eq!(
            facts["values"],
            Fact::List(vec!["alice".into(), "bob".into()])
        );
        assert_eq!(
            facts["entries"],
            Fact::List(vec!["cn=compta,ou=groups,dc=lab,dc=example".into()])
        );
    }

    fn canned(inputs: &[(&str, &str)], stdout: &str, stderr: &str) -> Result<Facts, String> {
        parse_canned(&Ldap, "ldap://10.0.0.2", inputs, 0, stdout, stderr)
    }

    #[test]
    fn ldapsearch_failures_are_told_apart() {
        // Real stderr of ldapsearch 2.5 in each case.
        let refused = canned(
            &[("bind_dn", "cn=admin"), ("secret", "x")],
            "# ldapsearch exit 49\n",
            "Warning: Password file /tmp/x/pw is publicly readable/writeable\nldap_bind: Invalid credentials (49)\n",
        )
        .unwrap();
        assert_eq!(refused["bind"], Fact::Bool(false));
        let tls = canned(
            &[("tls", "starttls")],
            "# ldapsearch exit 1\n",
            "ldap_start_tls: Protocol error (2)\n\tadditional info: unsupported extended operation\n",
        )
        .unwrap();
        assert_eq!(tls["encrypted"], Fact::Bool(false));
        assert_eq!(
            canned(
                &[],
                "# ldapsearch exit 255\n",
                "ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)\n"
            ),
            Err("ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)".to_string())
        );
        assert_eq!(
            canned(
                &[],
                "# ldapsearch exit 254\n",
                "ldap_result: Can't contact LDAP server (-1)\n"
            ),
            Err("ldap_result: Can't contact LDAP server (-1)".to_string())
        );
        assert_eq!(
            canned(&[], "", ""),
            Err("ldapsearch did not finish".to_string())
        );
    }

    #[test]
    fn a_missing_base_finds_nothing() {
        let i = inputs(&[("base", "ou=nope,dc=lab,dc=example")]);
        let q = query(&i, &["found"]);
        let req = request(&q).unwrap();
        let outcome = outcome_of_ldapsearch(
            &req,
            32,
            "",
            "No such object (32)\nMatched DN: dc=lab,dc=example\n",
        )
        .unwrap();
        let facts = facts(&q, req.search.as_ref(), outcome);
        assert_eq!(facts["found"], Fact::Bool(false));
        assert_eq!(facts["entries"], Fact::List(Vec::new()));
        let err = outcome_of_ldapsearch(&req, 249, "", "ldap_search_ext: Bad search filter (-7)\n");
        assert_eq!(
            err,
            Err("ldap_search_ext: Bad search filter (-7)".to_string())
        );
    }

    #[test]
    fn a_refused_starttls_alone_reads_as_not_encrypted() {
        let i = inputs(&[("tls", "starttls")]);
        let only = facts(&query(&i, &["encrypted"]), None, Outcome::TlsRefused);
        assert_eq!(only, Facts::from([("encrypted", Fact::Bool(false))]));
        let more = facts(
            &query(&i, &["encrypted", "bind"]),
            None,
            Outcome::TlsRefused,
        );
        assert_eq!(more["bind"], Fact::Bool(false));
    }

    #[test]
    fn the_password_never_reaches_a_command_line() {
        let i = inputs(&[
            ("bind_dn", "cn=admin,dc=lab"),
            ("secret", "s3cr'et"),
            ("base", "dc=lab"),
        ]);
        let script = Ldap.script(&query(&i, &["found"]));
        let line = script
            .lines()
            .find(|l| l.starts_with("ldapsearch "))
            .unwrap();
        assert!(!line.contains("s3cr"), "{line}");
        assert!(line.contains("-y \"$d/pw\""), "{line}");
        assert!(script.contains("printf '%s' 's3cr'\\''et' > \"$d/pw\""));
    }
}
