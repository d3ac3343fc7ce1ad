//! The `smb` kind against a real Samba, from the grader and from another role: every verdict asserted.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{TestHost, grader_key, verdict_lines};

/// The passwords, with a quote, a space and a dollar, which must survive every hop and
/// be redacted whole, not just in the shell-quoted form a script might hold.
const ALICE_PW: &str = "Al'ice s3cret$1";
const BOB_PW: &str = "b0b-Secret!";
const WRONG_PW: &str = "wr0ng-Pa55";

/// Samba for workgroup LAB: [compta] for the group compta (alice, not bob), [public] read
/// only for guests. The faulty server hides compta, makes it read only, and opens it to bob. Then a port
/// that answers garbage: 2525.
const SETUP: &str = r#"set -e
groupadd -f compta
id alice >/dev/null 2>&1 || useradd -M -G compta alice
id bob >/dev/null 2>&1 || useradd -M bob
mkdir -p /srv/compta /srv/public
chgrp compta /srv/compta
chmod MODE /srv/compta
echo hello > /srv/public/readme.txt
cat > /etc/samba/smb.conf <<'CONF'
[global]
  workgroup = LAB
  server role = standalone server
  server min protocol = SMB2
  map to guest = bad user
  disable netbios = yes
  smb ports = 445
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
[compta]
  path = /srv/compta
  valid users = @compta EXTRA_USERS
  read only = READ_ONLY
  browseable = BROWSEABLE
[public]
  path = /srv/public
  read only = yes
  guest ok = yes
CONF
printf '%s\n%s\n' "$ALICE_PW" "$ALICE_PW" | smbpasswd -s -a alice
printf '%s\n%s\n' "$BOB_PW" "$BOB_PW" | smbpasswd -s -a bob
systemctl start smbd
systemd-run --quiet --unit=lg-garbage /usr/bin/systemd-socket-activate --listen=2525 --accept --inetd /bin/echo
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/445) 2>/dev/null && exit 0; sleep 0.1; done
echo smbd does not answer >&2; exit 1
"#;

fn setup(good: bool) -> String {
    let quoted = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let vars = format!("ALICE_PW={}\nBOB_PW={}\n", quoted(ALICE_PW), quoted(BOB_PW));
    vars + &SETUP
        .replace("EXTRA_USERS", if good { "" } else { "bob" })
        .replace("READ_ONLY", if good { "no" } else { "yes" })
        .replace("BROWSEABLE", if good { "yes" } else { "no" })
        .replace("MODE", if good { "2770" } else { "2777" })
}

const LAB: &str = r#"lab: partage
title: Serveur de fichiers
block: 6
hosts:
  srv: {}
  client: {}
tasks:
  - id: shares
    title: partages et connexion
    points: 2
    partial: true
    checks:
      - smb: "//{{ hosts.srv.address }}"
        shares: { contains: [compta, public] }
      - smb: "//{{ hosts.srv.address }}"
        user: alice
        secret: alice-pw
        login: true
      - smb: "//{{ hosts.srv.address }}/compta"
        user: alice
        secret: wrong-pw
        login: false
      - smb: "//{{ hosts.srv.address }}/compta"
        user: mallory
        secret: wrong-pw
        login: false
  - id: compta
    title: compta pour le groupe compta
    points: 3
    partial: true
    checks:
      - smb: "//{{ hosts.srv.address }}/compta"
        user: alice
        secret: alice-pw
        can_read: true
        can_write: true
      - smb: "//{{ hosts.srv.address }}:445/compta"
        user: bob
        secret: bob-pw
        login: true
        can_read: false
        can_write: false
      - smb: "//{{ hosts.srv.address }}/compta"
        can_read: false
  - id: public
    title: public en lecture seule
    points: 1
    checks:
      - smb: "//{{ hosts.srv.address }}/public"
        can_read: true
        can_write: false
  - id: from-client
    title: vu du client
    points: 2
    checks:
      - smb: "//{{ hosts.srv.address }}/compta"
        from: client
        user: alice
        secret: alice-pw
        domain: LAB
        can_read: true
        can_write: true
      - smb: "//{{ hosts.srv.address }}"
        from: client
        user: bob
        secret: bob-pw
        shares: { contains: compta }
      - smb: "//{{ hosts.srv.address }}/compta"
        from: client
        user: bob
        secret: bob-pw
        can_read: false
  - id: unanswered
    title: arrêté ou pas SMB
    points: 1
    checks:
      - smb: "//{{ hosts.client.address }}/public"
        timeout: 4s
      - smb: "//{{ hosts.srv.address }}:2525/public"
        timeout: 4s
      - smb: "//{{ hosts.srv.address }}:2525/public"
        from: client
        timeout: 10s
"#;

/// The lab for a grader without smbclient: nothing on its PATH.
const LAB_NO_CLIENT: &str = r#"lab: partage
title: Serveur de fichiers
block: 6
hosts:
  srv: {}
  client: {}
tasks:
  - id: shares
    title: partages
    points: 1
    checks:
      - smb: "//{{ hosts.srv.address }}"
        shares: { contains: public }
"#;

fn grade(srv: &TestHost, client: &TestHost) -> (i32, String, Vec<String>) {
    grade_lab(LAB, srv, client, None)
}

fn grade_lab(
    lab: &str,
    srv: &TestHost,
    client: &TestHost,
    search_path: Option<&str>,
) -> (i32, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("lab.yaml"), lab).unwrap();
    let known = path.join("known_hosts");
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
    let mut labgrade = Command::new(env!("CARGO_BIN_EXE_labgrade"));
    if let Some(search_path) = search_path {
        labgrade.env("PATH", search_path);
    }
    let out = labgrade
        .arg("run")
        .arg(path.join("lab.yaml"))
        .args(["--host", &format!("srv=root@{}", srv.address)])
        .args(["--host", &format!("client=root@{}", client.address)])
        .arg("--identity")
        .arg(&key)
        .arg("--known-hosts")
        .arg(&known)
        .arg("--out")
        .arg(path.join("out"))
        .env_remove("SSH_AUTH_SOCK")
        .env("LABGRADE_SECRET_ALICE_PW", ALICE_PW)
        .env("LABGRADE_SECRET_BOB_PW", BOB_PW)
        .env("LABGRADE_SECRET_WRONG_PW", WRONG_PW)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(path.join("out/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    for secret in [ALICE_PW, BOB_PW, WRONG_PW] {
        for part in secret
            .split(|c: char| !c.is_alphanumeric())
            .filter(|p| p.len() >= 5)
        {
            assert!(!text.contains(part), "{part} in results.json:\n{text}");
            assert!(!stdout.contains(part), "{part} on the terminal:\n{stdout}");
        }
    }
    let results: Value = serde_json::from_str(&text).unwrap();
    let verdicts = verdict_lines(&results);
    (out.status.code().unwrap(), stdout, verdicts)
}

/// What the write test leaves in the share: nothing.
fn leftovers(srv: &TestHost) -> String {
    srv.exec_ok("ls -A /srv/compta /srv/public")
}

#[test]
fn smb_from_the_grader_and_from_a_role() {
    let client = TestHost::start("smb-client", "");
    let good = TestHost::start("smb-good", &setup(true));
    let faulty = TestHost::start("smb-faulty", &setup(false));
    let clean = "/srv/compta:\n\n/srv/public:\nreadme.txt\n";

    let (code, stdout, verdicts) = grade(&good, &client);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    assert_eq!(
        v[..11],
        [
            "shares from grader: pass ",
            "shares from grader: pass ",
            "shares from grader: pass ",
            "shares from grader: pass ",
            "compta from grader: pass ",
            "compta from grader: pass ",
            "compta from grader: pass ",
            "public from grader: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
            "from-client from client: pass ",
        ],
        "{stdout}"
    );
    assert_eq!(
        v[11],
        format!(
            "unanswered from grader: error cannot reach the server: do_connect: Connection to {} failed (Error NT_STATUS_CONNECTION_REFUSED)",
            client.address
        ),
        "{stdout}"
    );
    // The echo server closes or resets the connection: which one depends on timing.
    let garbage = "error not an SMB2/3 server: protocol negotiation failed: NT_STATUS_CONNECTION_";
    assert!(
        v[12].starts_with(&format!("unanswered from grader: {garbage}")),
        "{stdout}"
    );
    assert!(
        v[13].starts_with(&format!(
            "unanswered from client: error could not read the host's answer: {}",
            &garbage["error ".len()..]
        )),
        "{stdout}"
    );
    assert_eq!(v.len(), 14, "{stdout}");
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(leftovers(&good), clean);

    let (code, stdout, verdicts) = grade(&faulty, &client);
    let v: Vec<&str> = verdicts.iter().map(|v| v.lines().next().unwrap()).collect();
    assert_eq!(
        v[..11],
        [
            "shares from grader: fail shares: expected includes compta and includes public, found public",
            "shares from grader: pass ",
            "shares from grader: pass ",
            "shares from grader: pass ",
            "compta from grader: fail can_write: expected true, found false",
            "compta from grader: fail can_read: expected false, found true",
            "compta from grader: pass ",
            "public from grader: pass ",
            "from-client from client: fail can_write: expected true, found false",
            "from-client from client: fail shares: expected includes compta, found public",
            "from-client from client: fail can_read: expected false, found true",
        ],
        "{stdout}"
    );
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(leftovers(&faulty), clean);

    let (code, stdout, verdicts) = grade_lab(LAB_NO_CLIENT, &good, &client, Some("/nonexistent"));
    assert_eq!(
        verdicts,
        [
            "shares from grader: error the grader has no `smbclient`: install the Debian package smbclient"
        ],
        "{stdout}"
    );
    assert_eq!(code, 3, "{stdout}");
}
