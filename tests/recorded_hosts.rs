//! Windows servers and IOS devices cannot run here: their answers are recordings (see
//! tests/recorded/README.md), replayed through the real runner by a transport that answers
//! only the exact commands labgrade is expected to send. A lab is graded end to end: the
//! reference recordings score 20/20, the faulty ones lose exactly the tasks they break, and
//! the French and English installs of one server get the same verdicts.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use labgrade::results::{Results, Verdict};
use support::replay::{Replay, grade_replays};

fn grade(lab: &str, hosts: &[(&str, Arc<Replay>)]) -> Results {
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join(lab);
    grade_replays(&lab, &BTreeMap::new(), hosts)
}

/// `labgrade run`'s exit code for these results: 0 all passed, 1 some failed, 3 an error.
fn exit_code(results: &Results) -> i32 {
    if results.any_error() {
        3
    } else if results.all_passed() {
        0
    } else {
        1
    }
}

/// Each check as `task: label verdict`, with the reason of any check that did not pass.
fn verdicts(results: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for task in &results.labs[0].tasks {
        for check in &task.checks {
            let mut line = format!("{}: {} {:?}", task.id, check.label, check.verdict);
            if check.verdict != Verdict::Pass {
                line.push_str(&format!(" ({})", check.reason.clone().unwrap_or_default()));
            }
            out.push(line);
        }
    }
    out
}

/// The lines of [`verdicts`] of the checks that did not pass.
fn not_passed(results: &Results) -> Vec<String> {
    verdicts(results)
        .into_iter()
        .filter(|v| !v.ends_with(" Pass"))
        .collect()
}

fn task_points(results: &Results) -> Vec<(String, f64)> {
    results.labs[0]
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.earned))
        .collect()
}

const WINDOWS_LAB: &str = "labs/bloc3-windows-ad.yaml";
const SWITCH_LAB: &str = "labs/bloc2-switch.yaml";

/// The scripts the Windows lab sends, in the order of its checks.
const WINDOWS_SENT: &[&str] = &[
    "ad_user-amartin.json",
    "ad_user-bdupont.json",
    "ad_group-GG_Compta.json",
    "ad_user-amartin.json",
    "service-DHCPServer.json",
    "dhcp_scope-192.168.10.0.json",
    "dhcp_scope-192.168.10.0.json",
    "dns_record-fichiers-A.json",
    "dns_record-intranet-CNAME.json",
    "share-Compta.json",
    "file-Compta.json",
    "quota-Compta.json",
    "gpo-Fond-Ecran.json",
];

fn windows(layers: &[&str]) -> (Results, Vec<String>) {
    let dc = Replay::new("dc", layers);
    let results = grade(WINDOWS_LAB, &[("dc", Arc::clone(&dc))]);
    (results, dc.sent())
}

#[test]
fn a_windows_server_in_english_or_french_scores_20_on_the_same_scripts() {
    for language in ["windows/en", "windows/fr"] {
        let (results, sent) = windows(&[language]);
        assert_eq!(sent, WINDOWS_SENT, "{language}");
        let verdicts = verdicts(&results);
        assert!(
            verdicts.iter().all(|v| v.ends_with(" Pass")),
            "{language}: {verdicts:#?}"
        );
        assert_eq!(verdicts.len(), 13);
        assert_eq!(results.labs[0].mark, 20.0, "{language}");
        assert_eq!(exit_code(&results), 0);
    }
}

#[test]
fn a_faulty_windows_server_loses_exactly_the_tasks_it_breaks() {
    let (results, sent) = windows(&["windows/fr-faulty", "windows/fr"]);
    assert_eq!(sent, WINDOWS_SENT);
    assert_eq!(
        task_points(&results),
        [
            ("ou-users".to_string(), 3.0),
            ("groups".to_string(), 3.0),
            ("dhcp".to_string(), 2.0),
            ("dns".to_string(), 3.0),
            ("share".to_string(), 2.0),
            ("quota".to_string(), 0.0),
            ("gpo".to_string(), 0.0),
        ]
    );
    let failed = not_passed(&results);
    assert_eq!(
        failed,
        [
            "dhcp: dhcp_scope 192.168.10.0: active true, start \"192.168.10.100\", end \"192.168.10.200\", mask \"255.255.255.0\", router includes 192.168.10.254, dns_servers includes 192.168.10.1 Fail (router: expected includes 192.168.10.254, found none)",
            "share: GG_Compta peut modifier, Tout le monde n'a aucun droit de partage Fail (access: expected includes GG_Compta:change and excludes S-1-1-0:full and excludes S-1-1-0:change and excludes S-1-1-0:read, found Tout le monde:full, S-1-1-0:full, GG_Compta:change, S-1-5-21-3623811015-3361044348-30300820-1105:change)",
            "quota: quota D:\\Partages\\Compta: size_mb 500, hard true, enabled true Fail (hard: expected true, found false)",
            "gpo: gpo Fond-Ecran: enabled true, linked_to includes OU=Comptabilite,DC=lab,DC=local Fail (linked_to: expected includes OU=Comptabilite,DC=lab,DC=local, found none)",
        ]
    );
    assert_eq!(results.labs[0].mark, 13.0);
    assert_eq!(exit_code(&results), 1);
}

#[test]
fn a_windows_server_without_the_dhcp_role_cannot_be_checked_there() {
    let (results, _) = windows(&["windows/no-dhcp-role", "windows/en"]);
    let errors: Vec<String> = verdicts(&results)
        .into_iter()
        .filter(|v| v.contains(" Error "))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("the host has no `Get-DhcpServerv4Scope`"),
        "{errors:#?}"
    );
    assert_eq!(exit_code(&results), 3);
}

fn switch(sw: &[&str], rtr: &[&str]) -> (Results, Vec<String>, Vec<String>) {
    let s = Replay::new("sw", sw);
    let r = Replay::new("rtr", rtr);
    let results = grade(
        SWITCH_LAB,
        &[("sw", Arc::clone(&s)), ("rtr", Arc::clone(&r))],
    );
    (results, s.sent(), r.sent())
}

const SW_SENT: &[&str] = &[
    "show_vlan_brief.txt",
    "show_vlan_brief.txt",
    "show_running-config.txt",
    "show_ip_interface_brief.txt",
    "show_ip_interface_brief.txt",
];
const RTR_SENT: &[&str] = &[
    "show_ip_route.txt",
    "show_running-config.txt",
    "show_ip_route.txt",
];

#[test]
fn a_switch_and_a_router_configured_right_score_20() {
    let (results, sw, rtr) = switch(&["ios/reference/sw"], &["ios/reference/rtr"]);
    assert_eq!(sw, SW_SENT);
    assert_eq!(rtr, RTR_SENT);
    let verdicts = verdicts(&results);
    assert!(
        verdicts.iter().all(|v| v.ends_with(" Pass")),
        "{verdicts:#?}"
    );
    assert_eq!(verdicts.len(), 8);
    assert_eq!(results.labs[0].mark, 20.0);
    assert_eq!(exit_code(&results), 0);
}

#[test]
fn a_faulty_switch_and_router_lose_exactly_the_tasks_they_break() {
    let (results, sw, rtr) = switch(
        &["ios/faulty/sw", "ios/reference/sw"],
        &["ios/faulty/rtr", "ios/reference/rtr"],
    );
    assert_eq!(sw, SW_SENT);
    assert_eq!(rtr, RTR_SENT);
    assert_eq!(
        task_points(&results),
        [
            ("vlans".to_string(), 4.0),
            ("trunk".to_string(), 0.0),
            ("svi".to_string(), 2.0),
            ("default-route".to_string(), 4.0),
            ("ospf".to_string(), 2.0),
        ]
    );
    let failed = not_passed(&results);
    assert_eq!(
        failed,
        [
            "trunk: config interface GigabitEthernet1/0/24: lines includes switchport mode trunk and includes switchport trunk allowed vlan 10,20 Fail (lines: expected includes switchport mode trunk and includes switchport trunk allowed vlan 10,20, found description Vers-R1, switchport trunk allowed vlan 10, switchport mode trunk)",
            "svi: interface Vlan20: address \"192.168.20.2\", up true Fail (up: expected true, found false)",
            "ospf: route 172.16.5.0/24: source \"ospf\" Fail (172.16.5.0/24: exists is false)",
        ]
    );
    assert_eq!(results.labs[0].mark, 12.0);
    assert_eq!(exit_code(&results), 1);
}

/// `unique:` fingerprints Linux machines: a Windows server that only black-box probes reach
/// is not logged in to at all, so no POSIX script is ever sent to it.
#[test]
fn a_windows_server_is_never_sent_the_identity_script() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.yaml");
    std::fs::write(
        &lab,
        "lab: t\ntitle: T\nblock: 3\nunique: [machine_id, ssh_host_key]\nhosts:\n  dc: { os: windows }\ntasks:\n  - id: rdp\n    title: RDP\n    points: 1\n    checks:\n      - tcp: \"127.0.0.1:1\"\n        state: refused\n",
    )
    .unwrap();
    let dc = Replay::new("dc", &["windows/fr"]);
    let results = grade(lab.to_str().unwrap(), &[("dc", Arc::clone(&dc))]);
    assert_eq!(
        verdicts(&results),
        ["rdp: tcp 127.0.0.1:1: state \"refused\" Pass"]
    );
    assert_eq!(dc.sent(), Vec::<String>::new());
}

/// `labgrade validate` on a lab in a folder of its own: the exit code and stderr.
fn validate(lab: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(["validate", "lab.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const MIXED: &str = "lab: t\ntitle: T\nblock: 3\nhosts:\n  srv: { os: linux }\n  dc: { os: windows }\n  sw: { os: ios }\ntasks:\n  - id: a\n    title: A\n    points: 1\n    checks:\n";

#[test]
fn a_kind_on_a_host_of_another_system_is_a_located_error() {
    let (code, stderr) = validate(&format!("{MIXED}      - ad_user: amartin\n"));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `ad_user` checks inspect `os: windows` hosts, and role `srv` is an `os: linux` host
  --> lab.yaml:13:9
   |
13 |       - ad_user: amartin
   |         ^^^^^^^
   = expected `on:` a role with `os: windows`, or a kind for `os: linux`
"
    );
    let (code, stderr) = validate(&format!("{MIXED}      - cron: root\n        on: dc\n"));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `cron` checks inspect `os: linux` hosts, and role `dc` is an `os: windows` host
  --> lab.yaml:13:9
   |
13 |       - cron: root
   |         ^^^^
   = expected `on:` a role with `os: linux`, or a kind for `os: windows`
"
    );
    let (code, stderr) = validate(&format!(
        "{MIXED}      - http: http://x/\n        from: dc\n"
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: role `dc` is an `os: windows` host, which cannot run a probe's POSIX script
  --> lab.yaml:14:15
   |
14 |         from: dc
   |               ^^
   = expected a role with `os: linux`, or `from: grader`
"
    );
}

#[test]
fn a_kind_on_a_host_of_its_system_takes_that_systems_form() {
    let (code, stderr) = validate(&format!(
        "{MIXED}      - service: W32Time\n        on: dc\n        start: automatic\n      - service: ssh\n      - vlan: 10\n        on: sw\n        name: ADMIN\n"
    ));
    assert_eq!((code, stderr.as_str()), (0, ""));
}
