//! Black-box probes against real hosts, from the grader and from another role: every verdict asserted.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key, verdict_lines};

/// A firewall lab: what answers from where.
const LAB: &str = r#"lab: filtrage
title: Filtrage du serveur
block: 6
hosts:
  srv: {}
  client: {}
tasks:
  - id: ssh
    title: SSH est ouvert depuis partout
    points: 2
    checks:
      - tcp: "{{ hosts.srv.address }}:22"
      - tcp: "{{ hosts.srv.address }}:22"
        from: client
  - id: db
    title: Les bases ne sont pas joignables
    points: 2
    checks:
      - tcp: "{{ hosts.srv.address }}:3306"
        state: refused
      - tcp: "{{ hosts.srv.address }}:5432"
        state: filtered
      - tcp: "{{ hosts.srv.address }}:5432"
        from: client
        open: false
        state: filtered
  - id: web
    title: 8080 est ouvert au graders, fermé au client
    points: 2
    checks:
      - tcp: "{{ hosts.srv.address }}:8080"
        open: true
      - tcp: "{{ hosts.srv.address }}:8080"
        from: client
        state: filtered
  - id: wrong
    title: Une attente fausse échoue
    points: 1
    checks:
      - tcp: "{{ hosts.srv.address }}:9"
        open: true
      - tcp: "{{ hosts.srv.address }}:9"
        from: client
        state: refused
  - id: elsewhere
    title: Une adresse hors du parc n'est pas contactée
    points: 1
    checks:
      - tcp: "127.0.0.2:22"
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
fn tcp_from_the_grader_and_from_a_role() {
    let client = TestHost::start("tcp-client", "");
    let setup = format!(
        r#"set -e
systemd-run --quiet --unit=lg-web /usr/bin/systemd-socket-activate --listen=8080 --accept /bin/cat
nft -f - <<'EOF'
table inet filter {{
  chain input {{
    type filter hook input priority 0; policy accept;
    tcp dport 3306 reject with tcp reset
    tcp dport 5432 drop
    ip saddr {client} tcp dport 8080 drop
  }}
}}
EOF
"#,
        client = client.address
    );
    let srv = TestHost::start("tcp-srv", &setup);
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
    let srv_address = srv.address.to_string();
    assert_eq!(
        verdicts[..9],
        [
            "ssh from grader: pass ",
            "ssh from client: pass ",
            "db from grader: pass ",
            "db from grader: pass ",
            "db from client: pass ",
            "web from grader: pass ",
            "web from client: pass ",
            "wrong from grader: fail open: expected true, found false",
            "wrong from client: pass ",
        ],
        "{stdout}"
    );
    assert_eq!(
        verdicts[9],
        format!(
            "elsewhere from grader: error refusing to contact 127.0.0.2: not one of this candidate's machines ({}, {srv_address})",
            client.address
        )
    );
    assert_eq!(code, 3, "the refused address is an error: {stdout}");
    let state = |task: usize, check: usize| {
        results["labs"][0]["tasks"][task]["checks"][check]["properties"].clone()
    };
    assert_eq!(
        state(3, 0)[0]["found"],
        "false",
        "port 9 is refused, so not open"
    );
    let transcript = results["labs"][0]["tasks"][1]["checks"][1]["evidence"]["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        transcript.starts_with(&format!("connect {srv_address}:5432: filtered after ")),
        "{transcript}"
    );
}

const SSH_LAB: &str = r#"lab: acces
title: Accès SSH
block: 6
hosts:
  srv: {}
  client: {}
vars:
  key: KEY
  wrong: WRONG
tasks:
  - id: no-password
    title: Pas de mot de passe en SSH
    points: 2
    checks:
      - ssh: "{{ hosts.srv.address }}"
        password: false
        publickey: true
      - ssh: "{{ hosts.srv.address }}:22"
        from: client
        user: alice
        methods: { equals: [publickey] }
  - id: key-login
    title: La clé du correcteur ouvre une session, pas une autre
    points: 2
    checks:
      - ssh: "{{ hosts.srv.address }}"
        identity: "{{ key }}"
        login: true
        version: { matches: '^OpenSSH_' }
      - ssh: "{{ hosts.srv.address }}"
        identity: "{{ wrong }}"
        login: false
  - id: password-login
    title: alice se connecte avec son mot de passe
    points: 1
    checks:
      - ssh: "{{ hosts.srv.address }}"
        user: alice
        secret: alice_pw
        login: true
"#;

/// alice's password: given to labgrade in a secrets file, it must appear in nothing it writes.
const ALICE_PW: &str = "Tr0ub4dor-labgrade-7f3e";

#[test]
fn ssh_methods_and_key_login_from_the_grader_and_a_role() {
    let client = TestHost::start("ssh-client", "");
    let alice = format!("useradd -m -s /bin/bash alice\necho 'alice:{ALICE_PW}' | chpasswd\n");
    let strict = TestHost::start("ssh-strict", &alice);
    let weak = TestHost::start(
        "ssh-weak",
        &format!(
            "{alice}printf 'PasswordAuthentication yes\\nKbdInteractiveAuthentication yes\\n' > /etc/ssh/sshd_config.d/00-weak.conf\nsystemctl restart ssh"
        ),
    );
    let key = grader_key();
    let lab = SSH_LAB
        .replace("KEY", key.to_str().unwrap())
        .replace("WRONG", support::wrong_key().to_str().unwrap());
    for (srv, expected) in [
        (
            &strict,
            ["no-password pass", "key-login pass", "password-login fail"],
        ),
        (
            &weak,
            ["no-password fail", "key-login pass", "password-login pass"],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lab.yaml"), &lab).unwrap();
        std::fs::write(
            dir.path().join("secrets.yaml"),
            format!("alice_pw: {ALICE_PW}\n"),
        )
        .unwrap();
        let secrets = dir.path().join("secrets.yaml");
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
        let (_, stdout, results) = results(
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
                "--secrets",
                secrets.to_str().unwrap(),
            ],
        );
        let written = std::fs::read_to_string(dir.path().join("out/results.json")).unwrap();
        assert!(
            !written.contains(ALICE_PW) && !stdout.contains(ALICE_PW),
            "the password leaked"
        );
        let tasks: Vec<String> = results["labs"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t["id"].as_str().unwrap(),
                    t["verdict"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(tasks, expected, "{}: {stdout}", srv.name);
        if srv.name == "ssh-weak" {
            let checks = &results["labs"][0]["tasks"][0]["checks"];
            assert_eq!(checks[0]["reason"], "password: expected false, found true");
            assert_eq!(checks[1]["role"], "client");
            assert_eq!(
                checks[1]["reason"],
                "methods: expected exactly [publickey], found publickey, password, keyboard-interactive"
            );
        }
    }
}

/// Black-box kinds probe a Windows server or a network device as they probe any host: by
/// its address, from the grader. A test host stands in for each address here (the probes
/// see only the network); labgrade must never open a session on them to do it.
const OUTSIDE_LAB: &str = r#"lab: exterieur
title: Services vus de l'extérieur
block: 3
hosts:
  dc: { os: windows }
  sw: { os: ios }
tasks:
  - id: rdp
    title: Le bureau à distance répond
    points: 2
    checks:
      - tcp: "{{ hosts.dc.address }}:3389"
  - id: admin
    title: Le commutateur s'administre en SSH par clé
    points: 2
    checks:
      - ssh: "{{ hosts.sw.address }}"
        publickey: true
        version: { matches: '^OpenSSH_' }
  - id: telnet
    title: Telnet est fermé sur le commutateur
    points: 1
    checks:
      - tcp: "{{ hosts.sw.address }}:23"
        state: refused
"#;

#[test]
fn black_box_kinds_probe_windows_and_ios_roles_unchanged() {
    let dc = TestHost::start(
        "win-dc",
        "systemd-run --quiet --unit=lg-rdp /usr/bin/systemd-socket-activate --listen=3389 --accept /bin/cat",
    );
    let sw = TestHost::start("ios-sw", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), OUTSIDE_LAB).unwrap();
    let known = dir.path().join("known_hosts");
    std::fs::write(
        &known,
        format!("{}\n{}\n", dc.known_hosts_line(), sw.known_hosts_line()),
    )
    .unwrap();
    let key = grader_key();
    let grade = |out: &str| {
        let (code, stdout, results) = results(
            &dir.path().join(out),
            &[
                dir.path().join("lab.yaml").to_str().unwrap(),
                "--host",
                &format!("dc=root@{}", dc.address),
                "--host",
                &format!("sw=root@{}", sw.address),
                "--identity",
                key.to_str().unwrap(),
                "--known-hosts",
                known.to_str().unwrap(),
            ],
        );
        (code, stdout, verdict_lines(&results))
    };
    let (code, stdout, verdicts) = grade("right");
    assert_eq!(
        verdicts,
        [
            "rdp from grader: pass ",
            "admin from grader: pass ",
            "telnet from grader: pass ",
        ],
        "{stdout}"
    );
    assert_eq!(code, 0, "{stdout}");

    // Remote desktop stopped on the server: a fail, found from outside.
    dc.exec_ok(
        "kill $(ss -Hltnp 'sport = :3389' | grep -o 'pid=[0-9]*' | cut -d= -f2); \
         while ss -Hltn 'sport = :3389' | grep -q .; do sleep 0.1; done",
    );
    let (code, stdout, verdicts) = grade("stopped");
    assert_eq!(
        verdicts[0], "rdp from grader: fail open: expected true, found false",
        "{stdout}"
    );
    assert_eq!(code, 1, "{stdout}");

    // No session was opened on either machine: no PowerShell, no show command was tried.
    for host in [&dc, &sw] {
        let logins =
            host.exec_ok("journalctl --no-pager -q _COMM=sshd | grep -c 'Accepted' || true");
        assert_eq!(logins.trim(), "0", "a login on {}", host.address);
    }
}
