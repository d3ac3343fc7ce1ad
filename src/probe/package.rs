//! `package: NAME`: whether a package is installed, and its version, from dpkg or rpm.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Package;

const PARAMS: &[Param] = &[
    Param::expect(
        "installed",
        Shape::Bool,
        "the package is installed (removed with its configuration left is not)",
    ),
    Param::expect(
        "version",
        Shape::Text,
        "the installed version as the package manager writes it: \"1.22.1-9\"",
    ),
];

#[async_trait::async_trait]
impl Kind for Package {
    fn name(&self) -> &'static str {
        "package"
    }

    fn subject(&self) -> &'static str {
        "a package name"
    }

    fn doc(&self) -> &'static str {
        "A package of the distribution: installed or not, and which version (dpkg, else rpm)."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("installed")
    }

    /// dpkg is asked first: a Debian host that also carries rpm keeps its packages in dpkg.
    /// Every line is tagged with the tool that wrote it, so the parser never has to guess.
    fn script(&self, q: &Query) -> String {
        let name = shell_quote(q.subject);
        format!(
            "p={name}\n\
             if command -v dpkg-query >/dev/null 2>&1; then\n\
             \x20 dpkg-query -W -f='dpkg\\t${{db:Status-Status}}\\t${{Version}}\\n' -- \"$p\"\n\
             elif command -v rpm >/dev/null 2>&1; then\n\
             \x20 rpm -q --qf 'rpm\\tinstalled\\t%{{VERSION}}-%{{RELEASE}}\\n' -- \"$p\"\n\
             else\n\
             \x20 need dpkg-query\n\
             fi\n"
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        let mut version = None;
        let mut answered = false;
        for line in stdout.lines() {
            let mut fields = line.splitn(3, '\t');
            match (fields.next(), fields.next(), fields.next()) {
                (Some("dpkg" | "rpm"), Some(status), Some(v)) => {
                    answered = true;
                    // dpkg may list one line per architecture; any installed one counts.
                    if is_installed(status) && version.is_none() {
                        version = Some(v.to_string());
                    }
                }
                // rpm says so on standard output, untagged.
                _ if line == format!("package {} is not installed", q.subject) => answered = true,
                _ => {
                    return Err(format!(
                        "unexpected line from the package manager: {line:?}"
                    ));
                }
            }
        }
        let not_found = stderr.contains("no packages found matching");
        match output.exit_code {
            Some(0) if answered => {}
            Some(1) if answered || not_found => {}
            _ => {
                return Err(match stderr.trim() {
                    "" => format!("the package manager failed (exit {:?})", output.exit_code),
                    reason => reason.to_string(),
                });
            }
        }
        let mut facts = Facts::new();
        facts.insert("installed", Fact::Bool(version.is_some()));
        if let Some(version) = version {
            facts.insert("version", Fact::Text(version));
        }
        Ok(facts)
    }
}

/// dpkg's `installed`, and the two states of an installed, configured package whose
/// triggers (a man-db index, say) have not run yet.
fn is_installed(status: &str) -> bool {
    matches!(
        status,
        "installed" | "triggers-pending" | "triggers-awaited"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    #[test]
    fn dpkg_is_installed_here() {
        let facts = run_locally(&Package, "dpkg", &[], &["version"]).unwrap();
        assert_eq!(facts["installed"], Fact::Bool(true));
        assert!(matches!(&facts["version"], Fact::Text(v) if v.starts_with("1.")));
    }

    #[test]
    fn an_unknown_package_is_not_installed() {
        let facts = run_locally(&Package, "labgrade-no-such-package", &[], &["version"]).unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["installed"], Fact::Bool(false));
    }

    #[test]
    fn a_hostile_name_stays_a_name() {
        let facts = run_locally(&Package, "x'; echo dpkg\tinstalled\t9; '", &[], &[]).unwrap();
        assert_eq!(facts["installed"], Fact::Bool(false));
    }

    #[test]
    fn removed_but_configured_is_not_installed() {
        let facts = parse_canned(
            &Package,
            "nginx",
            &[],
            0,
            "dpkg\tconfig-files\t1.22.1-9\n",
            "",
        )
        .unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["installed"], Fact::Bool(false));
    }

    #[test]
    fn one_installed_architecture_is_enough() {
        let out = "dpkg\tnot-installed\t\ndpkg\tinstalled\t2.36-9+deb12u4\n";
        let facts = parse_canned(&Package, "libc6", &[], 0, out, "").unwrap();
        assert_eq!(facts["installed"], Fact::Bool(true));
        assert_eq!(facts["version"], Fact::Text("2.36-9+deb12u4".into()));
    }

    #[test]
    fn pending_triggers_are_still_installed_but_half_installed_is_not() {
        let out = "dpkg\ttriggers-pending\t1.22.1-9\n";
        let facts = parse_canned(&Package, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts["installed"], Fact::Bool(true));
        let out = "dpkg\thalf-installed\t1.22.1-9\n";
        let facts = parse_canned(&Package, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts["installed"], Fact::Bool(false));
    }

    #[test]
    fn dpkg_not_found() {
        let err = "dpkg-query: no packages found matching nginx\n";
        let facts = parse_canned(&Package, "nginx", &[], 1, "", err).unwrap();
        assert_eq!(facts["installed"], Fact::Bool(false));
    }

    #[test]
    fn rpm_answers() {
        let facts = parse_canned(
            &Package,
            "bash",
            &[],
            0,
            "rpm\tinstalled\t5.2.26-6.el10\n",
            "",
        )
        .unwrap();
        assert_eq!(facts["version"], Fact::Text("5.2.26-6.el10".into()));
        let facts = parse_canned(
            &Package,
            "nginx",
            &[],
            1,
            "package nginx is not installed\n",
            "",
        )
        .unwrap();
        assert_eq!(facts["installed"], Fact::Bool(false));
    }

    #[test]
    fn a_broken_package_database_is_an_error() {
        let err = "dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 3\n";
        assert!(parse_canned(&Package, "nginx", &[], 2, "", err).is_err());
    }
}
