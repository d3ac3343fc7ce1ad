//! `labgrade validate` on labs with one mistake each: the located message, as exact text.

use std::path::Path;
use std::process::Command;

/// Run `labgrade validate lab.yaml` in a folder holding `lab` (and `files`), returning the exit code and stderr.
fn validate_with(lab: &str, files: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(["validate", "lab.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty() || out.status.success(),
        "nothing on stdout for a bad lab"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn validate(lab: &str) -> (i32, String) {
    validate_with(lab, &[])
}

const HEAD: &str = "lab: t\ntitle: T\nblock: 4\nhosts:\n  srv: {}\n";

fn lab(tasks: &str) -> String {
    format!("{HEAD}tasks:\n{tasks}")
}

#[test]
fn a_valid_lab_says_ok() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /etc/hostname\n",
    ));
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn unknown_lab_key() {
    let (code, stderr) = validate(&format!("{HEAD}taks: []\n"));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: unknown key `taks` in a lab
 --> lab.yaml:6:1
  |
6 | taks: []
  | ^^^^
  = expected one of: lab, title, block, competence, pass_mark, lang, exam, timeout, hosts, vars, unique, tasks
  = help: did you mean `tasks`?

error: a lab has no `tasks`
 --> lab.yaml:1:1
  |
1 | lab: t
  | ^
  = expected a `tasks:` key
"
    );
}

#[test]
fn unknown_kind_with_suggestion() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - servce: nginx\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: unknown check kind `servce`
  --> lab.yaml:11:9
   |
11 |       - servce: nginx
   |         ^^^^^^
   = expected a check kind, one of: command, file, package, service, user, group, port, process, sysctl, mount, firewall, cron, tcp, http, dns, ssh, smtp, imap, pop3, db, ldap, smb, dhcp
   = help: did you mean `service`?
"
    );
}

#[test]
fn expectation_the_kind_does_not_have() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /etc/motd\n        mod: \"0644\"\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `file` checks have no `mod`
  --> lab.yaml:12:9
   |
12 |         mod: \"0644\"
   |         ^^^
   = expected one of: exists, type, owner, group, mode, contains, not_contains, matches, sha256, on, from, label, timeout, weight, retry
   = help: did you mean `mode`?
"
    );
}

#[test]
fn requires_a_missing_task() {
    let (code, stderr) = validate(&lab(
        "  - id: nginx-up\n    title: A\n    points: 2\n    checks:\n      - file: /a\n  - id: vhost\n    title: B\n    points: 2\n    requires: [nginx-upp]\n    checks:\n      - file: /b\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: task `vhost` requires `nginx-upp`, which is not a task of this lab
  --> lab.yaml:15:16
   |
15 |     requires: [nginx-upp]
   |                ^^^^^^^^^
   = expected a task id: nginx-up, vhost
   = help: did you mean `nginx-up`?
"
    );
}

#[test]
fn requirement_cycle() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    requires: b\n    checks:\n      - file: /a\n  - id: b\n    title: B\n    points: 2\n    requires: a\n    checks:\n      - file: /b\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: requirement cycle: a -> b -> a
  --> lab.yaml:10:15
   |
10 |     requires: b
   |               ^
   = expected requirements that do not loop back to the task
"
    );
}

#[test]
fn role_not_declared() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /a\n        on: srvv\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: role `srvv` is not declared in `hosts`
  --> lab.yaml:12:13
   |
12 |         on: srvv
   |             ^^^^
   = expected a role of this lab, one of: srv
   = help: did you mean `srv`?
"
    );
}

#[test]
fn undefined_template_variable() {
    let (code, stderr) = validate(&format!(
        "{HEAD}vars:\n  site: intranet.lab\ntasks:\n  - id: a\n    title: Le site {{{{ sitee }}}}\n    points: 2\n    checks:\n      - file: /a\n"
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: undefined template variable `sitee`
  --> lab.yaml:10:12
   |
10 |     title: Le site {{ sitee }}
   |            ^^^^^^^^^^^^^^^^^^^
   = expected a variable the lab defines: site, candidate.id, candidate.name, hosts.srv.address, hosts.srv.user, hosts.srv.port
   = help: did you mean `site`?
"
    );
}

#[test]
fn bad_regex() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /a\n        matches: 'Listen (80'\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: invalid regex `Listen (80`: unclosed group
  --> lab.yaml:12:18
   |
12 |         matches: 'Listen (80'
   |                  ^^^^^^^^^^^^
   = expected a regular expression (Rust regex syntax)
"
    );
}

#[test]
fn wrong_value_type() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: two\n    checks:\n      - file: /a\n        exists: maybe\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `points` must be a number, found a string
 --> lab.yaml:9:13
  |
9 |     points: two
  |             ^^^
  = expected a number

error: `exists` must be true or false, found a string
  --> lab.yaml:12:17
   |
12 |         exists: maybe
   |                 ^^^^^
   = expected true or false
"
    );
}

#[test]
fn duplicate_task_ids() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /a\n  - id: a\n    title: B\n    points: 2\n    checks:\n      - file: /b\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: duplicate task id `a`
  --> lab.yaml:12:9
   |
12 |   - id: a
   |         ^
   = expected an id not already used (first used on line 7)
"
    );
}

#[test]
fn yaml_syntax_error() {
    let (code, stderr) = validate(&format!("{HEAD}tasks: [\n"));
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: invalid YAML: "), "{stderr}");
    assert!(stderr.contains(" --> lab.yaml:6:"), "{stderr}");
}

#[test]
fn every_mistake_is_reported_not_only_the_first() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - servce: x\n  - id: b\n    title: B\n    points: 2\n    checks:\n      - file: /a\n        on: nowhere\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(stderr.matches("error: ").count(), 2, "{stderr}");
}

#[test]
fn use_calls_a_reusable_check_with_params() {
    let reusable = "params:\n  site: the site name\nchecks:\n  - file: /etc/nginx/sites-enabled/{{ site }}\n    contains: \"server_name {{ site }}\"\n";
    let (code, stderr) = validate_with(
        &lab(
            "  - id: a\n    title: A\n    points: 2\n    checks:\n      - use: nginx-site\n        with: { site: intranet }\n",
        ),
        &[("checks/nginx-site.yaml", reusable)],
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (code, stderr) = validate_with(
        &lab(
            "  - id: a\n    title: A\n    points: 2\n    checks:\n      - use: nginx-site\n        with: { sit: intranet }\n",
        ),
        &[("checks/nginx-site.yaml", reusable)],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `nginx-site` has no parameter `sit`
  --> lab.yaml:12:17
   |
12 |         with: { sit: intranet }
   |                 ^^^
   = expected one of: site
   = help: did you mean `site`?
"
    );
}

#[test]
fn use_names_a_file_of_checks_never_a_path() {
    // A YAML file outside checks/ that `use:` could otherwise reach.
    let outside = "params: {}\nchecks:\n  - file: /etc/hostname\n";
    let (code, stderr) = validate_with(
        &lab("  - id: a\n    title: A\n    points: 2\n    checks:\n      - use: ../outside\n"),
        &[("outside.yaml", outside), ("checks/web.yaml", outside)],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `../outside` is not the name of a reusable check
  --> lab.yaml:11:14
   |
11 |       - use: ../outside
   |              ^^^^^^^^^^
   = expected the name of a file of checks/ without `.yaml`, such as `service-actif`
"
    );
}

#[test]
fn a_mistake_inside_a_reusable_check_names_that_file() {
    let reusable = "params:\n  site: the site name\nchecks:\n  - file: /etc/{{ sitee }}\n";
    let (code, stderr) = validate_with(
        &lab(
            "  - id: a\n    title: A\n    points: 2\n    checks:\n      - use: web\n        with: { site: x }\n",
        ),
        &[("checks/web.yaml", reusable)],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            " --> {}:4:11",
            Path::new("checks/web.yaml").display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("undefined template variable `sitee`"),
        "{stderr}"
    );
}

#[test]
fn unique_names_only_what_labgrade_can_compare() {
    let (code, stderr) = validate(&format!(
        "{HEAD}unique: [machine_id, ssh_hostkey]\ntasks:\n  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /etc/hostname\n"
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `ssh_hostkey` is not a value labgrade can compare
 --> lab.yaml:6:22
  |
6 | unique: [machine_id, ssh_hostkey]
  |                      ^^^^^^^^^^^
  = expected one of: machine_id, ssh_host_key, or a value of the lab's own: `{ name: NAME, command: COMMAND, on: ROLE }`
  = help: did you mean `ssh_host_key`?
"
    );
}

#[test]
fn a_value_of_the_labs_own_names_a_role_of_the_lab() {
    let (code, stderr) = validate(&format!(
        "{HEAD}unique:\n  - machine_id\n  - name: tls_cert\n    command: cat /etc/ssl/certs/intranet.pem\n    on: web\ntasks:\n  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /etc/hostname\n"
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: no role `web` in this lab's `hosts`
  --> lab.yaml:10:9
   |
10 |     on: web
   |         ^^^
   = expected one of: srv
"
    );
}

#[test]
fn a_value_of_the_labs_own_needs_a_name_and_a_command() {
    let (code, stderr) = validate(&format!(
        "{HEAD}unique:\n  - name: machine_id\n    command: cat /etc/machine-id\n  - name: Cert\n    commande: x\ntasks:\n  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /etc/hostname\n"
    ));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error: `machine_id` is a value labgrade reads itself\n --> lab.yaml:7:11"),
        "{stderr}"
    );
    assert!(stderr.contains("error: unknown key `commande`"), "{stderr}");
    assert!(
        stderr.contains("error: `Cert` cannot name a value\n --> lab.yaml:9:11"),
        "{stderr}"
    );
    assert!(
        stderr.contains("an entry of `unique` has no `command`"),
        "{stderr}"
    );
}

#[test]
fn a_required_input_left_out() {
    let (code, stderr) = validate(&lab(
        "  - id: a\n    title: A\n    points: 2\n    checks:\n      - dns: www.lab.example\n        answers: [10.0.0.5]\n",
    ));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: a `dns` check needs `server`
  --> lab.yaml:11:9
   |
11 |       - dns: www.lab.example
   |         ^^^
   = expected `server:` the DNS server asked, ADDRESS or ADDRESS:PORT (53 by default); never the system's resolver
"
    );
    let windows = "lab: t\ntitle: T\nblock: 3\nhosts:\n  dc: { os: windows }\ntasks:\n  - id: a\n    title: A\n    points: 2\n    checks:\n      - dns_record: intranet\n        type: CNAME\n";
    let (code, stderr) = validate(windows);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: a `dns_record` check needs `zone`
  --> lab.yaml:11:9
   |
11 |       - dns_record: intranet
   |         ^^^^^^^^^^
   = expected `zone:` the zone the record is in
"
    );
}
