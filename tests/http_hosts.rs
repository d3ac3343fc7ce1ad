//! The `http` kind against a real nginx, from the grader and from another role: every verdict asserted.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key, verdict_lines};

/// An intranet site: a self-signed HTTPS vhost, port 80 redirecting to it, a default vhost
/// that is the wrong one, a site signed by a lab CA (also the
/// only site on 8443, so it answers any name there), a port nobody listens on and one that
/// answers garbage. `CA` is replaced by the CA file's path, the same on the grader and the client.
const LAB: &str = r#"lab: intranet
title: Serveur web intranet
block: 5
hosts:
  srv: {}
  client: {}
vars:
  site: intranet.lab.example
tasks:
  - id: intranet
    title: Le site répond en HTTPS
    points: 2
    checks:
      - http: "https://{{ hosts.srv.address }}/"
        host_header: "{{ site }}"
        status: 200
        body: { contains: Intranet }
        headers: { matches: "(?m)^server: nginx" }
        tls_names: "{{ site }}"
        tls_self_signed: true
        tls_valid: false
        tls_days_left: { ge: 300 }
        tls_issuer: "{{ site }}"
      - http: "https://{{ hosts.srv.address }}/"
        from: client
        host_header: "{{ site }}"
        status: 200
        body_contains: Intranet
        tls_names: "{{ site }}"
        tls_self_signed: true
        tls_valid: false
        tls_days_left: { ge: 300 }
        tls_issuer: "{{ site }}"
  - id: redirect
    title: Le port 80 redirige vers HTTPS
    points: 1
    checks:
      - http: "http://{{ hosts.srv.address }}/page"
        host_header: "{{ site }}"
        status: 301
        redirect: "https://{{ site }}/page"
      - http: "http://{{ hosts.srv.address }}/page"
        from: client
        method: HEAD
        host_header: "{{ site }}"
        status: 301
        redirect: "https://{{ site }}/page"
  - id: vhost
    title: Un autre nom tombe sur le site par défaut
    points: 1
    checks:
      - http: "http://{{ hosts.srv.address }}/"
        host_header: other.lab.example
        status: 404
        body: { contains: wrong vhost }
      - http: "http://{{ hosts.srv.address }}/"
        host_header: other.lab.example
        status: 200
  - id: secure
    title: Le site signé par la CA du labo est valide
    points: 2
    checks:
      - http: "https://{{ hosts.srv.address }}/"
        host_header: secure.lab.example
        ca: CA
        body: Secure
        tls_valid: true
        tls_self_signed: false
        tls_issuer: Lab Test CA
        tls_names: [secure.lab.example]
      - http: "https://{{ hosts.srv.address }}/"
        from: client
        host_header: secure.lab.example
        ca: CA
        tls_valid: true
        tls_self_signed: false
        tls_issuer: Lab Test CA
      - http: "https://{{ hosts.srv.address }}/"
        host_header: secure.lab.example
        tls_valid: false
  - id: mismatch
    title: Un certificat valide pour un autre nom ne l'est pas
    points: 1
    checks:
      - http: "https://{{ hosts.srv.address }}:8443/"
        host_header: www.lab.example
        ca: CA
        tls_valid: false
        tls_names: [secure.lab.example]
      - http: "https://{{ hosts.srv.address }}:8443/"
        from: client
        host_header: www.lab.example
        ca: CA
        tls_valid: false
  - id: broken
    title: Un service arrêté ou qui répond n'importe quoi
    points: 1
    checks:
      - http: "http://{{ hosts.srv.address }}:8082/"
      - http: "http://{{ hosts.srv.address }}:8082/"
        from: client
      - http: "http://{{ hosts.srv.address }}:8081/"
        timeout: 10s
      - http: "http://{{ hosts.srv.address }}:8081/"
        from: client
        timeout: 10s
"#;

const SETUP: &str = r#"set -e
cd /etc/nginx
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout intranet.key -out intranet.pem \
  -subj /CN=intranet.lab.example -addext subjectAltName=DNS:intranet.lab.example 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout ca.key -out ca.pem \
  -subj '/CN=Lab Test CA' 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout secure.key -out secure.csr \
  -subj /CN=secure.lab.example 2>/dev/null
printf 'subjectAltName=DNS:secure.lab.example\nextendedKeyUsage=serverAuth\n' > secure.ext
openssl x509 -req -in secure.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 90 \
  -extfile secure.ext -out secure.pem 2>/dev/null
mkdir -p /srv/intranet
echo '<h1>Intranet</h1>' > /srv/intranet/index.html
rm -f sites-enabled/default
cat > sites-enabled/lab <<'EOF'
server { listen 80 default_server; return 404 "wrong vhost\n"; }
server { listen 80; server_name intranet.lab.example; return 301 https://$host$request_uri; }
server {
  listen 443 ssl default_server; server_name intranet.lab.example;
  ssl_certificate /etc/nginx/intranet.pem; ssl_certificate_key /etc/nginx/intranet.key;
  root /srv/intranet;
}
server {
  listen 443 ssl; listen 8443 ssl; server_name secure.lab.example;
  ssl_certificate /etc/nginx/secure.pem; ssl_certificate_key /etc/nginx/secure.key;
  return 200 "Secure";
}
EOF
systemctl start nginx
systemd-run --quiet --unit=lg-junk /usr/bin/systemd-socket-activate --listen=8081 --accept --inetd /bin/echo 'not http at all'
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

#[test]
fn http_from_the_grader_and_from_a_role() {
    let client = TestHost::start("http-client", "");
    let srv = TestHost::start("http-srv", SETUP);
    let dir = tempfile::tempdir().unwrap();
    // The lab CA, at the same path on the grader and on the client.
    let ca = dir.path().join("ca.pem");
    let pem = srv.exec_ok("cat /etc/nginx/ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    client.exec_ok(&format!(
        "mkdir -p {dir} && cat > {ca} <<'EOF'\n{pem}EOF\n",
        dir = dir.path().display(),
        ca = ca.display()
    ));
    std::fs::write(
        dir.path().join("lab.yaml"),
        LAB.replace("ca: CA", &format!("ca: {}", ca.display())),
    )
    .unwrap();
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
    assert_eq!(
        verdicts[..11],
        [
            "intranet from grader: pass ",
            "intranet from client: pass ",
            "redirect from grader: pass ",
            "redirect from client: pass ",
            "vhost from grader: pass ",
            "vhost from grader: fail status: expected 200, found 404",
            "secure from grader: pass ",
            "secure from client: pass ",
            "secure from grader: pass ",
            "mismatch from grader: pass ",
            "mismatch from client: pass ",
        ],
        "{stdout}"
    );
    let srv_address = srv.address.to_string();
    let broken = &verdicts[11..];
    assert_eq!(broken.len(), 4, "{broken:?}");
    for (verdict, because) in broken.iter().zip([
        "Connection refused",
        "Failed to connect",
        "GET http://",
        "curl: (",
    ]) {
        assert!(
            verdict.contains(": error ") && verdict.contains(because),
            "{verdict} should be an error saying {because}"
        );
        assert!(!verdict.contains("timed out"), "{verdict}");
    }
    assert!(
        broken[0].contains(&format!("{srv_address}:8082")),
        "{}",
        broken[0]
    );
    assert_eq!(code, 3, "a dead service is an error: {stdout}");
    let transcript = results["labs"][0]["tasks"][0]["checks"][0]["evidence"]["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        transcript.starts_with(&format!(
            "GET https://intranet.lab.example/ (connecting to {srv_address}:443)\nHTTP/1.1 200 OK\n"
        )),
        "{transcript}"
    );
    assert!(
        transcript.contains("tls: certificate not valid for intranet.lab.example"),
        "{transcript}"
    );
}
