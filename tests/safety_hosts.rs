//! Issue 8, points 1 and 5: grading changes nothing on a candidate's machine and leaks no
//! secret. One real host runs every service a black-box kind probes (nginx, dnsmasq for DNS
//! and DHCP, postfix, dovecot, MariaDB, slapd, Samba, sshd with passwords) and the answer key
//! of tests/labs/whitebox.yaml, which uses every white-box kind. It is snapshotted, graded
//! with both labs (black-box probes from the grader and from the host itself, with
//! secrets), and snapshotted again: files, users and groups, packages, units and listening
//! sockets are the same, save the one change a kind documents and undoes (smb's write
//! test, whose file is gone). The output folder and a RUST_LOG=trace log of the run hold
//! none of the secrets, in any form a probe sends them.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use base64::Engine;
use serde_json::Value;
use sha2::Digest;
use support::{TestHost, grader_key};

const WHITEBOX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/labs/whitebox.yaml");

/// alice's password (Unix, Samba, IMAP, POP3, SSH): a space and the quotes and dollar a
/// shell would interpret, so that every hop must carry it whole.
const ALICE_PW: &str = r#"Al1ce s3cret'"$x-7Qz"#;
const DB_PW: &str = "Db-9c1e-S3cret-44a";
const LDAP_PW: &str = "Ld4p-admin-f00d-91";

/// The answer key of whitebox.yaml (as in grade_hosts.rs, the firewall also letting in the
/// services below), then every service a black-box kind probes.
const SETUP: &str = r#"set -e
echo "Bienvenue sur srv" > /etc/motd
chmod 0644 /etc/motd
groupadd -g 2000 compta
useradd -m -u 2001 -G compta -s /bin/bash alice
printf 'alice:%s\n' "$ALICE_PW" | chpasswd
mkdir -p /srv/compta
chgrp compta /srv/compta
chmod 2770 /srv/compta
echo 'the books' > /srv/compta/livre.txt
systemctl enable --now cron
sysctl -qw net.ipv4.ip_forward=1
echo '0 2 * * * restic backup /home' | crontab -
mkdir -p /mnt/data
mount -t tmpfs -o size=8m,noexec tmpfs /mnt/data
echo data > /mnt/data/keep.txt
printf '#!/bin/sh\necho "backup ok"\n' > /usr/local/bin/backup.sh
chmod 0755 /usr/local/bin/backup.sh
nft -f - <<'EOF'
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
    tcp dport { 25, 80, 110, 143, 389, 445, 3306 } accept
    udp dport { 53, 67 } accept
  }
}
EOF

# ssh: alice may log in with her password; root still with a key only.
sed -i 's/^PasswordAuthentication no/PasswordAuthentication yes/' /etc/ssh/sshd_config.d/labgrade-test.conf
systemctl restart ssh

# http
systemctl start nginx

# dns and dhcp: dnsmasq, with a range far from the test hosts; DISCOVERs only, no lease.
mkdir -p /var/lib/misc
cat > /etc/lg-dnsmasq.conf <<'EOF'
interface=eth0
bind-interfaces
no-resolv
no-hosts
host-record=www.lab.example,10.213.0.80
dhcp-range=10.213.252.10,10.213.252.20,255.255.0.0,2h
dhcp-leasefile=/var/lib/misc/lg-dnsmasq.leases
EOF
systemd-run --quiet --unit=lg-dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/etc/lg-dnsmasq.conf

# smtp
postconf -e 'myhostname = srv.lab.example' 'mydomain = lab.example' \
  'mydestination = srv.lab.example, lab.example, localhost' 'inet_interfaces = all' \
  'inet_protocols = ipv4' 'smtp_dns_support_level = disabled'
newaliases
systemctl start postfix

# imap and pop3: alice's maildir holds one message, already seen. dovecot keeps its own
# indexes and uid lists apart, in /var/lib/lg-dovecot (see EXCLUDED).
m=/home/alice/Maildir
mkdir -p $m/cur $m/new $m/tmp
printf 'From: a@lab.example\nSubject: hello\n\nhello\n' > "$m/cur/1700000000.M1P1.srv:2,S"
chown -R alice: $m
mkdir -p /var/lib/lg-dovecot/alice
chown alice: /var/lib/lg-dovecot/alice
cat > /etc/dovecot/conf.d/99-lab.conf <<'END'
mail_location = maildir:~/Maildir:INDEX=/var/lib/lg-dovecot/%u:CONTROL=/var/lib/lg-dovecot/%u
ssl = no
disable_plaintext_auth = no
END
systemctl start dovecot

# db
printf '[mysqld]\nbind-address = 0.0.0.0\nskip-name-resolve\n' > /etc/mysql/mariadb.conf.d/99-lab.cnf
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
systemctl start mariadb
mysql <<SQL
CREATE DATABASE compta;
CREATE TABLE compta.factures (id INT PRIMARY KEY, total DECIMAL(8,2));
INSERT INTO compta.factures VALUES (1, 42.50);
CREATE USER 'app'@'10.213.%' IDENTIFIED BY '$DB_PW';
GRANT SELECT ON compta.* TO 'app'@'10.213.%';
SQL

# ldap
D=/var/lib/lg-ldap
mkdir -p "$D/db"
ADMIN=$(slappasswd -s "$LDAP_PW")
cat > "$D/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile /run/lg-slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=lab,dc=example"
rootdn "cn=admin,dc=lab,dc=example"
rootpw $ADMIN
directory $D/db
access to * by * read
CONF
cat > "$D/data.ldif" <<LDIF
dn: dc=lab,dc=example
objectClass: dcObject
objectClass: organization
o: lab
dc: lab

dn: ou=people,dc=lab,dc=example
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=lab,dc=example
objectClass: inetOrgPerson
uid: alice
cn: Alice Martin
sn: Martin
LDIF
slapadd -q -f "$D/slapd.conf" -l "$D/data.ldif"
systemd-run --quiet --unit=lg-slapd /usr/sbin/slapd -d 0 -f "$D/slapd.conf" -h 'ldap:///'

# smb: the share is whitebox.yaml's /srv/compta, for the group compta.
cat > /etc/samba/smb.conf <<'CONF'
[global]
  workgroup = LAB
  server role = standalone server
  server min protocol = SMB2
  disable netbios = yes
  smb ports = 445
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
[compta]
  path = /srv/compta
  valid users = @compta
  read only = no
CONF
printf '%s\n%s\n' "$ALICE_PW" "$ALICE_PW" | smbpasswd -s -a alice
systemctl start smbd

for port in 25 80 110 143 389 445 3306; do
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && continue 2; sleep 0.1; done
  echo "nothing answers on $port" >&2; exit 1
done
for i in $(seq 100); do ss -Hlun 'sport = :67' | grep -q . && exit 0; sleep 0.1; done
echo dnsmasq does not listen >&2; exit 1
"#;

/// Every black-box kind, from the grader; those that can, again from the host itself,
/// where their scripts run (and must clean up after themselves).
const LAB: &str = r#"lab: safety
title: Tous les services, vus de dehors et de dedans
block: 6
hosts:
  srv: {}
unique: [machine_id, ssh_host_key]
tasks:
  - id: outside
    title: vus du grader
    points: 11
    partial: true
    checks:
      - tcp: "{{ hosts.srv.address }}:22"
        open: true
      - http: "http://{{ hosts.srv.address }}/"
        status: 200
        body_contains: nginx
      - dns: www.lab.example
        server: "{{ hosts.srv.address }}"
        answers: 10.213.0.80
      - smtp: "{{ hosts.srv.address }}"
        banner: { contains: Postfix }
        to: alice@lab.example
        accepts: true
        relay_denied: true
      - imap: "{{ hosts.srv.address }}"
        security: none
        user: alice
        secret: alice-pw
        mailboxes: { contains: [INBOX] }
      - pop3: "{{ hosts.srv.address }}"
        security: none
        user: alice
        secret: alice-pw
        messages: 1
      - dhcp: "{{ hosts.srv.address }}"
        address: { matches: '^10\.213\.252\.' }
        timeout: 10s
      - db: "{{ hosts.srv.address }}:3306"
        user: app
        secret: db-app
        database: compta
        query: SELECT total FROM factures WHERE id = 1
        value: "42.50"
      - ldap: "ldap://{{ hosts.srv.address }}"
        bind_dn: cn=admin,dc=lab,dc=example
        secret: ldap-admin
        base: ou=people,dc=lab,dc=example
        filter: (uid=alice)
        count: 1
      - smb: "//{{ hosts.srv.address }}/compta"
        user: alice
        secret: alice-pw
        can_read: true
        can_write: true
      - ssh: "{{ hosts.srv.address }}"
        user: alice
        secret: alice-pw
        login: true
  - id: inside
    title: vus de la machine
    points: 9
    partial: true
    checks:
      - tcp: "{{ hosts.srv.address }}:25"
        from: srv
      - http: "http://{{ hosts.srv.address }}/"
        from: srv
        body_contains: nginx
      - dns: www.lab.example
        from: srv
        server: "{{ hosts.srv.address }}"
        answers: 10.213.0.80
      - smtp: "{{ hosts.srv.address }}"
        from: srv
        to: alice@lab.example
        accepts: true
      - imap: "{{ hosts.srv.address }}"
        from: srv
        security: none
        user: alice
        secret: alice-pw
        mailboxes: { contains: [INBOX] }
      - pop3: "{{ hosts.srv.address }}"
        from: srv
        security: none
        user: alice
        secret: alice-pw
        messages: 1
      - db: "{{ hosts.srv.address }}:3306"
        from: srv
        user: app
        secret: db-app
        database: compta
        query: SELECT total FROM factures WHERE id = 1
        value: "42.50"
      - ldap: "ldap://{{ hosts.srv.address }}"
        from: srv
        bind_dn: cn=admin,dc=lab,dc=example
        secret: ldap-admin
        base: ou=people,dc=lab,dc=example
        filter: (uid=alice)
        count: 1
      - smb: "//{{ hosts.srv.address }}/compta"
        from: srv
        user: alice
        secret: alice-pw
        can_read: true
        can_write: true
"#;

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn setup() -> String {
    format!(
        "ALICE_PW={}\nDB_PW={}\nLDAP_PW={}\n{SETUP}",
        shell_quote(ALICE_PW),
        shell_quote(DB_PW),
        shell_quote(LDAP_PW)
    )
}

/// What the host changed since it booted that grading must leave alone, and what is not
/// the host's state but its logs, caches and runtime bookkeeping. Each exclusion says why.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "/var/log/",
        "logs: sshd, postfix, nginx and the login records (wtmp, lastlog) write there",
    ),
    (
        "/var/cache/",
        "caches, by definition rebuilt at will (samba's gencache)",
    ),
    (
        "/var/lib/lg-dovecot/",
        "dovecot's indexes and uid lists, set apart by the setup: dovecot writes them at any login to keep its own books; the mail itself (~/Maildir) is compared",
    ),
    (
        "/var/lib/systemd/",
        "systemd's own bookkeeping (timer stamps, random seed) as time passes",
    ),
    (
        "/var/lib/lg-ldap/db/lock.mdb/",
        "LMDB's lock file: its reader table changes with every reader; the directory's data (data.mdb) is compared",
    ),
    (
        "/var/spool/postfix/pid/",
        "the lock files of postfix's running services (runtime state)",
    ),
];

/// The changes grading may make, each documented by the kind that makes it and undone.
/// `None`: the entry may appear, as an empty directory; `Some`: only its modification time
/// may move (type, size, mode and owner stay, and no entry is left inside, or it would show).
const ALLOWED: &[(&str, Option<&str>, &str)] = &[
    (
        "/srv/compta",
        Some("mtime"),
        "smb's can_write creates its .labgrade-probe file there and deletes it at once",
    ),
    (
        "tmpfs:/tmp",
        Some("mtime"),
        "a probe from a role keeps the password in a 0600 file there, removed on exit",
    ),
    (
        "/var/spool/postfix/incoming",
        None,
        "postfix creates its empty incoming queue when a client first says MAIL FROM (smtp's accepts); no mail is queued",
    ),
];

/// A snapshot of what a candidate's machine is made of.
#[derive(Debug, PartialEq)]
struct Snapshot {
    /// Path to `type size mode uid:gid mtime sha256`: every file the host wrote over the
    /// machine's own (its overlay's upper layer, where any change made in the host lands,
    /// deletions as whiteouts), and every file of its own tmpfs mounts.
    files: BTreeMap<String, String>,
    users: String,
    groups: String,
    packages: String,
    units: String,
    sockets: String,
}

/// One line per file: what `find -printf '%y %s %m %U:%G %T@'` and `sha256sum` would say.
fn describe(path: &Path) -> String {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let kind = if meta.is_dir() {
        "d"
    } else if meta.file_type().is_symlink() {
        "l"
    } else if meta.is_file() {
        "f"
    } else {
        // A whiteout (character device 0/0) records a deletion.
        "c"
    };
    let content = if meta.is_file() {
        hex(&sha2::Sha256::digest(std::fs::read(path).unwrap()))
    } else if meta.file_type().is_symlink() {
        std::fs::read_link(path).unwrap().display().to_string()
    } else {
        format!("rdev {}", meta.rdev())
    };
    format!(
        "{kind} {} {:o} {}:{} {}.{:09} {content}",
        if meta.is_dir() { 0 } else { meta.size() },
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid(),
        meta.mtime(),
        meta.mtime_nsec()
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = format!("/{}", path.strip_prefix(root).unwrap().display());
        let as_dir = format!("{name}/");
        if EXCLUDED
            .iter()
            .any(|(prefix, _)| as_dir.starts_with(prefix))
        {
            continue;
        }
        out.insert(name, describe(&path));
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            walk(root, &path, out);
        }
    }
}

fn snapshot(host: &TestHost) -> Snapshot {
    let upper = host.state_dir().join("fs/upper");
    let mut files = BTreeMap::new();
    walk(&upper, &upper, &mut files);
    // The host's own tmpfs mounts (/tmp, /mnt/data...) are not in the overlay: list them
    // from inside. /run and /dev are runtime state (sessions, sockets, locks).
    let listed = host.exec_ok(
        r#"findmnt -rn -t tmpfs -o TARGET | grep -Ev '^/(run|dev|sys|proc)(/|$)' | while read -r m; do
  find "$m" -xdev -printf '%p %y %s %m %U:%G %T@ ' -exec sh -c 'if [ -f "$1" ]; then sha256sum <"$1" | cut -d" " -f1; else echo -; fi' sh {} \;
done"#,
    );
    for line in listed.lines() {
        let (path, rest) = line.split_once(' ').unwrap();
        files.insert(format!("tmpfs:{path}"), rest.to_string());
    }
    Snapshot {
        files,
        users: host.exec_ok("getent passwd; getent shadow"),
        groups: host.exec_ok("getent group; getent gshadow"),
        packages: host.exec_ok("dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n'"),
        // The units that run (or failed): not --all, whose inactive part is the names other
        // units mention, loaded and dropped as systemd pleases. Login bookkeeping left out:
        // every SSH login opens a session scope, a user manager and its runtime folder, which
        // systemd-logind closes on its own after the logout.
        units: host.exec_ok(
            "systemctl list-units --plain --no-legend --full | grep -Ev '^(session-[0-9]+\\.scope|user@[0-9]+\\.service|user-runtime-dir@[0-9]+\\.service|user-[0-9]+\\.slice|run-user-[0-9]+\\.mount) ' | sort",
        ),
        sockets: host.exec_ok("ss -Hltun | awk '{print $1, $5}' | sort -u"),
    }
}

/// The machine's own package list: the hosts share its files, so an `apt-get` run on the
/// machine by someone else during the test shows in a host too, and is not the host's doing.
fn machine_packages() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Every check's `task[i] verdict reason`.
fn verdicts(results: &Value) -> Vec<String> {
    let mut all = Vec::new();
    for lab in results["labs"].as_array().unwrap() {
        for task in lab["tasks"].as_array().unwrap() {
            for (i, check) in task["checks"].as_array().unwrap().iter().enumerate() {
                all.push(format!(
                    "{}[{i}] {} {}",
                    task["id"].as_str().unwrap(),
                    check["verdict"].as_str().unwrap(),
                    check["reason"].as_str().unwrap_or("")
                ));
            }
        }
    }
    all
}

/// Each secret, and the forms a probe may put it in on the wire (SASL PLAIN's base64).
fn secret_forms() -> Vec<(String, String)> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut forms = Vec::new();
    for (name, value) in [
        ("alice-pw", ALICE_PW),
        ("db-app", DB_PW),
        ("ldap-admin", LDAP_PW),
    ] {
        forms.push((format!("{name} as is"), value.to_string()));
        forms.push((format!("{name} shell-quoted"), shell_quote(value)));
        forms.push((format!("{name} in base64"), b64(value)));
        forms.push((
            format!("{name} as SASL PLAIN"),
            b64(&format!("\0alice\0{value}")),
        ));
    }
    forms
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn bytes_contain(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Test hosts are made of this machine's installed files: the services must be here.
fn require_packages() {
    let wanted = [
        "bridge-utils",
        "cron",
        "nftables",
        "openssh-server",
        "nginx",
        "curl",
        "dnsmasq-base",
        "postfix",
        "dovecot-imapd",
        "dovecot-pop3d",
        "mariadb-server",
        "mariadb-client",
        "slapd",
        "ldap-utils",
        "samba",
        "smbclient",
    ];
    for package in wanted {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Status}", package])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "installed",
            "this test needs the Debian package {package} on this machine (.ci/run installs it)"
        );
    }
}

#[test]
fn grading_changes_nothing_on_the_host_and_leaks_no_secret() {
    require_packages();
    let began = Instant::now();
    let host = TestHost::start("safe", &setup());
    println!("host up in {:.1} s", began.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let key = grader_key();

    // What any SSH login does (a session, a user manager, login records) is sshd's and
    // logind's, not labgrade's: one login before the first snapshot lets it settle.
    let warm = host.ssh(&key, "true").output().unwrap();
    assert!(warm.status.success(), "{warm:?}");
    std::thread::sleep(std::time::Duration::from_secs(2));

    let machine_before = machine_packages();
    let before = snapshot(&host);

    // Secrets from a file and from the environment, as an instructor gives them.
    let secrets = dir.path().join("secrets.yaml");
    std::fs::write(
        &secrets,
        format!(
            "alice-pw: {}\ndb-app: {}\n",
            serde_json::to_string(ALICE_PW).unwrap(),
            serde_json::to_string(DB_PW).unwrap()
        ),
    )
    .unwrap();
    let lab = dir.path().join("safety.yaml");
    std::fs::write(&lab, LAB).unwrap();
    let out = dir.path().join("out");
    let log = dir.path().join("trace.log");
    let graded = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(["run", WHITEBOX])
        .arg(&lab)
        .args(["--host", &format!("srv=root@{}", host.address)])
        .arg("--identity")
        .arg(&key)
        .arg("--known-hosts")
        .arg(host.known_hosts_file())
        .arg("--secrets")
        .arg(&secrets)
        .arg("--out")
        .arg(&out)
        .env("LABGRADE_SECRET_LDAP_ADMIN", LDAP_PW)
        .env("RUST_LOG", "trace")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .output()
        .unwrap();
    println!("graded in {:.1} s", graded.elapsed().as_secs_f64());
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let got = verdicts(&results);
    let failed: Vec<&String> = got.iter().filter(|v| !v.contains(" pass ")).collect();
    assert!(failed.is_empty(), "{failed:#?}\n{stdout}");
    assert_eq!(got.len(), 21 + 11 + 9, "{got:#?}");
    assert_eq!(run.status.code(), Some(0), "{stdout}");

    // Point 1: nothing changed, save what ALLOWED documents.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let after = snapshot(&host);
    let machine_after = machine_packages();
    assert_eq!(
        machine_before, machine_after,
        "the machine's own packages changed during the test: run it again"
    );
    let mut changed: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for path in before.files.keys().chain(after.files.keys()) {
        let (b, a) = (before.files.get(path), after.files.get(path));
        if b != a && !changed.iter().any(|(p, ..)| p == path) {
            changed.push((path.clone(), b.cloned(), a.cloned()));
        }
    }
    changed.retain(|(path, b, a)| {
        let Some((_, allowed, _)) = ALLOWED.iter().find(|(p, ..)| p == path) else {
            return true;
        };
        let fields = |s: &str| s.split(' ').take(4).map(str::to_string).collect::<Vec<_>>();
        match (allowed, b, a) {
            (Some(_), Some(b), Some(a)) => fields(b) != fields(a),
            (None, None, Some(a)) => !a.starts_with("d "),
            _ => true,
        }
    });
    assert!(changed.is_empty(), "files changed by grading: {changed:#?}");
    assert_eq!(
        host.exec_ok("ls -A /srv/compta"),
        "livre.txt\n",
        "the smb write test left its file"
    );
    assert_eq!(
        host.exec_ok("find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred /var/spool/postfix/maildrop -type f 2>/dev/null | wc -l"),
        "0\n",
        "a mail was queued"
    );
    for (what, b, a) in [
        ("users", &before.users, &after.users),
        ("groups", &before.groups, &after.groups),
        ("packages", &before.packages, &after.packages),
        ("units", &before.units, &after.units),
        ("listening sockets", &before.sockets, &after.sockets),
    ] {
        let gone: Vec<&str> = b.lines().filter(|l| !a.lines().any(|x| x == *l)).collect();
        let new: Vec<&str> = a.lines().filter(|l| !b.lines().any(|x| x == *l)).collect();
        assert!(
            gone.is_empty() && new.is_empty(),
            "{what} changed by grading: gone {gone:#?}, new {new:#?}"
        );
        assert!(!b.is_empty(), "no {what} listed");
    }
    // The comparison saw the host's files: a change would have shown.
    assert!(
        before.files.contains_key("/etc/motd"),
        "{:#?}",
        before.files.keys()
    );
    assert!(before.files.contains_key("tmpfs:/mnt/data/keep.txt"));

    // Point 5: no secret, in any form, in any file of the output folder or in the trace log.
    let mut leaks = Vec::new();
    let mut looked = files_under(&out);
    looked.push(log.clone());
    for path in &looked {
        let bytes = std::fs::read(path).unwrap();
        for (form, value) in secret_forms() {
            if bytes_contain(&bytes, value.as_bytes()) {
                leaks.push(format!("{form} in {}", path.display()));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
    if stdout.contains(ALICE_PW) || stdout.contains(DB_PW) || stdout.contains(LDAP_PW) {
        panic!("a secret on the terminal:\n{stdout}");
    }
    // The log was at trace level and saw the scripts: an empty log would prove nothing.
    let traced = std::fs::read_to_string(&log).unwrap();
    for event in ["authenticated", "batch done"] {
        assert!(traced.contains(event), "no `{event}` in the log:\n{traced}");
    }
    println!(
        "looked for {} forms of 3 secrets in {} files ({} lines of trace log): none",
        secret_forms().len(),
        looked.len(),
        traced.lines().count()
    );
}
