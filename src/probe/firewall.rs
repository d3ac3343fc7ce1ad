//! `firewall: RULE`: whether the host's packet filter holds a rule, read from nftables or iptables.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Expect, Fact, Shape};
use crate::transport::ExecOutput;

pub struct Firewall;

const PARAMS: &[Param] = &[
    Param::input(
        "chain",
        &[],
        "look only in this chain: \"input\", \"filter input\" or \"inet filter input\"",
    ),
    Param::expect(
        "present",
        Shape::Bool,
        "a rule holds the description's words in order; true when not given",
    ),
    Param::expect(
        "policy",
        Shape::Text,
        "with `chain`: its policy, accept or drop (none when it has no policy)",
    ),
];

const NFT: &str = "#labgrade:nft";
const IPTABLES: &str = "#labgrade:iptables";

#[async_trait::async_trait]
impl Kind for Firewall {
    fn name(&self) -> &'static str {
        "firewall"
    }

    fn subject(&self) -> &'static str {
        "a rule, in nft words: \"tcp dport 22 accept\""
    }

    fn doc(&self) -> &'static str {
        "A rule in the packet filter: some rule contains the given words in that order \
         (counters, other matches and punctuation between them do not matter)."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some(("present", Expect::Bool(true)))
    }

    /// The subject is matched here, so it never reaches the host. Rules made with
    /// iptables-nft appear in nft's ruleset; iptables-legacy's do not, so they are read too.
    fn script(&self, _q: &Query) -> String {
        // Legacy tables exist only once their kernel module is loaded; where they cannot be
        // read (a container, no module), they hold no rule, and nft's answer is complete.
        format!(
            "if command -v nft >/dev/null 2>&1; then\n\
             \x20 echo '{NFT}'\n\
             \x20 nft list ruleset || exit\n\
             \x20 if command -v iptables-legacy-save >/dev/null 2>&1; then\n\
             \x20   echo '{IPTABLES}'\n\
             \x20   iptables-legacy-save 2>/dev/null || true\n\
             \x20 fi\n\
             else\n\
             \x20 need iptables-save\n\
             \x20 echo '{IPTABLES}'\n\
             \x20 iptables-save || exit\n\
             fi\n"
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let wanted = tokens(q.subject);
        if wanted.is_empty() {
            return Err("the rule description is empty".to_string());
        }
        let only = q.input("chain").map(ChainName::parse).transpose()?;
        if output.exit_code != Some(0) {
            let stderr = output.stderr_text();
            return Err(
                if stderr.contains("Operation not permitted")
                    || stderr.contains("Permission denied")
                {
                    "reading the firewall rules needs root on this host".to_string()
                } else if stderr.trim().is_empty() {
                    format!(
                        "listing the firewall rules failed (exit {:?})",
                        output.exit_code
                    )
                } else {
                    stderr.trim().to_string()
                },
            );
        }
        let chains = read_ruleset(&output.stdout_text())?;
        let chosen: Vec<&Chain> = chains
            .iter()
            .filter(|c| only.as_ref().is_none_or(|o| o.names(c)))
            .collect();
        let present = chosen
            .iter()
            .flat_map(|c| &c.rules)
            .any(|rule| holds_in_order(rule, &wanted));
        let mut facts = Facts::new();
        facts.insert("present", Fact::Bool(present));
        // Several base chains may answer to one name (inet and ip tables, nft and legacy
        // iptables): a packet must pass them all, so one dropping by default is a drop policy.
        if only.is_some() {
            let policies: Vec<&str> = chosen.iter().filter_map(|c| c.policy.as_deref()).collect();
            let policy = if policies.contains(&"drop") {
                "drop"
            } else {
                policies.first().copied().unwrap_or("none")
            };
            facts.insert("policy", Fact::Text(policy.to_string()));
        }
        Ok(facts)
    }
}

/// One chain of the ruleset: its rules as words, and its policy when it is a base chain.
#[derive(Debug, Default)]
struct Chain {
    family: String,
    table: String,
    name: String,
    policy: Option<String>,
    rules: Vec<Vec<String>>,
}

/// The `chain` input: a chain's name, after its table and family when they are given.
#[derive(Debug)]
struct ChainName {
    family: Option<String>,
    table: Option<String>,
    chain: String,
}

impl ChainName {
    fn parse(input: &str) -> Result<ChainName, String> {
        let words: Vec<String> = input.split_whitespace().map(str::to_lowercase).collect();
        match &words[..] {
            [chain] => Ok(ChainName {
                family: None,
                table: None,
                chain: chain.clone(),
            }),
            [table, chain] => Ok(ChainName {
                family: None,
                table: Some(table.clone()),
                chain: chain.clone(),
            }),
            [family, table, chain] => Ok(ChainName {
                family: Some(family.clone()),
                table: Some(table.clone()),
                chain: chain.clone(),
            }),
            _ => Err(format!(
                "chain {input:?} is not \"CHAIN\", \"TABLE CHAIN\" or \"FAMILY TABLE CHAIN\""
            )),
        }
    }

    /// Names compare without case: iptables' `INPUT` is nft's `input`.
    fn names(&self, c: &Chain) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        self.chain.eq_ignore_ascii_case(&c.name)
            && same(&self.table, &c.table)
            && same(&self.family, &c.family)
    }
}

/// Split the script's answer into its nft and iptables parts and read each.
fn read_ruleset(text: &str) -> Result<Vec<Chain>, String> {
    let mut chains = Vec::new();
    let mut section: Option<&str> = None;
    let mut body = String::new();
    if !text.lines().any(|line| line == NFT || line == IPTABLES) {
        return Err("no answer from the firewall probe".to_string());
    }
    for line in text.lines().chain(std::iter::once(NFT)) {
        if line == NFT || line == IPTABLES {
            match section {
                Some(NFT) => chains.extend(read_nft(&body)?),
                Some(_) => chains.extend(read_iptables(&body)?),
                None if !body.trim().is_empty() => {
                    return Err(format!("unexpected answer: {}", body.trim()));
                }
                None => {}
            }
            section = Some(if line == NFT { NFT } else { IPTABLES });
            body.clear();
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    Ok(chains)
}

/// Read `nft list ruleset`: tables hold chains, sets, maps and other blocks; a chain holds
/// its type line (with the policy) and one rule a line, though a long set may wrap.
fn read_nft(text: &str) -> Result<Vec<Chain>, String> {
    let mut chains = Vec::new();
    let mut table: Option<(String, String)> = None;
    let mut chain: Option<Chain> = None;
    let mut skip_depth = 0i32;
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        // nft writes its warnings (a table iptables-nft manages) as `#` lines.
        if line.is_empty() || (line.starts_with('#') && pending.is_empty()) {
            continue;
        }
        if skip_depth > 0 {
            skip_depth += brace_balance(line);
            continue;
        }
        if !pending.is_empty() {
            pending.push(' ');
            pending.push_str(line);
            if brace_balance(&pending) <= 0 {
                if let Some(c) = chain.as_mut() {
                    c.rules.push(tokens(&pending));
                }
                pending.clear();
            }
            continue;
        }
        match (&table, chain.as_mut()) {
            (None, _) => {
                let words: Vec<&str> = line.split_whitespace().collect();
                table = match words[..] {
                    ["table", family, name, "{"] => Some((family.to_string(), name.to_string())),
                    ["table", name, "{"] => Some(("ip".to_string(), name.to_string())),
                    _ => return Err(format!("unexpected line from nft: {line:?}")),
                };
            }
            (Some(_), None) => {
                if line == "}" {
                    table = None;
                } else if let Some(name) = line
                    .strip_prefix("chain ")
                    .and_then(|l| l.strip_suffix(" {"))
                {
                    let (family, table_name) = table.clone().unwrap_or_default();
                    chain = Some(Chain {
                        family,
                        table: table_name,
                        name: name.trim().to_string(),
                        ..Chain::default()
                    });
                } else {
                    // A set, a map, a flowtable...: nothing of a rule in it.
                    skip_depth = brace_balance(line).max(0);
                }
            }
            (Some(_), Some(c)) => {
                if line == "}" {
                    chains.extend(chain.take());
                } else if line.starts_with("type ") && line.contains(" hook ") {
                    c.policy = line
                        .split(';')
                        .find_map(|part| part.trim().strip_prefix("policy "))
                        .map(|p| p.trim().to_lowercase());
                } else if line.starts_with("comment ") || line.starts_with("devices ") {
                    // The chain's own description, not a rule.
                } else if brace_balance(line) > 0 {
                    pending = line.to_string();
                } else {
                    c.rules.push(tokens(line));
                }
            }
        }
    }
    if table.is_some() {
        return Err("the nft ruleset ended inside a table".to_string());
    }
    Ok(chains)
}

/// Read `iptables-save`: `*table`, then `:CHAIN POLICY [counters]`, then `-A CHAIN rule...`.
fn read_iptables(text: &str) -> Result<Vec<Chain>, String> {
    let mut chains: Vec<Chain> = Vec::new();
    let mut table = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line == "COMMIT" {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
        } else if let Some(declaration) = line.strip_prefix(':') {
            let mut words = declaration.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let policy = words.next().filter(|p| *p != "-").map(str::to_lowercase);
            chains.push(Chain {
                family: "ip".to_string(),
                table: table.clone(),
                name,
                policy,
                rules: Vec::new(),
            });
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let (name, rule) = rule.split_once(' ').unwrap_or((rule, ""));
            let chain = chains
                .iter_mut()
                .rev()
                .find(|c| c.name == name && c.table == table)
                .ok_or_else(|| format!("rule for an undeclared chain: {line:?}"))?;
            chain.rules.push(tokens(rule));
        } else {
            return Err(format!("unexpected line from iptables-save: {line:?}"));
        }
    }
    Ok(chains)
}

/// How many more braces a line opens than it closes, quoted text aside.
fn brace_balance(line: &str) -> i32 {
    let mut quoted = false;
    let mut balance = 0;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => balance += 1,
            '}' if !quoted => balance -= 1,
            _ => {}
        }
    }
    balance
}

/// The words a rule is compared by: without case, quotes, commas or leading dashes, braces
/// standing alone. So `tcp dport 22 accept` is found in `-p tcp -m tcp --dport 22 -j ACCEPT`
/// and in `iif "lo" tcp dport { 22, 80 } accept`.
fn tokens(text: &str) -> Vec<String> {
    let spaced = text
        .replace('"', "")
        .replace(',', " ")
        .replace('{', " { ")
        .replace('}', " } ")
        .to_lowercase();
    spaced
        .split_whitespace()
        .map(|word| word.trim_start_matches('-'))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `wanted` appears in `rule` in order, other words between. A word right after a
/// negation the description does not have is not a match: `tcp dport 22` is not in
/// `tcp dport != 22`, nor `s 10.0.0.0/8` in iptables' `! -s 10.0.0.0/8`.
fn holds_in_order(rule: &[String], wanted: &[String]) -> bool {
    let mut next = 0;
    let mut previous_matched = false;
    for (i, word) in rule.iter().enumerate() {
        let Some(want) = wanted.get(next) else {
            break;
        };
        let negated = i > 0 && matches!(rule[i - 1].as_str(), "!=" | "!") && !previous_matched;
        previous_matched = word == want && !negated;
        if previous_matched {
            next += 1;
        }
    }
    next == wanted.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    /// Captured from `nft list ruleset` in a network namespace.
    const NFT_RULESET: &str = "#labgrade:nft
table inet filter {
\tset allowed {
\t\ttype ipv4_addr
\t\telements = { 10.0.0.1, 10.0.0.2,
\t\t\t     10.0.0.3, 10.0.0.4,
\t\t\t     10.0.0.13 }
\t}

\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif \"lo\" accept
\t\ttcp dport 22 ct state new counter packets 0 bytes 0 accept
\t\ttcp dport { 80, 443 } accept
\t\ttcp dport != 23 ip saddr @allowed accept comment \"allow {admins\"
\t\tudp dport 53 accept
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t}

\tchain custom {
\t\ttcp dport 8080 drop
\t}
}
table ip nat {
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname \"eth0\" masquerade
\t}
}
";

    /// Captured from `iptables-save` (iptables-nft) after `iptables -P INPUT DROP` and a few `-A`.
    const IPTABLES_SAVE: &str = "#labgrade:iptables
# Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov 28 13:55:09 2026
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:LOGDROP - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 23 -j DROP
-A LOGDROP -m comment --comment \"log then drop\" -j LOG --log-prefix \"drop: \"
COMMIT
# Completed on Sat Nov 28 13:55:09 2026
# Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov 28 13:55:09 2026
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
";

    fn check(out: &str, rule: &str, chain: Option<&str>) -> Facts {
        let inputs: Vec<(&str, &str)> = chain.map(|c| ("chain", c)).into_iter().collect();
        parse_canned(&Firewall, rule, &inputs, 0, out, "").unwrap()
    }

    fn present(out: &str, rule: &str, chain: Option<&str>) -> bool {
        check(out, rule, chain)["present"] == Fact::Bool(true)
    }

    #[test]
    fn words_in_order_with_others_between() {
        assert!(present(NFT_RULESET, "tcp dport 22 accept", None));
        assert!(present(NFT_RULESET, "tcp   dport 22\tACCEPT", None));
        assert!(present(NFT_RULESET, "tcp dport 443 accept", None));
        assert!(present(NFT_RULESET, "iif lo accept", None));
        assert!(present(
            NFT_RULESET,
            "ct state established,related accept",
            None
        ));
        assert!(!present(NFT_RULESET, "tcp dport 2 accept", None));
        assert!(!present(NFT_RULESET, "accept tcp dport 22", None));
        assert!(!present(NFT_RULESET, "tcp dport 22 drop", None));
    }

    #[test]
    fn set_elements_are_not_rules() {
        assert!(!present(NFT_RULESET, "10.0.0.3", None));
        assert!(present(NFT_RULESET, "ip saddr @allowed accept", None));
    }

    #[test]
    fn a_negated_value_is_not_the_value() {
        assert!(!present(NFT_RULESET, "tcp dport 23 accept", None));
        assert!(present(NFT_RULESET, "tcp dport != 23 accept", None));
        assert!(!present(IPTABLES_SAVE, "s 10.0.0.0/8 drop", None));
        assert!(present(IPTABLES_SAVE, "! -s 10.0.0.0/8 -j DROP", None));
    }

    #[test]
    fn a_chain_narrows_the_search_and_gives_its_policy() {
        let facts = check(NFT_RULESET, "tcp dport 8080 drop", Some("input"));
        assert_eq!(facts["present"], Fact::Bool(false));
        assert_eq!(facts["policy"], Fact::Text("drop".into()));
        let facts = check(
            NFT_RULESET,
            "tcp dport 8080 drop",
            Some("inet filter custom"),
        );
        assert_eq!(facts["present"], Fact::Bool(true));
        assert_eq!(facts["policy"], Fact::Text("none".into()));
        let facts = check(NFT_RULESET, "masquerade", Some("ip nat postrouting"));
        assert_eq!(facts["policy"], Fact::Text("accept".into()));
        let facts = check(NFT_RULESET, "tcp dport 22 accept", Some("ip filter input"));
        assert_eq!(facts["present"], Fact::Bool(false));
        assert_eq!(facts["policy"], Fact::Text("none".into()));
        assert!(!check(NFT_RULESET, "accept", None).contains_key("policy"));
    }

    #[test]
    fn iptables_rules_read_in_nft_words() {
        assert!(present(IPTABLES_SAVE, "tcp dport 22 accept", Some("input")));
        assert!(present(IPTABLES_SAVE, "-p tcp --dport 22 -j ACCEPT", None));
        assert!(present(
            IPTABLES_SAVE,
            "o eth0 masquerade",
            Some("nat POSTROUTING")
        ));
        assert!(!present(
            IPTABLES_SAVE,
            "tcp dport 22 accept",
            Some("forward")
        ));
        let facts = check(IPTABLES_SAVE, "x", Some("filter input"));
        assert_eq!(facts["policy"], Fact::Text("drop".into()));
        let facts = check(IPTABLES_SAVE, "x", Some("nat input"));
        assert_eq!(facts["policy"], Fact::Text("accept".into()));
    }

    #[test]
    fn nft_and_legacy_iptables_together() {
        let legacy = "#labgrade:iptables\n*filter\n:INPUT ACCEPT [0:0]\n\
                      -A INPUT -p udp -m udp --dport 161 -j ACCEPT\nCOMMIT\n";
        let both = format!("{NFT_RULESET}{legacy}");
        assert!(present(&both, "udp dport 161 accept", Some("input")));
        assert!(present(&both, "tcp dport 22 accept", Some("input")));
        assert_eq!(
            check(&both, "x", Some("input"))["policy"],
            Fact::Text("drop".into())
        );
    }

    #[test]
    fn an_empty_ruleset_has_no_rule() {
        let facts = check("#labgrade:nft\n", "tcp dport 22 accept", Some("input"));
        assert_eq!(facts["present"], Fact::Bool(false));
        assert_eq!(facts["policy"], Fact::Text("none".into()));
    }

    #[test]
    fn without_root_it_cannot_be_checked() {
        let err = "Operation not permitted (you must be root)\n\
                   netlink: Error: cache initialization failed: Operation not permitted\n";
        let out = parse_canned(&Firewall, "accept", &[], 1, "#labgrade:nft\n", err);
        assert_eq!(
            out,
            Err("reading the firewall rules needs root on this host".into())
        );
        let err = "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: \
                   Permission denied (you must be root)\n";
        assert!(parse_canned(&Firewall, "accept", &[], 4, "#labgrade:iptables\n", err).is_err());
    }

    #[test]
    fn what_is_not_a_ruleset_is_an_error() {
        assert!(parse_canned(&Firewall, "accept", &[], 0, "hello\n", "").is_err());
        assert!(parse_canned(&Firewall, "accept", &[], 0, "", "").is_err());
        let warned = format!(
            "{NFT_RULESET}# Warning: table ip filter is managed by iptables-nft, do not touch!\n"
        );
        assert!(present(&warned, "udp dport 53 accept", None));
        assert!(parse_canned(&Firewall, "accept", &[], 0, "#labgrade:nft\nhello\n", "").is_err());
        let cut = &NFT_RULESET[..NFT_RULESET.find("table ip nat").unwrap() - 10];
        assert!(parse_canned(&Firewall, "accept", &[], 0, cut, "").is_err());
        assert!(parse_canned(&Firewall, "", &[], 0, NFT_RULESET, "").is_err());
        assert!(parse_canned(&Firewall, "x", &[("chain", "a b c d")], 0, NFT_RULESET, "").is_err());
    }

    /// This machine's ruleset, read for real (it is empty here, and needs root).
    #[test]
    fn reads_this_machines_ruleset() {
        let out = run_locally(&Firewall, "tcp dport 22 accept", &[("chain", "input")], &[]);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let facts = out.unwrap();
            assert!(facts.contains_key("present"));
            assert!(facts.contains_key("policy"));
        } else {
            assert!(out.is_err());
        }
    }
}
