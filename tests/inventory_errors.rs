//! `labgrade::inventory::load` on rosters with mistakes: the located messages, as exact text.

use labgrade::error::EXIT_BAD_INPUT;

/// Load `text` saved as `name` in a fresh folder; the messages, with that folder left out.
fn errors(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let err = labgrade::inventory::load(&path).expect_err("a roster with mistakes");
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
    err.to_string()
        .replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn unknown_keys_with_suggestions() {
    assert_eq!(
        errors(
            "inv.yaml",
            "defaults: { usr: grader }
candidates:
  - id: c01
    hsots: { srv: 10.0.1.10 }
  - id: c02
    hosts: { client: { adress: 10.0.1.11 } }
canditates: []
"
        ),
        "error: unknown key `usr` in `defaults`
 --> inv.yaml:1:13
  |
1 | defaults: { usr: grader }
  |             ^^^
  = expected one of: user, identity, port
  = help: did you mean `user`?

error: unknown key `hsots` in a candidate
 --> inv.yaml:4:5
  |
4 |     hsots: { srv: 10.0.1.10 }
  |     ^^^^^
  = expected one of: id, name, hosts, vars
  = help: did you mean `hosts`?

error: unknown key `adress` in host `client`
 --> inv.yaml:6:24
  |
6 |     hosts: { client: { adress: 10.0.1.11 } }
  |                        ^^^^^^
  = expected one of: address, port, user, identity
  = help: did you mean `address`?

error: host `client` has no `address`
 --> inv.yaml:6:22
  |
6 |     hosts: { client: { adress: 10.0.1.11 } }
  |                      ^
  = expected an `address:` key

error: unknown key `canditates` in an inventory
 --> inv.yaml:7:1
  |
7 | canditates: []
  | ^^^^^^^^^^
  = expected one of: defaults, candidates
  = help: did you mean `candidates`?"
    );
}

#[test]
fn duplicate_id() {
    assert_eq!(
        errors(
            "inv.yaml",
            "candidates:
  - id: c01
    hosts: { srv: 10.0.1.10 }
  - id: c02
  - id: c01
    hosts: { srv: 10.0.1.12 }
"
        ),
        "error: duplicate candidate id `c01`
 --> inv.yaml:5:9
  |
5 |   - id: c01
  |         ^^^
  = expected an id not already used (first used on line 2)"
    );
}

#[test]
fn ids_must_name_a_folder() {
    assert_eq!(
        errors(
            "inv.yaml",
            "candidates:\n  - id: ../c02\n  - id: .c03\n  - id: Élise\n  - name: No Id\n"
        ),
        "error: candidate id `../c02` contains `/`
 --> inv.yaml:2:9
  |
2 |   - id: ../c02
  |         ^^^^^^
  = expected an id usable as a folder name: ASCII letters, digits, `-`, `_` and `.`, not starting with `.`

error: candidate id `.c03` starts with `.`
 --> inv.yaml:3:9
  |
3 |   - id: .c03
  |         ^^^^
  = expected an id usable as a folder name: ASCII letters, digits, `-`, `_` and `.`, not starting with `.`

error: candidate id `Élise` contains `É`
 --> inv.yaml:4:9
  |
4 |   - id: Élise
  |         ^^^^^
  = expected an id usable as a folder name: ASCII letters, digits, `-`, `_` and `.`, not starting with `.`

error: a candidate has no `id`
 --> inv.yaml:5:5
  |
5 |   - name: No Id
  |     ^
  = expected an `id:` key"
    );
}

#[test]
fn bad_ports_in_yaml() {
    assert_eq!(
        errors(
            "inv.yaml",
            "defaults: { port: 0 }
candidates:
  - id: c01
    hosts:
      srv: 10.0.1.10:70000
      client: { address: 10.0.1.11, port: ssh }
"
        ),
        "error: port `0` is out of range
 --> inv.yaml:1:19
  |
1 | defaults: { port: 0 }
  |                   ^
  = expected a port from 1 to 65535

error: port `70000` is out of range
 --> inv.yaml:5:22
  |
5 |       srv: 10.0.1.10:70000
  |                      ^^^^^
  = expected a port from 1 to 65535

error: port `ssh` is not a number
 --> inv.yaml:6:43
  |
6 |       client: { address: 10.0.1.11, port: ssh }
  |                                           ^^^
  = expected a port from 1 to 65535"
    );
}

#[test]
fn bad_port_in_csv() {
    assert_eq!(
        errors(
            "roster.csv",
            "id,name,srv,client\nc01,Alice Martin,10.0.1.10,root@10.0.1.11:99999\n"
        ),
        "error: port `99999` is out of range
 --> roster.csv:2:43
  |
2 | c01,Alice Martin,10.0.1.10,root@10.0.1.11:99999
  |                                           ^^^^^
  = expected a port from 1 to 65535"
    );
}

#[test]
fn csv_rows_of_the_wrong_length() {
    assert_eq!(
        errors(
            "roster.csv",
            "id,name,srv\nc01,Alice Martin\nc02,Bob,10.0.1.12,10.0.1.13\nc03,Chloé,10.0.1.14\n"
        ),
        "error: this row has 2 fields, the header has 3
 --> roster.csv:2:1
  |
2 | c01,Alice Martin
  | ^^^^^^^^^^^^^^^^
  = expected 3 fields: id, name, srv (an empty field where a candidate has no host)

error: this row has 4 fields, the header has 3
 --> roster.csv:3:19
  |
3 | c02,Bob,10.0.1.12,10.0.1.13
  |                   ^^^^^^^^^
  = expected 3 fields: id, name, srv (an empty field where a candidate has no host)"
    );
}

#[test]
fn missing_candidates() {
    assert_eq!(
        errors("inv.yaml", "defaults: { user: grader }\n"),
        "error: an inventory has no `candidates`
 --> inv.yaml:1:1
  |
1 | defaults: { user: grader }
  | ^
  = expected a `candidates:` key"
    );
}

#[test]
fn hosts_of_the_wrong_type() {
    assert_eq!(
        errors(
            "inv.yaml",
            "candidates:\n  - id: c01\n    hosts: [10.0.1.10]\n    vars: { hosts: x }\n"
        ),
        "error: `hosts` must be a mapping of roles to addresses, found a list
 --> inv.yaml:3:12
  |
3 |     hosts: [10.0.1.10]
  |            ^
  = expected `ROLE: ADDRESS` lines, such as `srv: 10.0.1.10`

error: `hosts` is a reserved template variable
 --> inv.yaml:4:13
  |
4 |     vars: { hosts: x }
  |             ^^^^^
  = expected another name: `candidate` and `hosts` are set by labgrade"
    );
}

#[test]
fn an_unreadable_file_is_bad_input() {
    let err = labgrade::inventory::load(std::path::Path::new("/nonexistent/inv.yaml")).unwrap_err();
    assert_eq!(err.exit_code(), EXIT_BAD_INPUT);
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/inv.yaml: "),
        "{err}"
    );
}

#[test]
fn csv_header_mistakes() {
    assert_eq!(
        errors("roster.csv", "ident,name,srv,srv,vars:site\n"),
        "error: duplicate column `srv`
 --> roster.csv:1:16
  |
1 | ident,name,srv,srv,vars:site
  |                ^^^
  = expected a column name not already used (first used at column 12)

error: unknown column `vars:site`
 --> roster.csv:1:20
  |
1 | ident,name,srv,srv,vars:site
  |                    ^^^^^^^^^
  = expected `id`, `name`, a role, or `var:NAME`
  = help: did you mean `var:site`?

error: the header has no `id` column
 --> roster.csv:1:1
  |
1 | ident,name,srv,srv,vars:site
  | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = expected a header such as `id,name,srv,client`"
    );
}
